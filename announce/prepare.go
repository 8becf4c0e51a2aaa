package announce

import (
	"slices"
	"strings"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

// Prepared is a service that validates, with its names and data worked
// out: what its records carry. Service.Prepare returns it.
type Prepared struct {
	// Instance is the instance label, raw (not escaped): "Office TZ".
	Instance string
	// Type is the service type, "_timezone._tcp" (a registered service
	// name is looked up for its protocol).
	Type string
	// Domain is the domain, fully qualified.
	Domain string
	// Subtypes are the subtype labels, raw, each with its leading
	// underscore, without duplicates: "_printer".
	Subtypes []string
	// Port is the SRV port.
	Port uint16
	// TXT is the TXT record.
	TXT txt.Record
	// Host is the SRV target, fully qualified, or "" for the publisher's
	// own host name.
	Host string
	// Registered is the registry's entry for Type, or nil when the
	// registry does not know it: the rules a new TXT record is checked
	// against.
	Registered *registry.Service
	// Report holds the TXT record's findings and a warning for port 0:
	// warnings only, since a service with errors does not validate.
	Report txt.Report
}

// Prepare validates s exactly as Validate does and, when it validates,
// returns what its records carry. domain, when not empty, replaces
// "local." as the default domain: that of a service that names none,
// neither in Domain nor in Type. Publishers other than the Responder
// (package wide) prepare their services with it. nil reg means
// registry.Builtin(). The error is a *ValidationError.
func (s Service) Prepare(domain string, reg *registry.Registry) (Prepared, error) {
	if reg == nil {
		reg = registry.Builtin()
	}
	if domain != "" && s.Domain == "" && !typeHasDomain(s.Type) {
		s.Domain = domain
	}
	res := s.resolve(reg)
	if err := res.err(s.Instance, true); err != nil {
		return Prepared{}, err
	}
	d := res.data
	return Prepared{
		Instance:   res.instance,
		Type:       d.typ,
		Domain:     d.domain,
		Subtypes:   slices.Clone(d.subtypes),
		Port:       d.port,
		TXT:        d.txt,
		Host:       d.host,
		Registered: d.regSvc,
		Report:     res.report,
	}, nil
}

// typeHasDomain reports whether a service type names its domain,
// "_http._tcp.example.com.".
func typeHasDomain(t string) bool {
	if !strings.HasPrefix(t, "_") {
		return false
	}
	pt, err := registry.ParseType(t)
	if err != nil {
		lt, lerr := lenientType(t)
		return lerr == nil && lt.Domain != ""
	}
	return pt.Domain != ""
}
