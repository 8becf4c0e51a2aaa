package browse

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/registry"
)

// Polling bounds of a WideBrowser that follows the records' TTLs.
const (
	// MinPoll is the shortest wait between two polls.
	MinPoll = time.Second
	// MaxPoll is the longest wait between two polls when WideOptions.Interval
	// is zero.
	MaxPoll = 5 * time.Minute
)

// Wide-area limits.
const (
	// wideParallel is how many queries a poll has in flight at once.
	wideParallel = 16
	// maxWideInstances bounds the instance names one poll follows.
	maxWideInstances = 5000
)

// WideOptions configure browsing unicast DNS domains (wide-area DNS-SD,
// RFC 6763 sections 4 to 12 over ordinary DNS queries).
type WideOptions struct {
	// Options: Registry, Logger, Strict and MaxRecords as for a Multicast
	// DNS browser; Interfaces and Families do not apply.
	Options
	// Domains are the domains to browse, "tz.example.net.". "local." is
	// refused: it is browsed with Multicast DNS (NewBrowser).
	Domains []string
	// Server is the DNS server asked, host:port (port 53 when left out).
	// Empty means the system's resolvers (/etc/resolv.conf), asked with
	// recursion desired.
	Server string
	// Interval is the wait between two polls; zero means the smallest TTL
	// of the records (or the negative-caching TTL of empty answers, RFC
	// 2308) of the last poll, within MinPoll and MaxPoll.
	Interval time.Duration
	// Timeout bounds one query, retransmissions included; zero means
	// DefaultWideTimeout (5 s).
	Timeout time.Duration
}

// WideBrowser browses service types in unicast DNS domains by polling: each
// poll asks the PTR records of every type (RFC 6763 section 4), then the
// SRV and TXT records of every instance found and the A and AAAA records
// of their targets, over UDP (TCP when an answer is truncated). Instances,
// events and verdicts are built by the same code as for Multicast DNS:
// Add when an instance becomes complete, Update when its TXT record, port,
// target or addresses change, Remove when its PTR record is gone (or its
// records have not been confirmed for twice their TTL because the server
// stopped answering). Its methods are safe for concurrent use.
type WideBrowser struct {
	loopCore
	q        *querier
	interval time.Duration

	// Owned by the loop.
	family    mdns.Family
	ptrNames  []string // PTR question names of the types browsed
	enumNames []string // _services._dns-sd._udp.<domain> names, for ServicesType
	rounds    int
	quietSent bool
}

// wideTransport stands in for the mDNS transport in the engine: it names
// the "interface" records came from after the servers asked.
type wideTransport struct{ name string }

func (t wideTransport) ReadPacket(ctx context.Context) (*mdns.Packet, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (t wideTransport) SendMulticast(context.Context, *dns.Msg, int, mdns.Family) error {
	return errors.New("browse: unicast DNS browsing sends no multicast")
}
func (t wideTransport) Interfaces() []mdns.Interface { return []mdns.Interface{{Name: t.name}} }
func (t wideTransport) Interface(int) (mdns.Interface, bool) {
	return mdns.Interface{Name: t.name}, true
}
func (t wideTransport) Families() []mdns.Family { return nil }
func (t wideTransport) Close() error            { return nil }

// wideIfIndex is the interface index of every record a WideBrowser caches.
const wideIfIndex = 0

// CheckDomain returns d fully qualified, or an error wrapping ErrBadName
// when it is not a domain name or is "local." (Multicast DNS).
func CheckDomain(d string) (string, error) {
	if d == "" {
		return "", fmt.Errorf("%w: empty domain", ErrBadName)
	}
	f := dns.Fqdn(d)
	if _, ok := dns.IsDomainName(f); !ok || f == "." || strings.Contains(f, "..") {
		return "", fmt.Errorf("%w: domain %q is not a domain name", ErrBadName, d)
	}
	if dns.IsSubDomain(localDomain, strings.ToLower(f)) {
		return "", fmt.Errorf("%w: domain %q: local. is browsed with Multicast DNS, not unicast DNS", ErrBadName, d)
	}
	return f, nil
}

// parseWideType turns a type to browse into its PTR question name in
// domain: "timezone", "_timezone._tcp" or "_printer._sub._http._tcp" as
// for NewBrowser; a type naming a domain is refused (give it in Domains).
func parseWideType(s, domain string, reg *registry.Registry) (browseType, error) {
	if t, err := registry.ParseType(s); err == nil && t.Domain != "" && !strings.EqualFold(strings.TrimSuffix(t.Domain, "."), "local") {
		return browseType{}, fmt.Errorf("%w: %q: give the domain in the domain list, not in the type", ErrBadName, s)
	}
	bt, err := parseBrowseType(s, reg)
	if err != nil {
		return browseType{}, err
	}
	bt.query = strings.TrimSuffix(bt.query, localDomain) + domain
	return bt, nil
}

// wideEngine returns an engine for unicast browsing and the checked
// options.
func wideEngine(opts WideOptions) (*engine, *querier, error) {
	e, err := newEngine(opts.Options)
	if err != nil {
		return nil, nil, err
	}
	if opts.Interval < 0 {
		return nil, nil, fmt.Errorf("browse: WideOptions.Interval: %v is negative", opts.Interval)
	}
	q, err := newQuerier(opts.Server, opts.Timeout)
	if err != nil {
		return nil, nil, err
	}
	e.tr = wideTransport{name: q.label()}
	return e, q, nil
}

// serverFamily is the address family of the first server, for Seen.
func serverFamily(q *querier) mdns.Family {
	if ap, err := netip.ParseAddrPort(q.servers[0]); err == nil && ap.Addr().Unmap().Is6() {
		return mdns.IPv6
	}
	return mdns.IPv4
}

// NewWideBrowser starts browsing types (as for NewBrowser: "timezone",
// "_timezone._tcp", a subtype, or ServicesType for every type the domains
// list under _services._dns-sd._udp, RFC 6763 section 9) in every domain
// of opts.Domains. It returns at once; the first poll starts immediately
// and events arrive on Events. When no server answers the first poll, the
// browser stops and Err says why (a *ServerError). Errors: a type or
// domain that does not parse (wrapping ErrBadName), no types, no domains,
// no system resolver when Server is empty.
func NewWideBrowser(ctx context.Context, types []string, opts WideOptions) (*WideBrowser, error) {
	e, q, err := wideEngine(opts)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("%w: no service type to browse", ErrBadName)
	}
	if len(opts.Domains) == 0 {
		return nil, fmt.Errorf("%w: no domain to browse", ErrBadName)
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &WideBrowser{
		loopCore: newLoopCore(e, cancel),
		q:        q,
		interval: opts.Interval,
		family:   serverFamily(q),
	}
	for _, d := range opts.Domains {
		dom, err := CheckDomain(d)
		if err != nil {
			cancel()
			return nil, err
		}
		for _, t := range types {
			if strings.EqualFold(strings.TrimSuffix(t, "."), ServicesType) {
				b.enumNames = appendName(b.enumNames, ServicesType+"."+dom)
				continue
			}
			bt, err := parseWideType(t, dom, e.reg)
			if err != nil {
				cancel()
				return nil, err
			}
			e.types[mustKey(bt.query)] = bt
			b.ptrNames = appendName(b.ptrNames, bt.query)
		}
	}
	e.ctx = ctx
	b.wg.Add(1)
	go b.loop(ctx)
	return b, nil
}

// appendName appends name to names unless an equal name is there.
func appendName(names []string, name string) []string {
	k := mustKey(name)
	for _, n := range names {
		if mustKey(n) == k {
			return names
		}
	}
	return append(names, name)
}

// widePlan is what one poll asks.
type widePlan struct {
	enum  []string // _services._dns-sd._udp.<domain>
	ptrs  []string // PTR question names
	insts []string // instance names followed, asked again even without PTR
	hosts []string // SRV targets known, asked again even if SRV fails
}

// wideAnswer is the outcome of one question of a poll.
type wideAnswer struct {
	name  string
	qtype uint16
	msg   *dns.Msg // nil when err
	err   error
}

// wideRound is the outcome of one poll.
type wideRound struct {
	answers []*wideAnswer
	types   []browseType // types found by enumeration
	queries int
}

// poll runs one poll: enumeration, PTR, then SRV and TXT of each instance,
// then A and AAAA of each target.
func (q *querier) poll(ctx context.Context, p widePlan, reg *registry.Registry) *wideRound {
	res := &wideRound{}
	ask := func(qs []qKeyName) []*wideAnswer {
		out := make([]*wideAnswer, len(qs))
		sem := make(chan struct{}, wideParallel)
		var wg sync.WaitGroup
		for i, qq := range qs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				m, err := q.query(ctx, qq.name, qq.qtype)
				out[i] = &wideAnswer{name: qq.name, qtype: qq.qtype, msg: m, err: err}
			}()
		}
		wg.Wait()
		res.queries += len(qs)
		res.answers = append(res.answers, out...)
		return out
	}
	ptrs := slices.Clone(p.ptrs)
	// RFC 6763 section 9: the types listed under _services._dns-sd._udp.
	var enumQs []qKeyName
	for _, n := range p.enum {
		enumQs = append(enumQs, qKeyName{n, dns.TypePTR})
	}
	for _, a := range ask(enumQs) {
		dom := strings.TrimPrefix(a.name, ServicesType+".")
		for _, rr := range answerRRs(a, dns.TypePTR) {
			ls := labels(rr.(*dns.PTR).Ptr)
			if len(ls) < 3 || len(res.types) >= maxTypes {
				continue
			}
			t, err := registry.ParseType(ls[0] + "." + ls[1])
			if err != nil || t.Subtype != "" || t.Proto == "" {
				continue
			}
			st := registry.Type{Service: strings.ToLower(t.Service), Proto: t.Proto}.String()
			bt := browseType{service: st, query: st + "." + dom}
			res.types = append(res.types, bt)
			ptrs = appendName(ptrs, bt.query)
		}
	}
	// Section 4: PTR records name the instances.
	var ptrQs []qKeyName
	for _, n := range ptrs {
		ptrQs = append(ptrQs, qKeyName{n, dns.TypePTR})
	}
	insts := slices.Clone(p.insts)
	seen := map[string]bool{}
	for _, n := range insts {
		seen[mustKey(n)] = true
	}
	for _, a := range ask(ptrQs) {
		for _, rr := range answerRRs(a, dns.TypePTR) {
			n := rr.(*dns.PTR).Ptr
			k, ok := nameKey(n)
			if !ok || seen[k] || len(insts) >= maxWideInstances {
				continue
			}
			seen[k] = true
			insts = append(insts, n)
		}
	}
	// Section 5: SRV and TXT of each instance.
	var instQs []qKeyName
	for _, n := range insts {
		instQs = append(instQs, qKeyName{n, dns.TypeSRV}, qKeyName{n, dns.TypeTXT})
	}
	hosts := slices.Clone(p.hosts)
	hseen := map[string]bool{}
	for _, h := range hosts {
		hseen[mustKey(h)] = true
	}
	for _, a := range ask(instQs) {
		for _, rr := range answerRRs(a, dns.TypeSRV) {
			t := rr.(*dns.SRV).Target
			k, ok := nameKey(t)
			if !ok || hseen[k] || t == "." {
				continue
			}
			hseen[k] = true
			hosts = append(hosts, t)
		}
	}
	// The targets' addresses.
	var hostQs []qKeyName
	for _, h := range hosts {
		hostQs = append(hostQs, qKeyName{h, dns.TypeA}, qKeyName{h, dns.TypeAAAA})
	}
	ask(hostQs)
	return res
}

// qKeyName is a question to ask.
type qKeyName struct {
	name  string
	qtype uint16
}

// answerRRs returns the answer records of type qtype, class IN, of a
// successful answer.
func answerRRs(a *wideAnswer, qtype uint16) []dns.RR {
	if a.err != nil || a.msg == nil {
		return nil
	}
	var out []dns.RR
	for _, rr := range a.msg.Answer {
		if h := rr.Header(); h.Rrtype == qtype && h.Class == dns.ClassINET {
			out = append(out, rr)
		}
	}
	return out
}

// plan returns what the next poll asks: the browsed types, the instances
// followed and the targets known (so that a failed PTR or SRV query does
// not lose them).
func (e *engine) widePlan(ptrNames, enumNames []string) widePlan {
	p := widePlan{enum: enumNames, ptrs: slices.Clone(ptrNames)}
	for _, bt := range e.types {
		p.ptrs = appendName(p.ptrs, bt.query)
	}
	for _, t := range e.tracked {
		p.insts = append(p.insts, t.name)
		if srv := e.bestSRV(t.key); srv != nil {
			p.hosts = append(p.hosts, srv.rr.(*dns.SRV).Target)
		}
	}
	slices.Sort(p.insts)
	slices.Sort(p.hosts)
	p.hosts = slices.Compact(p.hosts)
	return p
}

// applyRound puts a poll's answers into the cache: each RRset asked and
// answered is replaced by the answer (records no longer there leave the
// cache, and with them the instances they made), RRsets whose question
// failed are kept, and records nobody asks about any more are dropped. It
// returns the delay until the next poll. keepFor is the minimum time a
// record stays without being confirmed (it is also kept for its TTL).
func (e *engine) applyRound(r *wideRound, fam mdns.Family, interval time.Duration, now time.Time) time.Duration {
	for _, bt := range r.types {
		k := mustKey(bt.query)
		if _, ok := e.types[k]; !ok && len(e.types) < maxTypes {
			e.types[k] = bt
		}
		e.seenTypes[k] = bt.service
	}
	var minTTL time.Duration
	note := func(d time.Duration) {
		if d > 0 && (minTTL == 0 || d < minTTL) {
			minTTL = d
		}
	}
	asked := map[setKey]bool{}
	failed := map[setKey]bool{}
	fresh := map[*entry]bool{}
	var puts []dns.RR
	for _, a := range r.answers {
		k, ok := nameKey(a.name)
		if !ok {
			continue
		}
		s := setKey{name: k, rrtype: a.qtype}
		if a.err != nil {
			failed[s] = true
			continue
		}
		e.stats.Packets++
		asked[s] = true
		rrs := answerRRs(a, a.qtype)
		if len(rrs) == 0 {
			note(negativeTTL(a.msg))
		}
		puts = append(puts, rrs...)
	}
	poll := interval
	for _, rr := range puts {
		note(time.Duration(rr.Header().Ttl) * time.Second)
	}
	if poll == 0 {
		poll = MaxPoll
		if minTTL > 0 {
			poll = min(MaxPoll, max(MinPoll, minTTL))
		}
	}
	for _, rr := range puts {
		if rr.Header().Ttl == 0 {
			// A TTL of 0 in unicast DNS means "do not cache", not goodbye.
			rr = dns.Copy(rr)
			rr.Header().Ttl = 1
		}
		en, isNew := e.cache.put(rr, wideIfIndex, fam, now)
		if en == nil {
			continue
		}
		// The record stays until a poll says it is gone, or until it has
		// gone unconfirmed for twice the poll interval and its TTL.
		en.expires = now.Add(max(en.ttl, poll)*2 + time.Second)
		en.refreshAt = time.Time{}
		e.cache.fix(en)
		fresh[en] = true
		if isNew {
			e.lastNew = now
			e.recordChanged(en, true)
		}
	}
	var gone []*entry
	for _, en := range e.cache.entries {
		if fresh[en] || failed[en.set] {
			continue
		}
		// Asked and not in the answer, or asked about by nobody.
		gone = append(gone, en)
	}
	for _, en := range gone {
		e.cache.remove(en)
	}
	return poll
}

// loop polls, delivers events and runs commands until ctx is done.
func (b *WideBrowser) loop(ctx context.Context) {
	defer b.wg.Done()
	defer close(b.done)
	defer close(b.events)
	e := b.e
	results := make(chan *wideRound, 1)
	running := false
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var roundWG sync.WaitGroup
	defer roundWG.Wait()
	for {
		now := time.Now()
		e.flushDirty(now)
		// Resolution questions are the multicast querier's business.
		e.sched = newScheduler(e.rnd)
		if b.rounds > 0 && !b.quietSent && len(e.pending) == 0 {
			b.quietSent = true
			close(b.quiet)
		}
		wake := next
		if running {
			wake = now.Add(time.Hour)
		}
		if c, ok := e.cache.next(); ok && c.Before(wake) {
			wake = c
		}
		timer.Reset(max(0, wake.Sub(now)))
		var out chan Event
		var ev Event
		if len(e.pending) > 0 {
			out, ev = b.events, e.pending[0]
		}
		in := results
		if len(e.pending) >= maxPending {
			in = nil
		}
		select {
		case <-ctx.Done():
			return
		case r := <-in:
			running = false
			b.rounds++
			e.stats.Queries += uint64(r.queries)
			if err := r.failure(b.rounds == 1); err != nil {
				b.err = err
				return
			}
			for _, a := range r.answers {
				if a.err != nil {
					e.log.Warn("browse: unicast DNS query failed; keeping what was known", "err", a.err)
					break
				}
			}
			poll := e.applyRound(r, b.family, b.interval, time.Now())
			next = time.Now().Add(poll)
			e.log.Debug("browse: poll done", "queries", r.queries, "next", poll)
		case <-timer.C:
			now := time.Now()
			e.cache.advance(now) // expiry only: polls confirm records
			if !running && !now.Before(next) {
				running = true
				p := e.widePlan(b.ptrNames, b.enumNames)
				reg := e.reg
				roundWG.Add(1)
				go func() {
					defer roundWG.Done()
					results <- b.q.poll(ctx, p, reg)
				}()
			}
		case out <- ev:
			e.pending[0] = Event{}
			e.pending = e.pending[1:]
		case f := <-b.cmds:
			f()
		}
	}
}

// failure returns the error that ends browsing: on the first poll, when
// no browse question (PTR) got an answer at all.
func (r *wideRound) failure(first bool) error {
	if !first {
		return nil
	}
	var errs []error
	n := 0
	for _, a := range r.answers {
		if a.qtype != dns.TypePTR {
			continue
		}
		n++
		if a.err != nil {
			errs = append(errs, a.err)
		}
	}
	if n == 0 || len(errs) < n {
		return nil
	}
	return errs[0]
}

// Quiet returns a channel closed once the first poll is done and its
// events have been received.
func (b *WideBrowser) Quiet() <-chan struct{} { return b.quiet }

// Stats returns the counters: Queries counts unicast queries sent, Packets
// answers received, Truncated UDP answers asked again over TCP.
func (b *WideBrowser) Stats() Stats {
	var s Stats
	b.do(func() { s = b.e.snapshot() })
	s.Truncated = b.q.truncated.Load()
	return s
}

// Close stops the browser and waits for its goroutines. It is idempotent.
func (b *WideBrowser) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		b.wg.Wait()
	})
	return nil
}
