package engine

// Cache fairness: one source may not crowd the others out of the cache.
//
// RFC 6762 section 10 has a querier cache every record of every response
// it sees, answers meant for other queriers included; nothing in it bounds
// what one host may make it cache. A host flooding the link with
// responses for distinct names would fill the cache, evict what the other
// hosts announce and make their instances flap. The bounds below are a
// resource limit on that passive caching, not a change of its semantics:
// a record that is cached lives, is refreshed, flushed and said goodbye to
// exactly as before; a record that is not cached is dropped as a full
// cache drops it.
//
// A source is the address a record came from on one interface (the
// sender's address of its packet, mdns.Packet.Src). Records put without an
// address (Engine.Put: the unicast DNS poller, whose one source is its
// servers) belong to one unbounded source per interface. For every source
// with an address:
//
//   - Bound: it holds at most Config.MaxPerSource records, by default half
//     the cache (DefaultSourceShare): whatever one host sends, the other
//     half stays free for the others. A new record beyond it is dropped
//     (Stats.DroppedBound); records it already holds are kept, so that a
//     flooder's own instances do not flap either.
//   - Rate: it adds at most Config.SourceNameRate names new to it per
//     second, in bursts of up to Config.SourceNameBurst (a token bucket).
//     A record's name is its owner name, or for a PTR record the name it
//     points to (an instance: its SRV and TXT records then come free).
//     Records of names it already has cached (refreshes, other types, other
//     rdata of its names) are not limited. A record over the rate is
//     dropped (Stats.DroppedRate).
//   - Eviction: when the cache is full, room is made in the source holding
//     the most records (never in one under its fair share: the most is at
//     least MaxRecords divided among the sources holding records), a tenth
//     of the cache at once, its records nobody is interested in first,
//     soonest-to-expire first. If the source of the
//     new record is the one holding most, its new record is dropped
//     instead (Stats.DroppedBound).
//
// A record received from another source than the one holding it stays
// cached; it moves to the source that sent it if that one holds fewer
// records, so a flooder repeating another host's records cannot get them
// evicted with its own. A host forging many source addresses gets a share
// per address: the cache bound still holds, but fairness is per address.

import (
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
)

// DefaultSourceShare is the share of the cache one source may hold when
// Config.MaxPerSource is 0: MaxRecords / DefaultSourceShare.
const DefaultSourceShare = 2

// The default rate of new names per source when Config.SourceNameRate is 0
// is MaxRecords/sourceRateDiv per second (2,500/s at the default bound),
// and its burst MaxRecords/sourceBurstDiv names (25,000): a host announcing
// ten thousand services at once is within its burst.
const (
	sourceRateDiv  = 40
	sourceBurstDiv = 4
)

// srcKey names a source: the sender's address on one interface (invalid for
// records put without one).
type srcKey struct {
	ifIndex int
	addr    netip.Addr
}

// source is what one source holds in the cache, and its token bucket.
type source struct {
	key     srcKey
	entries []*Entry // Entry.srcPos is the position
	// names counts its entries by their name (see identity).
	names map[string]int
	// tokens is the bucket's content at filled.
	tokens float64
	filled time.Time
	// logged is set once its first drop was logged.
	logged bool
}

// limited reports whether the per-source bounds apply to s.
func (s *source) limited() bool { return s.key.addr.IsValid() }

// fairness holds the per-source bounds of a cache.
type fairness struct {
	perSource int
	rate      float64 // new names per second
	burst     float64
}

// newFairness returns the bounds for a cache of max records with the
// given settings (0: default).
func newFairness(size, perSource int, rate, burst float64) fairness {
	if perSource <= 0 {
		perSource = size / DefaultSourceShare
	}
	if rate <= 0 {
		rate = float64(size) / sourceRateDiv
	}
	if burst <= 0 {
		burst = float64(size) / sourceBurstDiv
	}
	return fairness{perSource: max(1, perSource), rate: rate, burst: max(1, burst)}
}

// identity returns the name a record adds: the target of a PTR record, the
// owner name (key nk) otherwise.
func identity(rr dns.RR, nk string) string {
	if p, ok := rr.(*dns.PTR); ok {
		if k, ok := dnsname.Key(p.Ptr); ok {
			return k
		}
	}
	return nk
}

// getSource returns the source k, creating it with a full bucket.
func (c *cache) getSource(k srcKey, now time.Time) *source {
	if s := c.sources[k]; s != nil {
		return s
	}
	if len(c.sources) >= c.sweepAt {
		c.sweep(now)
	}
	s := &source{key: k, names: map[string]int{}, tokens: c.fair.burst, filled: now}
	c.sources[k] = s
	return s
}

// refill brings s's bucket to now.
func (c *cache) refill(s *source, now time.Time) {
	if d := now.Sub(s.filled); d > 0 {
		s.tokens = min(c.fair.burst, s.tokens+d.Seconds()*c.fair.rate)
		s.filled = now
	}
}

// sweep forgets the sources holding nothing whose bucket is full again
// (they are as new), and sets when to sweep next.
func (c *cache) sweep(now time.Time) {
	for k, s := range c.sources {
		if len(s.entries) == 0 {
			c.refill(s, now)
			if s.tokens >= c.fair.burst {
				delete(c.sources, k)
			}
		}
	}
	c.sweepAt = max(1024, 2*len(c.sources))
}

// Drop reasons, for the log.
const (
	dropBound = "source holds its share of the cache"
	dropRate  = "source adds new names too fast"
	dropFull  = "cache full and source holds the most records"
)

// admit decides whether a new record with name ident from source k may be
// cached at now, making room if the cache is full. It returns the source,
// nil when the record is dropped (counted).
func (c *cache) admit(k srcKey, ident string, now time.Time) *source {
	s := c.getSource(k, now)
	newName := s.names[ident] == 0
	if s.limited() {
		if len(s.entries) >= c.fair.perSource {
			return c.drop(s, dropBound, &c.stats.droppedBound)
		}
		if newName {
			c.refill(s, now)
			if s.tokens < 1 {
				return c.drop(s, dropRate, &c.stats.droppedRate)
			}
		}
	}
	if len(c.entries) >= c.max {
		big := c.biggest()
		if s.limited() && len(s.entries) >= len(big.entries) {
			return c.drop(s, dropFull, &c.stats.droppedBound)
		}
		c.evictFrom(big)
	}
	if s.limited() && newName {
		s.tokens--
	}
	return s
}

// drop counts a dropped record of s and logs the first of each source.
func (c *cache) drop(s *source, reason string, n *uint64) *source {
	*n++
	if !s.logged && c.dropped != nil {
		s.logged = true
		c.dropped(s, reason)
	}
	return nil
}

// biggest returns the source holding the most records.
func (c *cache) biggest() *source {
	var b *source
	for _, s := range c.sources {
		if b == nil || len(s.entries) > len(b.entries) {
			b = s
		}
	}
	return b
}

// evictFrom makes room in b, the source holding the most records (so
// never one under its fair share: the most is at least the mean), for a
// record of another source or of b itself when b is unbounded: it evicts
// a tenth of the cache at once (so that a flood costs O(log n) per record),
// at least one record and at most all of b's, records nobody is
// interested in first, each group soonest-to-expire first.
func (c *cache) evictFrom(b *source) {
	n := max(1, c.max/10)
	all := make([]*Entry, 0, len(b.entries))
	rel := map[*Entry]bool{}
	for _, e := range b.entries {
		all = append(all, e)
		if c.related != nil && c.related(e) {
			rel[e] = true
		}
	}
	slices.SortFunc(all, func(x, y *Entry) int {
		if rel[x] != rel[y] {
			if rel[x] {
				return 1
			}
			return -1
		}
		if d := x.expires.Compare(y.expires); d != 0 {
			return d
		}
		return compareStrings(x.key, y.key)
	})
	for _, e := range all[:min(n, len(all))] {
		c.stats.evicted++
		if rel[e] {
			c.stats.evictedRelated++
		}
		c.remove(e)
	}
}

// hold records that e is held by s.
func (s *source) hold(e *Entry) {
	e.src, e.srcPos = s, len(s.entries)
	s.entries = append(s.entries, e)
	s.names[e.ident]++
}

// release forgets that e is held by its source.
func (c *cache) release(e *Entry) {
	s := e.src
	if s == nil {
		return
	}
	e.src = nil
	// Swap-remove: constant time however many records s holds.
	if i := e.srcPos; i < len(s.entries) && s.entries[i] == e {
		last := s.entries[len(s.entries)-1]
		s.entries[i], last.srcPos = last, i
		s.entries[len(s.entries)-1] = nil
		s.entries = s.entries[:len(s.entries)-1]
	}
	if s.names[e.ident]--; s.names[e.ident] <= 0 {
		delete(s.names, e.ident)
	}
	if len(s.entries) == 0 && !s.limited() {
		delete(c.sources, s.key)
	}
}

// moveTo gives e, just received again from source k, to k if k holds fewer
// records than e's source.
func (c *cache) moveTo(e *Entry, k srcKey, now time.Time) {
	if e.src == nil || e.src.key == k || !k.addr.IsValid() {
		return
	}
	s := c.getSource(k, now)
	if len(s.entries)+1 < len(e.src.entries) && len(s.entries) < c.fair.perSource {
		c.release(e)
		s.hold(e)
	}
}
