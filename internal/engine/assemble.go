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

// assemble builds t's instance from the cache, merging what was seen
// on every interface and over both address families into one instance. It
// reports whether the instance is complete (present, with SRV, TXT and at
// least one address) and the key of its SRV target ("" without SRV).
//
// When records disagree (across interfaces, or old and new data during a
// cache flush): the SRV record with the lowest priority, then the highest
// weight wins (RFC 2782 order), then the newest data (see newer); the TXT
// record with the newest data wins.
func (e *Engine) assemble(t *tracked) (sd.Instance, bool, string) {
	var in sd.Instance
	srv := e.bestSRV(t.key)
	txtEn := e.latest(setKey{name: t.key, rrtype: dns.TypeTXT})
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
	var ttl time.Duration
	minTTL := func(d time.Duration) {
		if ttl == 0 || d < ttl {
			ttl = d
		}
	}
	// Where it was seen: its PTR records, or its SRV records when pinned
	// without one.
	sources := map[sd.Source]bool{}
	addSource := func(en *Entry) {
		for _, f := range []sd.Family{sd.IPv4, sd.IPv6} {
			if en.families&familyBit(f) != 0 {
				sources[sd.Source{Iface: e.ask.IfaceName(en.ifIndex), Family: f}] = true
			}
		}
	}
	for en := range t.ptrs {
		addSource(en)
		minTTL(en.origTTL)
	}
	if len(t.ptrs) == 0 {
		for _, en := range e.cache.lookup(setKey{name: t.key, rrtype: dns.TypeSRV}) {
			addSource(en)
		}
	}
	for s := range sources {
		in.Seen = append(in.Seen, s)
	}
	slices.SortFunc(in.Seen, func(a, b sd.Source) int {
		if c := compareStrings(a.Iface, b.Iface); c != 0 {
			return c
		}
		return int(a.Family) - int(b.Family)
	})
	for _, s := range in.Seen {
		if !slices.Contains(in.Ifaces, s.Iface) {
			in.Ifaces = append(in.Ifaces, s.Iface)
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
		in.Addrs, addrTTL = e.addresses(hostKey)
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
	complete := t.present() && srv != nil && txtEn != nil && len(in.Addrs) > 0
	return in, complete, hostKey
}

// bestSRV returns the SRV record of instance key to use, nil if none.
func (e *Engine) bestSRV(key string) *Entry {
	var best *Entry
	for _, en := range e.cache.lookup(setKey{name: key, rrtype: dns.TypeSRV}) {
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

// latest returns the entry of a set with the newest data, nil if none.
func (e *Engine) latest(s setKey) *Entry {
	var best *Entry
	for _, en := range e.cache.lookup(s) {
		if best == nil || newer(en, best) {
			best = en
		}
	}
	return best
}

// addresses returns the addresses of host key h seen on any interface
// (IPv6 link-local ones zoned with the interface), sorted IPv4 first, and
// the smallest TTL among them.
func (e *Engine) addresses(h string) ([]netip.Addr, time.Duration) {
	var out []netip.Addr
	var ttl time.Duration
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, en := range e.cache.lookup(setKey{name: h, rrtype: t}) {
			a := en.addr()
			if !a.IsValid() {
				continue
			}
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

// askMissing asks, through Asker.Resolve, for what an incomplete instance
// lacks: its SRV and TXT records by instance name, and A and AAAA records
// of its SRV target when no address is known (answers normally come as
// additional records, RFC 6763 section 12, but may be missing or arrive in
// other packets). When the questions go out is the asker's business (for
// Multicast DNS, RFC 6762 section 5.2).
func (e *Engine) askMissing(t *tracked, now time.Time) {
	var qs []Question
	if !e.cache.has(setKey{name: t.key, rrtype: dns.TypeSRV}) {
		qs = append(qs, Question{Name: t.name, Type: dns.TypeSRV})
	}
	if !e.cache.has(setKey{name: t.key, rrtype: dns.TypeTXT}) {
		qs = append(qs, Question{Name: t.name, Type: dns.TypeTXT})
	}
	if srv := e.bestSRV(t.key); srv != nil {
		target := srv.rr.(*dns.SRV).Target
		hk := dnsname.MustKey(target)
		if !e.cache.has(setKey{name: hk, rrtype: dns.TypeA}) && !e.cache.has(setKey{name: hk, rrtype: dns.TypeAAAA}) {
			qs = append(qs, Question{Name: target, Type: dns.TypeA}, Question{Name: target, Type: dns.TypeAAAA})
		}
	}
	if len(qs) > 0 {
		e.ask.Resolve(qs, now)
	}
}

// Needed reports whether a resolution question (name key, qtype) is still
// wanted: an instance that is present lacks the record it asks for.
func (e *Engine) Needed(nameKey string, qtype uint16) bool {
	switch qtype {
	case dns.TypeSRV, dns.TypeTXT:
		t := e.tracked[nameKey]
		return t != nil && t.present() && !e.cache.has(setKey{name: nameKey, rrtype: qtype})
	case dns.TypeA, dns.TypeAAAA:
		if e.cache.has(setKey{name: nameKey, rrtype: dns.TypeA}) || e.cache.has(setKey{name: nameKey, rrtype: dns.TypeAAAA}) {
			return false
		}
		for k := range e.hostIdx[nameKey] {
			if t := e.tracked[k]; t != nil && t.present() {
				return true
			}
		}
	}
	return false
}

// interested reports whether the browser has an active interest in en,
// which makes it refresh en before it expires (RFC 6762 section 5.2): a
// PTR record under a browsed type (or the enumeration name while
// enumerating), the SRV and TXT records of a followed instance, the
// addresses of its host.
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
		t := e.tracked[en.set.name]
		return t != nil && t.present()
	case dns.TypeA, dns.TypeAAAA:
		for k := range e.hostIdx[en.set.name] {
			if t := e.tracked[k]; t != nil && t.present() {
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
// target yet)".
func (e *Engine) Missing(name string) []string {
	key := dnsname.MustKey(name)
	var out []string
	srv := e.bestSRV(key)
	if srv == nil {
		out = append(out, "SRV record")
	}
	if !e.cache.has(setKey{name: key, rrtype: dns.TypeTXT}) {
		out = append(out, "TXT record")
	}
	if srv == nil {
		out = append(out, "address (no SRV target yet)")
	} else if addrs, _ := e.addresses(dnsname.MustKey(srv.rr.(*dns.SRV).Target)); len(addrs) == 0 {
		out = append(out, "address of "+dnsname.Display(srv.rr.(*dns.SRV).Target))
	}
	return out
}
