package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func testCache(max int) (*cache, *[]*Entry) {
	c := newCache(max, rand.New(rand.NewPCG(1, 2)))
	var removed []*Entry
	c.removed = func(e *Entry) { removed = append(removed, e) }
	return c, &removed
}

func TestCacheExpiresAtTTL(t *testing.T) {
	c, removed := testCache(0)
	e, isNew := c.put(aRR("h2.local.", "198.51.100.12", 10), 2, sd.IPv4, t0)
	require.NotNil(t, e)
	assert.True(t, isNew)
	assert.Equal(t, 1, c.Len())

	c.advance(t0.Add(9999 * time.Millisecond))
	assert.Equal(t, 1, c.Len(), "still alive just before its TTL")
	c.advance(t0.Add(10 * time.Second))
	assert.Equal(t, 0, c.Len())
	require.Len(t, *removed, 1)
	assert.Equal(t, uint64(1), c.stats.expired)
	_, ok := c.next()
	assert.False(t, ok)
}

func TestCacheRefreshResetsTTL(t *testing.T) {
	c, _ := testCache(0)
	c.put(aRR("h2.local.", "198.51.100.12", 10), 2, sd.IPv4, t0)
	e, isNew := c.put(aRR("H2.LOCAL.", "198.51.100.12", 10), 2, sd.IPv6, t0.Add(8*time.Second))
	assert.False(t, isNew, "names compare case-insensitively (RFC 6762 section 16)")
	assert.Equal(t, familyBit(sd.IPv4)|familyBit(sd.IPv6), e.families)
	c.advance(t0.Add(12 * time.Second))
	assert.Equal(t, 1, c.Len(), "TTL runs from the last reception")
	c.advance(t0.Add(18 * time.Second))
	assert.Equal(t, 0, c.Len())
}

func TestCacheSameRecordOnTwoInterfacesIsTwoEntries(t *testing.T) {
	c, _ := testCache(0)
	c.put(aRR("h2.local.", "198.51.100.12", 10), 2, sd.IPv4, t0)
	_, isNew := c.put(aRR("h2.local.", "198.51.100.12", 10), 3, sd.IPv4, t0)
	assert.True(t, isNew)
	assert.Equal(t, 2, c.Len())
	assert.Len(t, c.lookup(setKey{name: dnsname.MustKey("h2.local."), rrtype: dns.TypeA}), 2)
}

func TestCacheGoodbyeRemovesAfterOneSecond(t *testing.T) {
	c, removed := testCache(0)
	c.put(srvRR("x._http._tcp.local.", "h2.local.", 80, 120), 2, sd.IPv4, t0)
	t1 := t0.Add(5 * time.Second)
	gb := srvRR("x._http._tcp.local.", "h2.local.", 80, 0)
	e, isNew := c.put(gb, 2, sd.IPv4, t1)
	require.NotNil(t, e)
	assert.False(t, isNew)
	assert.True(t, e.goodbye)
	assert.Equal(t, t1.Add(time.Second), e.expires, "RFC 6762 section 10.1: TTL 1, deleted a second later")
	assert.True(t, e.refreshAt.IsZero(), "no refresh of a record said goodbye to")

	c.advance(t1.Add(999 * time.Millisecond))
	assert.Equal(t, 1, c.Len())
	c.advance(t1.Add(time.Second))
	assert.Equal(t, 0, c.Len())
	assert.Len(t, *removed, 1)
	assert.Equal(t, uint64(1), c.stats.goodbyes)

	// A goodbye for a record never cached caches nothing.
	e, _ = c.put(aRR("other.local.", "198.51.100.99", 0), 2, sd.IPv4, t1)
	assert.Nil(t, e)
	assert.Equal(t, 0, c.Len())
}

func TestCacheFlushOneSecondRule(t *testing.T) {
	c, _ := testCache(0)
	name := "x._http._tcp.local."
	a, _ := c.put(txtRR(name, 4500, "v=a"), 2, sd.IPv4, t0)
	other, _ := c.put(txtRR(name, 4500, "v=a"), 3, sd.IPv4, t0) // other interface

	// Within one second of a: not flushed (may be the same announcement).
	b, _ := c.put(txtRR(name, 4500, "v=b"), 2, sd.IPv4, t0.Add(500*time.Millisecond))
	assert.Equal(t, 0, c.flush(b, t0.Add(500*time.Millisecond)))
	assert.False(t, a.goodbye)

	// Three seconds later, a record with the cache-flush bit flushes a and b
	// (received more than a second ago) on its own interface only.
	t3 := t0.Add(3 * time.Second)
	cEntry, _ := c.put(txtRR(name, 4500, "v=c"), 2, sd.IPv4, t3)
	assert.Equal(t, 2, c.flush(cEntry, t3))
	assert.True(t, a.goodbye)
	assert.True(t, b.goodbye)
	assert.Equal(t, t3.Add(time.Second), a.expires, "RFC 6762 section 10.2: TTL set to 1 s")
	assert.False(t, cEntry.goodbye, "the new record itself stays")
	assert.False(t, other.goodbye, "other interfaces are not flushed")
	assert.Equal(t, uint64(2), c.stats.flushed)

	c.advance(t3.Add(time.Second))
	assert.Equal(t, 2, c.Len(), "c on eth0 and a on the other interface remain")

	// Re-receiving the same record with the flush bit flushes nothing.
	cEntry, _ = c.put(txtRR(name, 4500, "v=c"), 2, sd.IPv4, t3.Add(5*time.Second))
	assert.Equal(t, 0, c.flush(cEntry, t3.Add(5*time.Second)))
}

func TestCacheRefreshSchedule(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		c := newCache(0, rand.New(rand.NewPCG(seed, seed)))
		ttl := 100 * time.Second
		c.put(aRR("h2.local.", "198.51.100.12", 100), 2, sd.IPv4, t0)
		var at []time.Duration
		for now := t0; now.Before(t0.Add(ttl + time.Second)); now = now.Add(10 * time.Millisecond) {
			if len(c.advance(now)) > 0 {
				at = append(at, now.Sub(t0))
			}
		}
		require.Len(t, at, 4, "refresh at 80, 85, 90, 95%% (RFC 6762 section 5.2)")
		for i, p := range refreshPoints {
			lo := time.Duration(float64(ttl) * p)
			hi := time.Duration(float64(ttl)*(p+refreshJitter)) + 10*time.Millisecond
			assert.True(t, at[i] >= lo && at[i] <= hi, "refresh %d at %v, want %v..%v", i, at[i], lo, hi)
		}
		assert.Equal(t, 0, c.Len(), "expired at 100%% without an answer")
	}
}

func TestCacheRefreshRestartsOnAnswer(t *testing.T) {
	c, _ := testCache(0)
	c.put(aRR("h2.local.", "198.51.100.12", 10), 2, sd.IPv4, t0)
	require.Empty(t, c.advance(t0.Add(7*time.Second)))
	require.Len(t, c.advance(t0.Add(8300*time.Millisecond)), 1) // 80-82%
	// An answer at 8.5 s restarts the schedule from there.
	t1 := t0.Add(8500 * time.Millisecond)
	e, _ := c.put(aRR("h2.local.", "198.51.100.12", 10), 2, sd.IPv4, t1)
	assert.Equal(t, 0, e.refreshStep)
	assert.Empty(t, c.advance(t1.Add(7900*time.Millisecond)))
	assert.Len(t, c.advance(t1.Add(8200*time.Millisecond)), 1)
}

func TestCacheBoundEvictsUnrelatedSoonestFirst(t *testing.T) {
	c, removed := testCache(100)
	relatedName := dnsname.MustKey("keep.local.")
	c.related = func(e *Entry) bool { return e.set.name == relatedName }
	for i := range 10 {
		c.put(aRR("keep.local.", fmt.Sprintf("198.51.100.%d", i+1), 10), 2, sd.IPv4, t0)
	}
	for i := range 90 {
		// TTLs 20..109 s: the soonest to expire are the low i.
		c.put(aRR(fmt.Sprintf("junk%d.local.", i), "198.51.100.200", uint32(20+i)), 2, sd.IPv4, t0)
	}
	require.Equal(t, 100, c.Len())
	c.put(aRR("new.local.", "198.51.100.201", 120), 2, sd.IPv4, t0)
	assert.Equal(t, 91, c.Len(), "a tenth evicted, then the new record added")
	assert.Equal(t, uint64(10), c.stats.evicted)
	require.Len(t, *removed, 10)
	for i, e := range *removed {
		assert.NotEqual(t, relatedName, e.set.name, "related records go last")
		assert.Equal(t, dnsname.MustKey(fmt.Sprintf("junk%d.local.", i)), e.set.name, "soonest to expire first")
	}

	// A flood never grows the cache past its bound and keeps the related
	// records, even though they expire first.
	for i := range 20000 {
		c.put(aRR(fmt.Sprintf("flood%d.local.", i), "198.51.100.202", 4500), 2, sd.IPv4, t0)
		require.LessOrEqual(t, c.Len(), 100)
	}
	assert.Len(t, c.lookup(setKey{name: relatedName, rrtype: dns.TypeA}), 10)
	assert.Greater(t, c.stats.evicted, uint64(19000))
}

func TestCachePurgeInterface(t *testing.T) {
	c, removed := testCache(0)
	c.put(aRR("h2.local.", "198.51.100.12", 10), 2, sd.IPv4, t0)
	c.put(aRR("h2.local.", "198.51.100.12", 10), 3, sd.IPv4, t0)
	c.purge(3)
	assert.Equal(t, 1, c.Len())
	require.Len(t, *removed, 1)
	assert.Equal(t, 3, (*removed)[0].ifIndex)
}

// The cache tells records of one RRset apart by dnsname.RdataKey.
func TestRdataKey(t *testing.T) {
	rdataKey := dnsname.RdataKey
	assert.Equal(t, rdataKey(srvRR("a.local.", "H2.Local.", 80, 1)), rdataKey(srvRR("b.local.", "h2.local.", 80, 9)))
	assert.NotEqual(t, rdataKey(srvRR("a.local.", "h2.local.", 80, 1)), rdataKey(srvRR("a.local.", "h2.local.", 81, 1)))
	assert.Equal(t, rdataKey(ptrRR("a.local.", "X._http._tcp.local.", 1)), rdataKey(ptrRR("a.local.", "x._HTTP._tcp.local.", 1)))
	// TXT data is compared byte for byte, case included.
	assert.NotEqual(t, rdataKey(txtRR("a.local.", 1, "k=V")), rdataKey(txtRR("a.local.", 1, "k=v")))
	assert.Equal(t, rdataKey(aaaaRR("a.local.", "fe80::2", 1)), rdataKey(aaaaRR("b.local.", "FE80::2", 5)))
}
