package announce

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
)

// benchResponder is a responder "h1" with ten _timezone._tcp services,
// all announced, over the in-memory link (real time), for the benchmarks
// of the packet path.
type benchResponder struct {
	l   *mdnstest.Link
	r   *Responder
	ifc mdns.Interface
}

func newBenchResponder(b *testing.B) *benchResponder {
	b.Helper()
	l := mdnstest.NewLink()
	h := l.NewHost("h1", 1)
	var svcs []Service
	for i := range 10 {
		svcs = append(svcs, tzService(b, fmt.Sprintf("TZ %d", i)))
	}
	r, err := start(context.Background(), Options{HostName: "h1", Services: svcs, Logger: discard()}, h, h.Changes())
	require.NoError(b, err)
	b.Cleanup(func() { _ = r.Close() })
	ifc, ok := h.Interface(2)
	require.True(b, ok)
	return &benchResponder{l: l, r: r, ifc: ifc}
}

// markPTRs counts the PTR records of _timezone._tcp.local. as multicast
// now on lan0 over IPv4 (event loop only).
func (br *benchResponder) markPTRs(now time.Time) {
	ix := br.r.index(br.ifc)
	for _, rc := range ix.byName[dnsname.MustKey("_timezone._tcp.local.")] {
		br.r.markMulticast(targetKey{br.ifc.Index, sd.IPv4}, rc.rr, now)
	}
}

// forgetPTRs makes the PTR records of _timezone._tcp.local. count as
// never multicast on lan0 (event loop only), in the multicast history and
// in the fast path's copy of it.
func (br *benchResponder) forgetPTRs() {
	ix := br.r.index(br.ifc)
	tk := targetKey{br.ifc.Index, sd.IPv4}
	qix := br.r.quick.ix.Load()
	for _, rc := range ix.byName[dnsname.MustKey("_timezone._tcp.local.")] {
		delete(br.r.lastMC, mcKey{rc.key, tk})
		if qix != nil {
			qi := qix.ifs[tk.ifIndex]
			qi.last[famIndex(tk.fam)][qi.slots[rc.key]].Store(0)
			qi.pend[famIndex(tk.fam)][qi.slots[rc.key]].Store(0)
		}
	}
}

// receive is the responder's packet path from the datagram's bytes: what
// the transport does with them (its pre-filter, then unpacking) and the
// responder's handling, up to the decision to answer or not.
func (br *benchResponder) receive(b []byte, src netip.AddrPort, dst netip.Addr) {
	r := br.r
	if r.quick.drop(b, br.ifc.Index, sd.IPv4, src, dst) {
		return
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		panic(err)
	}
	r.handlePacket(&mdns.Packet{Msg: m, Src: src, Dst: dst, IfIndex: br.ifc.Index, Family: sd.IPv4, Size: len(b), Received: time.Now()})
}

// BenchmarkQuery measures the cost of one received query on the
// responder's packet path, from the datagram's bytes to the decision:
// RateLimited, a QM PTR query whose ten answers were multicast less than
// a second ago (RFC 6762 section 6.2: not answered); Answered, the same
// query when they were not (ten shared answers queued, section 6);
// Legacy, the same question from port 12345 (section 6.7: answered at
// once by unicast).
func BenchmarkQuery(b *testing.B) {
	q := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
	pkt, err := q.Pack()
	require.NoError(b, err)
	peer := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.12"), mdns.Port)
	legacy := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.12"), 12345)
	group := mdns.GroupV4

	b.Run("RateLimited", func(b *testing.B) {
		br := newBenchResponder(b)
		require.NoError(b, br.r.call(context.Background(), func() {
			br.markPTRs(time.Now())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%4096 == 0 {
					br.markPTRs(time.Now()) // still within the second
				}
				br.receive(pkt, peer, group)
			}
			b.StopTimer()
			if len(br.r.pending) != 0 {
				b.Error("a rate-limited query was answered")
			}
		}))
	})
	b.Run("Answered", func(b *testing.B) {
		br := newBenchResponder(b)
		require.NoError(b, br.r.call(context.Background(), func() {
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				br.forgetPTRs()
				for k, pr := range br.r.pending {
					pr.task.cancel()
					delete(br.r.pending, k)
				}
				br.receive(pkt, peer, group)
				if len(br.r.pending) != 1 {
					panic("the query was not answered") // b.Fatal cannot stop the event loop
				}
			}
			b.StopTimer()
			br.r.tasks = br.r.tasks[:0]
		}))
	})
	b.Run("Legacy", func(b *testing.B) {
		br := newBenchResponder(b)
		br.l.Reset()
		require.NoError(b, br.r.call(context.Background(), func() {
			br.markPTRs(time.Now())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%1024 == 0 {
					br.l.Reset() // the link records every packet
				}
				br.receive(pkt, legacy, group)
			}
		}))
		if len(br.l.Packets(mdnstest.From("h1"), mdnstest.IsResponse)) == 0 {
			b.Fatal("the legacy query was not answered")
		}
	})
}

// BenchmarkGoodbyeOneOfMany measures what the withdrawal of one service
// among n announced ones costs beyond its own records: finding the shared
// records that the n-1 staying services still publish (keptRecords), so
// that goodbye leaves them alone. Before it built every record of every
// other service: withdrawing 1,000 proxies one by one took 15 s.
func BenchmarkGoodbyeOneOfMany(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			l := mdnstest.NewLink()
			h := l.NewHost("h1", 1)
			var svcs []Service
			for i := range n {
				svcs = append(svcs, tzService(b, fmt.Sprintf("TZ %d", i)))
			}
			r, err := start(context.Background(), Options{HostName: "h1", Services: svcs, Logger: discard()}, h, h.Changes())
			require.NoError(b, err)
			b.Cleanup(func() { _ = r.Close() })
			ifc, ok := h.Interface(2)
			require.True(b, ok)
			ctx := context.Background()
			var ents []*entity
			require.NoError(b, r.call(ctx, func() { ents = slices.Clone(r.services) }))
			require.Len(b, ents, n)
			for announced := false; !announced; time.Sleep(50 * time.Millisecond) {
				require.NoError(b, r.call(ctx, func() {
					announced = !slices.ContainsFunc(ents, func(e *entity) bool { return !e.announced })
				}))
			}
			i := 0
			for b.Loop() {
				e := ents[i%n]
				i++
				var keep map[string]bool
				_ = r.call(ctx, func() {
					keep = r.keptRecords(ifc, map[*entity]bool{e: true}, map[string]bool{e.svc.instanceName(e.label): true})
				})
				if len(keep) == 0 && n > 1 {
					b.Fatal("no record kept")
				}
			}
		})
	}
}
