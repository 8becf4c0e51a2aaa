package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

var (
	flooderAddr = netip.MustParseAddr("198.51.100.66")
	honestAddr  = netip.MustParseAddr("198.51.100.12")
)

// fakeInstance returns the records of the i-th fake _timezone._tcp
// instance of a flood: PTR, SRV, TXT and A, each instance on its own host.
func fakeInstance(i int, ttl uint32) []dns.RR {
	name := fmt.Sprintf("fake%d._timezone._tcp.local.", i)
	host := fmt.Sprintf("fake%d.local.", i)
	return []dns.RR{
		ptrRR("_timezone._tcp.local.", name, 4500),
		srvRR(name, host, 8080, ttl),
		txtRR(name, ttl, "path=/"),
		aRR(host, "198.51.100.66", ttl),
	}
}

// putFrom puts rrs received on ifIndex over IPv4 from src at now, flushing
// as a feeder does; it returns how many records were dropped (nil entry).
func putFrom(e *Engine, ifIndex int, src netip.Addr, now time.Time, rrs ...dns.RR) (dropped int) {
	var flush []*Entry
	for _, rr := range rrs {
		en, _ := e.PutFrom(rr, ifIndex, sd.IPv4, src, now)
		if en == nil {
			dropped++
			continue
		}
		if rr.Header().Class&dnsname.CacheFlush != 0 && rr.Header().Ttl > 0 {
			flush = append(flush, en)
		}
	}
	for _, en := range flush {
		e.Flush(en, now)
	}
	return dropped
}

// held returns how many records the source addr holds on ifIndex.
func held(e *Engine, ifIndex int, addr netip.Addr) int {
	s := e.cache.sources[srcKey{ifIndex: ifIndex, addr: addr}]
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// The flood of issue 12: one host sends 100,000 distinct fake instances
// (PTR, SRV, TXT, A each) over 20 s; an honest host announces an instance
// in the middle. The honest instance is added at once and never removed,
// the flooder holds at most its share, and every record not cached is
// counted.
func TestFairnessFloodKeepsHonestInstance(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	const n = 100000
	step := 20 * time.Second / n // 5,000 instances/s
	fair := e.cache.fair
	require.Equal(t, DefaultMaxRecords/DefaultSourceShare, fair.perSource)

	var dropped, offered int
	var honestAt time.Time
	var honestEvents []sd.Event
	var fakeAdds, fakeRemoves int
	now := t0
	take := func() {
		for _, ev := range events(e, now) {
			if ev.Instance.Name == "Office TZ._timezone._tcp.local." {
				honestEvents = append(honestEvents, ev)
				continue
			}
			switch ev.Kind {
			case sd.Add:
				fakeAdds++
			case sd.Remove:
				fakeRemoves++
			}
		}
	}
	for i := range n {
		now = t0.Add(time.Duration(i) * step)
		rrs := fakeInstance(i, 120)
		offered += len(rrs)
		dropped += putFrom(e, 2, flooderAddr, now, rrs...)
		if i == n/2 {
			honestAt = now
			require.Zero(t, putFrom(e, 2, honestAddr, now, tzRecords(120)...), "the honest host's records are all cached")
		}
		if i%100 == 0 {
			e.Advance(now)
			take()
			require.LessOrEqual(t, held(e, 2, flooderAddr), fair.perSource, "the flooder stays within its share")
		}
	}
	e.Advance(now)
	take()

	require.Len(t, honestEvents, 1, "the honest instance is added once and never removed: %v", honestEvents)
	assert.Equal(t, sd.Add, honestEvents[0].Kind)
	assert.Equal(t, honestAt, honestEvents[0].Time, "found at once, flood or not")

	st := e.Stats()
	flooderHeld := held(e, 2, flooderAddr)
	assert.Equal(t, fair.perSource, flooderHeld, "the flooder filled its share and no more")
	assert.Equal(t, 5, held(e, 2, honestAddr))
	assert.Equal(t, flooderHeld+5, st.Records)
	assert.Equal(t, 2, st.Sources)
	assert.Equal(t, uint64(dropped), st.DroppedRate+st.DroppedBound, "every record not cached is counted")
	assert.Equal(t, offered-flooderHeld, dropped)
	assert.Positive(t, st.DroppedBound)
	assert.Zero(t, st.Evicted, "the cache never filled: nothing was evicted")
	assert.Equal(t, flooderHeld/4, fakeAdds, "each fake instance held is added once")
	assert.Zero(t, fakeRemoves, "no fake instance flaps either")
}

// Within its bound, a source adds at most its burst of new names at once
// and then its rate; refreshes of names it has cached, and other records
// of them, are never limited.
func TestFairnessRateLimitsNewNamesOnly(t *testing.T) {
	e, _ := newTestEngine(t, Config{SourceNameRate: 2, SourceNameBurst: 10})
	for i := range 10 {
		require.Zero(t, putFrom(e, 2, flooderAddr, t0, aRR(fmt.Sprintf("h%d.local.", i), "198.51.100.66", 120)))
	}
	assert.Equal(t, 1, putFrom(e, 2, flooderAddr, t0, aRR("h10.local.", "198.51.100.66", 120)), "the burst is spent")
	// Refreshes, other types and other rdata of the names it has: free.
	for r := range 1000 {
		now := t0.Add(time.Duration(r) * time.Millisecond)
		for i := range 10 {
			h := fmt.Sprintf("h%d.local.", i)
			require.Zero(t, putFrom(e, 2, flooderAddr, now,
				aRR(h, "198.51.100.66", 120), aaaaRR(h, "fe80::66", 120), aRR(h, "198.51.100.67", 120)))
		}
	}
	st := e.Stats()
	assert.Equal(t, uint64(1), st.DroppedRate)
	assert.Equal(t, 30, st.Records)
	// Refilled at 2 names per second: two more names in the next second.
	t1 := t0.Add(time.Second)
	assert.Zero(t, putFrom(e, 2, flooderAddr, t1, aRR("h10.local.", "198.51.100.66", 120)))
	assert.Zero(t, putFrom(e, 2, flooderAddr, t1, aRR("h11.local.", "198.51.100.66", 120)))
	assert.Equal(t, 1, putFrom(e, 2, flooderAddr, t1, aRR("h12.local.", "198.51.100.66", 120)))
	// Another source has its own bucket.
	assert.Zero(t, putFrom(e, 2, honestAddr, t1, aRR("h12.local.", "198.51.100.12", 120)))
	// A PTR record's name is the instance it names: its SRV and TXT
	// records come free.
	e2, _ := newTestEngine(t, Config{SourceNameRate: 1, SourceNameBurst: 1})
	assert.Zero(t, putFrom(e2, 2, honestAddr, t0, tzRecords(120)[:3]...))
	assert.Equal(t, 1, putFrom(e2, 2, honestAddr, t0, tzRecords(120)[3]), "the host is a new name")
	// Records without a source (the unicast poller) are not limited.
	for i := range 100 {
		en, _ := e2.Put(aRR(fmt.Sprintf("u%d.local.", i), "198.51.100.1", 120), 3, sd.IPv4, t0)
		require.NotNil(t, en)
	}
	assert.Equal(t, uint64(1), e2.Stats().DroppedRate)
}

// A full cache makes room in the source holding the most records, its
// unrelated records first, soonest to expire first; the source holding the
// most has its new records dropped instead.
func TestFairnessEvictsFromBiggestSource(t *testing.T) {
	e, _ := newTestEngine(t, Config{MaxRecords: 100, MaxPerSource: 100, SourceNameBurst: 1000})
	a := netip.MustParseAddr("198.51.100.1")
	b := netip.MustParseAddr("198.51.100.2")
	c := netip.MustParseAddr("198.51.100.3")
	d := netip.MustParseAddr("198.51.100.4")
	// a: the browsed instance (5 records) and 45 junk records, TTLs 20..64 s.
	require.Zero(t, putFrom(e, 2, a, t0, tzRecords(4500)...))
	for i := range 45 {
		require.Zero(t, putFrom(e, 2, a, t0, aRR(fmt.Sprintf("a%d.local.", i), "198.51.100.1", uint32(20+i))))
	}
	for i := range 30 {
		require.Zero(t, putFrom(e, 2, b, t0, aRR(fmt.Sprintf("b%d.local.", i), "198.51.100.2", 10)))
	}
	for i := range 20 {
		require.Zero(t, putFrom(e, 2, c, t0, aRR(fmt.Sprintf("c%d.local.", i), "198.51.100.3", 10)))
	}
	require.Equal(t, 100, e.Stats().Records)
	require.Len(t, events(e, t0), 1)

	var removed []string
	e.cache.removed = func(en *Entry) { removed = append(removed, en.set.name); e.entryRemoved(en) }
	// a, the biggest, cannot push the others out: its new record is dropped.
	assert.Equal(t, 1, putFrom(e, 2, a, t0, aRR("a-new.local.", "198.51.100.1", 120)))
	assert.Empty(t, removed)
	assert.Equal(t, uint64(1), e.Stats().DroppedBound)

	// d's record makes room in a: a tenth of the cache, a's junk soonest to
	// expire first, though b and c hold records expiring sooner.
	assert.Zero(t, putFrom(e, 2, d, t0, aRR("d0.local.", "198.51.100.4", 120)))
	require.Len(t, removed, 10)
	for i, name := range removed {
		assert.Equal(t, dnsname.MustKey(fmt.Sprintf("a%d.local.", i)), name)
	}
	assert.Equal(t, 40, held(e, 2, a))
	assert.Equal(t, 30, held(e, 2, b))
	assert.Equal(t, 20, held(e, 2, c))
	st := e.Stats()
	assert.Equal(t, uint64(10), st.Evicted)
	assert.Zero(t, st.EvictedRelated)
	assert.Equal(t, 4, st.Sources)
	assert.Empty(t, events(e, t0), "the browsed instance stays")
}

// A flooder repeating another host's records cannot get them evicted with
// its own: they stay with the smaller source.
func TestFairnessRepeatedRecordsStayWithSmallerSource(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	require.Zero(t, putFrom(e, 2, flooderAddr, t0, tzRecords(120)...))
	for i := range 100 {
		putFrom(e, 2, flooderAddr, t0, fakeInstance(i, 120)...)
	}
	assert.Equal(t, 405, held(e, 2, flooderAddr), "the flooder sent the honest records first")
	t1 := t0.Add(time.Second)
	require.Zero(t, putFrom(e, 2, honestAddr, t1, tzRecords(120)...))
	assert.Equal(t, 5, held(e, 2, honestAddr), "the owner's answer takes them over")
	putFrom(e, 2, flooderAddr, t1.Add(time.Second), tzRecords(120)...)
	assert.Equal(t, 5, held(e, 2, honestAddr), "the bigger source does not take them back")
}

// BenchmarkFlood is the cost of one flooded record at the engine: a flood
// of distinct fake instances (PTR, SRV, TXT, A) from one source at 5,000
// instances per second, settled per packet, past the source's share (the
// steady state of a long flood).
func BenchmarkFlood(b *testing.B) {
	e := New(Config{Asker: &recAsker{}})
	bt, _ := ParseType("timezone", registry.Builtin())
	e.AddType(bt, t0)
	// Fill the flooder's share first.
	i := 0
	now := t0
	for ; held(e, 2, flooderAddr) < e.cache.fair.perSource; i++ {
		now = t0.Add(time.Duration(i) * 200 * time.Microsecond)
		putFrom(e, 2, flooderAddr, now, fakeInstance(i, 120)...)
		e.Settle(now)
	}
	for {
		if _, n := e.NextEvent(); n == 0 {
			break
		}
		e.EventSent()
	}
	pkts := make([][]dns.RR, 1000)
	for j := range pkts {
		pkts[j] = fakeInstance(i+j, 120)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		// b.N counts records: four per fake instance.
		rr := pkts[(k/4)%len(pkts)][k%4]
		now = now.Add(50 * time.Microsecond)
		e.PutFrom(rr, 2, sd.IPv4, flooderAddr, now)
		if k%4 == 3 {
			e.Settle(now)
		}
	}
}
