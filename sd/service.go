package sd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

// Service describes one DNS-SD service instance (RFC 6763) to publish,
// whatever publishes it: a Multicast DNS responder on the link (package
// announce) or a registrar in a unicast DNS zone (package wide).
type Service struct {
	// Instance is the user-visible instance name, e.g. "Office TZ": at most
	// 63 bytes of UTF-8 without control characters (RFC 6763 section 4.1.1).
	Instance string
	// Type is the service type "_timezone._tcp"; a bare registered service
	// name "timezone" is looked up in the registry for its protocol. A type
	// with a subtype ("_printer._sub._http._tcp") adds that subtype.
	Type string
	// Subtypes are subtype labels: "_printer" publishes
	// _printer._sub._http._tcp.local. (RFC 6763 section 7.1). A missing
	// leading underscore is added.
	Subtypes []string
	// Domain is the domain; empty means the publisher's default: "local."
	// for Multicast DNS, the zone for a unicast DNS registrar.
	Domain string
	// Port is the TCP or UDP port of the service. Port 0 is published with
	// a warning: clients take it to mean the service is not reachable.
	Port uint16
	// TXT is the TXT record (RFC 6763 section 6); the zero Record is
	// published as the empty TXT record (a single zero byte, section 6.1).
	TXT txt.Record
	// Host is the SRV target host name; empty means the publisher's own
	// host name. A single label "printer" means "printer.local." (a unicast
	// DNS registrar puts it in its zone).
	Host string
}

// Prepared is a service with its names and data worked out: what its
// records carry. Service.Prepare returns it for a service that validates,
// Service.PrepareEncodable for one that can at least be encoded.
type Prepared struct {
	// Instance is the instance label, raw (not escaped): "Office TZ".
	Instance string
	// Type is the service type, "_timezone._tcp" (a registered service
	// name is looked up for its protocol).
	Type string
	// Domain is the domain, fully qualified.
	Domain string
	// Subtypes are the subtype labels, raw, each with its leading
	// underscore, without duplicates (RFC 6762 section 16: ASCII case
	// folding): "_printer".
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
	// warnings only from Prepare, since a service with errors does not
	// validate; errors too from PrepareEncodable.
	Report txt.Report
}

// Validate checks s as it would be published: the instance name (RFC 6763
// section 4.1.1), the service type and subtypes (RFC 6763 section 7, names
// per RFC 6335 section 5.1 via the registry), domain, host and port, and
// the TXT record (RFC 6763 section 6) against the registry's rules for the
// service, if reg knows it (nil reg means registry.Builtin()). The report
// holds the TXT findings (and a warning for port 0); the error is a
// *ValidationError when anything is wrong.
func (s Service) Validate(reg *registry.Registry) (txt.Report, error) {
	if reg == nil {
		reg = registry.Builtin()
	}
	res := s.resolve(reg)
	return res.p.Report, res.err(s.Instance, true)
}

// Prepare validates s exactly as Validate does and, when it validates,
// returns what its records carry. domain, when not empty, replaces
// "local." as the default domain: that of a service that names none,
// neither in Domain nor in Type (a unicast DNS registrar gives its zone).
// nil reg means registry.Builtin(). The error is a *ValidationError.
func (s Service) Prepare(domain string, reg *registry.Registry) (Prepared, error) {
	if reg == nil {
		reg = registry.Builtin()
	}
	return s.prepare(domain, reg, true)
}

// PrepareEncodable is Prepare for a publisher that can be told to publish
// services breaking the rules Validate checks (announce's
// Options.NoValidate): it refuses, with a *ValidationError, only a service
// that cannot be encoded at all (an empty or over-long instance name, a
// service type that is not a DNS-SD type, or one not in reg when given as
// a bare name, a bad domain, host or subtype, a TXT record that does not
// fit), and returns what the records of any other carry. Whether s also
// validates is Validate's to say.
//
// Unlike Validate and Prepare, PrepareEncodable takes nil reg to mean no
// registry: a bare service name "timezone" is then taken to be
// "_timezone._tcp" without being looked up, Registered is nil and the
// TXT record gets syntax checks only. That is what can be checked before
// a registry is chosen (announce.LoadConfig does so).
func (s Service) PrepareEncodable(domain string, reg *registry.Registry) (Prepared, error) {
	return s.prepare(domain, reg, false)
}

// prepare is Prepare (strict) or PrepareEncodable. It does not default
// reg.
func (s Service) prepare(domain string, reg *registry.Registry, strict bool) (Prepared, error) {
	if domain != "" && s.Domain == "" && !typeHasDomain(s.Type) {
		s.Domain = domain
	}
	res := s.resolve(reg)
	if err := res.err(s.Instance, strict); err != nil {
		return Prepared{}, err
	}
	p := res.p
	p.Subtypes = slices.Clone(p.Subtypes)
	return p, nil
}

// resolved is the outcome of checking a Service.
type resolved struct {
	p    Prepared
	hard []error // the service cannot be published at all
	soft []error // the service breaks a rule; a publisher may publish it anyway
}

// err returns the ValidationError for r's problems (the hard ones only,
// unless withSoft), or nil.
func (r *resolved) err(instance string, withSoft bool) error {
	errs := r.hard
	if withSoft {
		errs = append(slices.Clone(errs), r.soft...)
	}
	if len(errs) == 0 && (!withSoft || r.p.Report.Conforms()) {
		return nil
	}
	return &ValidationError{Service: instance, Report: r.p.Report, Err: errors.Join(errs...)}
}

// resolve checks s and works out what to publish. With reg nil, nothing is
// looked up in a registry: a bare service name is left unresolved and the
// TXT record gets only syntax checks.
func (s Service) resolve(reg *registry.Registry) resolved {
	var res resolved
	hard := func(field, value, format string, args ...any) {
		res.hard = append(res.hard, &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	soft := func(field, value, format string, args ...any) {
		res.soft = append(res.soft, &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	// Instance name: RFC 6763 section 4.1.1.
	res.p.Instance = s.Instance
	switch {
	case s.Instance == "":
		hard("Instance", "", "empty instance name (RFC 6763 section 4.1.1)")
	case len(s.Instance) > 63:
		hard("Instance", s.Instance, "%d bytes, more than the 63 a DNS label holds (RFC 6763 section 4.1.1)", len(s.Instance))
	default:
		if !utf8.ValidString(s.Instance) {
			soft("Instance", s.Instance, "not valid UTF-8 (RFC 6763 section 4.1.1: Net-Unicode text)")
		}
		if i := controlChar(s.Instance); i >= 0 {
			soft("Instance", s.Instance, "control character 0x%02x at byte %d (RFC 6763 section 4.1.1: MUST NOT contain ASCII control characters)", s.Instance[i], i)
		}
	}

	// Service type: RFC 6763 section 7.
	p := &res.p
	var typeDomain string
	var subtypes []string
	switch {
	case s.Type == "":
		hard("Type", "", "empty service type; give _name._tcp, _name._udp or a registered service name")
	case strings.HasPrefix(s.Type, "_"):
		t, err := registry.ParseType(s.Type)
		if err != nil {
			var ne *registry.NameError
			lt, lerr := lenientType(s.Type)
			if errors.As(err, &ne) && lerr == nil {
				// A name breaking RFC 6335 section 5.1 is still encodable.
				res.soft = append(res.soft, &FieldError{Field: "Type", Value: s.Type, Reason: "service name does not satisfy RFC 6335 section 5.1", Err: err})
				t = lt
			} else {
				res.hard = append(res.hard, &FieldError{Field: "Type", Value: s.Type, Reason: "not a DNS-SD service type", Err: err})
				break
			}
		}
		p.Type = "_" + t.Service + "._" + t.Proto
		typeDomain = t.Domain
		if t.Subtype != "" {
			subtypes = append(subtypes, t.Subtype)
		}
	default:
		if strings.Contains(s.Type, ".") {
			hard("Type", s.Type, "a bare service name has no dots; give the type as _name._tcp or _name._udp")
			break
		}
		if err := registry.CheckName(s.Type); err != nil {
			res.soft = append(res.soft, &FieldError{Field: "Type", Value: s.Type, Reason: "service name does not satisfy RFC 6335 section 5.1", Err: err})
		}
		if reg == nil {
			p.Type = "_" + s.Type + "._tcp" // placeholder; resolved later against a registry
			break
		}
		svc, ok := reg.Lookup(s.Type)
		if !ok {
			hard("Type", s.Type, "service name not in the registry, so its protocol is unknown; give the type as _%s._tcp or _%s._udp", s.Type, s.Type)
			break
		}
		p.Type = svc.Type()
	}
	// Subtypes: RFC 6763 section 7.1.
	type subField struct{ field, label string }
	var subs []subField
	for _, sub := range subtypes {
		subs = append(subs, subField{"Type", sub})
	}
	for i, sub := range s.Subtypes {
		subs = append(subs, subField{fmt.Sprintf("Subtypes[%d]", i), sub})
	}
	seen := map[string]bool{}
	for _, sf := range subs {
		field, sub := sf.field, sf.label
		if sub != "" && !strings.HasPrefix(sub, "_") {
			sub = "_" + sub
		}
		switch {
		case sub == "":
			hard(field, sub, "empty subtype")
			continue
		case len(sub) > 63:
			hard(field, sub, "%d bytes, more than the 63 a DNS label holds", len(sub))
			continue
		case strings.Contains(sub, "."):
			hard(field, sub, "a subtype is a single label (no dots)")
			continue
		}
		if j := controlChar(sub); j >= 0 {
			soft(field, sub, "control character 0x%02x at byte %d", sub[j], j)
		}
		if k := dnsname.ASCIILower(sub); !seen[k] { // RFC 6762 section 16
			seen[k] = true
			p.Subtypes = append(p.Subtypes, sub)
		}
	}

	// Domain.
	dom := s.Domain
	if dom == "" {
		dom = typeDomain
	} else if typeDomain != "" && !dnsname.Equal(dom, typeDomain) {
		hard("Domain", s.Domain, "differs from the domain %q in the type", typeDomain)
	}
	if dom == "" {
		dom = dnsname.Local
	}
	p.Domain = dns.Fqdn(dom)
	if _, ok := dns.IsDomainName(p.Domain); !ok {
		hard("Domain", s.Domain, "not a valid domain name")
	}

	// Host.
	if s.Host != "" {
		h := strings.TrimSuffix(s.Host, ".")
		if !strings.Contains(h, ".") {
			h += "." + dnsname.Local
		}
		p.Host = dns.Fqdn(h)
		if _, ok := dns.IsDomainName(p.Host); !ok || strings.Contains(p.Host, "..") {
			hard("Host", s.Host, "not a valid host name")
		}
	}

	// Port.
	p.Port = s.Port
	var portWarn *txt.Error
	if s.Port == 0 {
		portWarn = &txt.Error{Severity: txt.Warning, Offset: -1, Rule: "SRV port",
			Reason: "port 0: clients take the service to be not reachable (RFC 2782 allows 0-65535)"}
	}

	// TXT: RFC 6763 section 6, and the registry's rules for the service.
	if reg != nil && p.Type != "" {
		if svc, ok := reg.Lookup(p.Type); ok {
			p.Registered = svc
		}
	}
	p.Report = txt.Validate(s.TXT, p.Registered, txt.Options{})
	if portWarn != nil {
		p.Report.Findings = append([]*txt.Error{portWarn}, p.Report.Findings...)
	}
	p.TXT = s.TXT
	if _, err := s.TXT.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET}); err != nil {
		res.hard = append(res.hard, &FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err})
	}
	return res
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

// lenientType parses a service type like registry.ParseType but without
// the RFC 6335 name rules, for publishing legacy names that do not
// validate.
func lenientType(s string) (registry.Type, error) {
	body := strings.TrimSuffix(s, ".")
	labels := strings.Split(body, ".")
	var t registry.Type
	i := 0
	if len(labels) >= 2 && dnsname.ASCIILower(labels[1]) == dnsname.SubLabel {
		t.Subtype = labels[0]
		i = 2
	}
	if i+1 >= len(labels) {
		return t, fmt.Errorf("missing labels")
	}
	svc, proto := labels[i], dnsname.ASCIILower(labels[i+1])
	if len(svc) < 2 || len(svc) > 63 || svc[0] != '_' || controlChar(svc) >= 0 {
		return t, fmt.Errorf("bad service label %q", svc)
	}
	if proto != "_tcp" && proto != "_udp" {
		return t, fmt.Errorf("protocol label must be _tcp or _udp")
	}
	t.Service, t.Proto = svc[1:], proto[1:]
	if i+2 < len(labels) {
		t.Domain = strings.Join(labels[i+2:], ".")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return t, fmt.Errorf("bad label %q", l)
		}
	}
	return t, nil
}

// controlChar returns the offset of the first ASCII control character
// (0x00-0x1F, 0x7F) in s, or -1.
func controlChar(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return i
		}
	}
	return -1
}
