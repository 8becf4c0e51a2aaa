package wide

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Polling bounds of a Browser that follows the records' TTLs.
const (
	// MinPoll is the shortest wait between two polls.
	MinPoll = time.Second
	// MaxPoll is the longest wait between two polls when BrowseOptions.Interval
	// is zero.
	MaxPoll = 5 * time.Minute
)

// Polling limits.
const (
	// pollParallel is how many queries a poll has in flight at once.
	pollParallel = 16
	// maxPolledInstances bounds the instance names one poll follows.
	maxPolledInstances = 5000
)

// BrowseOptions configure browsing unicast DNS domains (wide-area DNS-SD,
// RFC 6763 sections 4 to 12 over ordinary DNS queries) with NewBrowser, and
// resolving an instance with Resolve.
type BrowseOptions struct {
	// Registry supplies the service types of bare names ("timezone") and
	// the TXT rules verdicts are given against; nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// Strict makes the verdicts treat warnings as errors (txt.Options.Strict).
	Strict bool
	// MaxRecords bounds the record cache; 0 means 10,000 records, as for
	// Multicast DNS (package browse).
	MaxRecords int
	// Domains are the domains to browse, "tz.example.net."; Resolve does
	// not use them. "local." is refused: it is browsed with Multicast DNS
	// (package browse).
	Domains []string
	// Server is the DNS server asked, host:port (port 53 when left out).
	// Empty means the system's resolvers (/etc/resolv.conf), asked with
	// recursion desired.
	Server string
	// Interval is the wait between two polls; zero means the smallest TTL
	// of the records (or the negative-caching TTL of empty answers, RFC
	// 2308) of the last poll, within MinPoll and MaxPoll. Resolve does not
	// use it.
	Interval time.Duration
	// Timeout bounds one query, retransmissions included; zero means
	// DefaultTimeout (5 s).
	Timeout time.Duration
}

// Browser browses service types in unicast DNS domains by polling: each
// poll asks the PTR records of every type (RFC 6763 section 4), then the
// SRV and TXT records of every instance found and the A and AAAA records
// of their targets, over UDP (TCP when an answer is truncated). Instances,
// events and verdicts are built by the same engine as for Multicast DNS
// (package browse), in the vocabulary of package sd:
// Add when an instance becomes complete, or at the end of the poll that
// found it when its target has no address (then with empty Addrs and a
// warning finding naming the host), Update when its TXT record, port,
// target or addresses change, Remove when its PTR record is gone (or its
// records have not been confirmed for twice their TTL because the server
// stopped answering). Its methods are safe for concurrent use.
type Browser struct {
	loop *engine.Loop // owns p, runs the methods, delivers the events
	p    *poller      // owned by the loop
}

var _ sd.Browser = (*Browser)(nil)

// poller is a Browser's feeder (engine.Feeder): it runs the polls and
// applies their answers to the engine. It is owned by the loop.
type poller struct {
	q         *querier
	log       *slog.Logger
	interval  time.Duration
	loop      *engine.Loop // to run polls
	e         *engine.Engine
	family    sd.Family
	ptrNames  []string // PTR question names of the types browsed
	enumNames []string // _services._dns-sd._udp.<domain> names, for sd.ServicesType

	results           chan *pollResult // a running poll's, when it is done
	running           bool             // a poll is running
	next              time.Time        // when the next poll is due
	rounds            int
	packets, nqueries uint64
}

var _ engine.Feeder[*pollResult, struct{}] = (*poller)(nil)

// pollAsker is the engine's Asker for unicast DNS. Every poll asks all the
// questions of its plan (the browsed types, every instance followed, every
// target known: see planPoll), so the questions the engine wants asked
// need no scheduling of their own; records arrive from the servers asked,
// which stand for the interface.
type pollAsker struct{ label string }

func (pollAsker) Browse(string, time.Time, bool)       {}
func (pollAsker) Resolve([]engine.Question, time.Time) {}
func (pollAsker) Refresh(engine.Question, time.Time)   {}
func (a pollAsker) IfaceName(int) string               { return a.label }

// cacheIfIndex is the interface index of every record a Browser caches.
const cacheIfIndex = 0

// CheckDomain returns d fully qualified, or an error wrapping ErrBadName
// when it is not a domain name or is "local." (Multicast DNS).
func CheckDomain(d string) (string, error) {
	if d == "" {
		return "", fmt.Errorf("browse: %w: empty domain", ErrBadName)
	}
	f := dns.Fqdn(d)
	if _, ok := dns.IsDomainName(f); !ok || f == "." || strings.Contains(f, "..") {
		return "", fmt.Errorf("browse: %w: domain %q is not a domain name", ErrBadName, d)
	}
	if dns.IsSubDomain(dnsname.Local, dnsname.ASCIILower(f)) {
		return "", fmt.Errorf("browse: %w: domain %q: local. is browsed with Multicast DNS, not unicast DNS", ErrBadName, d)
	}
	return f, nil
}

// parseType turns a type to browse into its PTR question name in domain:
// "timezone", "_timezone._tcp" or "_printer._sub._http._tcp" as for
// Multicast DNS; a type naming a domain is refused (give it in Domains).
func parseType(s, domain string, reg *registry.Registry) (engine.Type, error) {
	if t, err := registry.ParseType(s); err == nil && t.Domain != "" && !dnsname.Equal(t.Domain, dnsname.Local) {
		return engine.Type{}, fmt.Errorf("browse: %w: %q: give the domain in the domain list, not in the type", ErrBadName, s)
	}
	bt, err := engine.ParseType(s, reg)
	if err != nil {
		return engine.Type{}, fmt.Errorf("browse: %w", err)
	}
	bt.Query = strings.TrimSuffix(bt.Query, dnsname.Local) + domain
	return bt, nil
}

// newEngine checks opts and returns the registry, an engine for unicast
// browsing (sink as for engine.Config.Sink) and the querier.
func newEngine(opts BrowseOptions, sink func(sd.Event)) (*registry.Registry, *engine.Engine, *querier, error) {
	if opts.Interval < 0 {
		return nil, nil, nil, fmt.Errorf("wide: BrowseOptions.Interval: %v is negative", opts.Interval)
	}
	q, err := newQuerier(opts.Server, opts.Timeout)
	if err != nil {
		return nil, nil, nil, err
	}
	reg := opts.Registry
	if reg == nil {
		reg = registry.Builtin()
	}
	e := engine.New(engine.Config{
		Asker:      pollAsker{label: q.label()},
		Registry:   reg,
		Logger:     opts.Logger,
		Strict:     opts.Strict,
		MaxRecords: opts.MaxRecords,
		Sink:       sink,
	})
	return reg, e, q, nil
}

// serverFamily is the address family of the first server, for Seen.
func serverFamily(q *querier) sd.Family {
	if ap, err := netip.ParseAddrPort(q.c.Servers[0]); err == nil && ap.Addr().Unmap().Is6() {
		return sd.IPv6
	}
	return sd.IPv4
}

// NewBrowser starts browsing types (as for Multicast DNS: "timezone",
// "_timezone._tcp", a subtype, or sd.ServicesType for every type the
// domains list under _services._dns-sd._udp, RFC 6763 section 9) in every
// domain of opts.Domains. It returns at once (its start-up does no network
// I/O); the first poll starts immediately and events arrive on Events. ctx
// bounds only this start-up; the browser runs until Close. When no server
// answers the first poll, the browser stops and Err says why (wrapping a
// *QueryError). Errors: a type or domain that does not parse (wrapping
// ErrBadName), no types, no domains, no system resolver when Server is
// empty, or ctx's error when it has ended.
func NewBrowser(ctx context.Context, types []string, opts BrowseOptions) (*Browser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reg, e, q, err := newEngine(opts, nil)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("browse: %w: no service type to browse", ErrBadName)
	}
	if len(opts.Domains) == 0 {
		return nil, fmt.Errorf("browse: %w: no domain to browse", ErrBadName)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &poller{
		q:        q,
		log:      log,
		interval: opts.Interval,
		e:        e,
		family:   serverFamily(q),
		results:  make(chan *pollResult, 1),
	}
	now := time.Now()
	for _, d := range opts.Domains {
		dom, err := CheckDomain(d)
		if err != nil {
			return nil, err
		}
		for _, t := range types {
			if dnsname.Equal(t, sd.ServicesType) {
				p.enumNames = appendName(p.enumNames, sd.ServicesType+"."+dom)
				continue
			}
			bt, err := parseType(t, dom, reg)
			if err != nil {
				return nil, err
			}
			e.AddType(bt, now)
			p.ptrNames = appendName(p.ptrNames, bt.Query)
		}
	}
	p.loop = engine.NewLoop(e)
	engine.Start(p.loop, p, p.results, nil)
	return &Browser{loop: p.loop, p: p}, nil
}

// appendName appends name to names unless an equal name is there.
func appendName(names []string, name string) []string {
	for _, n := range names {
		if dnsname.Equal(n, name) {
			return names
		}
	}
	return append(names, name)
}

// pollPlan is what one poll asks.
type pollPlan struct {
	enum  []string // _services._dns-sd._udp.<domain>
	ptrs  []string // PTR question names
	insts []string // instance names followed, asked again even without PTR
	hosts []string // SRV targets known, asked again even if SRV fails
}

// pollAnswer is the outcome of one question of a poll.
type pollAnswer struct {
	name  string
	qtype uint16
	msg   *dns.Msg // nil when err
	err   error
}

// pollResult is the outcome of one poll.
type pollResult struct {
	answers []*pollAnswer
	types   []engine.Type // types found by enumeration
	queries int
}

// poll runs one poll: enumeration, PTR, then SRV and TXT of each instance,
// then A and AAAA of each target.
func (q *querier) poll(ctx context.Context, p pollPlan) *pollResult {
	res := &pollResult{}
	ask := func(qs []pollQuestion) []*pollAnswer {
		out := make([]*pollAnswer, len(qs))
		sem := make(chan struct{}, pollParallel)
		var wg sync.WaitGroup
		for i, qq := range qs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				m, err := q.query(ctx, qq.name, qq.qtype)
				out[i] = &pollAnswer{name: qq.name, qtype: qq.qtype, msg: m, err: err}
			}()
		}
		wg.Wait()
		res.queries += len(qs)
		res.answers = append(res.answers, out...)
		return out
	}
	ptrs := slices.Clone(p.ptrs)
	// RFC 6763 section 9: the types listed under _services._dns-sd._udp.
	var enumQs []pollQuestion
	for _, n := range p.enum {
		enumQs = append(enumQs, pollQuestion{n, dns.TypePTR})
	}
	for _, a := range ask(enumQs) {
		dom := strings.TrimPrefix(a.name, sd.ServicesType+".")
		for _, rr := range answerRRs(a, dns.TypePTR) {
			ls := dnsname.Labels(rr.(*dns.PTR).Ptr)
			if len(ls) < 3 || len(res.types) >= engine.MaxTypes {
				continue
			}
			t, err := registry.ParseType(ls[0] + "." + ls[1])
			if err != nil || t.Subtype != "" || t.Proto == "" {
				continue
			}
			st := engine.BaseType(t)
			bt := engine.Type{Service: st, Query: st + "." + dom}
			res.types = append(res.types, bt)
			ptrs = appendName(ptrs, bt.Query)
		}
	}
	// Section 4: PTR records name the instances.
	var ptrQs []pollQuestion
	for _, n := range ptrs {
		ptrQs = append(ptrQs, pollQuestion{n, dns.TypePTR})
	}
	insts := slices.Clone(p.insts)
	seen := map[string]bool{}
	for _, n := range insts {
		seen[dnsname.MustKey(n)] = true
	}
	for _, a := range ask(ptrQs) {
		for _, rr := range answerRRs(a, dns.TypePTR) {
			n := rr.(*dns.PTR).Ptr
			k, ok := dnsname.Key(n)
			if !ok || seen[k] || len(insts) >= maxPolledInstances {
				continue
			}
			seen[k] = true
			insts = append(insts, n)
		}
	}
	// Section 5: SRV and TXT of each instance.
	var instQs []pollQuestion
	for _, n := range insts {
		instQs = append(instQs, pollQuestion{n, dns.TypeSRV}, pollQuestion{n, dns.TypeTXT})
	}
	hosts := slices.Clone(p.hosts)
	hseen := map[string]bool{}
	for _, h := range hosts {
		hseen[dnsname.MustKey(h)] = true
	}
	for _, a := range ask(instQs) {
		for _, rr := range answerRRs(a, dns.TypeSRV) {
			t := rr.(*dns.SRV).Target
			k, ok := dnsname.Key(t)
			if !ok || hseen[k] || t == "." {
				continue
			}
			hseen[k] = true
			hosts = append(hosts, t)
		}
	}
	// The targets' addresses.
	var hostQs []pollQuestion
	for _, h := range hosts {
		hostQs = append(hostQs, pollQuestion{h, dns.TypeA}, pollQuestion{h, dns.TypeAAAA})
	}
	ask(hostQs)
	return res
}

// pollQuestion is a question to ask.
type pollQuestion struct {
	name  string
	qtype uint16
}

// answerRRs returns the answer records of type qtype, class IN, of a
// successful answer.
func answerRRs(a *pollAnswer, qtype uint16) []dns.RR {
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

// planPoll returns what the next poll of e asks: the browsed types, the
// instances the engine follows and the targets known (so that a failed PTR
// or SRV query does not lose them).
func planPoll(e *engine.Engine, ptrNames, enumNames []string) pollPlan {
	p := pollPlan{enum: enumNames, ptrs: slices.Clone(ptrNames)}
	for _, n := range e.Browsed() {
		p.ptrs = appendName(p.ptrs, n)
	}
	for _, t := range e.Tracked() {
		p.insts = append(p.insts, t.Name)
		if t.Target != "" {
			p.hosts = append(p.hosts, t.Target)
		}
	}
	slices.Sort(p.insts)
	slices.Sort(p.hosts)
	p.hosts = slices.Compact(p.hosts)
	return p
}

// pollRRset names an RRset asked in a poll: name key and type.
type pollRRset struct {
	name   string
	rrtype uint16
}

// applyRound puts a poll's answers into e: each RRset asked and answered
// is replaced by the answer (records no longer there leave the cache, and
// with them the instances they made), RRsets whose question failed are
// kept, and records nobody asks about any more are dropped. It returns the
// delay until the next poll and the number of answers received. A record
// stays without being confirmed for twice the poll interval and its TTL.
func applyRound(e *engine.Engine, r *pollResult, fam sd.Family, interval time.Duration, now time.Time) (time.Duration, uint64) {
	for _, bt := range r.types {
		e.TypeFound(bt, now)
	}
	var minTTL time.Duration
	note := func(d time.Duration) {
		if d > 0 && (minTTL == 0 || d < minTTL) {
			minTTL = d
		}
	}
	var answered uint64
	failed := map[pollRRset]bool{}
	fresh := map[*engine.Entry]bool{}
	var puts []dns.RR
	for _, a := range r.answers {
		k, ok := dnsname.Key(a.name)
		if !ok {
			continue
		}
		if a.err != nil {
			failed[pollRRset{name: k, rrtype: a.qtype}] = true
			continue
		}
		answered++
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
		en, _ := e.Put(rr, cacheIfIndex, fam, now)
		if en == nil {
			continue
		}
		// The record stays until a poll says it is gone, or until it has
		// gone unconfirmed for twice the poll interval and its TTL.
		ttl := time.Duration(rr.Header().Ttl) * time.Second
		e.Confirm(en, now.Add(max(ttl, poll)*2+time.Second))
		fresh[en] = true
	}
	// Asked and not in the answer, or asked about by nobody.
	e.RemoveIf(func(en *engine.Entry) bool {
		return !fresh[en] && !failed[pollRRset{name: en.NameKey(), rrtype: en.Type()}]
	})
	return poll, answered
}

// Begin makes the first poll due at once.
func (p *poller) Begin(_ context.Context, now time.Time) { p.next = now }

// Turn settles the engine and says when the next poll or cache timer is
// due, and whether the first poll is done.
func (p *poller) Turn(now time.Time) (time.Time, bool, bool) {
	p.e.Settle(now)
	wake := p.next
	if p.running {
		wake = now.Add(time.Hour)
	}
	if c, ok := p.e.Wake(); ok && c.Before(wake) {
		wake = c
	}
	return wake, true, p.rounds > 0
}

// Input applies the answers of a poll; when no server answered the first
// one, browsing ends with its error.
func (p *poller) Input(r *pollResult) error {
	p.running = false
	p.rounds++
	p.nqueries += uint64(r.queries)
	if err := r.failure(p.rounds == 1); err != nil {
		return fmt.Errorf("browse: %w", err)
	}
	for _, a := range r.answers {
		if a.err != nil {
			p.log.Warn("browse: unicast DNS query failed; keeping what was known", "err", a.err)
			break
		}
	}
	poll, n := applyRound(p.e, r, p.family, p.interval, time.Now())
	p.packets += n
	p.next = time.Now().Add(poll)
	p.log.Debug("browse: poll done", "queries", r.queries, "next", poll)
	return nil
}

// Control does nothing: a poller has no control input.
func (*poller) Control(struct{}, time.Time) {}

// Tick runs the cache's timers, and starts a poll when one is due and
// none is running.
func (p *poller) Tick(now time.Time) {
	p.e.Advance(now) // expiry only: polls confirm records
	if !p.running && !now.Before(p.next) {
		p.running = true
		plan := planPoll(p.e, p.ptrNames, p.enumNames)
		p.loop.Go(func(ctx context.Context) { p.results <- p.q.poll(ctx, plan) })
	}
}

// failure returns the error that ends browsing: on the first poll, when
// no browse question (PTR) got an answer at all.
func (r *pollResult) failure(first bool) error {
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

// Events returns the channel of instance events. It is closed when the
// browser stops (Close, or a failure: see Err). Events must be received
// promptly: while more than a few thousand wait, polls are not applied.
func (b *Browser) Events() <-chan sd.Event { return b.loop.Events() }

// Quiet returns a channel closed once the first poll is done and its
// events have been received.
func (b *Browser) Quiet() <-chan struct{} { return b.loop.Quiet() }

// Instances returns the instances now reported (added and not removed),
// sorted by name, then interface.
func (b *Browser) Instances() []sd.Instance { return b.loop.Instances() }

// Types returns the service types the domains enumerate
// (_services._dns-sd._udp, RFC 6763 section 9), "_timezone._tcp", sorted.
func (b *Browser) Types() []string { return b.loop.Enumerated() }

// Stats returns the counters: Queries counts unicast queries sent, Packets
// answers received, Truncated UDP answers asked again over TCP.
func (b *Browser) Stats() sd.Stats {
	var s sd.Stats
	b.loop.Do(func() {
		s = b.p.e.Stats()
		s.Packets = b.p.packets
		s.Queries = b.p.nqueries
	})
	s.Truncated = b.p.q.truncated()
	return s
}

// Err returns the error that stopped the browser (wrapping a *QueryError
// when no server answered the first poll), nil while it runs or when Close
// stopped it.
func (b *Browser) Err() error { return b.loop.Err() }

// Close stops the browser and waits for its goroutines. It is idempotent.
func (b *Browser) Close() error { return b.loop.Close(nil) }
