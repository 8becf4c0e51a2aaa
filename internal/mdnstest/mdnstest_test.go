package mdnstest_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
)

// read returns the next packet of h, failing if none is waiting.
func read(t *testing.T, h *mdnstest.Host) *mdns.Packet {
	t.Helper()
	ps := h.Drain()
	require.Len(t, ps, 1, "one packet for %s", h.Name())
	return ps[0]
}

func TestNewHostDefaults(t *testing.T) {
	l := mdnstest.NewLink()
	h := l.NewHost("h1", 1)
	assert.Equal(t, "h1", h.Name())
	assert.Equal(t, []mdns.Interface{{Index: 2, Name: "lan0", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("fe80::1")}}}, h.Interfaces())
	ifc, ok := h.Interface(2)
	assert.True(t, ok)
	assert.Equal(t, "lan0", ifc.Name)
	_, ok = h.Interface(3)
	assert.False(t, ok)
	assert.Equal(t, []sd.Family{sd.IPv4, sd.IPv6}, h.Families())
	assert.Equal(t, netip.MustParseAddr("198.51.100.11"), h.Addr4())
	h.SetFamilies(sd.IPv6)
	assert.Equal(t, []sd.Family{sd.IPv6}, h.Families())

	// The interfaces returned are copies.
	h.Interfaces()[0].Addrs[0] = netip.MustParseAddr("192.0.2.1")
	assert.Equal(t, netip.MustParseAddr("198.51.100.11"), h.Addr4())
	h.SetAddrs(2, netip.MustParseAddr("192.0.2.7"))
	assert.Equal(t, netip.MustParseAddr("192.0.2.7"), h.Addr4())
	assert.Panics(t, func() { h.SetAddrs(9) })
	assert.Panics(t, func() { h.Attach(l, mdns.Interface{Index: 2}) }, "one interface per index")
}

func TestMulticastReachesTheSegmentAndLoopsBack(t *testing.T) {
	a, b := mdnstest.NewLink(), mdnstest.NewLink()
	h1, h2 := a.NewHost("h1", 1), a.NewHost("h2", 2)
	far := b.NewHost("far", 3)
	m := mdnstest.Response(mdnstest.SRV(`Office\ TZ._timezone._tcp.local.`, "h1.local.", 8080, 120))
	require.NoError(t, h1.SendMulticast(context.Background(), m, 2, sd.IPv4))

	for _, h := range []*mdnstest.Host{h1, h2} {
		p := read(t, h)
		assert.Equal(t, netip.MustParseAddrPort("198.51.100.11:5353"), p.Src)
		assert.Equal(t, mdns.GroupV4, p.Dst)
		assert.True(t, p.Multicast())
		assert.Equal(t, 2, p.IfIndex)
		assert.Equal(t, sd.IPv4, p.Family)
		assert.Equal(t, uint16(8080), p.Msg.Answer[0].(*dns.SRV).Port)
		assert.NotSame(t, m, p.Msg, "received as unpacked from the wire")
	}
	assert.Empty(t, far.Drain(), "another segment hears nothing")

	// Each receiver has its own copy.
	require.NoError(t, h1.SendMulticast(context.Background(), m, 0, sd.IPv6))
	p1, p2 := read(t, h1), read(t, h2)
	assert.Equal(t, netip.MustParseAddrPort("[fe80::1]:5353"), p1.Src)
	assert.Equal(t, mdns.GroupV6, p1.Dst)
	p1.Msg.Answer[0].Header().Ttl = 1
	assert.Equal(t, uint32(120), p2.Msg.Answer[0].Header().Ttl)

	// An interface with no address of the family cannot send it.
	h1.SetAddrs(2, netip.MustParseAddr("198.51.100.11"))
	err := h1.SendMulticast(context.Background(), m, 0, sd.IPv6)
	assert.ErrorIs(t, err, mdns.ErrNoInterface)
	assert.ErrorIs(t, h1.SendMulticast(context.Background(), m, 3, sd.IPv4), mdns.ErrNoInterface, "no interface 3")
}

func TestMultiHomedHostSendsOnEachLink(t *testing.T) {
	a, b := mdnstest.NewLink(), mdnstest.NewLink()
	h := a.NewHost("h1", 1)
	h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}})
	pa, pb := a.NewHost("pa", 2), b.NewHost("pb", 2)
	require.NoError(t, h.SendMulticast(context.Background(), mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)), 0, sd.IPv4))
	assert.Equal(t, netip.MustParseAddr("198.51.100.11"), read(t, pa).Src.Addr(), "sent from lan0's address on lan0's link")
	p := read(t, pb)
	assert.Equal(t, netip.MustParseAddr("169.254.7.1"), p.Src.Addr(), "sent from lan1's address on lan1's link")
	assert.Len(t, h.Drain(), 2, "heard back on both interfaces")
	require.Len(t, a.Packets(), 1)
	assert.Equal(t, 2, a.Packets()[0].IfIndex)
	require.Len(t, b.Packets(), 1)
	assert.Equal(t, 3, b.Packets()[0].IfIndex)

	// Only on the interface asked for.
	require.NoError(t, h.SendMulticast(context.Background(), mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)), 3, sd.IPv4))
	assert.Empty(t, pa.Drain())
	assert.Len(t, pb.Drain(), 1)
}

func TestUnicastByAddressAndPort(t *testing.T) {
	l := mdnstest.NewLink()
	h1, h2 := l.NewHost("h1", 1), l.NewHost("h2", 2)
	legacy := l.NewHost("legacy", 3)
	legacy.SetSourcePort(40000)
	m := mdnstest.Query(mdnstest.QU("h2.local.", dns.TypeA))

	require.NoError(t, h1.SendUnicast(context.Background(), m, netip.AddrPortFrom(h2.Addr4(), 5353), 0))
	p := read(t, h2)
	assert.Equal(t, netip.MustParseAddrPort("198.51.100.11:5353"), p.Src)
	assert.Equal(t, h2.Addr4(), p.Dst)
	assert.False(t, p.Multicast())
	assert.Empty(t, h1.Drain(), "no loopback of a unicast")
	assert.Empty(t, legacy.Drain())

	// The port must match: legacy listens on 40000 only.
	require.NoError(t, h1.SendUnicast(context.Background(), m, netip.AddrPortFrom(legacy.Addr4(), 5353), 0))
	assert.Empty(t, legacy.Drain())
	require.NoError(t, h1.SendUnicast(context.Background(), m, netip.AddrPortFrom(legacy.Addr4(), 40000), 0))
	assert.Len(t, legacy.Drain(), 1)

	// A legacy querier sends from its port.
	require.NoError(t, legacy.SendMulticast(context.Background(), m, 0, sd.IPv4))
	assert.Equal(t, uint16(40000), read(t, h1).Src.Port())
	assert.Len(t, h2.Drain(), 1)

	// IPv6.
	require.NoError(t, h1.SendUnicast(context.Background(), m, netip.MustParseAddrPort("[fe80::2]:5353"), 2))
	assert.Equal(t, netip.MustParseAddrPort("[fe80::1]:5353"), read(t, h2).Src)

	// Nobody holds the address: recorded, delivered nowhere.
	require.NoError(t, h1.SendUnicast(context.Background(), m, netip.MustParseAddrPort("198.51.100.99:5353"), 0))
	assert.Empty(t, h2.Drain())
	assert.Len(t, l.Packets(mdnstest.From("h1")), 5)

	h1.SetAddrs(2, netip.MustParseAddr("fe80::1"))
	assert.ErrorIs(t, h1.SendUnicast(context.Background(), m, netip.AddrPortFrom(h2.Addr4(), 5353), 0), mdns.ErrNoInterface)
}

func TestEveryTransmissionIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h1, h2 := l.NewHost("h1", 1), l.NewHost("h2", 2)
		var seen []mdnstest.Packet
		l.OnTransmit(func(p mdnstest.Packet) {
			seen = append(seen, p)
			assert.Len(t, h2.Drain(), 1, "called after delivery")
		})
		start := time.Now()
		h1.Send(t, mdnstest.Query(mdnstest.QU("_http._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		probe := mdnstest.Query(mdnstest.QM("h2.local.", dns.TypeANY))
		probe.Ns = []dns.RR{mdnstest.A("h2.local.", "198.51.100.12", 120)}
		h2.Send(t, probe)
		resp := mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.11", 120))
		require.NoError(t, h1.SendMulticast(context.Background(), resp, 0, sd.IPv6))
		h1.Send(t, resp, netip.AddrPortFrom(h2.Addr4(), 5353))
		l.OnTransmit(nil)
		h1.Send(t, resp)

		all := l.Packets()
		require.Len(t, all, 5)
		assert.Len(t, seen, 4, "OnTransmit saw each transmission until removed")
		p := all[0]
		assert.Equal(t, "h1", p.From)
		assert.Equal(t, start, p.At)
		assert.Equal(t, netip.MustParseAddrPort("198.51.100.11:5353"), p.Src)
		assert.Equal(t, mdns.Group(sd.IPv4), p.Dst)
		assert.Equal(t, 2, p.IfIndex)
		assert.Equal(t, sd.IPv4, p.Family)
		assert.True(t, p.Multicast())
		b, err := p.Msg.Pack()
		require.NoError(t, err)
		assert.Equal(t, len(b), p.Size)
		assert.False(t, all[3].Multicast())
		assert.Equal(t, netip.AddrPortFrom(h2.Addr4(), 5353), all[3].Dst)

		assert.Len(t, l.Packets(mdnstest.From("h1")), 4)
		assert.Len(t, l.Packets(mdnstest.IsProbe), 1)
		assert.Len(t, l.Packets(mdnstest.IsResponse), 3)
		assert.Len(t, l.Packets(mdnstest.Family(sd.IPv6)), 1)
		assert.Len(t, l.Packets(mdnstest.Since(start.Add(time.Second))), 4)
		assert.Len(t, l.Packets(mdnstest.Asks("_HTTP._tcp.local", dns.TypePTR)), 1, "names compared as DNS names")
		assert.Empty(t, l.Packets(mdnstest.Asks("_http._tcp.local.", dns.TypeSRV)))
		assert.Len(t, l.Packets(mdnstest.HasAnswer("H1.local.", dns.TypeA), mdnstest.From("h1"), mdnstest.Family(sd.IPv4)), 2)
		assert.Len(t, l.Packets(mdnstest.From("h2"), mdnstest.IsResponse), 0)

		l.Reset()
		assert.Empty(t, l.Packets())
	})
}

func TestInjectIsDeliveredNotRecorded(t *testing.T) {
	l := mdnstest.NewLink()
	h := l.NewHost("h1", 1)
	l.OnTransmit(func(mdnstest.Packet) { t.Error("an injected packet is no transmission") })
	src := netip.MustParseAddrPort("203.0.113.9:40000")
	l.Inject(h, 2, sd.IPv4, src, h.Addr4(), mdnstest.Response(mdnstest.PTR("_http._tcp.local.", "X._http._tcp.local.", 4500)))
	p, err := h.ReadPacket(context.Background())
	require.NoError(t, err)
	assert.Equal(t, src, p.Src)
	assert.Equal(t, h.Addr4(), p.Dst)
	assert.Equal(t, 2, p.IfIndex)
	assert.Equal(t, sd.IPv4, p.Family)
	assert.Equal(t, "X._http._tcp.local.", p.Msg.Answer[0].(*dns.PTR).Ptr)
	assert.Positive(t, p.Size)
	assert.False(t, p.Received.IsZero())
	assert.Empty(t, l.Packets())
	assert.Panics(t, func() {
		l.Inject(h, 2, sd.IPv4, src, h.Addr4(), mdnstest.Query(mdnstest.QM(strings.Repeat("x", 70)+".local.", dns.TypeA)))
	}, "a message that does not pack")
}

func TestOversizeSendsAreRefused(t *testing.T) {
	l := mdnstest.NewLink()
	h1, h2 := l.NewHost("h1", 1), l.NewHost("h2", 2)
	big := mdnstest.Response()
	for i := 0; big.Len() <= mdns.MaxPacket; i++ {
		big.Answer = append(big.Answer, mdnstest.TXT(fmt.Sprintf("i%d.local.", i), 120, strings.Repeat("x", 200)))
	}
	err := h1.SendMulticast(context.Background(), big, 0, sd.IPv4)
	assert.ErrorIs(t, err, mdns.ErrTooLarge)
	err = h1.SendUnicast(context.Background(), big, netip.AddrPortFrom(h2.Addr4(), 5353), 0)
	assert.ErrorIs(t, err, mdns.ErrTooLarge)
	assert.Equal(t, 2, h1.Rejected())
	assert.Empty(t, l.Packets())
	assert.Empty(t, h2.Drain())

	// Just under the limit passes.
	big.Answer = big.Answer[:len(big.Answer)-1]
	require.LessOrEqual(t, big.Len(), mdns.MaxPacket)
	require.NoError(t, h1.SendMulticast(context.Background(), big, 0, sd.IPv4))
	assert.Len(t, h2.Drain(), 1)
	assert.Equal(t, 2, h1.Rejected())
}

func TestCloseAndFullInbox(t *testing.T) {
	l := mdnstest.NewLink()
	h1, h2 := l.NewHost("h1", 1), l.NewHost("h2", 2)
	m := mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA))
	for range mdnstest.InboxSize + 3 {
		require.NoError(t, h1.SendMulticast(context.Background(), m, 0, sd.IPv4))
	}
	assert.Equal(t, 3, h2.Dropped(), "a full inbox drops")
	assert.Len(t, h2.Drain(), mdnstest.InboxSize)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h2.ReadPacket(ctx)
	assert.ErrorIs(t, err, context.Canceled)

	require.NoError(t, h1.SendMulticast(context.Background(), m, 0, sd.IPv4))
	require.NoError(t, h2.Close())
	require.NoError(t, h2.Close(), "idempotent")
	assert.True(t, h2.Closed())
	_, err = h2.ReadPacket(context.Background())
	assert.ErrorIs(t, err, mdns.ErrClosed, "closed, even with a packet waiting")
	assert.ErrorIs(t, h2.SendMulticast(context.Background(), m, 0, sd.IPv4), mdns.ErrClosed)
	assert.ErrorIs(t, h2.SendUnicast(context.Background(), m, netip.AddrPortFrom(h1.Addr4(), 5353), 0), mdns.ErrClosed)
	h1.Drain()
	require.NoError(t, h1.SendMulticast(context.Background(), m, 0, sd.IPv4))
	assert.Len(t, h1.Drain(), 1)
	assert.Equal(t, 3, h2.Dropped(), "a closed host receives nothing, drops nothing")
}

func TestReadPacketWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h1, h2 := l.NewHost("h1", 1), l.NewHost("h2", 2)
		got := make(chan *mdns.Packet)
		go func() {
			p, err := h2.ReadPacket(context.Background())
			assert.NoError(t, err)
			got <- p
		}()
		time.Sleep(time.Second)
		h1.Send(t, mdnstest.Query(mdnstest.QM("h2.local.", dns.TypeA)))
		p := <-got
		assert.Equal(t, "h2.local.", p.Msg.Question[0].Name)

		go func() {
			_, err := h2.ReadPacket(context.Background())
			assert.ErrorIs(t, err, mdns.ErrClosed)
			close(got)
		}()
		synctest.Wait()
		require.NoError(t, h2.Close())
		<-got
	})
}

func TestChangesReportAttachAndDetach(t *testing.T) {
	a, b := mdnstest.NewLink(), mdnstest.NewLink()
	h := a.NewHost("h1", 1)
	h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}})
	chg := h.Changes()
	assert.Empty(t, chg, "interfaces attached before Changes are the initial ones")
	assert.Equal(t, chg, h.Changes(), "one channel")

	lan2 := mdns.Interface{Index: 4, Name: "lan2", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.8.1")}}
	h.Attach(b, lan2)
	require.Len(t, chg, 1)
	assert.Equal(t, mdns.InterfaceChange{Added: []mdns.Interface{lan2}}, <-chg)

	peer := b.NewHost("peer", 2)
	h.Detach(3)
	require.Len(t, chg, 1)
	ch := <-chg
	require.Len(t, ch.Removed, 1)
	assert.Equal(t, "lan1", ch.Removed[0].Name)
	assert.Empty(t, ch.Added)
	_, ok := h.Interface(3)
	assert.False(t, ok)
	assert.Equal(t, []string{"lan0", "lan2"}, names(h.Interfaces()))

	// lan1 left link b: a multicast there reaches lan2 only.
	peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
	ps := h.Drain()
	require.Len(t, ps, 1)
	assert.Equal(t, 4, ps[0].IfIndex)
	h.Detach(3) // no longer there: nothing
	assert.Empty(t, chg)
}

func TestChangesReportSetAddrs(t *testing.T) {
	l := mdnstest.NewLink()
	h := l.NewHost("h1", 1)
	v4, ll := netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("fe80::1")
	h.SetAddrs(2, v4) // before Changes: not reported
	chg := h.Changes()
	assert.Empty(t, chg)

	v4b := netip.MustParseAddr("198.18.1.11")
	h.SetAddrs(2, v4b, ll)
	require.Len(t, chg, 1)
	c := <-chg
	assert.Empty(t, c.Added)
	assert.Empty(t, c.Removed)
	require.Len(t, c.Changed, 1)
	ac := c.Changed[0]
	assert.Equal(t, mdns.Interface{Index: 2, Name: "lan0", MTU: 1500, Addrs: []netip.Addr{v4b, ll}}, ac.Interface, "the new state")
	assert.Equal(t, []netip.Addr{v4b, ll}, ac.Added)
	assert.Equal(t, []netip.Addr{v4}, ac.Removed)

	h.SetAddrs(2, ll, v4b) // the same set: nothing to report
	assert.Empty(t, chg)
	h.SetAddrs(2, ll)
	c = <-chg
	require.Len(t, c.Changed, 1)
	assert.Empty(t, c.Changed[0].Added)
	assert.Equal(t, []netip.Addr{v4b}, c.Changed[0].Removed)
	assert.Equal(t, []netip.Addr{ll}, c.Changed[0].Interface.Addrs)
	c.Changed[0].Interface.Addrs[0] = v4
	assert.Equal(t, []netip.Addr{ll}, h.Interfaces()[0].Addrs, "the report holds a copy")
}

func names(ifcs []mdns.Interface) []string {
	var out []string
	for _, ifc := range ifcs {
		out = append(out, ifc.Name)
	}
	return out
}

func TestBuilders(t *testing.T) {
	a := mdnstest.A("h.local.", "198.51.100.1", 120)
	assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), a.Hdr.Class, "unique: cache-flush")
	assert.Equal(t, "198.51.100.1", a.A.String())
	assert.Equal(t, uint16(dns.ClassINET), mdnstest.NoFlush(a).Hdr.Class)
	assert.Equal(t, uint16(dns.ClassINET), a.Hdr.Class, "NoFlush changes the record")
	assert.Equal(t, "fe80::2", mdnstest.AAAA("h.local.", "fe80::2", 120).AAAA.String())
	assert.Panics(t, func() { mdnstest.A("h.local.", "fe80::2", 1) })
	assert.Panics(t, func() { mdnstest.AAAA("h.local.", "198.51.100.1", 1) })
	ptr := mdnstest.PTR("_http._tcp.local.", "X._http._tcp.local.", 4500)
	assert.Equal(t, uint16(dns.ClassINET), ptr.Hdr.Class, "shared: no cache-flush")
	srv := mdnstest.SRV("X._http._tcp.local.", "h.local.", 80, 120)
	assert.Equal(t, dns.SRV{Hdr: dns.RR_Header{Name: "X._http._tcp.local.", Rrtype: dns.TypeSRV, Class: dns.ClassINET | dnsname.CacheFlush, Ttl: 120}, Target: "h.local.", Port: 80}, *srv)
	assert.Equal(t, []string{"a=1", "b"}, mdnstest.TXT("X._http._tcp.local.", 4500, "a=1", "b").Txt)

	r := mdnstest.Response(ptr, srv)
	assert.True(t, r.Response)
	assert.True(t, r.Authoritative)
	assert.Equal(t, uint16(0), r.Id)
	assert.Len(t, r.Answer, 2)
	r.Extra = []dns.RR{a}
	gb := mdnstest.Goodbye(r)
	for _, rr := range append(gb.Answer, gb.Extra...) {
		assert.Zero(t, rr.Header().Ttl)
	}
	assert.Equal(t, uint32(4500), ptr.Hdr.Ttl, "Goodbye copies")

	q := mdnstest.Query(mdnstest.QM("a.local.", dns.TypeA), mdnstest.QU("b.local.", dns.TypeAAAA))
	assert.False(t, q.Response)
	assert.Equal(t, []dns.Question{{Name: "a.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: "b.local.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET | dnsname.QU}}, q.Question)

	rrs := []dns.RR{a, ptr, mdnstest.A("H.LOCAL.", "198.51.100.2", 120), srv}
	assert.Same(t, a, mdnstest.FindRR(rrs, "h.local", dns.TypeA))
	assert.Nil(t, mdnstest.FindRR(rrs, "h.local.", dns.TypeAAAA))
	assert.Len(t, mdnstest.FindAll(rrs, "h.local.", dns.TypeA), 2, "names compared as DNS names")
	assert.Same(t, srv, mdnstest.FindRR(rrs, `x._HTTP._tcp.local.`, dns.TypeSRV))
	assert.NotNil(t, mdnstest.FindRR([]dns.RR{mdnstest.SRV(`Office\ TZ._t._tcp.local.`, "h.", 1, 1)}, `office\032tz._t._tcp.local.`, dns.TypeSRV), "escapes do not matter")
}

// InjectWire delivers the bytes as unpacked, never packed again, and
// refuses what the transport would drop.
func TestInjectWire(t *testing.T) {
	l := mdnstest.NewLink()
	h := l.NewHost("h", 1)
	m := mdnstest.Query(mdnstest.QM("x.local.", dns.TypeA))
	m.Id = 7
	b, err := m.Pack()
	require.NoError(t, err)
	src := netip.MustParseAddrPort("198.51.100.12:5353")
	require.NoError(t, l.InjectWire(h, 2, sd.IPv4, src, mdns.Group(sd.IPv4).Addr(), b))
	got := h.Drain()
	require.Len(t, got, 1)
	assert.Equal(t, uint16(7), got[0].Msg.Id)
	assert.Equal(t, len(b), got[0].Size)
	assert.Equal(t, src, got[0].Src)
	assert.Empty(t, l.Packets(), "not a transmission")

	assert.ErrorIs(t, l.InjectWire(h, 2, sd.IPv4, src, mdns.Group(sd.IPv4).Addr(), b[:5]), mdns.ErrMalformed)
	assert.ErrorIs(t, l.InjectWire(h, 2, sd.IPv4, src, mdns.Group(sd.IPv4).Addr(), make([]byte, mdns.MaxPacket+1)), mdns.ErrTooLarge)
	assert.Empty(t, h.Drain())
}
