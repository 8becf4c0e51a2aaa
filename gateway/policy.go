package gateway

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strings"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// Filter names what refused an instance in a Decision.
type Filter string

// The filters of a rule, in the order Decide applies them, and the
// address checks every rule makes.
const (
	// FilterType: the instance's service type is not among the rule's
	// types ("type _http._tcp not in rules[2].types"), or does not parse.
	FilterType Filter = "type"
	// FilterSubtype: the rule names the type only under subtypes the
	// instance was not found under.
	FilterSubtype Filter = "subtype"
	// FilterInstance: the instance label matches none of the rule's
	// patterns.
	FilterInstance Filter = "instances"
	// FilterAddress: the instance has no routable address (only
	// link-local ones, or none).
	FilterAddress Filter = "address"
	// FilterLoop: a routable address of the instance is not on the source
	// link's subnets (loop prevention).
	FilterLoop Filter = "loop"
	// FilterSources: none of the instance's addresses is inside the
	// rule's source prefixes.
	FilterSources Filter = "sources"
	// FilterConformance: the TXT record fails the rule's conformance.
	FilterConformance Filter = "conformance"
)

// Decision says whether an instance seen on a source link crosses to one
// destination, and under which rule; or, refused, why not.
type Decision struct {
	// Rule is the index in Config.Rules of the rule decided by.
	Rule int
	// To names the destination: a link, or a zone when Zone is set.
	To   string
	Zone bool
	// Proxy is set when the instance crosses.
	Proxy bool
	// Filter and Reason say what refused the instance (both empty when
	// Proxy is set): "type _http._tcp not in rules[2].types", "address
	// 203.0.113.9 not on link office (loop prevention)", ...
	Filter Filter
	Reason string
	// Addrs are the addresses the instance crosses with, when Proxy is
	// set: its routable ones (link-local addresses never cross), without
	// IPv6 zones, IPv4 unmapped, in the instance's order.
	Addrs []netip.Addr
}

// Policy decides what crosses, from a checked Config. It is immutable
// and safe for concurrent use.
type Policy struct {
	reg   *registry.Registry
	rules []rule
	from  map[string][]int // source link -> indices of its rules
}

// rule is a Rule made ready to decide with.
type rule struct {
	index     int
	every     bool
	types     []ruleType // resolved: Proto set, Domain empty
	dests     []dest
	instances []string // patterns with '/' replaced (globName)
	sources   []netip.Prefix
	conf      Conformance
}

// dest is a destination of a rule.
type dest struct {
	name string
	zone bool
}

// NewPolicy checks cfg (Config.Validate) and resolves its rules'
// service types given by registry name ("timezone") against reg (nil
// means registry.Builtin()): a name that reg does not know, or knows as
// unusable for DNS-SD, is a ConfigError naming the type
// ("rules[0].types[1]"). Errors are ConfigErrors. The Policy keeps
// copies of what it needs: cfg may be changed afterwards.
//
// Reloading a configuration is Load (or Parse) then NewPolicy: when both
// succeed the new configuration is valid whole.
func NewPolicy(cfg *Config, reg *registry.Registry) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = registry.Builtin()
	}
	p := &Policy{reg: reg, from: map[string][]int{}}
	var v errs
	for i, r := range cfg.Rules {
		cr := rule{index: i, conf: r.Conformance, sources: slices.Clone(r.Sources)}
		if cr.conf == "" {
			cr.conf = Any
		}
		for j, s := range r.Types {
			if s == EveryType {
				cr.every = true
				continue
			}
			t, err := resolveType(s, reg)
			if err != nil {
				v.add(index(member(index("rules", i), "types"), j), "", err)
				continue
			}
			cr.types = append(cr.types, t)
		}
		for _, n := range r.To {
			cr.dests = append(cr.dests, dest{name: n})
		}
		for _, n := range r.ToZones {
			cr.dests = append(cr.dests, dest{name: n, zone: true})
		}
		for _, g := range r.Instances {
			cr.instances = append(cr.instances, globName(g))
		}
		p.rules = append(p.rules, cr)
		for _, l := range r.From {
			if !slices.Contains(p.from[l], i) {
				p.from[l] = append(p.from[l], i)
			}
		}
	}
	if err := v.result(nil); err != nil {
		return nil, err
	}
	return p, nil
}

// resolveType parses a rule's type, taking the protocol of a bare
// registry name from reg.
func resolveType(s string, reg *registry.Registry) (ruleType, error) {
	t, err := parseRuleType(s)
	if err != nil || t.Proto != "" {
		return t, err
	}
	svc, ok := reg.Lookup(s)
	if !ok {
		return ruleType{}, fmt.Errorf("service %q is not in the registry; give the type as _%s._tcp or _%s._udp", s, s, s)
	}
	if !svc.Usable() {
		return ruleType{}, fmt.Errorf("service %q cannot be a DNS-SD type: %w", s, svc.SyntaxErr)
	}
	rt, err := registry.ParseType(svc.Type())
	if err != nil {
		return ruleType{}, fmt.Errorf("service %q: %w", s, err)
	}
	return ruleType{Type: rt, text: s}, nil
}

// globName makes '/' an ordinary byte for path.Match, whose '*' and '?'
// would not match it: it becomes NUL, in patterns and names alike.
func globName(s string) string { return strings.ReplaceAll(s, "/", "\x00") }

// Decide says, for every destination of every rule whose From holds the
// link from, whether the instance in, seen on from, crosses there.
// linkPrefixes are the subnets of from (its interfaces' prefixes);
// subtypes are the subtype labels, raw ("_printer"), that in was found
// under on from (sd.Instance does not carry them: a browser of
// "_printer._sub._http._tcp" learns them).
//
// A rule lets in cross when every one of its filters passes, in this
// order (the first that fails is the Decision's Filter and Reason):
//
//   - type: in.Service is one of the rule's types, or the rule's types
//     are "*"; a subtype type ("_printer._sub._http._tcp") matches an
//     instance of its base type found under that subtype. Service names
//     and subtypes compare with ASCII case folding only (RFC 6762
//     section 16).
//   - instances: when the rule has patterns, the raw instance label
//     matches one (path.Match syntax, except that '*' and '?' match
//     '/' too).
//   - addresses (every rule): link-local addresses (169.254.0.0/16,
//     fe80::/10) never cross and are left out; at least one address must
//     remain ("no routable address"), and every remaining one must lie
//     in linkPrefixes, else the instance is not from this link (a record
//     another gateway proxied onto it) and is refused: "address
//     203.0.113.9 not on link office (loop prevention)".
//   - sources: when the rule has prefixes, at least one of the routable
//     addresses lies in one of them (one host, dual-stack, has addresses
//     in several prefixes; its IPv4 address is enough).
//   - conformance: "conforming": txt.Validate of in.TXT against the
//     Policy's registry finds no error; "strict": no finding at all
//     (txt.Options.Strict). The Policy validates itself rather than
//     reading in.Report, so that the verdict is its registry's and an
//     instance's address warning does not count.
//
// One Decision is returned per destination, in the order destinations
// first appear in the rules (a rule's To, then its ToZones). When
// several rules reach the same destination, the first rule that lets the
// instance cross decides; when none does, the refusal of the first rule
// whose types matched the instance is reported (it says more: the
// instance pattern, address, source or conformance that refused it),
// else the first rule's. A link without rules gets no Decision at all: nothing
// crosses without a rule.
func (p *Policy) Decide(from string, linkPrefixes []netip.Prefix, in sd.Instance, subtypes []string) []Decision {
	idx := p.from[from]
	if len(idx) == 0 {
		return nil
	}
	f := p.facts(from, linkPrefixes, in, subtypes)
	var out []Decision
	pos := map[dest]int{}
	for _, i := range idx {
		r := &p.rules[i]
		filter, reason := f.judge(r)
		for _, d := range r.dests {
			dec := Decision{Rule: r.index, To: d.name, Zone: d.zone, Proxy: filter == "", Filter: filter, Reason: reason}
			if dec.Proxy {
				dec.Addrs = slices.Clone(f.addrs)
			}
			if j, seen := pos[d]; seen {
				prev := out[j]
				typeOnly := func(f Filter) bool { return f == FilterType || f == FilterSubtype }
				if (dec.Proxy && !prev.Proxy) || (!prev.Proxy && typeOnly(prev.Filter) && !typeOnly(dec.Filter)) {
					out[j] = dec
				}
				continue
			}
			pos[d] = len(out)
			out = append(out, dec)
		}
	}
	return out
}

// facts are what Decide works out about an instance once for all rules.
type facts struct {
	p        *Policy
	in       sd.Instance
	typeOK   bool
	typeKey  string          // "timezone.tcp": ASCII lower case
	subtypes map[string]bool // ASCII lower case, raw
	addrs    []netip.Addr    // routable
	// addrFilter and addrReason refuse every rule when set.
	addrFilter Filter
	addrReason string
	reports    map[bool]*txt.Report // by strictness, computed when needed
}

// facts works out what Decide needs about in.
func (p *Policy) facts(from string, linkPrefixes []netip.Prefix, in sd.Instance, subtypes []string) *facts {
	f := &facts{p: p, in: in, subtypes: map[string]bool{}, reports: map[bool]*txt.Report{}}
	if t, err := registry.ParseType(in.Service); err == nil && t.Proto != "" && t.Subtype == "" {
		f.typeOK = true
		f.typeKey = dnsname.ASCIILower(t.Service) + "." + t.Proto
	}
	for _, s := range subtypes {
		f.subtypes[dnsname.ASCIILower(s)] = true
	}
	var prefixes []netip.Prefix
	for _, pfx := range linkPrefixes {
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		prefixes = append(prefixes, pfx.Masked())
	}
	for _, a := range in.Addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsLinkLocalUnicast() {
			continue
		}
		a = a.WithZone("")
		f.addrs = append(f.addrs, a)
		if f.addrFilter == "" && !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) }) {
			f.addrFilter = FilterLoop
			f.addrReason = fmt.Sprintf("address %v not on link %s (loop prevention)", a, from)
		}
	}
	if len(f.addrs) == 0 {
		f.addrFilter = FilterAddress
		f.addrReason = "no routable address (link-local addresses never cross a link)"
	}
	return f
}

// judge applies rule r: the Filter and reason that refuse the instance,
// or "" and "".
func (f *facts) judge(r *rule) (Filter, string) {
	in := f.in
	name := fmt.Sprintf("rules[%d]", r.index)
	if !f.typeOK {
		return FilterType, fmt.Sprintf("type %q is not a service type", in.Service)
	}
	if !r.every {
		base, wanted := false, []string(nil)
		for _, t := range r.types {
			if dnsname.ASCIILower(t.Service)+"."+t.Proto != f.typeKey {
				continue
			}
			if t.Subtype == "" {
				base = true
				break
			}
			sub := dnsname.ASCIILower(dnsname.UnescapeLabel(t.Subtype))
			if f.subtypes[sub] {
				base = true
				break
			}
			wanted = append(wanted, dnsname.EscapeLabel(dnsname.UnescapeLabel(t.Subtype)))
		}
		switch {
		case base:
		case wanted != nil:
			return FilterSubtype, fmt.Sprintf("%s not found under subtype %s (%s.types)", in.Service, strings.Join(wanted, " or "), name)
		default:
			return FilterType, fmt.Sprintf("type %s not in %s.types", in.Service, name)
		}
	}
	if len(r.instances) > 0 {
		label := globName(in.Instance)
		if !slices.ContainsFunc(r.instances, func(g string) bool { ok, _ := path.Match(g, label); return ok }) {
			return FilterInstance, fmt.Sprintf("instance %q matches no pattern of %s.instances", in.Instance, name)
		}
	}
	if f.addrFilter != "" {
		return f.addrFilter, f.addrReason
	}
	if len(r.sources) > 0 {
		inside := slices.ContainsFunc(f.addrs, func(a netip.Addr) bool {
			return slices.ContainsFunc(r.sources, func(p netip.Prefix) bool { return p.Contains(a) })
		})
		if !inside {
			return FilterSources, fmt.Sprintf("no address of the instance (%s) inside %s.sources", joinAddrs(f.addrs), name)
		}
	}
	switch r.conf {
	case Conforming:
		if rep := f.report(false); !rep.Conforms() {
			return FilterConformance, fmt.Sprintf("TXT record does not conform (%s.conformance %q): %v", name, r.conf, rep.Errors()[0])
		}
	case Strict:
		if rep := f.report(true); len(rep.Findings) > 0 {
			return FilterConformance, fmt.Sprintf("TXT record has findings (%s.conformance %q): %v", name, r.conf, rep.Findings[0])
		}
	}
	return "", ""
}

// report validates the instance's TXT record against the Policy's
// registry, once per strictness.
func (f *facts) report(strict bool) *txt.Report {
	if rep := f.reports[strict]; rep != nil {
		return rep
	}
	svc, _ := f.p.reg.Lookup(f.in.Service)
	rep := txt.Validate(f.in.TXT, svc, txt.Options{Strict: strict})
	f.reports[strict] = &rep
	return &rep
}

// joinAddrs writes addresses as "a, b".
func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// BrowseTypes returns the types to browse on the link from for its
// rules: each rule type in DNS-SD form ("_timezone._tcp", a registry
// name resolved; "_printer._sub._http._tcp" for a subtype), sorted,
// each once; sd.ServicesType ("_services._dns-sd._udp", the type
// enumeration) stands for a rule of every type. Empty for a link without
// rules.
func (p *Policy) BrowseTypes(from string) []string {
	set := map[string]string{}
	for _, i := range p.from[from] {
		r := &p.rules[i]
		if r.every {
			set[dnsname.MustKey(sd.ServicesType)] = sd.ServicesType
		}
		for _, t := range r.types {
			s := registry.Type{Service: dnsname.ASCIILower(t.Service), Proto: t.Proto, Subtype: t.Subtype}.String()
			if _, ok := set[t.key()]; !ok { // the first spelling
				set[t.key()] = s
			}
		}
	}
	return slices.Sorted(maps.Values(set))
}

// SourcesFor returns the source links whose rules send instances of the
// service type query to the link to: the links to ask when a query about
// query arrives on to (as an RFC 8766 discovery proxy asks on demand).
// query is a type ("_http._tcp", matched by rules of that type, of any
// of its subtypes, or of every type), a subtype
// ("_printer._sub._http._tcp", matched by rules of its base type, of
// that subtype or of every type) or sd.ServicesType (every rule to the
// link). Sorted; nil when none.
func (p *Policy) SourcesFor(to, query string) []string {
	enum := dnsname.Equal(query, sd.ServicesType)
	var key, sub string
	if !enum {
		t, err := registry.ParseType(query)
		if err != nil || t.Proto == "" {
			return nil
		}
		key = dnsname.ASCIILower(t.Service) + "." + t.Proto
		sub = dnsname.ASCIILower(dnsname.UnescapeLabel(t.Subtype))
	}
	set := map[string]bool{}
	for from, idx := range p.from {
		for _, i := range idx {
			r := &p.rules[i]
			if !slices.Contains(r.dests, dest{name: to}) {
				continue
			}
			match := enum || r.every || slices.ContainsFunc(r.types, func(t ruleType) bool {
				if dnsname.ASCIILower(t.Service)+"."+t.Proto != key {
					return false
				}
				return sub == "" || t.Subtype == "" || dnsname.ASCIILower(dnsname.UnescapeLabel(t.Subtype)) == sub
			})
			if match {
				set[from] = true
			}
		}
	}
	if len(set) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(set))
}
