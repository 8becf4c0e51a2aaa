package engine

import (
	"container/heap"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
)

// DefaultMaxRecords bounds the cache when Config.MaxRecords is 0: room for
// a link of 10,000 instances (about four records each, some 4.1 KB of
// memory per instance: BenchmarkCacheMemory), all on one host or spread
// over many (fairness.go: one source may hold half).
const DefaultMaxRecords = 100000

// goodbyeTTL is how long a record announced with TTL 0 stays: RFC 6762
// section 10.1 asks queriers to record a TTL of 1 and delete the record one
// second later; section 10.2 gives flushed records the same second.
const goodbyeTTL = time.Second

// refreshPoints are the fractions of a record's TTL at which a querier
// with an active interest asks for it again (RFC 6762 section 5.2: at 80%,
// then 85%, 90% and 95% if no answer came), each plus a random 0-2% of the
// TTL so that queriers do not all ask at once.
var refreshPoints = []float64{0.80, 0.85, 0.90, 0.95}

// refreshJitter is the random variation added to each refresh point.
const refreshJitter = 0.02

// setKey names an RRset across interfaces: owner name key and type.
type setKey struct {
	name   string // dnsname.Key of the owner
	rrtype uint16
}

// Entry is one cached record as received on one interface. Feeders hold
// entries only as handles, to give back to the Engine (Flush, Confirm).
type Entry struct {
	key     string // full key: interface, name, type, class, rdata
	set     setKey
	ifIndex int
	class   uint16 // without the cache-flush bit
	rdata   string // canonical rdata (see dnsname.RdataKey)
	// rr is the record as last received, class without the cache-flush bit
	// and TTL as received.
	rr dns.RR
	// families has bit 1<<4 set when the record came over IPv4, 1<<6 over
	// IPv6.
	families uint8
	// first is when the record was first cached (or came back after a
	// goodbye); received when its TTL was last set by an answer.
	first, received time.Time
	// ttl is the lifetime counted from received: the TTL as received, or 1 s
	// after a goodbye or a cache flush.
	ttl time.Duration
	// origTTL is the TTL the record was last received with (for the
	// known-answer half-life rule, RFC 6762 section 7.1).
	origTTL time.Duration
	expires time.Time
	// goodbye is set once the record was announced with TTL 0 (or flushed):
	// it is about to go and is neither refreshed nor given as a known answer.
	goodbye bool
	// refreshAt is the next refresh point (zero when none is left) and
	// refreshStep its index in refreshPoints.
	refreshAt   time.Time
	refreshStep int
	index       int // in the cache heap, -1 when not in it
	setPos      int // in its set's list (cache.sets)
	srcPos      int // in its source's list (source.entries)
	// src is the source holding the record and ident its name (see
	// fairness.go).
	src   *source
	ident string
}

// NameKey returns the key (dnsname.Key) of the record's owner name.
func (e *Entry) NameKey() string { return e.set.name }

// Type returns the record's type.
func (e *Entry) Type() uint16 { return e.set.rrtype }

// remaining returns the TTL left at now (never negative).
func (e *Entry) remaining(now time.Time) time.Duration {
	return max(0, e.expires.Sub(now))
}

// due is the next time the cache must look at e.
func (e *Entry) due() time.Time {
	if !e.refreshAt.IsZero() && e.refreshAt.Before(e.expires) {
		return e.refreshAt
	}
	return e.expires
}

// addr returns the address of an A or AAAA record (invalid otherwise).
func (e *Entry) addr() netip.Addr {
	switch r := e.rr.(type) {
	case *dns.A:
		a, _ := netip.AddrFromSlice(r.A.To4())
		return a
	case *dns.AAAA:
		a, _ := netip.AddrFromSlice(r.AAAA.To16())
		return a
	}
	return netip.Addr{}
}

// familyBit is the bit of Entry.families for f.
func familyBit(f sd.Family) uint8 {
	if f == sd.IPv6 {
		return 1 << 6
	}
	return 1 << 4
}

// cacheStats count what the cache did.
type cacheStats struct {
	expired, flushed, goodbyes, evicted uint64
	// evictedRelated counts the evictions (in evicted) of records someone
	// was interested in; droppedRate and droppedBound the records not
	// cached by the per-source bounds (see fairness.go).
	evictedRelated, droppedRate, droppedBound uint64
}

// cache holds every record received, per interface, keyed by interface,
// name, type, class and rdata. It is not safe for concurrent use: the
// browser's event loop owns it.
//
// Size bound: at most max entries, shared fairly among the sources the
// records come from (see fairness.go). When a new record arrives and the
// cache is full, records of the source holding the most are evicted, down
// to its fair share and at most a tenth of the cache at once (so that a
// flood costs O(log n) per record): first records no browse, resolution or
// enumeration cares about ("unrelated"), soonest to expire first, then
// related ones, soonest to expire first. Evictions and drops are counted.
type cache struct {
	max     int
	entries map[string]*Entry
	sets    map[setKey][]*Entry // the entries of each RRset (Entry.setPos)
	h       entryHeap
	rnd     *rand.Rand
	stats   cacheStats
	// fair holds the per-source bounds; sources the sources holding
	// records (and those whose bucket is not yet full again), swept when
	// they reach sweepAt.
	fair    fairness
	sources map[srcKey]*source
	sweepAt int
	// dropped is called for the first record of a source that is dropped
	// (for the log); nil means nobody is told.
	dropped func(s *source, reason string)
	// related tells records someone cares about from the others, for
	// eviction; nil means none is.
	related func(*Entry) bool
	// removed is called for every entry that leaves the cache (expiry,
	// eviction, purge), after it has left.
	removed func(*Entry)
}

func newCache(max int, rnd *rand.Rand) *cache {
	if max <= 0 {
		max = DefaultMaxRecords
	}
	return &cache{
		max:     max,
		entries: map[string]*Entry{},
		sets:    map[setKey][]*Entry{},
		rnd:     rnd,
		fair:    newFairness(max, 0, 0, 0),
		sources: map[srcKey]*source{},
		sweepAt: 1024,
	}
}

// Len returns the number of cached records.
func (c *cache) Len() int { return len(c.entries) }

// entryKey builds the full key of a record on an interface.
func entryKey(ifIndex int, s setKey, class uint16, rdata string) string {
	var b [8]byte
	binary.BigEndian.PutUint32(b[0:], uint32(ifIndex))
	binary.BigEndian.PutUint16(b[4:], s.rrtype)
	binary.BigEndian.PutUint16(b[6:], class)
	return string(b[:]) + s.name + "\x00" + rdata
}

// put caches rr (a record of a response) received on ifIndex over f at
// now, from no particular source (see putFrom).
func (c *cache) put(rr dns.RR, ifIndex int, f sd.Family, now time.Time) (e *Entry, isNew bool) {
	return c.putFrom(rr, ifIndex, f, netip.Addr{}, now)
}

// putFrom caches rr (a record of a response) received on ifIndex over f
// from src at now. It returns the entry and whether the record is new to
// the cache; e is nil when the record was a goodbye (TTL 0) for a record
// not cached, is unusable, or was dropped by the per-source bounds (src
// valid, see fairness.go). A TTL of 0 is a goodbye: the record then lives
// one more second (RFC 6762 section 10.1). Any other TTL sets the record's
// lifetime afresh and restarts its refresh schedule (section 5.2).
func (c *cache) putFrom(rr dns.RR, ifIndex int, f sd.Family, src netip.Addr, now time.Time) (e *Entry, isNew bool) {
	h := rr.Header()
	nk, ok := dnsname.Key(h.Name)
	if !ok {
		return nil, false
	}
	class := h.Class &^ dnsname.CacheFlush
	s := setKey{name: nk, rrtype: h.Rrtype}
	var rd, key string
	// A record of an RRset not cached is new: it is decided on before its
	// key is built, so that a flood is dropped cheaply.
	known := len(c.sets[s]) > 0
	if known || h.Ttl == 0 {
		rd = dnsname.RdataKey(rr)
		key = entryKey(ifIndex, s, class, rd)
		e = c.entries[key]
	}
	if h.Ttl == 0 {
		if e == nil {
			return nil, false
		}
		// RFC 6762 section 10.1: a goodbye is recorded as TTL 1 and the
		// record deleted one second later.
		if !e.goodbye {
			c.stats.goodbyes++
			c.shorten(e, now)
		}
		e.families |= familyBit(f)
		return e, false
	}
	sk := srcKey{ifIndex: ifIndex, addr: src.Unmap()}
	if e == nil {
		ident := identity(rr, nk)
		holder := c.admit(sk, ident, now)
		if holder == nil {
			return nil, false
		}
		if !known {
			rd = dnsname.RdataKey(rr)
			key = entryKey(ifIndex, s, class, rd)
		}
		// rdata shares the key's bytes (it ends the key) rather than
		// keeping a second copy per record.
		e = &Entry{key: key, set: s, ifIndex: ifIndex, class: class, rdata: key[len(key)-len(rd):], first: now, index: -1, ident: ident}
		holder.hold(e)
		c.entries[key] = e
		e.setPos = len(c.sets[s])
		c.sets[s] = append(c.sets[s], e)
		isNew = true
	} else {
		c.moveTo(e, sk, now)
	}
	cp := dns.Copy(rr)
	cp.Header().Class = class
	if e.goodbye {
		// Back before it was deleted: its data counts as new again.
		e.first = now
	}
	e.rr = cp
	e.families |= familyBit(f)
	e.goodbye = false
	e.received = now
	e.ttl = time.Duration(h.Ttl) * time.Second
	e.origTTL = e.ttl
	e.expires = now.Add(e.ttl)
	e.refreshStep = 0
	e.refreshAt = c.refreshPoint(e, 0)
	c.fix(e)
	return e, isNew
}

// refreshPoint returns when refresh step i of e is due.
func (c *cache) refreshPoint(e *Entry, i int) time.Time {
	if i >= len(refreshPoints) {
		return time.Time{}
	}
	frac := refreshPoints[i] + c.rnd.Float64()*refreshJitter
	return e.received.Add(time.Duration(float64(e.ttl) * frac))
}

// shorten makes e expire one second from now and stops its refreshes
// (goodbye, RFC 6762 section 10.1; cache flush, section 10.2).
func (c *cache) shorten(e *Entry, now time.Time) {
	e.goodbye = true
	e.received = now
	e.ttl = goodbyeTTL
	e.expires = now.Add(goodbyeTTL)
	e.refreshAt = time.Time{}
	c.fix(e)
}

// keepUntil makes e expire at until, without refreshes: the record stays
// until then unless it is confirmed again.
func (c *cache) keepUntil(e *Entry, until time.Time) {
	e.expires = until
	e.refreshAt = time.Time{}
	c.fix(e)
}

// flush applies the cache-flush bit of record e, just received at now:
// records of the same name, type and class on the same interface with
// other rdata that were received more than one second ago are set to expire
// in one second (RFC 6762 section 10.2: a host "MUST NOT" flush records
// received in the last second, which may belong to the same multi-packet
// announcement; it sets the others' TTL to 1). It returns how many records
// were flushed.
func (c *cache) flush(e *Entry, now time.Time) int {
	n := 0
	for _, o := range c.sets[e.set] {
		if o == e || o.ifIndex != e.ifIndex || o.class != e.class || o.goodbye {
			continue
		}
		if now.Sub(o.received) > time.Second {
			c.shorten(o, now)
			c.stats.flushed++
			n++
		}
	}
	return n
}

// lookup returns the entries of an RRset on every interface (unordered).
func (c *cache) lookup(s setKey) []*Entry {
	return slices.Clone(c.sets[s])
}

// has reports whether any entry of the set is cached.
func (c *cache) has(s setKey) bool { return len(c.sets[s]) > 0 }

// lookupOn returns the entries of an RRset received on interface ifIndex
// (unordered).
func (c *cache) lookupOn(ifIndex int, s setKey) []*Entry {
	var out []*Entry
	for _, e := range c.sets[s] {
		if e.ifIndex == ifIndex {
			out = append(out, e)
		}
	}
	return out
}

// hasOn reports whether an entry of the set was received on ifIndex.
func (c *cache) hasOn(ifIndex int, s setKey) bool {
	for _, e := range c.sets[s] {
		if e.ifIndex == ifIndex {
			return true
		}
	}
	return false
}

// next returns when the cache must next run (expiry or refresh), and false
// when it is empty.
func (c *cache) next() (time.Time, bool) {
	if len(c.h) == 0 {
		return time.Time{}, false
	}
	return c.h[0].due(), true
}

// advance expires the records whose time has come and returns those whose
// refresh point is due (each advanced to its next point). Expired records
// are removed and reported through c.removed.
func (c *cache) advance(now time.Time) (refresh []*Entry) {
	for len(c.h) > 0 {
		e := c.h[0]
		if e.due().After(now) {
			break
		}
		if !e.expires.After(now) {
			c.stats.expired++
			c.remove(e)
			continue
		}
		// A refresh point is due.
		refresh = append(refresh, e)
		e.refreshStep++
		e.refreshAt = c.refreshPoint(e, e.refreshStep)
		c.fix(e)
	}
	return refresh
}

// remove drops e from the cache.
func (c *cache) remove(e *Entry) {
	if c.entries[e.key] != e {
		return
	}
	delete(c.entries, e.key)
	c.release(e)
	// Swap-remove from its set: O(1) however large the set (the PTR set
	// of a browsed type holds one record per instance).
	if list := c.sets[e.set]; e.setPos < len(list) && list[e.setPos] == e {
		last := list[len(list)-1]
		list[e.setPos], last.setPos = last, e.setPos
		list[len(list)-1] = nil
		if list = list[:len(list)-1]; len(list) == 0 {
			delete(c.sets, e.set)
		} else {
			c.sets[e.set] = list
		}
	}
	if e.index >= 0 {
		heap.Remove(&c.h, e.index)
	}
	if c.removed != nil {
		c.removed(e)
	}
}

// purge removes every entry of interface ifIndex (the interface is gone).
func (c *cache) purge(ifIndex int) {
	var gone []*Entry
	for _, e := range c.entries {
		if e.ifIndex == ifIndex {
			gone = append(gone, e)
		}
	}
	for _, e := range gone {
		c.remove(e)
	}
}

// fix puts e at its place in the heap.
func (c *cache) fix(e *Entry) {
	if e.index < 0 {
		heap.Push(&c.h, e)
		return
	}
	heap.Fix(&c.h, e.index)
}

// entryHeap orders entries by their due time.
type entryHeap []*Entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].due().Before(h[j].due()) }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*Entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
