package browse

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
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
func (e *engine) assemble(t *tracked) (Instance, bool, string) {
	var in Instance
	srv := e.bestSRV(t.key)
	txtEn := e.latest(setKey{name: t.key, rrtype: dns.TypeTXT})
	name := t.name
	if srv != nil {
		name = srv.rr.Header().Name
	}
	instLabel, service, domain, ok := splitInstance(name)
	if !ok {
		ls := labels(name)
		if len(ls) > 0 {
			instLabel = ls[0]
		}
	}
	in.Instance = instLabel
	in.Service = service
	in.Domain = domain
	in.Name = displayName(name)
	var ttl time.Duration
	minTTL := func(d time.Duration) {
		if ttl == 0 || d < ttl {
			ttl = d
		}
	}
	// Where it was seen: its PTR records, or its SRV records when pinned
	// without one.
	sources := map[Source]bool{}
	addSource := func(en *entry) {
		for _, f := range []mdns.Family{mdns.IPv4, mdns.IPv6} {
			if en.families&familyBit(f) != 0 {
				sources[Source{Iface: e.ifaceName(en.ifIndex), Family: f}] = true
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
	slices.SortFunc(in.Seen, func(a, b Source) int {
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
		in.Host = displayName(r.Target)
		in.Port = r.Port
		hostKey = mustKey(r.Target)
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
func (e *engine) bestSRV(key string) *entry {
	var best *entry
	for _, en := range e.cache.lookup(setKey{name: key, rrtype: dns.TypeSRV}) {
		if best == nil || betterSRV(en, best) {
			best = en
		}
	}
	return best
}

func betterSRV(a, b *entry) bool {
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
func newer(a, b *entry) bool {
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
func (e *engine) latest(s setKey) *entry {
	var best *entry
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
func (e *engine) addresses(h string) ([]netip.Addr, time.Duration) {
	var out []netip.Addr
	var ttl time.Duration
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, en := range e.cache.lookup(setKey{name: h, rrtype: t}) {
			a := en.addr()
			if !a.IsValid() {
				continue
			}
			if a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
				a = a.WithZone(e.ifaceName(en.ifIndex))
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

// askMissing asks for what an incomplete instance lacks: its SRV and TXT
// records by instance name, and A and AAAA records of its SRV target when
// no address is known (answers normally come as additional records, RFC
// 6763 section 12, but may be missing or arrive in other packets).
//
// The first question waits a random 20-120 ms, so that the other packets of
// a response that brought the PTR record can arrive first, and queriers
// that saw the same packet do not ask at the same moment (RFC 6762 section
// 5.2); at the start of a Resolve it is asked at once (see begin).
func (e *engine) askMissing(t *tracked, now time.Time) {
	name := t.name
	at := now.Add(firstDelay(e.rnd))
	if e.askNow {
		at = now
	}
	if !e.cache.has(setKey{name: t.key, rrtype: dns.TypeSRV}) {
		e.sched.addResolve(name, dns.TypeSRV, at)
	}
	if !e.cache.has(setKey{name: t.key, rrtype: dns.TypeTXT}) {
		e.sched.addResolve(name, dns.TypeTXT, at)
	}
	if srv := e.bestSRV(t.key); srv != nil {
		target := srv.rr.(*dns.SRV).Target
		hk := mustKey(target)
		if !e.cache.has(setKey{name: hk, rrtype: dns.TypeA}) && !e.cache.has(setKey{name: hk, rrtype: dns.TypeAAAA}) {
			e.sched.addResolve(target, dns.TypeA, at)
			e.sched.addResolve(target, dns.TypeAAAA, at)
		}
	}
}

// needed reports whether resolution question q is still wanted: an
// instance that is present lacks the record it asks for.
func (e *engine) needed(q *question) bool {
	switch q.qtype {
	case dns.TypeSRV, dns.TypeTXT:
		t := e.tracked[q.key.name]
		return t != nil && t.present() && !e.cache.has(setKey{name: q.key.name, rrtype: q.qtype})
	case dns.TypeA, dns.TypeAAAA:
		if e.cache.has(setKey{name: q.key.name, rrtype: dns.TypeA}) || e.cache.has(setKey{name: q.key.name, rrtype: dns.TypeAAAA}) {
			return false
		}
		for k := range e.hostIdx[q.key.name] {
			if t := e.tracked[k]; t != nil && t.present() {
				return true
			}
		}
	}
	return false
}

// interested reports whether the querier has an active interest in en,
// which makes it refresh en before it expires (RFC 6762 section 5.2): a
// PTR record under a browsed type (or the enumeration name while
// enumerating), the SRV and TXT records of a followed instance, the
// addresses of its host.
func (e *engine) interested(en *entry) bool {
	if en.goodbye {
		return false
	}
	switch en.set.rrtype {
	case dns.TypePTR:
		if _, ok := e.types[en.set.name]; ok {
			return true
		}
		return e.enumerating && en.set.name == mustKey(servicesName)
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

// related is the cache's eviction test: records the querier is interested
// in are kept longest.
func (e *engine) related(en *entry) bool {
	if en.set.rrtype == dns.TypePTR {
		if _, ok := e.types[en.set.name]; ok {
			return true
		}
		return en.set.name == mustKey(servicesName) && e.enumerating
	}
	return e.interested(en)
}

// ResolveError is returned by Resolve when the instance did not become
// complete before the context ended; Missing names what was never found.
type ResolveError struct {
	// Name is the instance name asked for.
	Name string
	// Missing lists what was missing: "SRV record", "TXT record",
	// "address of h2.local." or "address (no SRV target yet)".
	Missing []string
	// Err is the context's error.
	Err error
}

// Error says what was missing, e.g. `browse: resolving "Office
// TZ._timezone._tcp.local.": no SRV record, no TXT record: context
// deadline exceeded`.
func (e *ResolveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "browse: resolving %q: ", e.Name)
	for i, m := range e.Missing {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("no " + m)
	}
	if len(e.Missing) == 0 {
		b.WriteString("incomplete")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the context's error.
func (e *ResolveError) Unwrap() error { return e.Err }

// missing lists what instance key still lacks.
func (e *engine) missing(key string) []string {
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
	} else if addrs, _ := e.addresses(mustKey(srv.rr.(*dns.SRV).Target)); len(addrs) == 0 {
		out = append(out, "address of "+displayName(srv.rr.(*dns.SRV).Target))
	}
	return out
}

// Resolve looks up one service instance by name, "Office
// TZ._timezone._tcp.local." (see ParseInstanceName), asking for its SRV and
// TXT records and its host's addresses until it is complete, and returns
// it with its verdict. When ctx ends first the error is a *ResolveError
// naming what was missing (wrapping ctx's error); a name that does not
// parse wraps ErrBadName.
func Resolve(ctx context.Context, instanceName string, opts Options) (Instance, error) {
	name, _, _, err := ParseInstanceName(instanceName)
	if err != nil {
		return Instance{}, err
	}
	e, err := newEngine(opts)
	if err != nil {
		return Instance{}, err
	}
	t := e.track(name)
	t.pinned = true
	found := make(chan Instance, 1)
	e.discard = true
	e.onEvent = func(ev Event) {
		if ev.Kind != Remove {
			select {
			case found <- ev.Instance:
			default:
			}
		}
	}
	// The browser lives until Close; ctx bounds the wait below.
	b, err := open(ctx, context.WithoutCancel(ctx), e, opts)
	if err != nil {
		return Instance{}, err
	}
	defer b.Close()
	select {
	case in := <-found:
		return in, nil
	case <-b.done:
		return Instance{}, b.Err()
	case <-ctx.Done():
		var miss []string
		b.do(func() { miss = e.missing(t.key) })
		return Instance{}, &ResolveError{Name: name, Missing: miss, Err: ctx.Err()}
	}
}
