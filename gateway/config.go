package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/tsig"
)

// MaxConfigSize bounds a configuration file.
const MaxConfigSize = 1 << 20

// MaxTTL is the longest zone TTL: 2^31-1 seconds (RFC 2181 section 8).
const MaxTTL = (1<<31 - 1) * time.Second

// EveryType, given alone as a rule's types, matches instances of every
// service type.
const EveryType = "*"

// Config is a gateway configuration: the links it joins, the DNS zones
// it may mirror instances into, and the rules that say what crosses. See
// the package documentation for the JSON form Parse reads and Marshal
// writes.
type Config struct {
	// Links are the links by name ([a-z0-9-], 1 to 63 bytes).
	Links map[string]Link
	// Zones are the unicast DNS zones by name (the same syntax as link
	// names; a zone may not share a link's name).
	Zones map[string]Zone
	// Rules say what crosses from which links to which links and zones;
	// without a rule nothing crosses.
	Rules []Rule
}

// Link is a named set of network interfaces: one link (VLAN, subnet)
// as the gateway sees it.
type Link struct {
	// Interfaces are the names of the link's interfaces ("eth0.10"), at
	// least one; an interface belongs to one link only.
	Interfaces []string
}

// Zone is a unicast DNS zone that instances can be mirrored into with
// DNS UPDATE (package wide's Registrar).
type Zone struct {
	// Domain is the zone's apex, fully qualified: "dnssd.example.net.".
	// It may not be local. or under it.
	Domain string
	// Server is the server updates go to, host or host:port; "" means
	// the zone's primary server, looked up when needed (the MNAME of its
	// SOA record).
	Server string
	// TSIG is the key that signs updates, or the zero Key (unsigned).
	TSIG tsig.Key
	// TSIGFile is the BIND key file TSIG was read from ("tsig_file"), or
	// "" when it was given inline ("tsig"). Load resolves a relative path
	// against the configuration file's directory and keeps the result
	// here; Validate does not read it.
	TSIGFile string
	// TTL is the TTL of the records written; zero means the registrar's
	// default. A whole number of seconds, at most MaxTTL.
	TTL time.Duration
}

// Conformance is how much of the TXT record checks an instance must pass
// to cross (package txt, against the registry's rules for its type).
type Conformance string

// The conformance levels a rule can ask for.
const (
	// Any: no check (the default).
	Any Conformance = "any"
	// Conforming: the TXT record conforms, no finding of severity error
	// (txt.Report.Conforms).
	Conforming Conformance = "conforming"
	// Strict: no finding at all, warnings included (txt.Options.Strict).
	Strict Conformance = "strict"
)

// Rule lets instances cross from links to other links and zones.
type Rule struct {
	// From are the source links, at least one.
	From []string
	// To are the destination links, none of them in From; ToZones the
	// destination zones. A rule has at least one destination.
	To, ToZones []string
	// Types are the service types that cross: "_ipp._tcp", a registry
	// name ("timezone"), a subtype ("_printer._sub._http._tcp": instances
	// of _http._tcp found under that subtype), or EveryType alone. At
	// least one; no domain.
	Types []string
	// Instances, when not empty, are path.Match patterns one of which the
	// raw instance label ("Office Printer") must match.
	Instances []string
	// Sources, when not empty, are prefixes one of which must hold at
	// least one of the instance's routable addresses.
	Sources []netip.Prefix
	// Conformance is the TXT check instances must pass; "" means Any.
	Conformance Conformance
}

// LinkOf returns the link the network interface iface belongs to.
func (c *Config) LinkOf(iface string) (string, bool) {
	for _, name := range slices.Sorted(maps.Keys(c.Links)) {
		if slices.Contains(c.Links[name].Interfaces, iface) {
			return name, true
		}
	}
	return "", false
}

// Load reads and checks a configuration file (Parse). A relative
// tsig_file is read relative to the file's directory. Every error is
// ConfigErrors whose ConfigError values name the file.
func Load(file string) (*Config, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, ConfigErrors{{File: file, Reason: "cannot read", Err: err}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, ConfigErrors{{File: file, Reason: "cannot read", Err: err}}
	}
	cfg, err := parse(data, filepath.Dir(file))
	var ce ConfigErrors
	if errors.As(err, &ce) {
		for _, e := range ce {
			e.File = file
		}
	}
	return cfg, err
}

// Parse reads a configuration in its JSON form (see the package
// documentation) and checks it whole (Validate): unknown and duplicate
// members, values of the wrong kind, names, addresses, prefixes, patterns,
// keys, and rules naming links and zones that do not exist. Every problem
// is reported, as ConfigErrors sorted by field. A relative tsig_file is
// read relative to the working directory. Service types given by
// registry name ("timezone") are resolved by NewPolicy, which needs the
// registry.
func Parse(data []byte) (*Config, error) { return parse(data, "") }

// parse is Parse with relative key files read from dir.
func parse(data []byte, dir string) (*Config, error) {
	return parseWith(data, dir, tsig.LoadFile)
}

// parseWith is parse with key files read by loadKey.
func parseWith(data []byte, dir string, loadKey func(string) (tsig.Key, error)) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, ConfigErrors{{Reason: fmt.Sprintf("larger than %d bytes", MaxConfigSize), Offset: MaxConfigSize, Line: 1, Column: 1}}
	}
	root, serr := parseJSON(data)
	if serr != nil {
		line, col := lineColumn(data, serr.off)
		return nil, ConfigErrors{{Offset: serr.off, Line: line, Column: col, Reason: serr.reason, Err: serr.err}}
	}
	d := &decoder{dir: dir, loadKey: loadKey}
	cfg := d.config(root)
	var v errs
	cfg.validate(&v)
	if err := v.result(d.list); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decoder turns a JSON value into a Config, recording what does not fit.
type decoder struct {
	errs
	dir     string
	loadKey func(string) (tsig.Key, error)
}

// object returns the members of the object v at path p, reporting
// unknown members (those not in known) and members given twice; the
// first of a duplicate counts.
func (d *decoder) object(p string, v *value, known ...string) (map[string]*value, bool) {
	if v.kind != kindObject {
		d.addf(p, "must be an object, not %s", v.kind)
		return nil, false
	}
	m := make(map[string]*value, len(v.keys))
	for i, k := range v.keys {
		if _, dup := m[k]; dup {
			d.add(member(p, k), "member given twice", nil)
			continue
		}
		if known != nil && !slices.Contains(known, k) {
			d.addf(member(p, k), "unknown member (want %s)", strings.Join(known, ", "))
			continue
		}
		m[k] = v.vals[i]
	}
	return m, true
}

// str returns the string v at path p.
func (d *decoder) str(p string, v *value) (string, bool) {
	if v.kind != kindString {
		d.addf(p, "must be a string, not %s", v.kind)
		return "", false
	}
	return v.text, true
}

// strs returns the array of strings v at path p; null is an empty list.
func (d *decoder) strs(p string, v *value) []string {
	if v.kind == kindNull {
		return nil
	}
	if v.kind != kindArray {
		d.addf(p, "must be an array of strings, not %s", v.kind)
		return nil
	}
	// An element of the wrong kind keeps its place, as "", so that the
	// indices Validate reports are the file's (its problems there are
	// left out, following from the one reported).
	out := make([]string, len(v.vals))
	for i, e := range v.vals {
		out[i], _ = d.str(index(p, i), e)
	}
	return out
}

// config decodes the top-level object.
func (d *decoder) config(root *value) *Config {
	cfg := &Config{Links: map[string]Link{}, Zones: map[string]Zone{}}
	top, ok := d.object("", root, "links", "zones", "rules")
	if !ok {
		d.list[len(d.list)-1].Field = "(top level)"
		return cfg
	}
	if v := top["links"]; v != nil && v.kind != kindNull {
		links, _ := d.object("links", v)
		for _, name := range slices.Sorted(maps.Keys(links)) {
			cfg.Links[name] = d.link(member("links", name), links[name])
		}
	}
	if v := top["zones"]; v != nil && v.kind != kindNull {
		zones, _ := d.object("zones", v)
		for _, name := range slices.Sorted(maps.Keys(zones)) {
			cfg.Zones[name] = d.zone(member("zones", name), zones[name])
		}
	}
	if v := top["rules"]; v != nil && v.kind != kindNull {
		if v.kind != kindArray {
			d.addf("rules", "must be an array of objects, not %s", v.kind)
		} else {
			cfg.Rules = make([]Rule, len(v.vals))
			for i, e := range v.vals {
				cfg.Rules[i] = d.rule(index("rules", i), e)
			}
		}
	}
	return cfg
}

// link decodes one link.
func (d *decoder) link(p string, v *value) Link {
	var l Link
	m, ok := d.object(p, v, "interfaces")
	if !ok {
		return l
	}
	if iv := m["interfaces"]; iv != nil {
		l.Interfaces = d.strs(member(p, "interfaces"), iv)
	}
	return l
}

// zone decodes one zone, reading its key.
func (d *decoder) zone(p string, v *value) Zone {
	var z Zone
	m, ok := d.object(p, v, "domain", "server", "tsig", "tsig_file", "ttl")
	if !ok {
		return z
	}
	if dv := m["domain"]; dv != nil {
		if s, ok := d.str(member(p, "domain"), dv); ok && s != "" {
			z.Domain = dns.Fqdn(s)
		}
	}
	if sv := m["server"]; sv != nil {
		z.Server, _ = d.str(member(p, "server"), sv)
	}
	kv, fv := m["tsig"], m["tsig_file"]
	switch {
	case kv != nil && fv != nil:
		d.add(member(p, "tsig_file"), `give "tsig" or "tsig_file", not both`, nil)
	case kv != nil:
		if s, ok := d.str(member(p, "tsig"), kv); ok {
			k, err := tsig.Parse(s)
			if err != nil {
				d.add(member(p, "tsig"), "", err)
			}
			z.TSIG = k
		}
	case fv != nil:
		if s, ok := d.str(member(p, "tsig_file"), fv); ok {
			if s != "" && d.dir != "" && !filepath.IsAbs(s) {
				s = filepath.Join(d.dir, s)
			}
			z.TSIGFile = s
			if s == "" {
				d.add(member(p, "tsig_file"), "empty path", nil)
			} else if k, err := d.loadKey(s); err != nil {
				d.add(member(p, "tsig_file"), "", err)
			} else {
				z.TSIG = k
			}
		}
	}
	if tv := m["ttl"]; tv != nil {
		f := member(p, "ttl")
		n, err := strconv.ParseInt(tv.text, 10, 64)
		switch {
		case tv.kind != kindNumber:
			d.addf(f, "must be a number of seconds, not %s", tv.kind)
		case err != nil:
			d.addf(f, "%s is not a whole number of seconds", tv.text)
		case n < 1 || n > int64(MaxTTL/time.Second):
			d.addf(f, "%d is outside 1 to %d seconds", n, int64(MaxTTL/time.Second))
		default:
			z.TTL = time.Duration(n) * time.Second
		}
	}
	return z
}

// rule decodes one rule.
func (d *decoder) rule(p string, v *value) Rule {
	var r Rule
	m, ok := d.object(p, v, "from", "to", "to_zones", "types", "instances", "sources", "conformance")
	if !ok {
		return r
	}
	for k, dst := range map[string]*[]string{"from": &r.From, "to": &r.To, "to_zones": &r.ToZones, "types": &r.Types, "instances": &r.Instances} {
		if lv := m[k]; lv != nil {
			*dst = d.strs(member(p, k), lv)
		}
	}
	if sv := m["sources"]; sv != nil {
		f := member(p, "sources")
		for i, s := range d.strs(f, sv) {
			pfx, err := netip.ParsePrefix(s)
			if err != nil && s != "" {
				d.add(index(f, i), "not an address prefix (198.51.100.0/24, 2001:db8::/32)", err)
			}
			r.Sources = append(r.Sources, pfx) // the zero Prefix keeps the place of one that failed
		}
	}
	if cv := m["conformance"]; cv != nil {
		s, ok := d.str(member(p, "conformance"), cv)
		r.Conformance = Conformance(s)
		if ok && s == "" {
			d.addf(member(p, "conformance"), `empty; want "any", "conforming" or "strict"`)
		}
	}
	return r
}

// Validate checks a configuration whole, as Parse does after reading
// it, and returns ConfigErrors naming each field by its JSON path, or
// nil. It reads no file: a zone's TSIGFile is not looked at.
func (c *Config) Validate() error {
	var v errs
	c.validate(&v)
	return v.result(nil)
}

// validate records the problems of c in v.
func (c *Config) validate(v *errs) {
	// Links, and which link holds each interface.
	owner := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.Links)) {
		p := member("links", name)
		if reason := checkName(name); reason != "" {
			v.add(p, "link name "+reason, nil)
		}
		l := c.Links[name]
		if len(l.Interfaces) == 0 {
			v.add(member(p, "interfaces"), "a link needs at least one interface", nil)
		}
		for i, ifc := range l.Interfaces {
			f := index(member(p, "interfaces"), i)
			if reason := checkIface(ifc); reason != "" {
				v.addf(f, "interface name %q: %s", ifc, reason)
				continue
			}
			switch o, dup := owner[ifc]; {
			case dup && o == name:
				v.addf(f, "interface %q listed twice", ifc)
			case dup:
				v.addf(f, "interface %q is also in link %q (an interface belongs to one link)", ifc, o)
			default:
				owner[ifc] = name
			}
		}
	}
	// Zones.
	domains := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.Zones)) {
		p := member("zones", name)
		if reason := checkName(name); reason != "" {
			v.add(p, "zone name "+reason, nil)
		}
		if _, ok := c.Links[name]; ok {
			v.addf(p, "zone name %q is also a link's name", name)
		}
		z := c.Zones[name]
		if z.Domain == "" {
			v.add(member(p, "domain"), "missing: the zone's domain, e.g. dnssd.example.net.", nil)
		} else if reason := checkDomain(z.Domain); reason != "" {
			v.addf(member(p, "domain"), "%q: %s", z.Domain, reason)
		} else {
			k := dnsname.MustKey(z.Domain)
			if o, dup := domains[k]; dup {
				v.addf(member(p, "domain"), "%q is also zone %q's domain", z.Domain, o)
			} else {
				domains[k] = name
			}
		}
		if z.Server != "" {
			if reason := checkServer(z.Server); reason != "" {
				v.addf(member(p, "server"), "%q: %s", z.Server, reason)
			}
		}
		if !z.TSIG.IsZero() {
			if _, err := z.TSIG.Check(); err != nil {
				f := "tsig"
				if z.TSIGFile != "" {
					f = "tsig_file"
				}
				v.add(member(p, f), "", err)
			}
		}
		switch {
		case z.TTL < 0 || z.TTL > MaxTTL:
			v.addf(member(p, "ttl"), "%v is outside 1 to %d seconds", z.TTL, int64(MaxTTL/time.Second))
		case z.TTL%time.Second != 0:
			v.addf(member(p, "ttl"), "%v is not a whole number of seconds", z.TTL)
		}
	}
	for i, r := range c.Rules {
		r.validate(v, index("rules", i), c)
	}
}

// validate records the problems of rule r, at path p of c, in v.
func (r Rule) validate(v *errs, p string, c *Config) {
	names := func(field string, list []string, known func(string) bool, what string) map[string]bool {
		seen := map[string]bool{}
		for i, n := range list {
			f := index(member(p, field), i)
			switch {
			case !known(n):
				v.addf(f, "unknown %s %q", what, n)
			case seen[n]:
				v.addf(f, "%s %q listed twice", what, n)
			}
			seen[n] = true
		}
		return seen
	}
	isLink := func(n string) bool { _, ok := c.Links[n]; return ok }
	isZone := func(n string) bool { _, ok := c.Zones[n]; return ok }
	if len(r.From) == 0 {
		v.add(member(p, "from"), "missing: a rule needs at least one source link", nil)
	}
	from := names("from", r.From, isLink, "link")
	names("to", r.To, isLink, "link")
	names("to_zones", r.ToZones, isZone, "zone")
	for i, n := range r.To {
		if from[n] && isLink(n) {
			v.addf(index(member(p, "to"), i), "link %q is also in from (a rule never sends a link's instances back to it)", n)
		}
	}
	if len(r.To) == 0 && len(r.ToZones) == 0 {
		v.add(member(p, "to"), `missing: a rule needs "to" (links) or "to_zones" (zones), or both`, nil)
	}
	if len(r.Types) == 0 {
		v.add(member(p, "types"), `no service types; give ["*"] for every type`, nil)
	}
	seen := map[string]int{}
	for i, s := range r.Types {
		f := index(member(p, "types"), i)
		if s == EveryType {
			if len(r.Types) > 1 {
				v.add(f, `"*" (every type) must be the only type`, nil)
			}
			continue
		}
		t, err := parseRuleType(s)
		if err != nil {
			v.add(f, "", err)
			continue
		}
		k := t.key()
		if j, dup := seen[k]; dup {
			v.addf(f, "type %q is types[%d] again", s, j)
		}
		seen[k] = i
	}
	for i, g := range r.Instances {
		f := index(member(p, "instances"), i)
		if g == "" {
			v.add(f, "empty pattern", nil)
		} else if _, err := path.Match(globName(g), ""); err != nil {
			v.addf(f, "pattern %q: %v (path.Match syntax)", g, err)
		}
	}
	for i, pfx := range r.Sources {
		f := index(member(p, "sources"), i)
		switch {
		case !pfx.IsValid():
			v.add(f, "not a valid prefix", nil)
		case pfx.Addr().Is4In6():
			v.addf(f, "%v is an IPv4-mapped IPv6 prefix; write it as IPv4", pfx)
		case pfx.Addr().Zone() != "":
			v.addf(f, "%v has a zone", pfx)
		case pfx.Masked() != pfx:
			v.addf(f, "%v has bits set after the prefix length (did you mean %v?)", pfx, pfx.Masked())
		}
	}
	switch r.Conformance {
	case "", Any, Conforming, Strict:
	default:
		v.addf(member(p, "conformance"), `%q: want "any", "conforming" or "strict"`, string(r.Conformance))
	}
}

// checkName returns why s is not a link or zone name, or "".
func checkName(s string) string {
	if s == "" || len(s) > 63 {
		return "must be 1 to 63 characters"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Sprintf("%q: only a-z, 0-9 and '-' (byte %d)", s, i)
		}
	}
	return ""
}

// checkIface returns why s cannot be a network interface's name, or "":
// Linux's rules (dev_valid_name: 1 to 15 bytes, not "." or "..", no '/',
// ':' or white space), and no control bytes.
func checkIface(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > 15:
		return "longer than 15 bytes"
	case s == "." || s == "..":
		return "not a name"
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == ':' }):
		return "holds '/', ':', white space or a control character"
	}
	return ""
}

// checkDomain returns why d cannot be a zone's domain, or "".
func checkDomain(d string) string {
	f := dns.Fqdn(d)
	if _, ok := dns.IsDomainName(f); !ok || f == "." || strings.Contains(f, "..") {
		return "not a domain name"
	}
	if _, ok := dnsname.Key(f); !ok {
		return "not a domain name"
	}
	if dns.IsSubDomain(dnsname.Local, dnsname.ASCIILower(f)) {
		return "local. is the Multicast DNS domain (RFC 6762 section 3), not a zone"
	}
	return ""
}

// checkServer returns why s is not host or host:port, or "".
func checkServer(s string) string {
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return "port must be 1 to 65535"
		}
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if host == "" || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }) {
		return "want host or host:port"
	}
	return ""
}

// ruleType is a service type of a rule, parsed.
type ruleType struct {
	registry.Type
	text string // as written
}

// key identifies the type for duplicates: service and subtype compared
// with ASCII case folding (RFC 6762 section 16).
func (t ruleType) key() string {
	return dnsname.ASCIILower(t.Service) + "." + t.Proto + "/" + dnsname.ASCIILower(dnsname.UnescapeLabel(t.Subtype))
}

// parseRuleType parses one of a rule's types with registry.ParseType:
// no domain, not the enumeration meta-type.
func parseRuleType(s string) (ruleType, error) {
	if dnsname.Equal(s, dnsname.ServicesType) || dnsname.Equal(s, dnsname.ServicesType+"."+dnsname.Local) {
		return ruleType{}, fmt.Errorf(`%q is the type enumeration, not a service type; give "*" for every type`, s)
	}
	t, err := registry.ParseType(s)
	if err != nil {
		return ruleType{}, err
	}
	if t.Domain != "" {
		return ruleType{}, fmt.Errorf("type %q names a domain (%s); give the type alone", s, t.Domain)
	}
	return ruleType{Type: t, text: s}, nil
}

// Marshal returns c in the JSON form Parse reads, indented; Parse of
// the result gives c again (empty lists left out, and a zone's key
// written as "tsig_file" when TSIGFile is set, else inline as "tsig":
// ALG:NAME:SECRET, the secret included). Map members come out sorted by
// name, so the output is deterministic.
func (c *Config) Marshal() ([]byte, error) {
	type link struct {
		Interfaces []string `json:"interfaces"`
	}
	type zone struct {
		Domain   string `json:"domain"`
		Server   string `json:"server,omitempty"`
		TSIG     string `json:"tsig,omitempty"`
		TSIGFile string `json:"tsig_file,omitempty"`
		TTL      int64  `json:"ttl,omitempty"`
	}
	type rule struct {
		From        []string `json:"from"`
		To          []string `json:"to,omitempty"`
		ToZones     []string `json:"to_zones,omitempty"`
		Types       []string `json:"types"`
		Instances   []string `json:"instances,omitempty"`
		Sources     []string `json:"sources,omitempty"`
		Conformance string   `json:"conformance,omitempty"`
	}
	out := struct {
		Links map[string]link `json:"links"`
		Zones map[string]zone `json:"zones,omitempty"`
		Rules []rule          `json:"rules"`
	}{Links: map[string]link{}, Zones: map[string]zone{}, Rules: []rule{}}
	for n, l := range c.Links {
		out.Links[n] = link{Interfaces: l.Interfaces}
	}
	for n, z := range c.Zones {
		jz := zone{Domain: z.Domain, Server: z.Server, TSIGFile: z.TSIGFile, TTL: int64(z.TTL / time.Second)}
		if z.TSIGFile == "" && !z.TSIG.IsZero() {
			jz.TSIG = strings.TrimSuffix(z.TSIG.Algorithm, ".") + ":" + z.TSIG.Name + ":" + z.TSIG.Secret
		}
		out.Zones[n] = jz
	}
	for _, r := range c.Rules {
		jr := rule{From: r.From, To: r.To, ToZones: r.ToZones, Types: r.Types, Instances: r.Instances}
		for _, p := range r.Sources {
			jr.Sources = append(jr.Sources, p.String())
		}
		jr.Conformance = string(r.Conformance)
		out.Rules = append(out.Rules, jr)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gateway: marshal config: %w", err)
	}
	return append(b, '\n'), nil
}
