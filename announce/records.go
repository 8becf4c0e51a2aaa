package announce

import (
	"bytes"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// rec is one resource record we own: its data (class IN, our TTL, no
// cache-flush bit; those are set per message) and whether it is unique
// (RFC 6762 section 2: records for names we claim by probing) or shared.
type rec struct {
	rr     dns.RR
	unique bool
	key    string // dnsname.RRKey(rr), when computed (keyed)
	// expires, when not zero, is when the record runs out at its source
	// (a proxied record, proxy.go), in Unix nanoseconds: it is never sent
	// with a TTL reaching beyond it (RFC 6762 section 10). Not a
	// time.Time: records are copied by value on every answer, and 24
	// bytes more per record made the answer path 20-30 % slower.
	expires int64
}

// expiry returns the time rc.expires stands for (zero when none).
func (rc rec) expiry() time.Time {
	if rc.expires == 0 {
		return time.Time{}
	}
	return time.Unix(0, rc.expires)
}

// unixExpiry is t as rec.expires holds it.
func unixExpiry(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// keyed returns rc with its key computed.
func keyed(rc rec) rec {
	if rc.key == "" {
		rc.key = dnsname.RRKey(rc.rr)
	}
	return rc
}

// keyOf returns dnsname.RRKey(rc.rr), computing it only if rc is not keyed.
func (rc rec) keyOf() string {
	if rc.key != "" {
		return rc.key
	}
	return dnsname.RRKey(rc.rr)
}

// ttl returns the TTL rc is given now: its own, or less for a proxied
// record whose source runs out sooner (rec.expires).
func (rc rec) ttl() uint32 { return capTTL(rc.rr.Header().Ttl, rc.expiry()) }

// capTTL returns ttl, or the whole seconds left until expires when that
// is less (at least 1 until then): a proxy never publishes a record for
// longer than its source still holds it (RFC 6762 section 10). A zero
// expires caps nothing, and a zero ttl (a goodbye) stays zero.
func capTTL(ttl uint32, expires time.Time) uint32 {
	if expires.IsZero() || ttl == 0 {
		return ttl
	}
	left := int64(time.Until(expires) / time.Second)
	if left < 1 {
		left = 1
	}
	if left < int64(ttl) {
		return uint32(left)
	}
	return ttl
}

// prepare returns a copy of rc's record ready to be sent: TTL ttl (capped
// for a proxied record, rec.ttl), and the cache-flush bit set when flush
// is true and the record is unique (RFC 6762 section 10.2: never on
// shared records).
func prepare(rc rec, ttl uint32, flush bool) dns.RR {
	cp := dns.Copy(rc.rr)
	h := cp.Header()
	h.Ttl = capTTL(ttl, rc.expiry())
	h.Class = dns.ClassINET
	if flush && rc.unique {
		h.Class |= dnsname.CacheFlush
	}
	return cp
}

// hostName returns the responder's current host name, e.g. "h1.local.".
func (r *Responder) hostFQDN() string { return r.nameOf(r.host) }

// nameOf returns the unique name an entity claims: the host name or the
// service instance name.
func (r *Responder) nameOf(e *entity) string {
	r.memoName(e)
	return e.name
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
func (r *Responder) hostRecords(ifc mdns.Interface) []rec { return r.hostAddrRecords(ifc.Addrs) }

// hostAddrRecords returns the A and AAAA records of our host name for
// addrs (the unspecified and multicast addresses left out).
func (r *Responder) hostAddrRecords(addrs []netip.Addr) []rec {
	return addrRecords(r.hostFQDN(), r.ttl.host, addrs)
}

// addrRecords returns the unique A and AAAA records of name for addrs,
// with TTL ttl: each address once, IPv4-mapped ones as IPv4, the
// unspecified and multicast ones left out.
func addrRecords(name string, ttl uint32, addrs []netip.Addr) []rec {
	var out []rec
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || seen[a] || a.IsUnspecified() || a.IsMulticast() {
			continue
		}
		seen[a] = true
		hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
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
		out = append(out, rec{rr: &dns.PTR{Hdr: dns.RR_Header{Name: dnsname.EscapeLabel(sub) + "." + dnsname.SubLabel + "." + typ, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: r.ttl.other}, Ptr: inst}})
	}
	out = append(out,
		rec{rr: s.enumerationPTR(r.ttl.other)},
		rec{rr: &dns.SRV{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: r.ttl.host}, Port: s.port, Target: r.targetOf(e)}, unique: true},
		rec{rr: s.txtRR(inst, r.ttl.other), unique: true},
	)
	return out
}

// recordsOf returns all records of e valid on ifc: none for a proxied
// entity on an interface other than its own.
func (r *Responder) recordsOf(e *entity, ifc mdns.Interface) []rec {
	if e.scope != 0 && ifc.Index != e.scope {
		return nil
	}
	switch e.kind {
	case kindHost:
		return r.hostRecords(ifc)
	case kindProxyHost:
		return r.proxyHostRecords(e)
	}
	return r.proxyCap(e, r.serviceRecords(e))
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
	if e.scope != 0 {
		ifcs = []mdns.Interface{{Index: e.scope}}
	} else if e.kind == kindService {
		ifcs = ifcs[:min(len(ifcs), 1)]
		if len(ifcs) == 0 {
			ifcs = []mdns.Interface{{}}
		}
	}
	for _, ifc := range ifcs {
		for _, rr := range r.uniqueRecords(e, ifc) {
			keys[dnsname.RRKey(rr)] = true
		}
		if n := r.nsecFor(e, ifc); n != nil {
			keys[dnsname.RRKey(n)] = true
		}
	}
	return keys
}

// typesOf returns the record types e has under its unique name on ifc.
func (r *Responder) typesOf(e *entity, ifc mdns.Interface) []uint16 {
	if e.kind == kindService {
		return []uint16{dns.TypeTXT, dns.TypeSRV}
	}
	if e.kind == kindProxyHost {
		return proxyHostTypes(r.proxyHostAddrs(e))
	}
	var ts []uint16
	if ifc.HasFamily(mdns.IPv4) {
		ts = append(ts, dns.TypeA)
	}
	if ifc.HasFamily(mdns.IPv6) {
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
	if e.kind == kindHost || e.kind == kindProxyHost {
		ttl = r.ttl.host
	}
	ttl = capTTL(ttl, r.expiryOf(e))
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

// answerableOn reports whether e's records may be given in responses on
// interface idx: answerable, and not being probed again there after a
// link change (RFC 6762 section 8).
func (e *entity) answerableOn(idx int) bool {
	return e.answerable() && !e.reprobe[idx] && (e.scope == 0 || e.scope == idx)
}

// probesOn reports whether e's name is being probed on interface idx:
// everywhere while its state is stateProbing, or there after a link change.
func (e *entity) probesOn(idx int) bool {
	return (e.state == stateProbing || e.reprobe[idx]) && (e.scope == 0 || e.scope == idx)
}

// owners maps the unique names of this responder (host name, instance
// names), as dnsname.MustKey, to their entities. Built when first needed
// after a change (Responder.changed); callers must not modify it.
func (r *Responder) owners() map[string]*entity {
	if r.ownCache != nil {
		return r.ownCache
	}
	m := make(map[string]*entity, len(r.services)+1)
	for _, e := range append([]*entity{r.host}, r.services...) {
		if e.state != stateRemoved {
			m[dnsname.MustKey(r.nameOf(e))] = e
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
	ca, cb := a.Header().Class&^dnsname.CacheFlush, b.Header().Class&^dnsname.CacheFlush
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
	return bytes.Compare(dnsname.Rdata(a), dnsname.Rdata(b))
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
