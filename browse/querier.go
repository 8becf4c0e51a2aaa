package browse

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// querier is the Multicast DNS side of a browser, owned by its loop: it
// feeds the packets received to the browse engine (cache, instances,
// events) and asks on the link the questions the engine wants asked (it is
// the engine's Asker), with the query scheduler of query.go.
type querier struct {
	ctx context.Context // the loop's, for sending
	tr  transport
	log *slog.Logger
	reg *registry.Registry
	rnd *rand.Rand

	e     *engine.Engine
	sched *scheduler
	// everyLink: a pinned name's SRV and TXT are asked until every
	// interface has them (ResolveAll), not only until one has.
	everyLink bool

	// wantTypes are the types the application asked for, browsed from
	// begin on.
	wantTypes []engine.Type
	// askNow is set from begin to the end of the first settle: the
	// questions of the application's own call are asked at once.
	askNow bool

	// stats holds the querier's counters: Packets, Ignored, Queries,
	// Truncated, Suppressed (the engine has the others).
	stats sd.Stats
	// Quiet detection.
	lastNew, lastQuery time.Time
	quietNow           bool
}

var _ engine.Asker = (*querier)(nil)

// Quiet detection parameters.
const (
	quietRounds = 3
	quietPeriod = time.Second
)

// newQuerier checks opts and returns a querier with its engine; sink, when
// set, sees the events instead of Events (engine.Config.Sink).
func newQuerier(opts Options, sink func(sd.Event)) (*querier, error) {
	if opts.Registry == nil {
		opts.Registry = registry.Builtin()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, f := range opts.Families {
		if f != sd.IPv4 && f != sd.IPv6 {
			return nil, fmt.Errorf("browse: Options.Families: unknown family %d", int(f))
		}
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	q := &querier{
		log:   opts.Logger,
		reg:   opts.Registry,
		rnd:   rnd,
		sched: newScheduler(rnd),
	}
	q.e = engine.New(engine.Config{
		Asker:           q,
		Registry:        opts.Registry,
		Logger:          opts.Logger,
		Strict:          opts.Strict,
		MaxRecords:      opts.MaxRecords,
		Sink:            sink,
		AddressWait:     addressWait,
		RemoveOnGoodbye: opts.RemoveOnGoodbye,
	})
	return q, nil
}

// begin starts the continuous questions, and the resolution of instances
// pinned from the start (Resolve), with a first query at once.
//
// RFC 6762 section 5.2: "To avoid accidental synchronization when, for some
// reason, multiple clients begin querying at exactly the same moment (e.g.,
// because of some common external trigger event), a Multicast DNS querier
// SHOULD also delay the first query of the series by a randomly chosen
// amount in the range 20-120 ms." The application's own call to browse or
// resolve is no trigger shared with other hosts, so its first query goes
// out at once: discovery is then as fast as the responders allow. The
// delay is applied where the trigger is common: an interface coming up
// (scheduler.restart), a service type learnt from a multicast response
// (enumeration), and questions caused by a received packet (Resolve).
func (q *querier) begin(now time.Time) {
	q.askNow = true
	for _, bt := range q.wantTypes {
		q.e.AddType(bt, now)
	}
	q.wantTypes = nil
}

// Browse asks name PTR continuously (engine.Asker): at once for a type of
// the application's call, after 20-120 ms for a type learnt from a
// response (see begin).
func (q *querier) Browse(name string, now time.Time, learnt bool) {
	at := now
	if learnt {
		at = now.Add(firstDelay(q.rnd))
	}
	q.sched.addContinuous(name, dns.TypePTR, at)
}

// Resolve asks for what an incomplete instance lacks (engine.Asker), at
// doubling intervals while the engine says it is needed.
//
// The first question waits a random 20-120 ms, so that the other packets of
// a response that brought the PTR record can arrive first, and queriers
// that saw the same packet do not ask at the same moment (RFC 6762 section
// 5.2); at the start of a Resolve it is asked at once (see begin).
func (q *querier) Resolve(qs []engine.Question, now time.Time) {
	at := now.Add(firstDelay(q.rnd))
	if q.askNow {
		at = now
	}
	for _, x := range qs {
		q.sched.addResolve(x.Name, x.Type, at)
	}
}

// Refresh asks once, now, for a record nearing expiry (engine.Asker; cache
// maintenance, RFC 6762 section 5.2).
func (q *querier) Refresh(x engine.Question, now time.Time) {
	q.sched.addRefresh(x.Name, x.Type, now)
}

// IfaceName returns the name of interface index (or "if<index>").
func (q *querier) IfaceName(index int) string {
	if q.tr != nil {
		if ifc, ok := q.tr.Interface(index); ok {
			return ifc.Name
		}
	}
	return fmt.Sprintf("if%d", index)
}

// handlePacket processes one received message.
func (q *querier) handlePacket(p *mdns.Packet) {
	now := p.Received
	if now.IsZero() {
		now = time.Now()
	}
	q.stats.Packets++
	m := p.Msg
	// RFC 6762 section 18.3: messages with a non-zero opcode MUST be
	// silently ignored.
	if m.Opcode != dns.OpcodeQuery {
		q.stats.Ignored++
		return
	}
	if !m.Response {
		q.handleQuery(p, now)
		return
	}
	switch {
	case p.Src.Port() != mdns.Port:
		// Section 6: "Multicast DNS implementations MUST silently ignore
		// any Multicast DNS responses they receive where the source UDP
		// port is not 5353."
		q.stats.Ignored++
		return
	case !p.Multicast() && !q.acceptUnicast(p, now):
		// Sections 6 and 11: a unicast response is accepted only in answer
		// to a query of ours that asked for one (QU) in the last two
		// seconds, and only from an on-link source; any other was meant
		// for another process sharing port 5353.
		q.stats.Ignored++
		return
	case m.Rcode != dns.RcodeSuccess:
		// Section 18.11: non-zero response codes MUST be silently ignored.
		q.stats.Ignored++
		return
	case !q.served(p.IfIndex):
		// Received on an interface since gone (the packet waited in a
		// queue while its interface was removed): what was learnt there
		// has been forgotten, and this must not bring it back.
		q.stats.Ignored++
		return
	}
	// Answers and additional records are cached alike (section 10: every
	// record of a response, including answers meant for other queriers, is
	// passively observed), within the per-source bounds of the cache (a
	// resource limit, see internal/engine fairness.go: records beyond them
	// are dropped as a full cache drops them). Questions in a response are
	// ignored (section 6).
	var flush []*engine.Entry
	for _, sec := range [][]dns.RR{m.Answer, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT || h.Class&^dnsname.CacheFlush != dns.ClassINET {
				continue
			}
			en, isNew := q.e.PutFrom(rr, p.IfIndex, p.Family, p.Src.Addr(), now)
			if en == nil {
				continue
			}
			if isNew {
				q.lastNew = now
			}
			if h.Class&dnsname.CacheFlush != 0 && h.Ttl > 0 {
				flush = append(flush, en)
			}
		}
	}
	// RFC 6762 section 10.2: after the whole packet is cached (records of
	// one packet never flush each other), flush the older members of each
	// cache-flush record's RRset.
	for _, en := range flush {
		q.e.Flush(en, now)
	}
}

// handleQuery looks at another querier's query for duplicate question
// suppression (RFC 6762 section 7.3): each QM question of ours it asks, with
// a complete (not truncated) Known-Answer list every record of which we
// would give too, counts as our own query sent.
func (q *querier) handleQuery(p *mdns.Packet, now time.Time) {
	m := p.Msg
	if m.Truncated || p.Src.Port() != mdns.Port {
		return
	}
	for _, qq := range m.Question {
		if qq.Qclass&dnsname.QU != 0 { // QU: answered by unicast to the asker
			continue
		}
		k, ok := dnsname.Key(qq.Name)
		if !ok {
			continue
		}
		qk := qKey{name: k, qtype: qq.Qtype}
		if _, ours := q.sched.qs[qk]; !ours {
			continue
		}
		if q.coveredKnownAnswers(m.Answer, qk, p.IfIndex, now) {
			q.sched.sawDuplicate(qk, p.IfIndex, now)
		}
	}
}

// coveredKnownAnswers reports whether every known answer of a query that
// answers question qk is one we would list too on ifIndex at now.
func (q *querier) coveredKnownAnswers(answers []dns.RR, qk qKey, ifIndex int, now time.Time) bool {
	for _, rr := range answers {
		h := rr.Header()
		k, ok := dnsname.Key(h.Name)
		if !ok || k != qk.name || (qk.qtype != dns.TypeANY && h.Rrtype != qk.qtype) {
			continue
		}
		if !q.e.IsKnownAnswer(rr, ifIndex, now) {
			return false
		}
	}
	return true
}

// knownAnswers returns the Known-Answer list for qs on ifIndex at now
// (engine.KnownAnswers).
func (q *querier) knownAnswers(ifIndex int, qs []*question, now time.Time) []dns.RR {
	keys := make([]engine.QKey, len(qs))
	for i, x := range qs {
		keys[i] = engine.QKey{Name: x.key.name, Type: x.qtype}
	}
	return q.e.KnownAnswers(ifIndex, keys, now)
}

// queryNow schedules name PTR, one of the continuous questions, as a
// one-shot query at now, unless it was sent within MinQueryInterval
// (Browser.QueryNow).
func (q *querier) queryNow(name string, now time.Time) bool {
	if bt, err := engine.ParseType(name, q.reg); err == nil {
		name = bt.Query
	}
	k, ok := dnsname.Key(name)
	if !ok {
		return false
	}
	x := q.sched.qs[qKey{name: k, qtype: dns.TypePTR}]
	if x == nil || !x.continuous {
		return false
	}
	if !x.lastSent.IsZero() && now.Sub(x.lastSent) < MinQueryInterval {
		return false
	}
	if !x.oneShot.IsZero() && !x.oneShot.After(now) {
		return false // already due
	}
	x.oneShot = now
	q.log.Debug("browse: query on demand", "name", x.name)
	return true
}

// needed reports whether question x is still to be asked: the engine's
// answer, and for ResolveAll the SRV and TXT of the pinned name while an
// interface lacks them. A QU question's unicast answers reach only one of
// the sockets sharing port 5353 (another lansd on the host may take them),
// so a link whose first answers went elsewhere is found by the following
// QM query (RFC 6762 section 5.4), which is asked only while needed.
func (q *querier) needed(x *question) bool {
	if q.e.Needed(x.key.name, x.qtype) {
		return true
	}
	if !q.everyLink || (x.qtype != dns.TypeSRV && x.qtype != dns.TypeTXT) || q.tr == nil {
		return false
	}
	for _, ifc := range q.tr.Interfaces() {
		if q.e.PinnedMissingOn(ifc.Index, x.key.name, x.qtype) {
			return true
		}
	}
	return false
}

// tick runs the timers due at now: cache expiry and refresh, queries, quiet.
func (q *querier) tick(now time.Time) {
	q.e.Advance(now)
	qs := q.sched.collect(now, q.needed)
	if len(qs) == 0 {
		return
	}
	packets, tc, sup := q.sched.sendQueries(q.ctx, q.tr, qs,
		func(ifIndex int, ch []*question) []dns.RR { return q.knownAnswers(ifIndex, ch, now) },
		now, q.log.Debug)
	q.sched.sent(qs, now)
	q.stats.Queries += uint64(packets)
	q.stats.Truncated += uint64(tc)
	q.stats.Suppressed += uint64(sup)
	for _, x := range qs {
		if x.continuous {
			q.lastQuery = now
		}
	}
}

// nextWake returns when the loop must next run tick.
func (q *querier) nextWake() (time.Time, bool) {
	t, ok := q.sched.next()
	if c, cok := q.e.Wake(); cok && (!ok || c.Before(t)) {
		t, ok = c, true
	}
	if !q.quietNow {
		if w, qok := q.quietAt(); qok && (!ok || w.Before(t)) {
			t, ok = w, true
		}
	}
	return t, ok
}

// quietAt returns when the browser will be quiet if nothing new arrives,
// and false while some browse question has not been asked quietRounds times.
// An instance found without address and not yet reported holds quiet back
// until it is (see addressWait).
func (q *querier) quietAt() (time.Time, bool) {
	n := 0
	for _, x := range q.sched.qs {
		if !x.continuous {
			continue
		}
		n++
		if x.sent < quietRounds {
			return time.Time{}, false
		}
	}
	if n == 0 {
		return time.Time{}, false
	}
	t := q.lastNew
	if q.lastQuery.After(t) {
		t = q.lastQuery
	}
	t = t.Add(quietPeriod)
	if w, ok := q.e.AddressWaitEnd(); ok && w.After(t) {
		t = w
	}
	return t, true
}

// settle recomputes the instances touched since the last call, queues their
// events, and updates the quiet state.
func (q *querier) settle(now time.Time) {
	q.e.Settle(now)
	q.askNow = false
	if !q.quietNow {
		if t, ok := q.quietAt(); ok && !now.Before(t) {
			q.quietNow = true
		}
	}
}

// interfacesChanged drops what was cached on vanished interfaces (their
// instances are removed at the next settle, with their events) and asks
// again on new ones, after 20-120 ms (scheduler.restart). A change of our
// own addresses on an interface still served needs nothing here: the
// transport's Interface data, which the on-link checks read, is fresh.
func (q *querier) interfacesChanged(c mdns.InterfaceChange, now time.Time) {
	for _, ifc := range c.Removed {
		q.log.Debug("browse: interface gone; forgetting what was learnt there", "iface", ifc.Name, "index", ifc.Index)
		q.e.Purge(ifc.Index)
	}
	for _, ifc := range c.Added {
		q.log.Debug("browse: new interface; asking again", "iface", ifc.Name, "index", ifc.Index)
	}
	if len(c.Added) > 0 {
		q.sched.restart(now)
	}
}

// served reports whether interface ifIndex is one the transport serves.
func (q *querier) served(ifIndex int) bool {
	if q.tr == nil {
		return true
	}
	_, ok := q.tr.Interface(ifIndex)
	return ok
}

// snapshot returns the counters: the engine's and the querier's.
func (q *querier) snapshot() Stats {
	s := q.e.Stats()
	s.Packets = q.stats.Packets
	s.Ignored = q.stats.Ignored
	s.Queries = q.stats.Queries
	s.Truncated = q.stats.Truncated
	s.Suppressed = q.stats.Suppressed
	return s
}

// acceptUnicast reports whether the unicast response p may be used: a QU
// query of ours went out on its interface in the last two seconds (RFC 6762
// section 6) and its source is on that interface's link (section 11).
func (q *querier) acceptUnicast(p *mdns.Packet, now time.Time) bool {
	if q.tr == nil || !q.sched.acceptsUnicast(p.IfIndex, now) {
		return false
	}
	ifc, ok := q.tr.Interface(p.IfIndex)
	return ok && ifc.OnLink(p.Src.Addr())
}
