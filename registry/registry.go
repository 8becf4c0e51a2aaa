package registry

import (
	"regexp"
	"slices"
	"strings"

	"github.com/lansd/lansd/internal/dnsname"
)

// Registry is a loaded service-name registry. It is immutable and safe for
// concurrent use; the *Service values it returns are shared and must not be
// modified.
type Registry struct {
	records  []Record
	services []*Service          // sorted by lower-case name
	byName   map[string]*Service // key: lower-case name
}

// referenceRE matches one bracketed reference such as "[RFC7808]".
var referenceRE = regexp.MustCompile(`\[[^\]]*\]`)

// newRegistry merges recs into services. Records are merged by service name,
// case-insensitively; records without a name count in [Registry.Records] but
// belong to no service.
func newRegistry(recs []Record) *Registry {
	r := &Registry{records: recs, byName: make(map[string]*Service)}
	for _, rec := range recs {
		if rec.Name == "" {
			continue
		}
		key := dnsname.ASCIILower(rec.Name)
		s := r.byName[key]
		if s == nil {
			s = &Service{Name: rec.Name, SyntaxErr: CheckName(rec.Name)}
			r.byName[key] = s
			r.services = append(r.services, s)
		}
		s.add(rec)
	}
	slices.SortFunc(r.services, func(a, b *Service) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return r
}

// add merges one record of the service into s.
func (s *Service) add(rec Record) {
	s.Records = append(s.Records, rec)
	if p := strings.ToLower(rec.Protocol); p != "" && !slices.Contains(s.Protocols, p) {
		s.Protocols = append(s.Protocols, p)
	}
	if rec.Port != "" {
		// The port was validated by the loader.
		if lo, hi, err := parsePort(rec.Port); err == nil {
			s.Ports = append(s.Ports, PortRange{Protocol: strings.ToLower(rec.Protocol), Low: lo, High: hi})
		}
	}
	if s.Description == "" {
		s.Description = rec.Description
	}
	if ref := strings.TrimSpace(rec.Reference); ref != "" {
		refs := referenceRE.FindAllString(ref, -1)
		if refs == nil {
			refs = []string{ref}
		}
		for _, x := range refs {
			if !slices.Contains(s.References, x) {
				s.References = append(s.References, x)
			}
		}
	}
	if s.Notes == "" {
		s.Notes = rec.Notes
	}
	// The service's TXT rules come from the first record whose notes
	// mention "Defined TXT keys" (records of one name may differ, e.g. a
	// port-only tcp row without notes and a DNS-SD row with them).
	if s.TXT.Kind == RulesAbsent {
		if rules := ParseRules(rec.Notes); rules.Kind != RulesAbsent {
			s.TXT = rules
		}
	}
}

// Records returns the total number of records, including rows without a
// service name (port-only or reserved rows).
func (r *Registry) Records() int { return len(r.records) }

// Rows returns a copy of all records in file order.
func (r *Registry) Rows() []Record { return slices.Clone(r.records) }

// Services returns the services (records with a non-empty name, merged by
// name case-insensitively), sorted by lower-case name. The slice is a copy;
// the services are shared and must not be modified.
func (r *Registry) Services() []*Service { return slices.Clone(r.services) }

// Lookup finds a service by its registered name, compared with ASCII case
// folding only ("TimeZone"; RFC 6762 section 16 for the label of a type), or by a DNS-SD service type as accepted by [ParseType]
// ("_timezone._tcp", "_timezone._udp", "_timezone._tcp.local.",
// "_printer._sub._http._tcp"); the domain, if any, may be any name.
//
// A type matches only a service registered for its protocol: "_tcp" matches
// a service registered for tcp, "_udp" one registered for any protocol other
// than tcp (udp, sctp or dccp; RFC 6763 section 7). A service registered
// with no transport protocol at all matches either. Names that do not satisfy
// RFC 6335 section 5.1 are found by name but never by type.
func (r *Registry) Lookup(name string) (*Service, bool) {
	if s, ok := r.byName[dnsname.ASCIILower(name)]; ok {
		return s, true
	}
	t, err := ParseType(name)
	if err != nil || t.Proto == "" {
		return nil, false
	}
	s, ok := r.byName[dnsname.ASCIILower(t.Service)]
	if !ok || !s.Usable() || !s.matchesProto(t.Proto) {
		return nil, false
	}
	return s, true
}

// matchesProto reports whether s may be advertised with the DNS-SD protocol
// label proto ("tcp" or "udp"); see [Registry.Lookup].
func (s *Service) matchesProto(proto string) bool {
	if len(s.Protocols) == 0 {
		return true
	}
	for _, p := range s.Protocols {
		if (p == "tcp") == (proto == "tcp") {
			return true
		}
	}
	return false
}
