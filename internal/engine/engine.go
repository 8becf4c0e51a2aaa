// Package engine is the browse engine that lansd's two browsers share: the
// Multicast DNS querier (package browse) and the unicast DNS poller
// (package wide). It caches the records they receive (with the cache rules
// of RFC 6762 section 10), follows the instances the browsed types name,
// assembles each one from its PTR, SRV, TXT, A and AAAA records into an
// sd.Instance with its conformance verdict, and queues the add, update and
// remove events (sd.Event). The Engine does no I/O, starts no goroutine
// and is not safe for concurrent use: the browser's Loop owns it (see The
// loop, below).
//
// # The seam
//
// A feeder (the mDNS querier's loop, the unicast poller) gives the engine
// what it receives and runs its clock:
//
//   - Put caches a record received on an interface and address family;
//     Flush applies a record's cache-flush bit once its whole packet is in
//     (RFC 6762 section 10.2); Confirm keeps a record until a given time
//     (a unicast answer lasts until the next poll confirms it); RemoveIf
//     drops records a poll did not confirm; Purge drops an interface's
//     records.
//   - Wake says when the cache's next timer is due and Advance runs it:
//     expiry, and refresh questions for records someone is interested in.
//   - Settle recomputes the instances touched since the last call and
//     queues their events; NextEvent and EventSent hand them over one by
//     one (or Config.Sink sees each one as it is queued).
//   - Instances, Stats, Enumerated, Missing, Browsed and Tracked (the
//     types browsed and the instances followed, from which the unicast
//     poller plans its polls) read the state; Needed, IsKnownAnswer and KnownAnswers answer the questions a
//     Multicast DNS query scheduler asks (RFC 6762 sections 5.2, 7.1, 7.3).
//   - AddType browses a type (ParseType reads one as a user gives it),
//     TypeFound records one a unicast domain enumerates, Pin follows an
//     instance by name (resolution).
//
// The engine calls its feeder back through an Asker: to start a continuous
// browse question, to ask for the records an incomplete instance lacks, to
// refresh a record before it expires, and to name an interface. The mDNS
// scheduler asks these questions on the link; the unicast poller asks every
// question of its plan in each poll and needs none of them.
//
// # Instances and events
//
// An instance is a name on one interface: Multicast DNS names are per
// link (RFC 6762), so the same name seen on two interfaces is two
// instances, each with its own events, addresses (only those received on
// its interface), TTL and verdict, and Ifaces naming its one interface.
// The unicast poller caches everything on one pseudo-interface named after
// its servers, where an instance is its name alone. Events:
//
//   - Add: the instance became reportable: it is announced (a PTR record
//     names it, or it is pinned) with its SRV and TXT records and at least
//     one address of its SRV target; or with SRV and TXT but no address
//     once Config.AddressWait has passed since it was first found so. It
//     is then reported with host and port, empty Addrs and a warning
//     finding in Report naming the host without address.
//   - Update: its TXT record, port, target host, addresses or the address
//     families it was seen over (Seen) changed; an address arriving for an
//     instance reported without one is an Update. A changed address
//     (cache-flush or goodbye of the old one) is one Update with the new
//     set: records about to go are left out while the host has others.
//   - Remove: it is no longer announced (goodbye, expiry, flush, or its
//     interface went away: Purge), or it lost its SRV or TXT record. The
//     event carries the last state reported.
//
// # The loop
//
// Both browsers run their engine on a Loop, the one goroutine that owns
// it: their feeder (a Feeder: the mDNS querier, the unicast poller) turns
// the loop's input into the calls above, the browser's methods run on the
// loop through Do, and the loop hands the events over on its Events
// channel, holding input back while MaxPending wait, and closes Quiet when
// the feeder says so once every earlier event was received.
package engine

import (
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Question is a question the engine wants asked: a name in presentation
// form and a type (class IN).
type Question struct {
	Name string
	Type uint16
}

// QKey is a question as a query scheduler keys it: the name's dnsname.Key
// and the type.
type QKey struct {
	Name string
	Type uint16
}

// Asker is what the engine calls back on its feeder. The calls come from
// within the engine's methods, on the feeder's goroutine.
type Asker interface {
	// Browse starts the continuous question name PTR: a browsed type, or
	// the enumeration name (RFC 6762 section 5.2). learnt is false for a
	// type the application asked for (AddType), true for one learnt from a
	// received record (an enumerated type).
	Browse(name string, now time.Time, learnt bool)
	// Resolve asks for what an incomplete instance lacks: its SRV and TXT
	// records by instance name, the A and AAAA records of its SRV target.
	// The feeder asks them until Needed says they are no longer needed.
	Resolve(qs []Question, now time.Time)
	// Refresh asks once for a record someone is interested in whose
	// refresh point (80-95% of its TTL, RFC 6762 section 5.2) is due.
	Refresh(q Question, now time.Time)
	// IfaceName names interface index, for sd.Instance's Ifaces and Seen
	// and the zone of IPv6 link-local addresses.
	IfaceName(index int) string
}

// Config configures an Engine.
type Config struct {
	// Asker is called back for questions and interface names; required.
	Asker Asker
	// Registry supplies the rules verdicts are given against; nil means
	// registry.Builtin().
	Registry *registry.Registry
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// Strict makes the verdicts treat warnings as errors.
	Strict bool
	// MaxRecords bounds the record cache; 0 means DefaultMaxRecords.
	MaxRecords int
	// MaxPerSource bounds the records one source (a sender's address, see
	// PutFrom) holds; 0 means MaxRecords / DefaultSourceShare.
	MaxPerSource int
	// SourceNameRate is how many names new to it one source may add per
	// second, SourceNameBurst how many at once (a token bucket); 0 means
	// MaxRecords/40 per second and MaxRecords/4 at once. See fairness.go.
	SourceNameRate, SourceNameBurst float64
	// Sink, when set, sees every event as it is queued, and the events are
	// not kept for NextEvent (resolution and enumeration need no queue).
	Sink func(sd.Event)
	// AddressWait is how long an instance with its SRV and TXT records but
	// no address of its SRV target is held back, from when it is first
	// found so, before it is reported without address (the resolution
	// window: for Multicast DNS, time for the address questions to be
	// asked three times); 0 reports it at the first Settle (a unicast DNS
	// poll asks for the addresses before its answers are applied).
	AddressWait time.Duration
	// RemoveOnGoodbye removes an instance (Remove event) as soon as every
	// PTR record naming it, or every SRV record of it, on its interface
	// is said goodbye to (TTL 0), instead of one second later when those
	// records leave the cache (RFC 6762 section 10.1). The records stay
	// cached for that second all the same (known answers, a re-announcement
	// within it); should the instance be announced again, it is added
	// again. For a proxy (lansd gateway) that passes the goodbye on at
	// once; the default, false, is what every other browser reports.
	RemoveOnGoodbye bool
}

// MaxTypes bounds the service types added by enumeration.
const MaxTypes = 1024

// Engine is the browse engine: cache, instances, events. See the package
// documentation for its seam.
type Engine struct {
	ask    Asker
	log    *slog.Logger
	reg    *registry.Registry
	strict bool
	sink   func(sd.Event)
	// earlyGoodbye is Config.RemoveOnGoodbye.
	earlyGoodbye bool

	cache *cache

	// types are the browsed PTR question names by key.
	types map[string]Type
	// enumerating: the Multicast DNS ServicesType question is asked;
	// autoTypes: types it finds are browsed too.
	enumerating, autoTypes bool
	seenTypes              map[string]string // key -> "_x._tcp"

	// tracked are the instances followed, by name key, then interface
	// index (see instKey).
	tracked map[string]map[int]*tracked
	hostIdx map[string]map[instKey]bool // host key -> instances whose SRV target it is
	dirty   map[instKey]bool            // instances to recompute
	// pins are the names pinned (resolution) by key; pinAsk those whose
	// SRV and TXT records are to be asked for at the next Settle.
	pins   map[string]string
	pinAsk map[string]bool
	// addrWait is Config.AddressWait; waiting holds, for the instances
	// found without address and not yet reported, when they will be.
	addrWait time.Duration
	waiting  map[instKey]time.Time

	pending []sd.Event
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Registry == nil {
		cfg.Registry = registry.Builtin()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	e := &Engine{
		ask:          cfg.Asker,
		log:          cfg.Logger,
		reg:          cfg.Registry,
		strict:       cfg.Strict,
		sink:         cfg.Sink,
		earlyGoodbye: cfg.RemoveOnGoodbye,
		cache:        newCache(cfg.MaxRecords, rnd),
		types:        map[string]Type{},
		seenTypes:    map[string]string{},
		tracked:      map[string]map[int]*tracked{},
		hostIdx:      map[string]map[instKey]bool{},
		dirty:        map[instKey]bool{},
		pins:         map[string]string{},
		pinAsk:       map[string]bool{},
		addrWait:     max(0, cfg.AddressWait),
		waiting:      map[instKey]time.Time{},
	}
	e.cache.fair = newFairness(e.cache.max, cfg.MaxPerSource, cfg.SourceNameRate, cfg.SourceNameBurst)
	e.cache.related = e.related
	e.cache.removed = e.entryRemoved
	e.cache.dropped = func(s *source, reason string) {
		e.log.Debug("browse: dropping records from a source (cache fairness; counted in stats)",
			"source", s.key.addr, "iface", e.ask.IfaceName(s.key.ifIndex), "reason", reason,
			"held", len(s.entries), "max_per_source", e.cache.fair.perSource)
	}
	return e
}

// Put caches rr, a record of a response received on interface ifIndex over
// family f at now, and marks the instances it changes for Settle. It
// returns the record's entry, nil when rr was a goodbye (TTL 0) for a
// record not cached or is unusable, and whether the record is new to the
// cache. A TTL of 0 is a goodbye: the record lives one more second (RFC
// 6762 section 10.1); any other TTL sets its lifetime afresh and restarts
// its refresh schedule (section 5.2). The caller flushes (Flush) once the
// whole packet is in.
func (e *Engine) Put(rr dns.RR, ifIndex int, f sd.Family, now time.Time) (*Entry, bool) {
	return e.PutFrom(rr, ifIndex, f, netip.Addr{}, now)
}

// PutFrom is Put for a record sent by src (the sender's address of its
// packet): the record counts against src's share of the cache and its
// rate of new names (see fairness.go), and is dropped (nil entry) beyond
// them. Put, with no source, is bound by the cache size alone: the unicast
// poller's one source is its servers.
func (e *Engine) PutFrom(rr dns.RR, ifIndex int, f sd.Family, src netip.Addr, now time.Time) (*Entry, bool) {
	en, isNew := e.cache.putFrom(rr, ifIndex, f, src, now)
	switch {
	case en == nil:
	case isNew:
		e.recordChanged(en, true)
	case en.goodbye:
		// Goodbye: the record stays until it expires, one second from now
		// (RFC 6762 section 10.1); an address said goodbye to leaves its
		// instances' addresses at once when the host has others (see
		// addresses).
		if t := en.set.rrtype; t == dns.TypeA || t == dns.TypeAAAA {
			e.recordChanged(en, false)
		} else if e.earlyGoodbye {
			// Config.RemoveOnGoodbye: the instance may go now.
			e.goodbyeSeen(en)
		}
	case en.set.rrtype == dns.TypePTR || en.set.rrtype == dns.TypeSRV:
		// A refreshed PTR record (or the SRV record of a pinned instance)
		// may have arrived over another family: the instance's Seen
		// changes.
		e.recordChanged(en, true)
	}
	return en, isNew
}

// Flush applies the cache-flush bit of en, received at now (RFC 6762
// section 10.2): the other records of its RRset on its interface received
// more than a second ago expire in one second. Records of one packet never
// flush each other, so the caller flushes after putting the whole packet.
func (e *Engine) Flush(en *Entry, now time.Time) {
	if e.cache.flush(en, now) > 0 {
		if t := en.set.rrtype; t == dns.TypeA || t == dns.TypeAAAA {
			// The flushed addresses leave the host's address set at once
			// (see addresses).
			e.recordChanged(en, false)
		}
	}
}

// Confirm keeps en until until, without refresh questions: a unicast DNS
// answer has no goodbye, so its records stay until a later poll no longer
// confirms them (RemoveIf) or until until.
func (e *Engine) Confirm(en *Entry, until time.Time) { e.cache.keepUntil(en, until) }

// RemoveIf removes every cached record for which gone returns true (a
// poll asked for it and it was not in the answer); their instances are
// settled next.
func (e *Engine) RemoveIf(gone func(*Entry) bool) {
	var out []*Entry
	for _, en := range e.cache.entries {
		if gone(en) {
			out = append(out, en)
		}
	}
	for _, en := range out {
		e.cache.remove(en)
	}
}

// Purge removes every record received on interface ifIndex (it is gone).
func (e *Engine) Purge(ifIndex int) { e.cache.purge(ifIndex) }

// Wake returns when Advance must next run, and false when nothing is due
// (the cache is empty and no instance waits for its address).
func (e *Engine) Wake() (time.Time, bool) {
	t, ok := e.cache.next()
	for _, d := range e.waiting {
		if !ok || d.Before(t) {
			t, ok = d, true
		}
	}
	return t, ok
}

// AddressWaitEnd returns when the last instance now held back for want of
// an address will be reported (see Config.AddressWait), and false when
// none is.
func (e *Engine) AddressWaitEnd() (time.Time, bool) {
	var t time.Time
	for _, d := range e.waiting {
		if d.After(t) {
			t = d
		}
	}
	return t, !t.IsZero()
}

// Advance runs the cache's timers due at now: records whose TTL has run out
// leave the cache (their instances are settled next), and every record
// whose refresh point is due and in which the browser has an active
// interest is asked for again through Asker.Refresh (RFC 6762 section 5.2:
// a querier "MUST NOT perform this cache maintenance for records for which
// it has no local clients").
func (e *Engine) Advance(now time.Time) {
	// Instances whose resolution window is over are reported at the next
	// Settle.
	for k, d := range e.waiting {
		if !now.Before(d) {
			delete(e.waiting, k)
			e.dirty[k] = true
		}
	}
	for _, en := range e.cache.advance(now) {
		if e.interested(en) {
			e.ask.Refresh(Question{Name: en.rr.Header().Name, Type: en.set.rrtype}, now)
		}
	}
}

// Settle recomputes every instance touched since the last call and queues
// its events (see flushDirty), asking through Asker.Resolve for what an
// incomplete instance lacks.
func (e *Engine) Settle(now time.Time) { e.flushDirty(now) }

// NextEvent returns the first event waiting to be delivered and how many
// wait (0: none, and ev is zero).
func (e *Engine) NextEvent() (ev sd.Event, n int) {
	if len(e.pending) == 0 {
		return sd.Event{}, 0
	}
	return e.pending[0], len(e.pending)
}

// EventSent drops the first waiting event: it was delivered.
func (e *Engine) EventSent() {
	if len(e.pending) > 0 {
		e.pending[0] = sd.Event{}
		e.pending = e.pending[1:]
	}
	if len(e.pending) == 0 {
		e.pending = nil // a burst's backing array is not kept
	}
}

// Stats returns the engine's counters: Records, Instances, Sources, the
// cache removals (Expired, Flushed, Goodbyes, Evicted, EvictedRelated) and
// the records dropped by the per-source bounds (DroppedRate, DroppedBound).
// The feeder adds its own.
func (e *Engine) Stats() sd.Stats {
	var s sd.Stats
	s.Records = e.cache.Len()
	e.eachTracked(func(t *tracked) {
		if t.last != nil {
			s.Instances++
		}
	})
	s.Expired = e.cache.stats.expired
	s.Flushed = e.cache.stats.flushed
	s.Goodbyes = e.cache.stats.goodbyes
	s.Evicted = e.cache.stats.evicted
	s.EvictedRelated = e.cache.stats.evictedRelated
	s.DroppedRate = e.cache.stats.droppedRate
	s.DroppedBound = e.cache.stats.droppedBound
	for _, src := range e.cache.sources {
		if len(src.entries) > 0 {
			s.Sources++
		}
	}
	return s
}

// Tracked is an instance the engine follows.
type Tracked struct {
	// Name is the instance name in presentation form, as first seen.
	Name string
	// Target is the target of its best SRV record, "" without one.
	Target string
}

// Tracked returns the instances followed (named by a PTR record under a
// browsed type, or pinned), once per interface they are followed on, in
// no particular order.
func (e *Engine) Tracked() []Tracked {
	var out []Tracked
	e.eachTracked(func(t *tracked) {
		tr := Tracked{Name: t.name}
		if srv := e.bestSRV(t.key.ifIndex, t.key.name); srv != nil {
			tr.Target = srv.rr.(*dns.SRV).Target
		}
		out = append(out, tr)
	})
	for k, name := range e.pins {
		if len(e.tracked[k]) == 0 {
			out = append(out, Tracked{Name: name})
		}
	}
	return out
}

// Pin follows the instance name without a PTR record (resolution): its
// SRV and TXT records are asked for at the next Settle, and on every
// interface they arrive on it is followed as an instance of its own,
// asked for until it is complete.
func (e *Engine) Pin(name string) {
	k := dnsname.MustKey(name)
	if _, ok := e.pins[k]; !ok {
		e.pins[k] = name
	}
	e.pinAsk[k] = true
	for _, t := range e.tracked[k] {
		t.pinned = true
		e.dirty[t.key] = true
	}
}

// Browsed returns the PTR question names of the types browsed, sorted.
func (e *Engine) Browsed() []string {
	out := make([]string, 0, len(e.types))
	for _, bt := range e.types {
		out = append(out, bt.Query)
	}
	slices.Sort(out)
	return out
}

// IsKnownAnswer reports whether rr, a known answer in another querier's
// query received on ifIndex at now, is a record we would list too: it is
// cached on that interface and may be listed as a known answer (RFC 6762
// section 7.3).
func (e *Engine) IsKnownAnswer(rr dns.RR, ifIndex int, now time.Time) bool {
	h := rr.Header()
	k, ok := dnsname.Key(h.Name)
	if !ok {
		return false
	}
	s := setKey{name: k, rrtype: h.Rrtype}
	en := e.cache.entries[entryKey(ifIndex, s, h.Class&^dnsname.CacheFlush, dnsname.RdataKey(rr))]
	return en != nil && knownAnswerOK(en, now)
}

// knownAnswerOK reports whether en may be listed as a known answer at now:
// RFC 6762 section 7.1, a querier "SHOULD NOT include records in the
// Known-Answer list whose remaining TTL is less than half of their
// original TTL"; records said goodbye to are left out too.
func knownAnswerOK(en *Entry, now time.Time) bool {
	return !en.goodbye && en.remaining(now)*2 > en.origTTL
}

// KnownAnswers returns the Known-Answer list for qs on ifIndex at now
// (RFC 6762 section 7.1): the cached records answering them, each once,
// with their remaining TTL and without the cache-flush bit.
func (e *Engine) KnownAnswers(ifIndex int, qs []QKey, now time.Time) []dns.RR {
	var out []dns.RR
	seen := map[*Entry]bool{}
	for _, q := range qs {
		var ens []*Entry
		if q.Type == dns.TypeANY {
			for s := range e.cache.sets {
				if s.name == q.Name {
					ens = append(ens, e.cache.lookup(s)...)
				}
			}
		} else {
			ens = e.cache.lookup(setKey{name: q.Name, rrtype: q.Type})
		}
		slices.SortFunc(ens, func(a, b *Entry) int { return compareStrings(a.key, b.key) })
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
