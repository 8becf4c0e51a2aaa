package announce

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
)

var (
	quickPeer    = netip.AddrPortFrom(netip.MustParseAddr("198.51.100.12"), mdns.Port)
	quickLegacy  = netip.AddrPortFrom(netip.MustParseAddr("198.51.100.12"), 12345)
	quickUnicast = netip.MustParseAddr("198.51.100.11")
)

// wire packs m.
func wire(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	require.NoError(t, err)
	return b
}

// quickDrops asks h1's fast path about m, received on lan0 over IPv4
// from src to dst.
func (f *fixture) quickDrops(t *testing.T, m *dns.Msg, src netip.AddrPort, dst netip.Addr) bool {
	t.Helper()
	return f.r.quick.drop(wire(t, m), 2, sd.IPv4, src, dst)
}

// TestQuickPath checks the query fast path (quick.go) against the full
// path: what it drops is what the full path leaves unanswered (RFC 6762
// section 6.2's rate limit, names not ours), and everything the full path
// must judge (probes, QU, legacy, unicast, known answers, TC) reaches it.
func TestQuickPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ptrQ := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))

		// Not multicast for more than a second: the full path answers.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.NotNil(t, f.r.quick.ix.Load(), "the fast path's index is published")
		assert.False(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "a query the rate limit allows is not dropped")
		f.peer.Send(t, ptrQ)
		synctest.Wait()
		assert.True(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "a query whose answers wait in a delayed response is dropped (section 6.4)")
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		require.Len(t, f.responses(multicastOnly), 1, "the PTR query was answered")
		f.settle()

		// Now the PTR was multicast less than a second ago (section 6.2).
		assert.True(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "a rate-limited query is dropped")
		upper := mdnstest.Query(mdnstest.QM("_TIMEZONE._TCP.Local.", dns.TypePTR))
		assert.True(t, f.quickDrops(t, upper, quickPeer, mdns.GroupV4), "names compare without ASCII case (section 16)")
		assert.True(t, f.quickDrops(t, mdnstest.Query(mdnstest.QM("_other._tcp.local.", dns.TypePTR)), quickPeer, mdns.GroupV4),
			"a query for a name we do not own is dropped")
		assert.True(t, f.quickDrops(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypeTXT)), quickPeer, mdns.GroupV4),
			"a query for a type we have no record of under a name we do not own is dropped")
		two := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR), mdnstest.QM(tzInst, dns.TypeSRV))
		assert.False(t, f.quickDrops(t, two, quickPeer, mdns.GroupV4), "a query with one question still to answer is not dropped")
		assert.False(t, f.quickDrops(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeAAAA+1000)), quickPeer, mdns.GroupV4),
			"a type we lack under our name is answered with the NSEC (section 6.1)")

		// What the full path must judge.
		qu := mdnstest.Query(mdnstest.QU("_timezone._tcp.local.", dns.TypePTR))
		assert.False(t, f.quickDrops(t, qu, quickPeer, mdns.GroupV4), "QU (section 5.4)")
		assert.False(t, f.quickDrops(t, ptrQ, quickLegacy, mdns.GroupV4), "legacy unicast (section 6.7)")
		assert.False(t, f.quickDrops(t, ptrQ, quickPeer, quickUnicast), "a unicast query (section 5.5)")
		probe := mdnstest.Query(mdnstest.QU(tzInst, dns.TypeANY))
		probe.Ns = []dns.RR{&dns.SRV{Hdr: dns.RR_Header{Name: tzInst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 9, Target: "h2.local."}}
		assert.False(t, f.quickDrops(t, probe, quickPeer, mdns.GroupV4), "a probe (section 8.2)")
		probe.Question[0].Qclass = dns.ClassINET
		assert.False(t, f.quickDrops(t, probe, quickPeer, mdns.GroupV4), "a probe asking QM")
		ka := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		ka.Answer = []dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: "_timezone._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500}, Ptr: tzInst}}
		assert.False(t, f.quickDrops(t, ka, quickPeer, mdns.GroupV4), "known answers (section 7.1)")
		tc := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		tc.Truncated = true
		assert.False(t, f.quickDrops(t, tc, quickPeer, mdns.GroupV4), "TC (section 7.2)")
		resp := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		resp.Response = true
		assert.False(t, f.quickDrops(t, resp, quickPeer, mdns.GroupV4), "a response")
		b := wire(t, ptrQ)
		b = append(b, 0)
		assert.False(t, f.r.quick.drop(b, 2, sd.IPv4, quickPeer, mdns.GroupV4), "trailing bytes")
		// A compression pointer loop: the question's name points at itself.
		loop := append(wire(t, mdnstest.Query())[:12:12], 0xc0, 12, 0, 12, 0, 1)
		loop[5] = 1
		assert.False(t, f.r.quick.drop(loop, 2, sd.IPv4, quickPeer, mdns.GroupV4), "a pointer loop")
		assert.False(t, f.r.quick.drop(wire(t, ptrQ), 99, sd.IPv4, quickPeer, mdns.GroupV4), "an interface we do not answer on")
		assert.False(t, f.r.quick.drop(wire(t, ptrQ), 2, sd.IPv6, quickPeer, mdns.GroupV6), "not multicast over IPv6 yet")

		// The full path agrees: the dropped queries get no answer, the
		// others do.
		f.peer.Send(t, ptrQ)
		f.peer.Send(t, upper)
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		assert.Empty(t, f.responses(), "the rate-limited queries are not answered by the full path either")
		f.peer.Send(t, qu)
		synctest.Wait()
		assert.Len(t, f.responses(unicastOnly), 1, "QU is answered")
		f.settle()

		// A second after the answer, the query is answered again.
		time.Sleep(time.Second)
		assert.False(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "the rate limit's second has passed")

		// A service withdrawn: its records leave the index at once.
		f.peer.Send(t, ptrQ)
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		require.True(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4))
		require.NoError(t, f.tz.Remove(t.Context()))
		synctest.Wait()
		assert.True(t, f.quickDrops(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)), quickPeer, mdns.GroupV4),
			"a name no longer ours is dropped")
		assert.NotZero(t, f.r.quick.dropped.Load())
	})
}

// TestQuickClaim checks that a query the fast path passes to the full path
// claims the records it will be answered with for claimGrace: the same
// question arriving meanwhile (the rest of a batch of datagrams read at
// once) is dropped, as its answer would only be aggregated (RFC 6762
// sections 6.4, 7.3); other questions are not; and the claim lapses.
func TestQuickClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ptrQ := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.False(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "the first query goes to the full path")
		assert.True(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "the same query right after it is dropped")
		srvQ := mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV))
		assert.False(t, f.quickDrops(t, srvQ, quickPeer, mdns.GroupV4), "another question is not claimed")
		qu := mdnstest.Query(mdnstest.QU(tzInst, dns.TypeTXT))
		assert.False(t, f.quickDrops(t, qu, quickPeer, mdns.GroupV4), "a QU query goes to the full path")
		txtQ := mdnstest.Query(mdnstest.QM(tzInst, dns.TypeTXT))
		assert.False(t, f.quickDrops(t, txtQ, quickPeer, mdns.GroupV4), "and claims nothing")
		time.Sleep(claimGrace)
		assert.False(t, f.quickDrops(t, ptrQ, quickPeer, mdns.GroupV4), "the claim lapses")
	})
}
