package browse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Options configure a browser.
type Options struct {
	// Interfaces restricts the querier to these interface names; empty
	// means every up, multicast-capable, non-loopback interface.
	Interfaces []string
	// Families to use; empty means IPv4 and IPv6.
	Families []mdns.Family
	// Registry supplies the service types of bare names ("timezone") and
	// the TXT rules verdicts are given against; nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// Strict makes the verdicts treat warnings as errors (txt.Options.Strict).
	Strict bool
	// MaxRecords bounds the record cache; 0 means DefaultMaxRecords. See
	// the package documentation for what happens when it is full.
	MaxRecords int
}

// The DNS-SD vocabulary of package sd, under the names browse has always
// given it: Instance is a resolved service instance, Source an interface
// and address family it was seen on, Event a change of one instance (of
// kind Add, Update or Remove), and Stats count what a browser has done.
// For Multicast DNS, Instance.Domain is "local." and Stats.Packets counts
// mDNS messages.
type (
	Instance  = sd.Instance
	Source    = sd.Source
	EventKind = sd.EventKind
	Event     = sd.Event
	Stats     = sd.Stats
)

// The event kinds (see sd.EventKind).
const (
	Add    = sd.Add
	Update = sd.Update
	Remove = sd.Remove
)

// transport is what the browser needs of an mdns.Conn.
type transport interface {
	ReadPacket(ctx context.Context) (*mdns.Packet, error)
	SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, f mdns.Family) error
	Interfaces() []mdns.Interface
	Interface(index int) (mdns.Interface, bool)
	Families() []mdns.Family
	Close() error
}

var _ transport = (*mdns.Conn)(nil)

// ifChange is an interface change reported by the transport.
type ifChange struct{ added, removed []mdns.Interface }

// Browser is a running Multicast DNS querier (RFC 6762) for DNS-SD service
// types (RFC 6763). Its methods are safe for concurrent use.
type Browser struct {
	loopCore
	tr    transport
	log   *slog.Logger
	pkts  chan *mdns.Packet
	ifchg chan ifChange
}

// loopCore is what Browser and WideBrowser share: one goroutine (the loop)
// owns the engine, and methods run on it through cmds.
type loopCore struct {
	cancel context.CancelFunc
	events chan Event
	quiet  chan struct{}
	cmds   chan func()
	done   chan struct{} // closed when the loop has exited
	wg     sync.WaitGroup

	closeOnce sync.Once
	err       error // set by the loop before done is closed

	// Owned by the loop.
	e *engine
}

// newLoopCore returns a loopCore for engine e, stopped by cancel.
func newLoopCore(e *engine, cancel context.CancelFunc) loopCore {
	return loopCore{
		cancel: cancel,
		events: make(chan Event),
		quiet:  make(chan struct{}),
		cmds:   make(chan func()),
		done:   make(chan struct{}),
		e:      e,
	}
}

// maxPending bounds the events waiting to be received from Events; when
// reached, the browser stops reading packets until the receiver catches up
// (the transport then drops packets, as it does when any reader is slow).
const maxPending = 4096

// NewBrowser opens the mDNS transport and starts browsing types, each a
// registered service name ("timezone"), a DNS-SD type ("_timezone._tcp",
// "_timezone._tcp.local.") or a subtype ("_printer._sub._http._tcp"), or
// ServicesType to browse every type responders enumerate. It returns at
// once; events arrive on Events. The browser runs until ctx is done or
// Close is called. Errors: a type that does not parse (wrapping
// ErrBadName), no types, or the transport's errors (mdns.ErrNoInterface,
// mdns.ErrUnknownInterface).
func NewBrowser(ctx context.Context, types []string, opts Options) (*Browser, error) {
	e, err := newEngine(opts)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("%w: no service type to browse", ErrBadName)
	}
	for _, t := range types {
		bt, err := parseBrowseType(t, e.reg)
		if err != nil {
			return nil, err
		}
		e.wantTypes = append(e.wantTypes, bt)
	}
	return open(ctx, ctx, e, opts)
}

// openTransport opens the mDNS transport; tests replace it.
var openTransport = func(ctx context.Context, cfg mdns.Config) (transport, error) {
	return mdns.Listen(ctx, cfg)
}

// open starts the transport and the loop; setup bounds the opening, life
// the browser.
func open(setup, life context.Context, e *engine, opts Options) (*Browser, error) {
	chg := make(chan ifChange, 16)
	tr, err := openTransport(setup, mdns.Config{
		Interfaces: opts.Interfaces,
		Families:   opts.Families,
		Logger:     e.log,
		OnChange: func(added, removed []mdns.Interface) {
			select {
			case chg <- ifChange{added: added, removed: removed}:
			default:
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("browse: %w", err)
	}
	return start(life, e, tr, chg), nil
}

// start runs the browser loop over tr.
func start(ctx context.Context, e *engine, tr transport, chg chan ifChange) *Browser {
	ctx, cancel := context.WithCancel(ctx)
	b := &Browser{
		loopCore: newLoopCore(e, cancel),
		tr:       tr,
		log:      e.log,
		pkts:     make(chan *mdns.Packet, 64),
		ifchg:    chg,
	}
	e.tr = tr
	readErr := make(chan error, 1)
	b.wg.Add(2)
	go b.read(ctx, readErr)
	go b.loop(ctx, readErr)
	return b
}

// read moves packets from the transport to the loop.
func (b *Browser) read(ctx context.Context, errc chan<- error) {
	defer b.wg.Done()
	for {
		p, err := b.tr.ReadPacket(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, mdns.ErrClosed) {
				errc <- err
			}
			return
		}
		select {
		case b.pkts <- p:
		case <-ctx.Done():
			return
		}
	}
}

// loop owns the engine: it handles packets, timers, commands and event
// delivery until ctx is done.
func (b *Browser) loop(ctx context.Context, readErr <-chan error) {
	defer b.wg.Done()
	defer close(b.done)
	defer close(b.events)
	e := b.e
	e.ctx = ctx
	now := time.Now()
	e.begin(now)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now = time.Now()
		e.settle(now)
		// Quiet is signalled once every event before it was received, so
		// that a receiver stopping at Quiet misses none.
		if e.quietNow && !e.quietSent && len(e.pending) == 0 {
			e.quietSent = true
			close(b.quiet)
		}
		if t, ok := e.nextWake(); ok {
			timer.Reset(max(0, t.Sub(now)))
		} else {
			timer.Reset(time.Hour)
		}
		var out chan Event
		var ev Event
		if len(e.pending) > 0 {
			out, ev = b.events, e.pending[0]
		}
		in := b.pkts
		if len(e.pending) >= maxPending {
			in = nil
		}
		select {
		case <-ctx.Done():
			return
		case err := <-readErr:
			b.err = fmt.Errorf("browse: reading packets: %w", err)
			return
		case p := <-in:
			e.handlePacket(p)
		case <-timer.C:
			e.tick(time.Now())
		case out <- ev:
			e.pending[0] = Event{}
			e.pending = e.pending[1:]
		case f := <-b.cmds:
			f()
		case c := <-b.ifchg:
			e.interfacesChanged(c, time.Now())
		}
	}
}

// do runs f on the loop; it returns false when the browser has stopped.
func (b *loopCore) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case b.cmds <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-b.done:
		return false
	}
}

// Events returns the channel of instance events. It is closed when the
// browser stops. Events must be received promptly: while more than a few
// thousand wait, an mDNS browser stops reading packets.
func (b *loopCore) Events() <-chan Event { return b.events }

// Quiet returns a channel closed once the first rounds of queries have gone
// quiet: every browse question has been asked three times (at about 0.1, 1
// and 3 s) and no new record has arrived for a second, like
// "avahi-browse -t". With ServicesType, types discovered later restart the
// count.
func (b *Browser) Quiet() <-chan struct{} { return b.quiet }

// Instances returns the complete instances now known, sorted by name.
func (b *loopCore) Instances() []Instance {
	var out []Instance
	b.do(func() { out = b.e.instances() })
	return out
}

// Stats returns a snapshot of the browser's counters (zero after it stopped).
func (b *Browser) Stats() Stats {
	var s Stats
	b.do(func() { s = b.e.snapshot() })
	return s
}

// Types returns the service types seen in enumeration answers
// (_services._dns-sd._udp, RFC 6763 section 9), "_timezone._tcp", sorted.
func (b *loopCore) Types() []string {
	var out []string
	b.do(func() { out = b.e.enumerated() })
	return out
}

// Err returns the error that stopped the browser (for a WideBrowser, a
// *ServerError when no server answered the first poll), nil while it runs
// or when it stopped because its context ended or Close was called.
func (b *loopCore) Err() error {
	select {
	case <-b.done:
		return b.err
	default:
		return nil
	}
}

// Close stops the browser, closes the transport and waits for every
// goroutine to exit. It is idempotent.
func (b *Browser) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.cancel()
		b.wg.Wait()
		err = b.tr.Close()
	})
	return err
}

// Browse browses types (see NewBrowser) and calls fn for every event, from
// one goroutine and in order, until ctx is done; it then returns nil. It
// returns an error when the types do not parse or the transport fails.
func Browse(ctx context.Context, types []string, opts Options, fn func(Event)) error {
	b, err := NewBrowser(ctx, types, opts)
	if err != nil {
		return err
	}
	for ev := range b.Events() {
		fn(ev)
	}
	err = b.Err()
	if cerr := b.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = cerr
	}
	return err
}

// engine is the querier's state, owned by the browser loop.
type engine struct {
	ctx  context.Context
	tr   transport
	log  *slog.Logger
	reg  *registry.Registry
	opts Options
	rnd  *rand.Rand

	cache *cache
	sched *scheduler

	wantTypes []browseType
	// types are the browsed PTR question names by key.
	types map[string]browseType
	// enumerating: the ServicesType question is asked; autoTypes: types it
	// finds are browsed too.
	enumerating, autoTypes bool
	seenTypes              map[string]string // key -> "_x._tcp"

	tracked map[string]*tracked        // by instance name key
	hostIdx map[string]map[string]bool // host key -> instance keys
	dirty   map[string]bool            // instance keys to recompute

	pending []Event
	// onEvent, when set, sees every event as it is queued (Resolve);
	// discard drops events instead of queueing them for Events.
	onEvent func(Event)
	discard bool
	// askNow is set from begin to the end of the first settle: the
	// questions of the application's own call are asked at once.
	askNow bool

	stats Stats
	// Quiet detection.
	lastNew, lastQuery time.Time
	quietNow           bool
	quietSent          bool
}

// Quiet detection parameters.
const (
	quietRounds = 3
	quietPeriod = time.Second
	// maxTypes bounds the types added by enumeration.
	maxTypes = 1024
)

func newEngine(opts Options) (*engine, error) {
	if opts.Registry == nil {
		opts.Registry = registry.Builtin()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, f := range opts.Families {
		if f != mdns.IPv4 && f != mdns.IPv6 {
			return nil, fmt.Errorf("browse: Options.Families: unknown family %d", int(f))
		}
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	e := &engine{
		log:       opts.Logger,
		reg:       opts.Registry,
		opts:      opts,
		rnd:       rnd,
		cache:     newCache(opts.MaxRecords, rnd),
		sched:     newScheduler(rnd),
		types:     map[string]browseType{},
		seenTypes: map[string]string{},
		tracked:   map[string]*tracked{},
		hostIdx:   map[string]map[string]bool{},
		dirty:     map[string]bool{},
	}
	e.cache.related = e.related
	e.cache.removed = e.entryRemoved
	return e, nil
}

// begin starts the continuous questions, and the resolution of instances
// tracked from the start (Resolve), with a first query at once.
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
// (enumeration), and questions caused by a received packet (askMissing).
func (e *engine) begin(now time.Time) {
	at := now
	e.askNow = true
	for _, bt := range e.wantTypes {
		e.addType(bt, at)
	}
	e.wantTypes = nil
	for k := range e.tracked {
		e.dirty[k] = true
	}
}

// addType starts browsing bt (idempotent).
func (e *engine) addType(bt browseType, at time.Time) {
	if bt.query == servicesName {
		e.enumerating = true
		e.autoTypes = e.autoTypes || bt.service == ServicesType
		e.sched.addContinuous(servicesName, dns.TypePTR, at)
		return
	}
	k := mustKey(bt.query)
	if _, ok := e.types[k]; ok {
		return
	}
	e.types[k] = bt
	e.sched.addContinuous(bt.query, dns.TypePTR, at)
	// Instances already cached under the type become tracked.
	for _, en := range e.cache.lookup(setKey{name: k, rrtype: dns.TypePTR}) {
		e.ptrChanged(en, true)
	}
}

// handlePacket processes one received message.
func (e *engine) handlePacket(p *mdns.Packet) {
	now := p.Received
	if now.IsZero() {
		now = time.Now()
	}
	e.stats.Packets++
	m := p.Msg
	// RFC 6762 section 18.3: messages with a non-zero opcode MUST be
	// silently ignored.
	if m.Opcode != dns.OpcodeQuery {
		e.stats.Ignored++
		return
	}
	if !m.Response {
		e.handleQuery(p, now)
		return
	}
	switch {
	case p.Src.Port() != mdns.Port:
		// Section 6: "Multicast DNS implementations MUST silently ignore
		// any Multicast DNS responses they receive where the source UDP
		// port is not 5353."
		e.stats.Ignored++
		return
	case !p.Multicast() && !e.acceptUnicast(p, now):
		// Sections 6 and 11: a unicast response is accepted only in answer
		// to a query of ours that asked for one (QU) in the last two
		// seconds, and only from an on-link source; any other was meant
		// for another process sharing port 5353.
		e.stats.Ignored++
		return
	case m.Rcode != dns.RcodeSuccess:
		// Section 18.11: non-zero response codes MUST be silently ignored.
		e.stats.Ignored++
		return
	}
	// Answers and additional records are cached alike (section 10: every
	// record of a response, including answers meant for other queriers, is
	// passively observed). Questions in a response are ignored (section 6).
	var flush []*entry
	for _, sec := range [][]dns.RR{m.Answer, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT || h.Class&^cacheFlushBit != dns.ClassINET {
				continue
			}
			en, isNew := e.cache.put(rr, p.IfIndex, p.Family, now)
			if en == nil {
				continue
			}
			if isNew {
				e.lastNew = now
				e.recordChanged(en, true)
			} else if en.goodbye {
				// Goodbye: nothing changes until it expires, one second
				// from now (RFC 6762 section 10.1).
				continue
			} else if e.sameRdataChanged(en) {
				e.recordChanged(en, true)
			}
			if h.Class&cacheFlushBit != 0 && h.Ttl > 0 {
				flush = append(flush, en)
			}
		}
	}
	// RFC 6762 section 10.2: after the whole packet is cached (records of
	// one packet never flush each other), flush the older members of each
	// cache-flush record's RRset.
	for _, en := range flush {
		e.cache.flush(en, now)
	}
}

// sameRdataChanged reports whether a refreshed record changed something an
// instance shows (its arrival families, for Seen).
func (e *engine) sameRdataChanged(en *entry) bool {
	return en.set.rrtype == dns.TypePTR
}

// handleQuery looks at another querier's query for duplicate question
// suppression (RFC 6762 section 7.3): each QM question of ours it asks, with
// a complete (not truncated) Known-Answer list every record of which we
// would give too, counts as our own query sent.
func (e *engine) handleQuery(p *mdns.Packet, now time.Time) {
	m := p.Msg
	if m.Truncated || p.Src.Port() != mdns.Port {
		return
	}
	for _, q := range m.Question {
		if q.Qclass&cacheFlushBit != 0 { // QU: answered by unicast to the asker
			continue
		}
		k, ok := nameKey(q.Name)
		if !ok {
			continue
		}
		qk := qKey{name: k, qtype: q.Qtype}
		if _, ours := e.sched.qs[qk]; !ours {
			continue
		}
		if e.coveredKnownAnswers(m.Answer, qk, p.IfIndex, now) {
			e.sched.sawDuplicate(qk, p.IfIndex, now)
		}
	}
}

// coveredKnownAnswers reports whether every known answer of a query that
// answers question qk is one we would list too on ifIndex at now.
func (e *engine) coveredKnownAnswers(answers []dns.RR, qk qKey, ifIndex int, now time.Time) bool {
	for _, rr := range answers {
		h := rr.Header()
		k, ok := nameKey(h.Name)
		if !ok || k != qk.name || (qk.qtype != dns.TypeANY && h.Rrtype != qk.qtype) {
			continue
		}
		s := setKey{name: k, rrtype: h.Rrtype}
		en := e.cache.entries[entryKey(ifIndex, s, h.Class&^cacheFlushBit, rdataKey(rr))]
		if en == nil || !knownAnswerOK(en, now) {
			return false
		}
	}
	return true
}

// knownAnswerOK reports whether en may be listed as a known answer at now:
// RFC 6762 section 7.1, a querier "SHOULD NOT include records in the
// Known-Answer list whose remaining TTL is less than half of their
// original TTL"; records said goodbye to are left out too.
func knownAnswerOK(en *entry, now time.Time) bool {
	return !en.goodbye && en.remaining(now)*2 > en.origTTL
}

// knownAnswers returns the Known-Answer list for qs on ifIndex at now: the
// cached records answering them, with their remaining TTL and without the
// cache-flush bit.
func (e *engine) knownAnswers(ifIndex int, qs []*question, now time.Time) []dns.RR {
	var out []dns.RR
	seen := map[*entry]bool{}
	for _, q := range qs {
		var ens []*entry
		if q.qtype == dns.TypeANY {
			for s := range e.cache.sets {
				if s.name == q.key.name {
					ens = append(ens, e.cache.lookup(s)...)
				}
			}
		} else {
			ens = e.cache.lookup(setKey{name: q.key.name, rrtype: q.qtype})
		}
		slices.SortFunc(ens, func(a, b *entry) int { return compareStrings(a.key, b.key) })
		for _, en := range ens {
			if en.ifIndex != ifIndex || seen[en] || !knownAnswerOK(en, now) {
				continue
			}
			seen[en] = true
			rr := dns.Copy(en.rr)
			rr.Header().Ttl = uint32(en.remaining(now) / time.Second)
			rr.Header().Class = en.class
			out = append(out, rr)
		}
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// tick runs the timers due at now: cache expiry and refresh, queries, quiet.
func (e *engine) tick(now time.Time) {
	for _, en := range e.cache.advance(now) {
		if e.interested(en) {
			// RFC 6762 section 5.2: refresh queries only for records with
			// an active interest ("MUST NOT perform this cache maintenance
			// for records for which it has no local clients").
			e.sched.addRefresh(en.rr.Header().Name, en.set.rrtype, now)
		}
	}
	qs := e.sched.collect(now, e.needed)
	if len(qs) == 0 {
		return
	}
	packets, tc, sup := e.sched.sendQueries(e.ctx, e.tr, qs,
		func(ifIndex int, ch []*question) []dns.RR { return e.knownAnswers(ifIndex, ch, now) },
		now, e.log.Debug)
	e.sched.sent(qs, now)
	e.stats.Queries += uint64(packets)
	e.stats.Truncated += uint64(tc)
	e.stats.Suppressed += uint64(sup)
	for _, q := range qs {
		if q.continuous {
			e.lastQuery = now
		}
	}
}

// nextWake returns when the loop must next run tick.
func (e *engine) nextWake() (time.Time, bool) {
	t, ok := e.sched.next()
	if c, cok := e.cache.next(); cok && (!ok || c.Before(t)) {
		t, ok = c, true
	}
	if !e.quietNow {
		if q, qok := e.quietAt(); qok && (!ok || q.Before(t)) {
			t, ok = q, true
		}
	}
	return t, ok
}

// quietAt returns when the browser will be quiet if nothing new arrives,
// and false while some browse question has not been asked quietRounds times.
func (e *engine) quietAt() (time.Time, bool) {
	n := 0
	for _, q := range e.sched.qs {
		if !q.continuous {
			continue
		}
		n++
		if q.sent < quietRounds {
			return time.Time{}, false
		}
	}
	if n == 0 {
		return time.Time{}, false
	}
	t := e.lastNew
	if e.lastQuery.After(t) {
		t = e.lastQuery
	}
	return t.Add(quietPeriod), true
}

// settle recomputes the instances touched since the last call, queues their
// events, and updates the quiet state.
func (e *engine) settle(now time.Time) {
	e.flushDirty(now)
	e.askNow = false
	if !e.quietNow {
		if t, ok := e.quietAt(); ok && !now.Before(t) {
			e.quietNow = true
		}
	}
}

// interfacesChanged drops what was cached on vanished interfaces and asks
// again on new ones.
func (e *engine) interfacesChanged(c ifChange, now time.Time) {
	for _, ifc := range c.removed {
		e.cache.purge(ifc.Index)
	}
	if len(c.added) > 0 {
		e.sched.restart(now)
	}
}

// snapshot returns the counters.
func (e *engine) snapshot() Stats {
	s := e.stats
	s.Records = e.cache.Len()
	for _, t := range e.tracked {
		if t.last != nil {
			s.Instances++
		}
	}
	s.Expired = e.cache.stats.expired
	s.Flushed = e.cache.stats.flushed
	s.Goodbyes = e.cache.stats.goodbyes
	s.Evicted = e.cache.stats.evicted
	return s
}

// ifaceName returns the name of interface index (or "if<index>").
func (e *engine) ifaceName(index int) string {
	if e.tr != nil {
		if ifc, ok := e.tr.Interface(index); ok {
			return ifc.Name
		}
	}
	return fmt.Sprintf("if%d", index)
}

// acceptUnicast reports whether the unicast response p may be used: a QU
// query of ours went out on its interface in the last two seconds (RFC 6762
// section 6) and its source is on that interface's link (section 11).
func (e *engine) acceptUnicast(p *mdns.Packet, now time.Time) bool {
	if e.tr == nil || !e.sched.acceptsUnicast(p.IfIndex, now) {
		return false
	}
	ifc, ok := e.tr.Interface(p.IfIndex)
	return ok && ifc.OnLink(p.Src.Addr())
}
