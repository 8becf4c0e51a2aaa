package announce

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
)

// Top bits of the class fields (RFC 6762 sections 5.4 and 10.2).
const (
	// quBit is the unicast-response bit of a question's class (section 5.4).
	quBit = 1 << 15
	// cacheFlush is the cache-flush bit of a resource record's class (section 10.2).
	cacheFlush = 1 << 15
)

// Fixed names of DNS-SD (RFC 6763).
const (
	// enumLabels is the service type enumeration name before the domain
	// (RFC 6763 section 9).
	enumLabels = "_services._dns-sd._udp."
	// subLabel marks a subtype name (RFC 6763 section 7.1).
	subLabel = "._sub."
	// localDomain is the only domain this responder answers in (RFC 6762 section 3).
	localDomain = "local."
)

// rec is one resource record we own: its data (class IN, our TTL, no
// cache-flush bit; those are set per message) and whether it is unique
// (RFC 6762 section 2: records for names we claim by probing) or shared.
type rec struct {
	rr     dns.RR
	unique bool
	key    string // rrKey(rr), when computed (keyed)
}

// keyed returns rc with its key computed.
func keyed(rc rec) rec {
	if rc.key == "" {
		rc.key = rrKey(rc.rr)
	}
	return rc
}

// keyOf returns rrKey(rc.rr), computing it only if rc is not keyed.
func (rc rec) keyOf() string {
	if rc.key != "" {
		return rc.key
	}
	return rrKey(rc.rr)
}

// escapeLabel turns arbitrary label bytes (an instance name may hold dots,
// spaces and any UTF-8, RFC 6763 section 4.1.1) into the escaped
// presentation form miekg/dns packs back into exactly those bytes.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte('\\')
			b.WriteByte('0' + c/100)
			b.WriteByte('0' + c/10%10)
			b.WriteByte('0' + c%10)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nameWire returns the uncompressed wire form of the presentation-form
// name s with ASCII letters folded to lower case: equal keys mean the same
// name, compared case-insensitively for ASCII only and byte-for-byte for
// everything else (RFC 6762 section 16). Label length bytes are at most 63
// and so are never folded. An unpackable name gives its lower-cased text
// behind a marker byte so that it can still be compared.
func nameWire(s string) []byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(s), buf, 0, nil, false)
	if err != nil {
		return append([]byte{0xff}, strings.ToLower(s)...)
	}
	buf = buf[:n]
	for i, c := range buf {
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return buf
}

// nameKey is nameWire as a string, for maps and equality.
func nameKey(s string) string { return string(nameWire(s)) }

// sameName reports whether two presentation-form names are the same name.
func sameName(a, b string) bool { return bytes.Equal(nameWire(a), nameWire(b)) }

// canonName returns s in a canonical presentation form: lower-case ASCII
// and miekg/dns escapes, so that names inside rdata compare equal when the
// names are equal.
func canonName(s string) string {
	w := nameWire(s)
	if len(w) > 0 && w[0] == 0xff {
		return string(w)
	}
	name, _, err := dns.UnpackDomainName(w, 0)
	if err != nil {
		return string(w)
	}
	return name
}

// rdata returns the uncompressed rdata bytes of rr as it would be sent
// (RFC 6762 section 8.2: the "raw" rdata used for the tie-break), or nil
// if rr cannot be packed.
func rdata(rr dns.RR) []byte {
	cp := dns.Copy(rr)
	ch := cp.Header()
	ch.Name = "."
	buf := make([]byte, dns.Len(cp)+16)
	off, err := dns.PackRR(cp, buf, 0, nil, false)
	if err != nil {
		return nil
	}
	// Root name (1 byte) + type, class, TTL, rdlength (10 bytes).
	if off < 11 {
		return nil
	}
	return buf[11:off]
}

// rrKey identifies a record by name, type, class (without the cache-flush
// bit) and rdata, ignoring the TTL and the case of names (also names in
// PTR, SRV and NSEC rdata). Two records with the same key are "the same
// record" for known-answer suppression (RFC 6762 section 7.1) and conflict
// detection (section 9).
func rrKey(rr dns.RR) string {
	cp := dns.Copy(rr)
	h := cp.Header()
	h.Name = canonName(h.Name)
	h.Class &^= cacheFlush
	h.Ttl = 0
	switch v := cp.(type) {
	case *dns.PTR:
		v.Ptr = canonName(v.Ptr)
	case *dns.SRV:
		v.Target = canonName(v.Target)
	case *dns.NSEC:
		v.NextDomain = canonName(v.NextDomain)
	}
	buf := make([]byte, dns.Len(cp)+16)
	off, err := dns.PackRR(cp, buf, 0, nil, false)
	if err != nil {
		return "!" + cp.String()
	}
	return string(buf[:off])
}

// prepare returns a copy of rc's record ready to be sent: TTL ttl, and the
// cache-flush bit set when flush is true and the record is unique
// (RFC 6762 section 10.2: never on shared records).
func prepare(rc rec, ttl uint32, flush bool) dns.RR {
	cp := dns.Copy(rc.rr)
	h := cp.Header()
	h.Ttl = ttl
	h.Class = dns.ClassINET
	if flush && rc.unique {
		h.Class |= cacheFlush
	}
	return cp
}

// hasFamily reports whether ifc has an address of family f.
func hasFamily(ifc mdns.Interface, f mdns.Family) bool {
	for _, a := range ifc.Addrs {
		if familyOf(a) == f {
			return true
		}
	}
	return false
}

// familyOf returns the family of a.
func familyOf(a netip.Addr) mdns.Family {
	if a.Is4() || a.Is4In6() {
		return mdns.IPv4
	}
	return mdns.IPv6
}

// hostName returns the responder's current host name, e.g. "h1.local.".
func (r *Responder) hostFQDN() string { return escapeLabel(r.host.label) + "." + localDomain }

// nameOf returns the unique name an entity claims: the host name or the
// service instance name.
func (r *Responder) nameOf(e *entity) string {
	if e.kind == kindHost {
		return r.hostFQDN()
	}
	return e.svc.instanceName(e.label)
}

// target returns the SRV target host name of a service entity.
func (r *Responder) targetOf(e *entity) string {
	if e.svc.host != "" {
		return e.svc.host
	}
	return r.hostFQDN()
}

// hostRecords returns the A and AAAA records of our host name for one
// interface: that interface's own addresses only (RFC 6762 section 6.2:
// answer with the addresses valid on the interface the query came in on).
func (r *Responder) hostRecords(ifc mdns.Interface) []rec {
	name := r.hostFQDN()
	var out []rec
	seen := map[netip.Addr]bool{}
	for _, a := range ifc.Addrs {
		a = a.Unmap()
		if !a.IsValid() || seen[a] || a.IsUnspecified() || a.IsMulticast() {
			continue
		}
		seen[a] = true
		hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: r.ttl.host}
		if a.Is4() {
			hdr.Rrtype = dns.TypeA
			out = append(out, rec{rr: &dns.A{Hdr: hdr, A: a.AsSlice()}, unique: true})
		} else {
			hdr.Rrtype = dns.TypeAAAA
			out = append(out, rec{rr: &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}, unique: true})
		}
	}
	return out
}

// serviceRecords returns every record of a service entity (RFC 6763):
// the PTR from the service type (section 4.1), the subtype PTRs (7.1), the
// PTR from the enumeration name (9), all shared; SRV (5) and TXT (6), unique.
func (r *Responder) serviceRecords(e *entity) []rec {
	s := e.svc
	inst := s.instanceName(e.label)
	typ := s.typeName()
	out := []rec{
		{rr: &dns.PTR{Hdr: dns.RR_Header{Name: typ, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: r.ttl.other}, Ptr: inst}},
	}
	for _, sub := range s.subtypes {
		out = append(out, rec{rr: &dns.PTR{Hdr: dns.RR_Header{Name: escapeLabel(sub) + subLabel + typ, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: r.ttl.other}, Ptr: inst}})
	}
	out = append(out,
		rec{rr: &dns.PTR{Hdr: dns.RR_Header{Name: enumLabels + s.domain, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: r.ttl.other}, Ptr: typ}},
		rec{rr: &dns.SRV{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: r.ttl.host}, Port: s.port, Target: r.targetOf(e)}, unique: true},
		rec{rr: s.txtRR(inst, r.ttl.other), unique: true},
	)
	return out
}

// recordsOf returns all records of e valid on ifc.
func (r *Responder) recordsOf(e *entity, ifc mdns.Interface) []rec {
	if e.kind == kindHost {
		return r.hostRecords(ifc)
	}
	return r.serviceRecords(e)
}

// uniqueRecords returns the records of e whose name e claims: the
// proposed records of a probe (RFC 6762 section 8.1) and the set compared
// in the tie-break (section 8.2).
func (r *Responder) uniqueRecords(e *entity, ifc mdns.Interface) []dns.RR {
	var out []dns.RR
	for _, rc := range r.recordsOf(e, ifc) {
		if rc.unique {
			out = append(out, rc.rr)
		}
	}
	return out
}

// ownKeys returns the keys of every unique record of e on any interface,
// plus its NSEC records: anything another host sends that is among them is
// our own data and no conflict (RFC 6762 section 9: identical rdata is no
// conflict; a multihomed host sees its own records from every interface).
func (r *Responder) ownKeys(e *entity) map[string]bool {
	keys := map[string]bool{}
	ifcs := r.tr.Interfaces()
	if e.kind == kindService {
		ifcs = ifcs[:min(len(ifcs), 1)]
		if len(ifcs) == 0 {
			ifcs = []mdns.Interface{{}}
		}
	}
	for _, ifc := range ifcs {
		for _, rr := range r.uniqueRecords(e, ifc) {
			keys[rrKey(rr)] = true
		}
		if n := r.nsecFor(e, ifc); n != nil {
			keys[rrKey(n)] = true
		}
	}
	return keys
}

// typesOf returns the record types e has under its unique name on ifc.
func (r *Responder) typesOf(e *entity, ifc mdns.Interface) []uint16 {
	if e.kind == kindService {
		return []uint16{dns.TypeTXT, dns.TypeSRV}
	}
	var ts []uint16
	if hasFamily(ifc, mdns.IPv4) {
		ts = append(ts, dns.TypeA)
	}
	if hasFamily(ifc, mdns.IPv6) {
		ts = append(ts, dns.TypeAAAA)
	}
	return ts
}

// nsecFor returns the NSEC record asserting which types exist under e's
// unique name on ifc (RFC 6762 section 6.1: the Next Domain Name is the
// record's own name and the bitmap lists the types that exist), or nil if
// e has no records there. Its TTL is that of the records it stands beside
// (section 10: 120 s for a host name, the other TTL for an instance name).
func (r *Responder) nsecFor(e *entity, ifc mdns.Interface) dns.RR {
	ts := r.typesOf(e, ifc)
	if len(ts) == 0 {
		return nil
	}
	slices.Sort(ts)
	name := r.nameOf(e)
	ttl := r.ttl.other
	if e.kind == kindHost {
		ttl = r.ttl.host
	}
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: name,
		TypeBitMap: ts,
	}
}

// answerable reports whether e's records may be given in responses: only
// once probing has completed (RFC 6762 section 8.1).
func (e *entity) answerable() bool {
	return e.state == stateAnnouncing || e.state == stateEstablished
}

// owners maps the unique names of this responder (host name, instance
// names), as nameKey, to their entities. Built when first needed after a
// change (Responder.changed); callers must not modify it.
func (r *Responder) owners() map[string]*entity {
	if r.ownCache != nil {
		return r.ownCache
	}
	m := make(map[string]*entity, len(r.services)+1)
	for _, e := range append([]*entity{r.host}, r.services...) {
		if e.state != stateRemoved {
			m[nameKey(r.nameOf(e))] = e
		}
	}
	r.ownCache = m
	return m
}

// compareRR orders two records as RFC 6762 section 8.2 prescribes for the
// simultaneous-probe tie-break: by class (without the cache-flush bit),
// then type, then the raw uncompressed rdata compared as unsigned bytes,
// where a prefix sorts first.
func compareRR(a, b dns.RR) int {
	ca, cb := a.Header().Class&^cacheFlush, b.Header().Class&^cacheFlush
	if ca != cb {
		if ca < cb {
			return -1
		}
		return 1
	}
	ta, tb := a.Header().Rrtype, b.Header().Rrtype
	if ta != tb {
		if ta < tb {
			return -1
		}
		return 1
	}
	return bytes.Compare(rdata(a), rdata(b))
}

// compareSets compares two record sets for the tie-break (RFC 6762
// section 8.2): both are sorted, then compared pairwise; the first
// difference decides, and if one set runs out first, the one that still has
// records is the later (greater) one. It returns -1 if ours is earlier
// (we lose), +1 if it is later (we win), 0 if identical.
func compareSets(ours, theirs []dns.RR) int {
	a := slices.Clone(ours)
	b := slices.Clone(theirs)
	slices.SortFunc(a, compareRR)
	slices.SortFunc(b, compareRR)
	a = slices.CompactFunc(a, func(x, y dns.RR) bool { return compareRR(x, y) == 0 })
	b = slices.CompactFunc(b, func(x, y dns.RR) bool { return compareRR(x, y) == 0 })
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareRR(a[i], b[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
