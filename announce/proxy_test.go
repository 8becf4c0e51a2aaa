package announce

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
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
	"github.com/lansd/lansd/txt"
)

// Tests of proxies (proxy.go): a gateway gw on two links, A (eth-a) and B
// (eth-b), publishes on B services of an origin host h1 that lives on A.

const (
	pxInst = "Lab Printer._http._tcp.local."
	pxType = "_http._tcp.local."
	pxHost = "h1.local."
)

var (
	pxAddr  = netip.MustParseAddr("198.51.100.20") // h1's address (on link A)
	pxAddr2 = netip.MustParseAddr("198.51.100.21")
)

type proxyFixture struct {
	a, b         *mdnstest.Link
	gw           *mdnstest.Host
	peerA, peerB *mdnstest.Host
	r            *Responder
}

// newProxyFixture starts the gateway's responder ("gw", IPv4) on both
// links, with the given TTLs, and lets its host name settle.
func newProxyFixture(t *testing.T, ttl TTLs) *proxyFixture {
	t.Helper()
	f := &proxyFixture{a: mdnstest.NewLink(), b: mdnstest.NewLink()}
	f.gw = f.a.NewHost("gw", 1, mdns.Interface{Index: 2, Name: "eth-a", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")}})
	f.gw.Attach(f.b, mdns.Interface{Index: 3, Name: "eth-b", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.1")}})
	f.peerA = f.a.NewHost("peerA", 2, mdns.Interface{Index: 2, Name: "lan0", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.30")}})
	f.peerB = f.b.NewHost("peerB", 3, mdns.Interface{Index: 2, Name: "lan0", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.30")}})
	f.r = startOn(t, f.gw, Options{HostName: "gw", Families: []sd.Family{sd.IPv4}, TTL: ttl})
	time.Sleep(5 * time.Second) // the host name's announcements sent
	f.settle()
	return f
}

func (f *proxyFixture) settle() {
	f.a.Reset()
	f.b.Reset()
	f.peerA.Drain()
	f.peerB.Drain()
}

// printer is the service h1 publishes, as a gateway proxies it.
func printer(t testing.TB, instance, host string, kv ...string) Service {
	t.Helper()
	if len(kv) == 0 {
		kv = []string{"path=/"}
	}
	rec, err := txt.ParseArgs(kv)
	require.NoError(t, err)
	return Service{Instance: instance, Type: "_http._tcp", Port: 631, Host: host, TXT: rec}
}

// mentions reports whether p holds name anywhere: a question, a record's
// owner, an SRV target or a PTR's target.
func mentions(p mdnstest.Packet, name string) bool {
	for _, q := range p.Msg.Question {
		if dnsname.Equal(q.Name, name) {
			return true
		}
	}
	for _, sec := range [][]dns.RR{p.Msg.Answer, p.Msg.Ns, p.Msg.Extra} {
		for _, rr := range sec {
			if dnsname.Equal(rr.Header().Name, name) {
				return true
			}
			switch v := rr.(type) {
			case *dns.SRV:
				if dnsname.Equal(v.Target, name) {
					return true
				}
			case *dns.PTR:
				if dnsname.Equal(v.Ptr, name) {
					return true
				}
			}
		}
	}
	return false
}

func mentioning(name string) func(mdnstest.Packet) bool {
	return func(p mdnstest.Packet) bool { return mentions(p, name) }
}

// goodbyes returns the records with TTL 0 in gw's responses on l.
func goodbyes(l *mdnstest.Link) []dns.RR {
	var out []dns.RR
	for _, p := range l.Packets(mdnstest.From("gw"), mdnstest.IsResponse) {
		for _, rr := range p.Msg.Answer {
			if rr.Header().Ttl == 0 {
				out = append(out, rr)
			}
		}
	}
	return out
}

func hasAddr(rrs []dns.RR, name string, a netip.Addr) bool {
	for _, rr := range mdnstest.FindAll(rrs, name, dns.TypeA) {
		if netip.AddrFrom4([4]byte(rr.(*dns.A).A.To4())) == a {
			return true
		}
	}
	return false
}

func TestProxyProbedAnnouncedAndAnsweredOnItsInterfaceOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		h, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}})
		require.NoError(t, err)
		assertName(t, pxInst, h.Name())
		time.Sleep(5 * time.Second)

		// Link A sees nothing of it: no probe, no announcement.
		assert.Empty(t, f.a.Packets(mdnstest.From("gw"), mentioning(pxInst)))
		assert.Empty(t, f.a.Packets(mdnstest.From("gw"), mentioning(pxHost)))

		// Link B: three probes for both names, in the same packets
		// (RFC 6762 section 8.1), with the proposed records.
		probes := f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe)
		require.Len(t, probes, 3)
		for _, p := range probes {
			assert.True(t, mdnstest.Asks(pxInst, dns.TypeANY)(p))
			assert.True(t, mdnstest.Asks(pxHost, dns.TypeANY)(p))
			srv := mdnstest.FindRR(p.Msg.Ns, pxInst, dns.TypeSRV)
			require.NotNil(t, srv)
			assertName(t, pxHost, srv.(*dns.SRV).Target)
			assert.True(t, hasAddr(p.Msg.Ns, pxHost, pxAddr))
		}
		// Then announced there (section 8.3), the host's address with it.
		ann := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxInst, dns.TypeSRV))
		require.GreaterOrEqual(t, len(ann), 2)
		first := ann[0].Msg
		assert.True(t, first.Answer[0].Header().Class&dnsname.CacheFlush != 0 || mdnstest.FindRR(first.Answer, pxType, dns.TypePTR) != nil)
		srv := mdnstest.FindRR(first.Answer, pxInst, dns.TypeSRV).(*dns.SRV)
		assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), srv.Hdr.Class)
		assert.Equal(t, uint16(631), srv.Port)
		assert.NotNil(t, mdnstest.FindRR(first.Answer, pxType, dns.TypePTR))
		assert.True(t, hasAddr(append(first.Answer, first.Extra...), pxHost, pxAddr))
		evs := events(h)
		require.Equal(t, []EventKind{EventAnnounced}, kinds(evs))
		assert.Contains(t, evs[0].Reason, "eth-b")

		// Answered on B, with the additional records of RFC 6763 section
		// 12.1; not on A.
		f.settle()
		f.peerA.Send(t, mdnstest.Query(mdnstest.QM(pxType, dns.TypePTR), mdnstest.QM(pxHost, dns.TypeA)))
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxType, dns.TypePTR)))
		time.Sleep(time.Second)
		assert.Empty(t, f.a.Packets(mdnstest.From("gw")), "nothing answered on A")
		resp := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.Len(t, resp, 1)
		m := resp[0].Msg
		assert.NotNil(t, mdnstest.FindRR(m.Answer, pxType, dns.TypePTR))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, pxInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, pxInst, dns.TypeTXT))
		assert.True(t, hasAddr(m.Extra, pxHost, pxAddr))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, pxHost, dns.TypeNSEC), "h1 has no AAAA here: NSEC says so (RFC 6762 section 6.1)")

		// An SRV answer carries the origin host's addresses (RFC 6763
		// section 12.2), at once: it is unique.
		f.settle()
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxInst, dns.TypeSRV)))
		synctest.Wait()
		resp = f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.Len(t, resp, 1)
		assert.NotNil(t, mdnstest.FindRR(resp[0].Msg.Answer, pxInst, dns.TypeSRV))
		assert.True(t, hasAddr(resp[0].Msg.Extra, pxHost, pxAddr))
		assert.Nil(t, mdnstest.FindRR(resp[0].Msg.Extra, "gw.local.", dns.TypeA), "not our own host's addresses")

		// h1's own records on link A are no conflict for the proxy on B.
		f.settle()
		f.peerA.Send(t, mdnstest.Response(mdnstest.SRV(pxInst, "other.local.", 1, 120), mdnstest.A(pxHost, "198.51.100.99", 120)))
		time.Sleep(3 * time.Second)
		assert.Empty(t, events(h))
		assert.Empty(t, goodbyes(f.b))
		assert.NoError(t, h.Err())
		// Our own host name is untouched.
		assert.Equal(t, "gw.local.", f.r.HostName())
	})
}

func TestProxySharedHostAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx := context.Background()
		opts := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}}
		h1, err := f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), opts)
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()
		// A second service of h1, which also has a second address.
		opts2 := opts
		opts2.HostAddrs = []netip.Addr{pxAddr, pxAddr2}
		h2, err := f.r.AddProxy(ctx, printer(t, "Lab Scanner", pxHost), opts2)
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		for _, p := range f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe) {
			assert.False(t, mdnstest.Asks(pxHost, dns.TypeANY)(p), "h1.local. is claimed once, not probed again")
		}
		// The new address is announced with the host's whole A RRset.
		ann := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxHost, dns.TypeA))
		require.NotEmpty(t, ann)
		assert.True(t, hasAddr(ann[0].Msg.Answer, pxHost, pxAddr2))
		assert.True(t, hasAddr(ann[0].Msg.Answer, pxHost, pxAddr))
		assert.Empty(t, goodbyes(f.b))

		// The first removed: its records say goodbye, h1's first address
		// stays (the second proxy uses it); the second address stays.
		f.settle()
		require.NoError(t, h1.Remove(ctx))
		gb := goodbyes(f.b)
		assert.NotNil(t, mdnstest.FindRR(gb, "Lab Printer._http._tcp.local.", dns.TypeSRV))
		assert.Nil(t, mdnstest.FindRR(gb, pxHost, dns.TypeA), "h1's addresses are still used")
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxHost, dns.TypeA)))
		synctest.Wait()
		resp := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxHost, dns.TypeA))
		require.Len(t, resp, 1)
		assert.True(t, hasAddr(resp[0].Msg.Answer, pxHost, pxAddr))
		assert.True(t, hasAddr(resp[0].Msg.Answer, pxHost, pxAddr2))

		// The last one removed: goodbye to both addresses.
		f.settle()
		require.NoError(t, h2.Remove(ctx))
		gb = goodbyes(f.b)
		assert.True(t, hasAddr(gb, pxHost, pxAddr))
		assert.True(t, hasAddr(gb, pxHost, pxAddr2))
		assert.NotNil(t, mdnstest.FindRR(gb, "Lab Scanner._http._tcp.local.", dns.TypeSRV))
		assert.ErrorIs(t, h2.Err(), ErrRemoved)
		time.Sleep(time.Second)
		f.settle()
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxHost, dns.TypeA)))
		time.Sleep(time.Second)
		assert.Empty(t, f.b.Packets(mdnstest.From("gw")))
	})
}

// defendOn has peer defend the names claimed says with an SRV of its own
// whenever it hears a query for them.
func defendOn(ctx context.Context, peer *mdnstest.Host, claimed func(string) bool) {
	go defender(ctx, peer, claimed, 0)
}

func TestProxyConflictWhileProbingWithdrawsNotRenames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		defendOn(ctx, f.peerB, func(n string) bool { return dnsname.Equal(n, pxInst) })

		// Published on A and B: B's peer holds the name.
		h, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-a", "eth-b"}, HostAddrs: []netip.Addr{pxAddr}})
		require.NoError(t, err, "published on eth-a")
		time.Sleep(5 * time.Second)
		evs := events(h)
		require.Equal(t, []EventKind{EventConflict, EventWithdrawn, EventAnnounced}, kinds(evs))
		assert.Contains(t, evs[1].Reason, "eth-b")
		assert.Contains(t, evs[1].Reason, "peer.local.", "the other party's data")
		assert.Contains(t, evs[1].Reason, "not renamed")
		assert.Contains(t, evs[2].Reason, "eth-a")
		assertName(t, pxInst, h.Name())
		renamed, _ := h.Renamed()
		assert.False(t, renamed)
		assert.NoError(t, h.Err(), "still published on eth-a")

		// No rename on the wire, no announcement on B; A has it.
		for _, l := range []*mdnstest.Link{f.a, f.b} {
			for _, p := range l.Packets(mdnstest.From("gw")) {
				assert.False(t, mentions(p, "Lab Printer (2)._http._tcp.local."), "renamed on the wire")
			}
		}
		assert.Empty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mentioning(pxInst)))
		assert.Empty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mentioning(pxHost)), "h1's address is withdrawn with its only proxy there")
		assert.NotEmpty(t, f.a.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxInst, dns.TypeSRV)))

		// Published on B only: AddProxy fails, naming why.
		_, err = f.r.AddProxy(context.Background(), printer(t, "Lab Printer", "h2.local."), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr2}})
		if assert.Error(t, err) {
			assert.True(t, strings.Contains(err.Error(), "peer.local.") && strings.Contains(err.Error(), "eth-b"), err.Error())
			assert.ErrorIs(t, err, ErrRemoved)
		}
		assert.Equal(t, "gw.local.", f.r.HostName())
	})
}

func TestProxyConflictAfterAnnouncementGoodbyeAndWithdrawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		h, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}})
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		events(h)
		f.settle()

		f.peerB.Send(t, mdnstest.Response(mdnstest.SRV(pxInst, "peer.local.", 9999, 120)))
		time.Sleep(5 * time.Second)
		gb := goodbyes(f.b)
		assert.NotNil(t, mdnstest.FindRR(gb, pxInst, dns.TypeSRV), "goodbyes for what was announced (RFC 6762 section 10.1)")
		assert.NotNil(t, mdnstest.FindRR(gb, pxInst, dns.TypeTXT))
		assert.NotNil(t, mdnstest.FindRR(gb, pxType, dns.TypePTR))
		assert.True(t, hasAddr(gb, pxHost, pxAddr))
		assert.Empty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe), "not probed again, not renamed")
		evs := events(h)
		require.Equal(t, []EventKind{EventConflict, EventWithdrawn, EventRemoved}, kinds(evs))
		assert.Contains(t, evs[1].Reason, "9999 peer.local.")
		assert.Contains(t, evs[2].Reason, "withdrawn from every interface")
		_, open := <-h.Events()
		assert.False(t, open, "events end as for a removed service")
		require.ErrorIs(t, h.Err(), ErrRemoved)
		assert.Contains(t, h.Err().Error(), "eth-b")
		assert.ErrorIs(t, h.UpdateProxy(context.Background(), txt.Record{}, ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}}), ErrRemoved)

		f.settle()
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxInst, dns.TypeSRV)))
		time.Sleep(time.Second)
		assert.Empty(t, f.b.Packets(mdnstest.From("gw")))
	})
}

func TestProxyHostConflictWithdrawsItsProxies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx := context.Background()
		own, err := f.r.Add(ctx, tzService(t, "Office TZ"))
		require.NoError(t, err)
		opts := ProxyOptions{Interfaces: []string{"eth-a", "eth-b"}, HostAddrs: []netip.Addr{pxAddr}}
		p1, err := f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), opts)
		require.NoError(t, err)
		p2, err := f.r.AddProxy(ctx, printer(t, "Lab Scanner", pxHost), opts)
		require.NoError(t, err)
		other, err := f.r.AddProxy(ctx, printer(t, "Plotter", "h2.local."), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr2}})
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		for _, h := range []*Handle{own, p1, p2, other} {
			events(h)
		}
		f.settle()

		// Someone on B has h1.local. with another address.
		f.peerB.Send(t, mdnstest.Response(mdnstest.A(pxHost, "198.18.0.99", 120)))
		time.Sleep(3 * time.Second)
		for _, h := range []*Handle{p1, p2} {
			evs := events(h)
			require.Equal(t, []EventKind{EventConflict, EventWithdrawn}, kinds(evs), h.Name())
			assert.Contains(t, evs[1].Reason, "origin host name")
			assert.Contains(t, evs[1].Reason, "198.18.0.99")
			assert.NoError(t, h.Err(), "still on eth-a")
		}
		gb := goodbyes(f.b)
		assert.True(t, hasAddr(gb, pxHost, pxAddr))
		assert.NotNil(t, mdnstest.FindRR(gb, "Lab Printer._http._tcp.local.", dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(gb, "Lab Scanner._http._tcp.local.", dns.TypeSRV))
		assert.Nil(t, mdnstest.FindRR(gb, "Plotter._http._tcp.local.", dns.TypeSRV))
		for _, rr := range mdnstest.FindAll(gb, pxType, dns.TypePTR) {
			assertName(t, pxType, rr.Header().Name)
			assert.NotEqual(t, "plotter._http._tcp.local.", dnsname.MustKey(rr.(*dns.PTR).Ptr), "the other host's proxy keeps its PTR")
		}
		assert.Empty(t, goodbyes(f.a), "nothing withdrawn on A")
		assert.Empty(t, events(other))
		assert.Empty(t, events(own))
		assert.Equal(t, "gw.local.", f.r.HostName())

		// B answers for the other host's proxy only; A still for h1's.
		f.settle()
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxType, dns.TypePTR)))
		f.peerA.Send(t, mdnstest.Query(mdnstest.QM(pxType, dns.TypePTR)))
		time.Sleep(time.Second)
		rb := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.Len(t, rb, 1)
		require.Len(t, rb[0].Msg.Answer, 1)
		assertName(t, "Plotter._http._tcp.local.", rb[0].Msg.Answer[0].(*dns.PTR).Ptr)
		ra := f.a.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.Len(t, ra, 1)
		assert.Len(t, ra[0].Msg.Answer, 2)
	})
}

func TestProxyUpdateTXTAnnounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		opts := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}}
		h, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), opts)
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()
		t0 := time.Now()
		rec, err := txt.ParseArgs([]string{"path=/new"})
		require.NoError(t, err)
		require.NoError(t, h.UpdateProxy(context.Background(), rec, opts))
		time.Sleep(5 * time.Second)
		resp := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.Len(t, resp, 3, "announced three times (RFC 6762 sections 8.3, 8.4)")
		assert.Equal(t, t0, resp[0].At, "at once")
		for _, p := range resp {
			require.Len(t, p.Msg.Answer, 1, "only what changed")
			tx := p.Msg.Answer[0].(*dns.TXT)
			assert.Equal(t, []string{"path=/new"}, tx.Txt)
			assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), tx.Hdr.Class)
		}
		assert.Empty(t, f.a.Packets(mdnstest.From("gw")))
		assert.Empty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe))

		// The same TXT again: nothing to announce.
		f.settle()
		require.NoError(t, h.UpdateProxy(context.Background(), rec, opts))
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.b.Packets(mdnstest.From("gw")))

		// The old record, repeated by another gateway that has not
		// updated yet, is our former data: no conflict (RFC 6762 section
		// 9); the current one is multicast again.
		events(h)
		f.peerB.Send(t, mdnstest.Response(mdnstest.TXT(pxInst, 4500, "path=/")))
		time.Sleep(3 * time.Second)
		assert.Empty(t, events(h))
		assert.NoError(t, h.Err())
		assert.Empty(t, goodbyes(f.b))
		re := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxInst, dns.TypeTXT))
		require.NotEmpty(t, re)
		assert.Equal(t, []string{"path=/new"}, mdnstest.FindRR(re[0].Msg.Answer, pxInst, dns.TypeTXT).(*dns.TXT).Txt)
	})
}

func TestProxyUpdateAddressesAndInterfaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx := context.Background()
		rec := printer(t, "x", pxHost).TXT
		opts := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}}
		h, err := f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), opts)
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()

		// The address changes: goodbye for the old, the new announced.
		opts.HostAddrs = []netip.Addr{pxAddr2}
		require.NoError(t, h.UpdateProxy(ctx, rec, opts))
		time.Sleep(5 * time.Second)
		gb := goodbyes(f.b)
		assert.True(t, hasAddr(gb, pxHost, pxAddr))
		assert.Len(t, gb, 1)
		ann := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxHost, dns.TypeA))
		var fresh []mdnstest.Packet
		for _, p := range ann {
			if hasAddr(p.Msg.Answer, pxHost, pxAddr2) {
				fresh = append(fresh, p)
				assert.False(t, hasAddr(p.Msg.Answer, pxHost, pxAddr))
				assert.Nil(t, mdnstest.FindRR(p.Msg.Answer, pxInst, dns.TypeSRV), "only what changed")
			}
		}
		assert.Len(t, fresh, 3)
		assert.Empty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe), "no probing: the name is not new")
		assert.Empty(t, f.a.Packets(mdnstest.From("gw")))
		assert.Empty(t, events(h)[1:])

		// Moved from B to A: goodbyes on B, probed and announced on A.
		f.settle()
		opts.Interfaces = []string{"eth-a"}
		require.NoError(t, h.UpdateProxy(ctx, rec, opts))
		time.Sleep(5 * time.Second)
		gb = goodbyes(f.b)
		assert.NotNil(t, mdnstest.FindRR(gb, pxInst, dns.TypeSRV))
		assert.True(t, hasAddr(gb, pxHost, pxAddr2))
		assert.NotEmpty(t, f.a.Packets(mdnstest.From("gw"), mdnstest.IsProbe, mdnstest.Asks(pxInst, dns.TypeANY)))
		assert.NotEmpty(t, f.a.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxInst, dns.TypeSRV)))
		evs := events(h)
		require.Equal(t, []EventKind{EventAnnounced}, kinds(evs))
		assert.Contains(t, evs[0].Reason, "eth-a")
		assert.NoError(t, h.Err())
	})
}

func TestProxyExpiresCapsTTLsAndWithdraws(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx := context.Background()
		exp := time.Now().Add(60 * time.Second)
		opts := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}, Expires: exp}
		h, err := f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), opts)
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		maxTTL := func(ps []mdnstest.Packet) uint32 {
			var m uint32
			for _, p := range ps {
				for _, sec := range [][]dns.RR{p.Msg.Answer, p.Msg.Ns, p.Msg.Extra} {
					for _, rr := range sec {
						if rr.Header().Rrtype != dns.TypeOPT && !dnsname.Equal(rr.Header().Name, "gw.local.") {
							m = max(m, rr.Header().Ttl)
						}
					}
				}
			}
			return m
		}
		sent := f.b.Packets(mdnstest.From("gw"))
		require.NotEmpty(t, sent)
		assert.LessOrEqual(t, maxTTL(sent), uint32(60), "no TTL beyond what the source has left (RFC 6762 section 10)")
		assert.Greater(t, maxTTL(sent), uint32(50))

		// Half a minute later answers carry what is left.
		time.Sleep(25 * time.Second)
		f.settle()
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxType, dns.TypePTR), mdnstest.QM(pxInst, dns.TypeTXT)))
		time.Sleep(time.Second)
		resp := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.NotEmpty(t, resp)
		assert.LessOrEqual(t, maxTTL(resp), uint32(30))
		assert.Greater(t, maxTTL(resp), uint32(20))

		// Expires passes without an update: withdrawn with goodbyes.
		f.settle()
		time.Sleep(time.Until(exp) + time.Second)
		gb := goodbyes(f.b)
		assert.NotNil(t, mdnstest.FindRR(gb, pxInst, dns.TypeSRV))
		assert.True(t, hasAddr(gb, pxHost, pxAddr))
		evs := events(h)
		require.NotEmpty(t, evs)
		last := evs[len(evs)-1]
		assert.Equal(t, EventRemoved, last.Kind)
		assert.Contains(t, last.Reason, "expired at the source")
		require.ErrorIs(t, h.Err(), ErrRemoved)
		assert.Contains(t, h.Err().Error(), "expired at the source")
	})
}

func TestProxyUpdateMovesExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx := context.Background()
		opts := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}, Expires: time.Now().Add(30 * time.Second)}
		s := printer(t, "Lab Printer", pxHost)
		h, err := f.r.AddProxy(ctx, s, opts)
		require.NoError(t, err)
		time.Sleep(20 * time.Second)
		opts.Expires = time.Now().Add(200 * time.Second)
		require.NoError(t, h.UpdateProxy(ctx, s.TXT, opts))
		time.Sleep(20 * time.Second)
		assert.NoError(t, h.Err(), "the source refreshed it: not expired")
		f.settle()
		f.peerB.Send(t, mdnstest.Query(mdnstest.QM(pxInst, dns.TypeTXT)))
		synctest.Wait()
		resp := f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse)
		require.Len(t, resp, 1)
		ttl := resp[0].Msg.Answer[0].Header().Ttl
		assert.True(t, ttl > 150 && ttl <= 180, "TTL capped by the new expiry: %d", ttl)
		// Without Expires: the usual TTL, no expiry.
		opts.Expires = time.Time{}
		require.NoError(t, h.UpdateProxy(ctx, s.TXT, opts))
		time.Sleep(200 * time.Second)
		assert.NoError(t, h.Err())
	})
}

func TestAddProxyRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		ctx := context.Background()
		_, err := f.r.Add(ctx, printer(t, "Own Printer", ""))
		require.NoError(t, err)
		good := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}}
		f.settle()

		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", ""), good)
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, "no Host")
		assert.ErrorContains(t, err, "Host")

		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", "h1.example.com."), good)
		assert.ErrorContains(t, err, "local.", "a Host outside local.")

		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth9"}, HostAddrs: []netip.Addr{pxAddr}})
		assert.ErrorIs(t, err, sd.ErrUnknownInterface)
		assert.ErrorContains(t, err, "eth9")

		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), ProxyOptions{HostAddrs: []netip.Addr{pxAddr}})
		assert.ErrorContains(t, err, "no interface")

		for _, a := range []string{"fe80::1", "169.254.1.2"} {
			_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr, netip.MustParseAddr(a)}})
			assert.ErrorContains(t, err, "link-local", a)
		}
		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}})
		assert.ErrorContains(t, err, "HostAddrs")

		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}, Expires: time.Now().Add(-time.Second)})
		assert.ErrorContains(t, err, "passed")

		_, err = f.r.AddProxy(ctx, printer(t, "Own Printer", pxHost), good)
		assert.ErrorContains(t, err, "own names", "our own service's name")

		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", "GW.local."), good)
		assert.ErrorContains(t, err, "own host name")

		// Another proxy with that name on that interface.
		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", pxHost), good)
		require.NoError(t, err)
		_, err = f.r.AddProxy(ctx, printer(t, "Lab Printer", "h2.local."), good)
		assert.ErrorContains(t, err, "another proxy")

		// Nothing refused was sent.
		for _, p := range f.b.Packets(mdnstest.From("gw")) {
			assert.False(t, mentions(p, "Own Printer._http._tcp.local.") && p.Msg.Response && !mentions(p, pxInst), "refused proxy sent")
			assert.False(t, mentions(p, "h2.local."))
		}
		// Our own names then avoid the proxied ones: a service of ours
		// with a proxied name is renamed at once.
		own, err := f.r.Add(ctx, printer(t, "Lab Printer", ""))
		require.NoError(t, err)
		assertName(t, "Lab Printer (2)._http._tcp.local.", own.Name())
		// UpdateProxy on a handle of our own refuses.
		assert.ErrorContains(t, own.UpdateProxy(ctx, txt.Record{}, good), "not a proxy")
		assert.False(t, errors.Is(err, ErrRemoved))
	})
}

func TestProxyLostTieBreakWithdraws(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		type result struct {
			h   *Handle
			err error
		}
		done := make(chan result, 1)
		go func() {
			h, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}})
			done <- result{h, err}
		}()
		time.Sleep(probeJitter + 10*time.Millisecond) // the first probe is out
		require.NotEmpty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe))
		// A simultaneous probe with later data (port 9999 > 631): it wins
		// the tie-break (RFC 6762 section 8.2).
		probe := mdnstest.Query(mdnstest.QM(pxInst, dns.TypeANY))
		probe.Ns = []dns.RR{mdnstest.NoFlush(mdnstest.SRV(pxInst, "peer.local.", 9999, 120))}
		f.peerB.Send(t, probe)
		res := <-done
		require.Error(t, res.err)
		assert.ErrorContains(t, res.err, "tie-break")
		assert.ErrorContains(t, res.err, "peer.local.")
		time.Sleep(5 * time.Second)
		for _, p := range f.b.Packets(mdnstest.From("gw")) {
			assert.False(t, mentions(p, "Lab Printer (2)._http._tcp.local."), "renamed on the wire")
		}
		assert.Empty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mentioning(pxInst)), "never announced")
	})
}

// Two gateways proxying the same instance onto one link with the same
// data: identical data is no conflict (RFC 6762 section 9), so both keep
// it, whether they probe together or one after the other.
func TestProxyTwoGatewaysSameDataNoConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		var rs []*Responder
		for i, name := range []string{"gw1", "gw2"} {
			h := l.NewHost(name, 0, mdns.Interface{Index: 2, Name: "eth-b", MTU: 1500, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{198, 18, 0, byte(1 + i)})}})
			rs = append(rs, startOn(t, h, Options{HostName: name, Families: []sd.Family{sd.IPv4}}))
		}
		opts := ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}}
		hs := make([]*Handle, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range rs {
			wg.Go(func() { hs[i], errs[i] = r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), opts) })
		}
		wg.Wait()
		time.Sleep(5 * time.Second)
		for i := range rs {
			require.NoError(t, errs[i])
			assert.Equal(t, []EventKind{EventAnnounced}, kinds(events(hs[i])))
		}
		// A third, later: defended with identical data, no conflict.
		h3 := l.NewHost("gw3", 0, mdns.Interface{Index: 2, Name: "eth-b", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.3")}})
		r3 := startOn(t, h3, Options{HostName: "gw3", Families: []sd.Family{sd.IPv4}})
		p3, err := r3.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), opts)
		require.NoError(t, err)
		time.Sleep(10 * time.Second)
		assert.Equal(t, []EventKind{EventAnnounced}, kinds(events(p3)))
		for i := range rs {
			assert.Empty(t, events(hs[i]))
			assert.NoError(t, hs[i].Err())
		}
	})
}

func TestProxyGoodbyeOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		_, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-b"}, HostAddrs: []netip.Addr{pxAddr}})
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()
		require.NoError(t, f.r.Close())
		gb := goodbyes(f.b)
		assert.NotNil(t, mdnstest.FindRR(gb, pxInst, dns.TypeSRV))
		assert.True(t, hasAddr(gb, pxHost, pxAddr))
		assert.Nil(t, mdnstest.FindRR(goodbyes(f.a), pxInst, dns.TypeSRV), "nothing of it on A")
	})
}

// An interface that goes and comes back (RFC 6762 section 8): the proxy
// on it is probed and announced there again; on the other interface it
// is untouched.
func TestProxyInterfaceFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newProxyFixture(t, TTLs{})
		h, err := f.r.AddProxy(context.Background(), printer(t, "Lab Printer", pxHost), ProxyOptions{Interfaces: []string{"eth-a", "eth-b"}, HostAddrs: []netip.Addr{pxAddr}})
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		events(h)
		f.settle()
		ifb := f.gw.Interfaces()[1]
		require.Equal(t, "eth-b", ifb.Name)
		f.gw.Detach(ifb.Index)
		time.Sleep(time.Second)
		f.settle()
		f.gw.Attach(f.b, ifb)
		time.Sleep(5 * time.Second)
		probes := f.b.Packets(mdnstest.From("gw"), mdnstest.IsProbe, mdnstest.Asks(pxInst, dns.TypeANY))
		assert.Len(t, probes, 3)
		assert.NotEmpty(t, f.b.Packets(mdnstest.From("gw"), mdnstest.IsResponse, mdnstest.HasAnswer(pxInst, dns.TypeSRV)))
		assert.Empty(t, f.a.Packets(mdnstest.From("gw"), mdnstest.IsProbe, mdnstest.Asks(pxInst, dns.TypeANY)), "not probed again on A")
		evs := events(h)
		require.Equal(t, []EventKind{EventAnnounced}, kinds(evs))
		assert.Contains(t, evs[0].Reason, "eth-b")
		assert.NoError(t, h.Err())
	})
}
