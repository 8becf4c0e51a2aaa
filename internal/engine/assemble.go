package engine

import (
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// instState says how far an instance's records go.
type instState int

const (
	// stateIncomplete: not announced any more, or without SRV or TXT
	// record.
	stateIncomplete instState = iota
	// stateNoAddress: announced, with SRV and TXT records, but its SRV
	// target has no address on the instance's interface.
	stateNoAddress
	// stateComplete: announced, with SRV, TXT and at least one address.
	stateComplete
)

// assemble builds t's instance from the records cached on its interface,
// over both address families. It reports how complete the instance is and
// the key of its SRV target ("" without SRV).
//
// When records disagree (old and new data during a cache flush): the SRV
// record with the lowest priority, then the highest weight wins (RFC 2782
// order), then the newest data (see newer); the TXT record with the newest
// data wins.
func (e *Engine) assemble(t *tracked) (sd.Instance, instState, string) {
	var in sd.Instance
	ifIndex := t.key.ifIndex
	srv := e.bestSRV(ifIndex, t.key.name)
	txtEn := e.latest(ifIndex, setKey{name: t.key.name, rrtype: dns.TypeTXT})
	name := t.name
	if srv != nil {
		name = srv.rr.Header().Name
	}
	instLabel, service, domain, ok := SplitInstance(name)
	if !ok {
		ls := dnsname.Labels(name)
		if len(ls) > 0 {
			instLabel = ls[0]
		}
	}
	in.Instance = instLabel
	in.Service = service
	in.Domain = domain
	in.Name = dnsname.Display(name)
	iface := e.ask.IfaceName(ifIndex)
	in.Ifaces = []string{iface}
	var ttl time.Duration
	minTTL := func(d time.Duration) {
		if ttl == 0 || d < ttl {
			ttl = d
		}
	}
	// The families it was seen over: those of its PTR records, or of its
	// SRV records when pinned without one.
	var fams uint8
	for en := range t.ptrs {
		fams |= en.families
		minTTL(en.origTTL)
	}
	if len(t.ptrs) == 0 {
		for _, en := range e.cache.lookupOn(ifIndex, setKey{name: t.key.name, rrtype: dns.TypeSRV}) {
			fams |= en.families
		}
	}
	for _, f := range []sd.Family{sd.IPv4, sd.IPv6} {
		if fams&familyBit(f) != 0 {
			in.Seen = append(in.Seen, sd.Source{Iface: iface, Family: f})
		}
	}

	hostKey := ""
	if srv != nil {
		r := srv.rr.(*dns.SRV)
		in.Host = dnsname.Display(r.Target)
		in.Port = r.Port
		hostKey = dnsname.MustKey(r.Target)
		minTTL(srv.origTTL)
		var addrTTL time.Duration
		in.Addrs, addrTTL = e.addresses(ifIndex, hostKey)
		if addrTTL > 0 {
			minTTL(addrTTL)
		}
	}
	if txtEn != nil {
		minTTL(txtEn.origTTL)
		rec, err := txt.FromRR(txtEn.rr.(*dns.TXT))
		in.TXT = rec
		in.Report = e.verdict(in.Service, rec, err)
		if svc, ok := e.lookupService(in.Service); ok {
			in.Registered = svc.Name
		}
	}
	in.TTL = ttl
	st := stateIncomplete
	if e.present(t) && srv != nil && txtEn != nil && !e.leaving(t, srv) {
		st = stateNoAddress
		if len(in.Addrs) > 0 {
			st = stateComplete
		}
	}
	return in, st, hostKey
}

// bestSRV returns the SRV record of instance key on ifIndex to use, nil
// if none.
func (e *Engine) bestSRV(ifIndex int, key string) *Entry {
	var best *Entry
	for _, en := range e.cache.lookupOn(ifIndex, setKey{name: key, rrtype: dns.TypeSRV}) {
		if best == nil || betterSRV(en, best) {
			best = en
		}
	}
	return best
}

func betterSRV(a, b *Entry) bool {
	ra, rb := a.rr.(*dns.SRV), b.rr.(*dns.SRV)
	if ra.Priority != rb.Priority {
		return ra.Priority < rb.Priority
	}
	if ra.Weight != rb.Weight {
		return ra.Weight > rb.Weight
	}
	return newer(a, b)
}

// newer reports whether a holds newer data than b: a record not being
// flushed or said goodbye to beats one that is; then the record whose data
// first appeared later (new data announced with the cache-flush bit wins
// over the old, even while the old is still refreshed); then the one
// received last.
func newer(a, b *Entry) bool {
	if a.goodbye != b.goodbye {
		return !a.goodbye
	}
	if !a.first.Equal(b.first) {
		return a.first.After(b.first)
	}
	if !a.received.Equal(b.received) {
		return a.received.After(b.received)
	}
	return a.key < b.key
}

// latest returns the entry of a set on ifIndex with the newest data, nil
// if none.
func (e *Engine) latest(ifIndex int, s setKey) *Entry {
	var best *Entry
	for _, en := range e.cache.lookupOn(ifIndex, s) {
		if best == nil || newer(en, best) {
			best = en
		}
	}
	return best
}

// addresses returns the addresses of host key h seen on ifIndex (IPv6
// link-local ones zoned with the interface), sorted IPv4 first, and the
// smallest TTL among them. Addresses said goodbye to or flushed (RFC 6762
// sections 10.1 and 10.2: they live one more second) are left out when
// the host has others: a changed address is then one update with the new
// set, not the new address added and the old one removed a second later.
// When every address is going, they stay until they expire, like the
// instance's other records.
func (e *Engine) addresses(ifIndex int, h string) ([]netip.Addr, time.Duration) {
	var ens []*Entry
	live := false
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, en := range e.cache.lookupOn(ifIndex, setKey{name: h, rrtype: t}) {
			if en.addr().IsValid() {
				ens = append(ens, en)
				live = live || !en.goodbye
			}
		}
	}
	var out []netip.Addr
	var ttl time.Duration
	for _, en := range ens {
		if live && en.goodbye {
			continue
		}
		a := en.addr()
		if a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
			a = a.WithZone(e.ask.IfaceName(en.ifIndex))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
		if ttl == 0 || en.origTTL < ttl {
			ttl = en.origTTL
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int {
		if a.Is4() != b.Is4() {
			if a.Is4() {
				return -1
			}
			return 1
		}
		return a.Compare(b)
	})
	return out, ttl
}

// askMissing asks, through Asker.Resolve, for what an instance lacks on
// its interface: its SRV and TXT records by instance name, and A and AAAA
// records of its SRV target when no address is known (answers normally
// come as additional records, RFC 6763 section 12, but may be missing or
// arrive in other packets). When the questions go out, and on which
// interfaces, is the asker's business (for Multicast DNS, RFC 6762 section
// 5.2: on every interface).
func (e *Engine) askMissing(t *tracked, now time.Time) {
	var qs []Question
	ifIndex := t.key.ifIndex
	if !e.cache.hasOn(ifIndex, setKey{name: t.key.name, rrtype: dns.TypeSRV}) {
		qs = append(qs, Question{Name: t.name, Type: dns.TypeSRV})
	}
	if !e.cache.hasOn(ifIndex, setKey{name: t.key.name, rrtype: dns.TypeTXT}) {
		qs = append(qs, Question{Name: t.name, Type: dns.TypeTXT})
	}
	if srv := e.bestSRV(ifIndex, t.key.name); srv != nil {
		target := srv.rr.(*dns.SRV).Target
		if !e.hasAddress(ifIndex, dnsname.MustKey(target)) {
			qs = append(qs, Question{Name: target, Type: dns.TypeA}, Question{Name: target, Type: dns.TypeAAAA})
		}
	}
	if len(qs) > 0 {
		e.ask.Resolve(qs, now)
	}
}

// hasAddress reports whether an A or AAAA record of host key h is cached
// on ifIndex.
func (e *Engine) hasAddress(ifIndex int, h string) bool {
	return e.cache.hasOn(ifIndex, setKey{name: h, rrtype: dns.TypeA}) || e.cache.hasOn(ifIndex, setKey{name: h, rrtype: dns.TypeAAAA})
}

// Needed reports whether a resolution question (name key, qtype) is still
// wanted: an instance present on some interface lacks there the record it
// asks for, or a pinned instance has it nowhere yet.
func (e *Engine) Needed(nameKey string, qtype uint16) bool {
	switch qtype {
	case dns.TypeSRV, dns.TypeTXT:
		s := setKey{name: nameKey, rrtype: qtype}
		if _, pinned := e.pins[nameKey]; pinned && !e.cache.has(s) {
			return true
		}
		for _, t := range e.tracked[nameKey] {
			if e.present(t) && !e.cache.hasOn(t.key.ifIndex, s) {
				return true
			}
		}
	case dns.TypeA, dns.TypeAAAA:
		for k := range e.hostIdx[nameKey] {
			if t := e.get(k); t != nil && e.present(t) && !e.hasAddress(k.ifIndex, nameKey) {
				return true
			}
		}
	}
	return false
}

// PinnedMissingOn reports whether nameKey is pinned (resolved by name)
// and interface ifIndex has no record of type qtype (SRV or TXT) for it:
// what a resolution of every link (browse.ResolveAll) still asks for after
// one link has answered.
func (e *Engine) PinnedMissingOn(ifIndex int, nameKey string, qtype uint16) bool {
	if _, pinned := e.pins[nameKey]; !pinned {
		return false
	}
	return !e.cache.hasOn(ifIndex, setKey{name: nameKey, rrtype: qtype})
}

// interested reports whether the browser has an active interest in en,
// which makes it refresh en before it expires (RFC 6762 section 5.2): a
// PTR record under a browsed type (or the enumeration name while
// enumerating), the SRV and TXT records of an instance followed on en's
// interface, the addresses of its host there.
func (e *Engine) interested(en *Entry) bool {
	if en.goodbye {
		return false
	}
	switch en.set.rrtype {
	case dns.TypePTR:
		if _, ok := e.types[en.set.name]; ok {
			return true
		}
		return e.enumerating && en.set.name == servicesKey
	case dns.TypeSRV, dns.TypeTXT:
		t := e.get(instKey{ifIndex: en.ifIndex, name: en.set.name})
		return t != nil && e.present(t)
	case dns.TypeA, dns.TypeAAAA:
		for k := range e.hostIdx[en.set.name] {
			if k.ifIndex != en.ifIndex {
				continue
			}
			if t := e.get(k); t != nil && e.present(t) {
				return true
			}
		}
	}
	return false
}

// related is the cache's eviction test: records the browser is interested
// in are kept longest.
func (e *Engine) related(en *Entry) bool {
	if en.set.rrtype == dns.TypePTR {
		if _, ok := e.types[en.set.name]; ok {
			return true
		}
		return en.set.name == servicesKey && e.enumerating
	}
	return e.interested(en)
}

// Missing lists what the instance name still lacks, for sd.ResolveError:
// "SRV record", "TXT record", "address of h2.local." or "address (no SRV
// target yet)". When it was seen on several interfaces, it is what the
// one that got furthest lacks.
func (e *Engine) Missing(name string) []string {
	key := dnsname.MustKey(name)
	best := e.missingOn(-1, key)
	for ifIndex := range e.tracked[key] {
		if m := e.missingOn(ifIndex, key); len(m) < len(best) {
			best = m
		}
	}
	return best
}

// missingOn lists what instance key lacks on ifIndex (-1: nothing seen).
func (e *Engine) missingOn(ifIndex int, key string) []string {
	var out []string
	var srv *Entry
	if ifIndex >= 0 {
		srv = e.bestSRV(ifIndex, key)
	}
	if srv == nil {
		out = append(out, "SRV record")
	}
	if ifIndex < 0 || !e.cache.hasOn(ifIndex, setKey{name: key, rrtype: dns.TypeTXT}) {
		out = append(out, "TXT record")
	}
	if srv == nil {
		out = append(out, "address (no SRV target yet)")
	} else if target := srv.rr.(*dns.SRV).Target; !e.hasAddress(ifIndex, dnsname.MustKey(target)) {
		out = append(out, "address of "+dnsname.Display(target))
	}
	return out
}
