package announce

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
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
)

// Tests of the responder on hosts whose interfaces and addresses change
// (RFC 6762 sections 8, 9 and 10): the changes reach it as the transport
// reports them (mdnstest.Host.Changes: Attach, Detach, SetAddrs).

var (
	v4Old = netip.MustParseAddr("198.51.100.11") // h1's address in the fixture
	ll1   = netip.MustParseAddr("fe80::1")       // h1's link-local address in the fixture
	v4New = netip.MustParseAddr("198.18.1.11")
)

// ss returns addrs as strings, for readable comparisons.
func ss(addrs ...netip.Addr) []string {
	var out []string
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

// addrsOf returns the addresses of the A and AAAA records of name in rrs,
// as strings.
func addrsOf(rrs []dns.RR, name string) []string {
	var out []string
	for _, rr := range rrs {
		if !dnsname.Equal(rr.Header().Name, name) {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}

// isProbeFor keeps probes asking for name.
func isProbeFor(name string) func(mdnstest.Packet) bool {
	return func(p mdnstest.Packet) bool {
		return mdnstest.IsProbe(p) && slices.ContainsFunc(p.Msg.Question, func(q dns.Question) bool { return dnsname.Equal(q.Name, name) })
	}
}

// onIf keeps the packets sent out of interface idx.
func onIf(idx int) func(mdnstest.Packet) bool {
	return func(p mdnstest.Packet) bool { return p.IfIndex == idx }
}

// hostEvents returns the host name's events queued now.
func hostEvents(r *Responder) []Event {
	var out []Event
	for len(r.HostEvents()) > 0 {
		out = append(out, <-r.HostEvents())
	}
	return out
}

// assertNoConflict checks that no event of evs is a conflict or a rename.
func assertNoConflict(t *testing.T, evs []Event, what string) {
	t.Helper()
	for _, ev := range evs {
		assert.NotContains(t, []EventKind{EventConflict, EventRenamed, EventDeferred}, ev.Kind, "%s: %+v", what, ev)
	}
}

// assertFlushAll checks that every record of rrs carries the cache-flush bit.
func assertFlushAll(t *testing.T, rrs []dns.RR) {
	t.Helper()
	for _, rr := range rrs {
		assert.NotZero(t, rr.Header().Class&dnsname.CacheFlush, "cache-flush bit (RFC 6762 section 10.2): %v", rr)
	}
}

// checkHostProbes checks that the host name was probed three times over
// each family since t0, on link l out of interface idx, 250 ms apart,
// proposing exactly want, and nothing else.
func checkHostProbes(t *testing.T, l *mdnstest.Link, t0 time.Time, idx int, want ...netip.Addr) []mdnstest.Packet {
	t.Helper()
	var all []mdnstest.Packet
	for _, f := range []sd.Family{sd.IPv4, sd.IPv6} {
		probes := l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(f), mdnstest.Since(t0))
		if !slices.ContainsFunc([]netip.Addr(want), func(a netip.Addr) bool { return sd.FamilyOf(a) == f }) {
			assert.Empty(t, probes, "no IPv%d address: no IPv%d probe", int(f), int(f))
			continue
		}
		require.Len(t, probes, 3, "three probes over IPv%d (RFC 6762 section 8.1)", int(f))
		for i, p := range probes {
			assert.Equal(t, idx, p.IfIndex)
			require.Len(t, p.Msg.Question, 1, "the host name only")
			q := p.Msg.Question[0]
			assertName(t, "h1.local.", q.Name)
			assert.Equal(t, dns.TypeANY, q.Qtype)
			assert.Equal(t, i == 0, q.Qclass&dnsname.QU != 0, "QU on the first probe only")
			assert.ElementsMatch(t, ss(want...), addrsOf(p.Msg.Ns, "h1.local."), "probe %d proposes the new address set", i)
			assert.Len(t, p.Msg.Ns, len(want))
			if i > 0 {
				assert.Equal(t, probeInterval, p.At.Sub(probes[i-1].At))
			}
		}
		assert.LessOrEqual(t, probes[0].At.Sub(t0), probeJitter)
		all = append(all, probes...)
	}
	return all
}

func TestAddressAddedProbedAndAnnounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		hostEvents(f.r)
		t0 := time.Now()
		f.h.SetAddrs(2, v4Old, v4New, ll1)
		synctest.Wait()
		// While the new set is probed, the services are answered as before.
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		synctest.Wait()
		require.Len(t, f.responses(mdnstest.HasAnswer(tzInst, dns.TypeSRV)), 1, "the other names keep answering")
		time.Sleep(5 * time.Second)

		probes := checkHostProbes(t, f.l, t0, 2, v4Old, v4New, ll1)
		assert.Empty(t, f.l.Packets(mdnstest.From("h1"), isProbeFor(tzInst)), "an address change probes the host name only")

		anns := f.responses(multicastOnly, mdnstest.HasAnswer("h1.local.", dns.TypeA), mdnstest.Family(sd.IPv4))
		require.Len(t, anns, 3, "announced as at start-up (RFC 6762 section 8.3)")
		first := anns[0]
		assert.Equal(t, probeInterval, first.At.Sub(probes[2].At), "250 ms after the third probe")
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, []time.Duration{anns[1].At.Sub(anns[0].At), anns[2].At.Sub(anns[1].At)})
		m := first.Msg
		assert.ElementsMatch(t, ss([]netip.Addr{v4Old, v4New, ll1}...), addrsOf(m.Answer, "h1.local."), "the whole new set")
		assertFlushAll(t, m.Answer)
		for _, rr := range m.Answer {
			assert.Equal(t, uint32(120), rr.Header().Ttl)
		}
		assert.Nil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeSRV), "the services are not announced again")
		assert.Empty(t, f.responses(func(p mdnstest.Packet) bool {
			return slices.ContainsFunc(p.Msg.Answer, func(rr dns.RR) bool { return rr.Header().Ttl == 0 })
		}), "nothing removed, no goodbye")

		evs := hostEvents(f.r)
		require.Len(t, evs, 1)
		assert.Equal(t, EventAnnounced, evs[0].Kind)
		assert.Contains(t, evs[0].Reason, "probed again and announced on lan0 after a link change")
		assert.Equal(t, "h1.local.", f.r.HostName())

		// Answered with the new set.
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 1)
		assert.ElementsMatch(t, ss([]netip.Addr{v4Old, v4New}...), addrsOf(resp[0].Msg.Answer, "h1.local."))
	})
}

func TestHostNotAnsweredOnALinkWhileProbedAgainThere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		f.h.SetAddrs(2, v4Old, v4New, ll1)
		synctest.Wait()
		// RFC 6762 section 8.1: records being probed are not given out.
		// (A unique answer would go out at once.)
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		assert.Empty(t, f.responses())
		time.Sleep(5 * time.Second)
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		assert.Len(t, f.responses(), 1, "answered again once probed")
	})
}

func TestAddressRemovedGetsGoodbye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		hostEvents(f.r)
		f.h.SetAddrs(2, ll1) // IPv4 gone
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 1, "one goodbye, over the family left (IPv4 can no longer send)")
		gb := resp[0]
		assert.Equal(t, 2, gb.IfIndex)
		assert.Equal(t, sd.IPv6, gb.Family)
		require.Len(t, gb.Msg.Answer, 1)
		a, ok := gb.Msg.Answer[0].(*dns.A)
		require.True(t, ok)
		assertName(t, "h1.local.", a.Hdr.Name)
		assert.Equal(t, v4Old.String(), a.A.String())
		assert.Zero(t, a.Hdr.Ttl, "TTL 0 (RFC 6762 section 10.1)")
		time.Sleep(5 * time.Second)
		assert.Empty(t, f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe), "nothing new to claim")
		assert.Empty(t, hostEvents(f.r))

		// Answers lack it now: an NSEC says there is no A record.
		f.settle()
		f.peer.SetAddrs(2, netip.MustParseAddr("fe80::2"))
		require.NoError(t, f.peer.SendMulticast(context.Background(), mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)), 0, sd.IPv6))
		synctest.Wait()
		resp = f.responses()
		require.Len(t, resp, 1)
		nsec, ok := resp[0].Msg.Answer[0].(*dns.NSEC)
		require.True(t, ok, "%v", resp[0].Msg)
		assert.Equal(t, []uint16{dns.TypeAAAA}, nsec.TypeBitMap)
	})
}

// A deprecated (or tentative, or temporary) address is the transport's
// business: it leaves it out of Interface.Addrs, which the responder
// advertises exactly, and the change reaches the responder as an address
// removed: its goodbye goes out.
func TestDeprecatedAddressGetsGoodbye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		second := netip.MustParseAddr("198.18.0.11")
		f := newFixture(t, Options{}, func(h *mdnstest.Host) { h.SetAddrs(2, v4Old, second, ll1) })
		f.h.SetAddrs(2, v4Old, ll1) // second became deprecated
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 2, "a goodbye over each family")
		for _, gb := range resp {
			assert.Equal(t, 2, gb.IfIndex)
			assert.Equal(t, ss([]netip.Addr{second}...), addrsOf(gb.Msg.Answer, "h1.local."))
			require.Len(t, gb.Msg.Answer, 1)
			assert.Zero(t, gb.Msg.Answer[0].Header().Ttl)
		}
		time.Sleep(5 * time.Second)
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		resp = f.responses()
		require.Len(t, resp, 1)
		assert.Equal(t, ss([]netip.Addr{v4Old}...), addrsOf(resp[0].Msg.Answer, "h1.local."), "advertised: exactly Interface.Addrs")
	})
}

// A replaced address: a goodbye for the old one at once, the new set
// probed and announced with the cache-flush bit. A cache on the link ends
// with the new address and not the old.
func TestAddressReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		hostEvents(f.r)
		t0 := time.Now()
		f.h.SetAddrs(2, v4New, ll1)
		synctest.Wait()
		gb := f.responses()
		require.Len(t, gb, 2, "the goodbye, at once, over both families")
		for _, p := range gb {
			require.Len(t, p.Msg.Answer, 1)
			assert.Equal(t, ss([]netip.Addr{v4Old}...), addrsOf(p.Msg.Answer, "h1.local."))
			assert.Zero(t, p.Msg.Answer[0].Header().Ttl)
			assert.Equal(t, t0, p.At)
		}
		time.Sleep(5 * time.Second)
		checkHostProbes(t, f.l, t0, 2, v4New, ll1)
		anns := f.responses(mdnstest.HasAnswer("h1.local.", dns.TypeA), func(p mdnstest.Packet) bool { return p.Msg.Answer[0].Header().Ttl > 0 })
		require.Len(t, anns, 6, "three announcements over each family")
		for _, p := range anns {
			assert.ElementsMatch(t, ss([]netip.Addr{v4New, ll1}...), addrsOf(p.Msg.Answer, "h1.local."), "the new set, without the old address")
			assertFlushAll(t, p.Msg.Answer)
		}
		assert.LessOrEqual(t, anns[0].At.Sub(t0), probeJitter+3*probeInterval, "announced within a probe run of the change")
		assert.Empty(t, hostEvents(f.r)[1:], "one event: announced")

		// What a cache on the link makes of it (RFC 6762 sections 10.1 and
		// 10.2): the goodbye, then the announcement with the cache-flush bit.
		cache := map[string]bool{v4Old.String(): true, ll1.String(): true}
		for i, p := range f.l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Since(t0)) {
			var fresh []string
			for _, rr := range p.Msg.Answer {
				for _, a := range addrsOf([]dns.RR{rr}, "h1.local.") {
					if rr.Header().Ttl == 0 {
						delete(cache, a)
					} else if rr.Header().Class&dnsname.CacheFlush != 0 {
						fresh = append(fresh, a)
					}
				}
			}
			if len(fresh) > 0 {
				clear(cache) // the records older than a second are flushed
				for _, a := range fresh {
					cache[a] = true
				}
			}
			if i == 0 {
				assert.Equal(t, map[string]bool{ll1.String(): true}, cache, "the old address goes at once")
			}
		}
		assert.Equal(t, map[string]bool{v4New.String(): true, ll1.String(): true}, cache)
	})
}

// An interface that comes up: every name is probed there, in shared
// packets as at start-up, then announced there; the other link hears
// nothing of it and keeps being answered.
func TestInterfaceUpProbesAndAnnouncesEveryName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		hostEvents(f.r)
		events(f.tz)
		b := mdnstest.NewLink()
		lan1 := mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}}
		t0 := time.Now()
		f.h.Attach(b, lan1)
		synctest.Wait()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		require.Len(t, f.responses(mdnstest.HasAnswer("h1.local.", dns.TypeA)), 1, "lan0 keeps answering")
		time.Sleep(5 * time.Second)

		assert.Empty(t, f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe), "no probe on the link that did not change")
		assert.Len(t, f.responses(), 1, "nor announcement")
		probes := b.Packets(mdnstest.From("h1"), mdnstest.IsProbe)
		require.Len(t, probes, 3, "three probe packets on lan1 (IPv4 only there), all names in each")
		for i, p := range probes {
			assert.Equal(t, 3, p.IfIndex)
			var qs []string
			for _, q := range p.Msg.Question {
				qs = append(qs, dnsname.Canonical(q.Name))
			}
			assert.ElementsMatch(t, []string{dnsname.Canonical("h1.local."), dnsname.Canonical(tzInst), dnsname.Canonical(httpInst)}, qs, "probe %d", i)
			assert.Equal(t, ss([]netip.Addr{lan1.Addrs[0]}...), addrsOf(p.Msg.Ns, "h1.local."), "lan1's address only")
		}
		assert.LessOrEqual(t, probes[0].At.Sub(t0), probeJitter)
		anns := b.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
		require.Len(t, anns, 3)
		m := anns[0].Msg
		assert.Equal(t, probeInterval, anns[0].At.Sub(probes[2].At))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, httpInst, dns.TypeSRV))
		assert.Equal(t, ss([]netip.Addr{lan1.Addrs[0]}...), addrsOf(m.Answer, "h1.local."), "answers on each link carry only that link's addresses")
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeNSEC), "no AAAA on lan1: the host NSEC says so")

		evs := hostEvents(f.r)
		require.Len(t, evs, 1)
		assert.Equal(t, EventAnnounced, evs[0].Kind)
		assert.Contains(t, evs[0].Reason, "on lan1")
		assert.Equal(t, []EventKind{EventAnnounced}, kinds(events(f.tz)))

		// Each link is answered with its own addresses.
		peerB := b.NewHost("peerB", 2)
		peerB.SetAddrs(2, netip.MustParseAddr("169.254.7.2"))
		f.settle()
		for _, c := range []struct {
			l    *mdnstest.Link
			from *mdnstest.Host
			want []netip.Addr
		}{{f.l, f.peer, []netip.Addr{v4Old}}, {b, peerB, lan1.Addrs}} {
			c.l.Reset()
			c.from.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
			synctest.Wait()
			resp := c.l.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
			require.Len(t, resp, 1)
			assert.Equal(t, ss(c.want...), addrsOf(resp[0].Msg.Answer, "h1.local."))
		}
	})
}

// An address added on one link is probed and announced there only, and
// never given out on the other link.
func TestAddressAddedOnOneLinkOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := mdnstest.NewLink(), mdnstest.NewLink()
		h := a.NewHost("h1", 1)
		h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}})
		peerA, peerB := a.NewHost("peerA", 2), b.NewHost("peerB", 3)
		peerB.SetAddrs(2, netip.MustParseAddr("169.254.7.3"))
		startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})
		time.Sleep(5 * time.Second)
		a.Reset()
		b.Reset()
		added := netip.MustParseAddr("169.254.7.9")
		h.SetAddrs(3, netip.MustParseAddr("169.254.7.1"), added)
		time.Sleep(5 * time.Second)
		assert.Empty(t, a.Packets(mdnstest.From("h1")), "nothing on the other link")
		require.NotEmpty(t, b.Packets(mdnstest.From("h1"), mdnstest.IsProbe))
		require.NotEmpty(t, b.Packets(mdnstest.From("h1"), mdnstest.IsResponse))
		for _, c := range []struct {
			l    *mdnstest.Link
			from *mdnstest.Host
			want []netip.Addr
		}{{a, peerA, []netip.Addr{v4Old, ll1}}, {b, peerB, []netip.Addr{netip.MustParseAddr("169.254.7.1"), added}}} {
			c.l.Reset()
			c.from.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeANY)))
			synctest.Wait()
			resp := c.l.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
			require.Len(t, resp, 1)
			assert.ElementsMatch(t, ss(c.want...), addrsOf(resp[0].Msg.Answer, "h1.local."))
		}
	})
}

// lingering is a transport over an mdnstest host that reports an
// interface gone (down, or no longer usable) while it can still send out
// of it, as a transport may for a moment: the responder's goodbyes there
// go out.
type lingering struct {
	*mdnstest.Host
	chg    chan mdns.InterfaceChange
	mu     sync.Mutex
	hidden map[int]bool
}

func newLingering(h *mdnstest.Host) *lingering {
	return &lingering{Host: h, chg: make(chan mdns.InterfaceChange, 16), hidden: map[int]bool{}}
}

func (l *lingering) Interfaces() []mdns.Interface {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.DeleteFunc(l.Host.Interfaces(), func(ifc mdns.Interface) bool { return l.hidden[ifc.Index] })
}

func (l *lingering) Interface(i int) (mdns.Interface, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hidden[i] {
		return mdns.Interface{}, false
	}
	return l.Host.Interface(i)
}

// remove reports interface i removed, still able to send.
func (l *lingering) remove(i int) {
	ifc, ok := l.Host.Interface(i)
	if !ok {
		panic("no such interface")
	}
	l.mu.Lock()
	l.hidden[i] = true
	l.mu.Unlock()
	l.chg <- mdns.InterfaceChange{Removed: []mdns.Interface{ifc}}
}

// add reports interface i added again.
func (l *lingering) add(i int) {
	ifc, _ := l.Host.Interface(i)
	l.mu.Lock()
	delete(l.hidden, i)
	l.mu.Unlock()
	l.chg <- mdns.InterfaceChange{Added: []mdns.Interface{ifc}}
}

// startLingering starts a responder over l publishing tzService, and
// waits until its announcements are over.
func startLingering(t *testing.T, l *lingering, fams ...sd.Family) *Responder {
	t.Helper()
	logs := &logRecorder{}
	r, err := start(context.Background(), Options{HostName: "h1", Families: fams, Logger: slog.New(logs)}, l, l.chg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, r.Close())
		require.Empty(t, logs.errors())
	})
	_, err = r.Add(context.Background(), tzService(t, "Office TZ"))
	require.NoError(t, err)
	time.Sleep(5 * time.Second)
	return r
}

// An interface that goes while the transport can still send: goodbyes for
// everything announced there, then it is forgotten; when it comes back,
// every name is probed and announced there afresh.
func TestInterfaceDownGoodbyesThenForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := mdnstest.NewLink(), mdnstest.NewLink()
		h := a.NewHost("h1", 1)
		lan1 := mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}}
		h.Attach(b, lan1)
		tr := newLingering(h)
		r := startLingering(t, tr, sd.IPv4)
		a.Reset()
		b.Reset()

		tr.remove(3)
		synctest.Wait()
		assert.Equal(t, []string{"lan0"}, r.Interfaces())
		gb := b.Packets(mdnstest.From("h1"))
		require.Len(t, gb, 1, "one goodbye packet on lan1")
		m := gb[0].Msg
		assert.Equal(t, 3, gb[0].IfIndex)
		for _, rr := range m.Answer {
			assert.Zero(t, rr.Header().Ttl, "%v", rr)
		}
		assert.Equal(t, ss([]netip.Addr{lan1.Addrs[0]}...), addrsOf(m.Answer, "h1.local."), "lan1's address")
		assert.NotNil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "_timezone._tcp.local.", dns.TypePTR))
		assert.Empty(t, a.Packets(mdnstest.From("h1")), "nothing on the link that stays")

		// Forgotten: a query arriving there (the transport would drop it)
		// is not answered, and nothing is announced there any more.
		b.Reset()
		peerB := b.NewHost("peerB", 3)
		peerB.SetAddrs(2, netip.MustParseAddr("169.254.7.3"))
		peerB.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		time.Sleep(5 * time.Second)
		assert.Empty(t, b.Packets(mdnstest.From("h1")))

		// Back: probed and announced there at once, all names in one run.
		tr.add(3)
		time.Sleep(5 * time.Second)
		probes := b.Packets(mdnstest.From("h1"), mdnstest.IsProbe)
		require.Len(t, probes, 3)
		assert.Len(t, probes[0].Msg.Question, 2, "the host name and the service together")
		anns := b.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer(tzInst, dns.TypeSRV))
		require.Len(t, anns, 3, "announced afresh: what was multicast before the goodbye is forgotten")
		assert.Empty(t, a.Packets(mdnstest.From("h1"), mdnstest.IsProbe))
	})
}

// An interface that is gone when the transport reports it (a link down
// refuses to send): the goodbyes fail quietly, and it is forgotten.
func TestInterfaceDetachedIsForgotten(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		b := mdnstest.NewLink()
		f.h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}})
		time.Sleep(5 * time.Second)
		f.settle()
		f.h.Detach(3)
		time.Sleep(5 * time.Second)
		assert.Equal(t, []string{"lan0"}, f.r.Interfaces())
		assert.Empty(t, f.l.Packets(mdnstest.From("h1")), "nothing on the other link")
		assert.Empty(t, b.Packets(mdnstest.From("h1"), mdnstest.Since(time.Now().Add(-5*time.Second))))
		assertNoConflict(t, hostEvents(f.r), "host")
		// The responder goes on: the link left is answered.
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		synctest.Wait()
		assert.Len(t, f.responses(), 1)
	})
}

// Two NICs of one host on one link, the second gone while the transport
// can still send: only its own addresses are withdrawn; the services,
// still published through the first NIC, are not.
func TestSecondNICGoneWithdrawsItsAddressesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		second := mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.21")}}
		h.Attach(l, second)
		tr := newLingering(h)
		startLingering(t, tr, sd.IPv4)
		l.Reset()
		tr.remove(3)
		synctest.Wait()
		gb := l.Packets(mdnstest.From("h1"))
		require.Len(t, gb, 1)
		assert.Equal(t, 3, gb[0].IfIndex)
		require.Len(t, gb[0].Msg.Answer, 1, "%v", gb[0].Msg)
		assert.Equal(t, ss([]netip.Addr{second.Addrs[0]}...), addrsOf(gb[0].Msg.Answer, "h1.local."))
		assert.Zero(t, gb[0].Msg.Answer[0].Header().Ttl)
	})
}

// echo sends again, from peer, every response h1 sent on l before t: a
// peer repeating our old announcements (a reflector, or a proxy that
// cached them).
func echo(t *testing.T, l *mdnstest.Link, peer *mdnstest.Host, before time.Time) int {
	t.Helper()
	n := 0
	for _, p := range l.Packets(mdnstest.From("h1"), mdnstest.IsResponse) {
		if !p.At.Before(before) || p.Msg.Answer[0].Header().Ttl == 0 {
			continue
		}
		m := p.Msg.Copy()
		peer.Send(t, m)
		n++
	}
	return n
}

// A link that flaps (down, up a second later, as on suspend and resume)
// never renames our names: our own records, looped back, or repeated by a
// peer that holds them, are no conflict (RFC 6762 section 9); the names
// are probed and announced again on the link. A genuine conflict still is
// one.
func TestLinkFlapNoRename(t *testing.T) {
	for _, tc := range []struct {
		name string
		back []netip.Addr // lan0's addresses when it comes back
	}{
		{"same addresses", []netip.Addr{v4Old, ll1}},
		// Linux drops IPv6 addresses on link down (keep_addr_on_down 0): a
		// static link-local address does not come back.
		{"IPv6 address lost", []netip.Addr{v4Old}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, Options{})
				f.l.Reset()
				// Our announcements, as the peer heard them: the fixture's
				// are gone with Reset, so ask for everything once.
				f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeANY), mdnstest.QM(tzInst, dns.TypeANY), mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
				time.Sleep(time.Second)
				before := time.Now()
				hostEvents(f.r)
				events(f.tz)
				events(f.http)
				lan0, _ := f.h.Interface(2)

				f.h.Detach(2)
				synctest.Wait()
				require.Positive(t, echo(t, f.l, f.peer, before), "echoed while we are away")
				time.Sleep(time.Second)
				lan0.Addrs = tc.back
				f.h.Attach(f.l, lan0)
				// The peer echoes our old records while we probe again,
				// and after.
				for range 3 {
					time.Sleep(300 * time.Millisecond)
					echo(t, f.l, f.peer, before)
				}
				time.Sleep(5 * time.Second)
				echo(t, f.l, f.peer, before)
				time.Sleep(2 * time.Second)

				assert.Equal(t, "h1.local.", f.r.HostName())
				assert.Equal(t, tzInst, f.tz.Name())
				assert.Equal(t, httpInst, f.http.Name())
				assertNoConflict(t, hostEvents(f.r), "host")
				assertNoConflict(t, events(f.tz), "Office TZ")
				assertNoConflict(t, events(f.http), "Printer")
				// Probed and announced again on the link.
				since := f.l.Packets(mdnstest.Since(before.Add(time.Second)))
				require.NotEmpty(t, since)
				probes := f.l.Packets(mdnstest.From("h1"), isProbeFor("h1.local."), mdnstest.Family(sd.IPv4), mdnstest.Since(before))
				require.Len(t, probes, 3, "one probe run, not restarted by the echoes")
				for _, p := range probes {
					assert.Len(t, p.Msg.Question, 3, "all names together")
				}
				anns := f.l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer(tzInst, dns.TypeSRV), mdnstest.Since(probes[2].At))
				require.NotEmpty(t, anns)
				assert.ElementsMatch(t, ss(tc.back...), addrsOf(append(anns[0].Msg.Answer, anns[0].Msg.Extra...), "h1.local."))

				// A genuine conflict is still one: another host claims our
				// host name with an address never ours, and defends it.
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f.peer.Drain()
				f.peer.Send(t, mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.99", 120)))
				go func() {
					for {
						p, err := f.peer.ReadPacket(ctx)
						if err != nil {
							return
						}
						if !p.Msg.Response && slices.ContainsFunc(p.Msg.Question, func(q dns.Question) bool { return dnsname.Equal(q.Name, "h1.local.") }) {
							_ = f.peer.SendMulticast(ctx, mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.99", 120)), 0, sd.IPv4)
						}
					}
				}()
				time.Sleep(5 * time.Second)
				assert.Equal(t, "h1-2.local.", f.r.HostName())
				assert.Equal(t, []EventKind{EventConflict, EventRenamed, EventAnnounced}, kinds(hostEvents(f.r)))
			})
		})
	}
}

// Our old address record, repeated with the cache-flush bit after it was
// replaced, is no conflict; our current set is multicast again at once, so
// that caches that flushed it have it back.
func TestStaleEchoOfOldAddressReasserted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		hostEvents(f.r)
		f.h.SetAddrs(2, v4New, ll1)
		time.Sleep(5 * time.Second)
		f.settle()
		f.peer.Send(t, mdnstest.Response(mdnstest.A("h1.local.", v4Old.String(), 120)))
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 1, "our current set, multicast on that link")
		assert.ElementsMatch(t, ss([]netip.Addr{v4New, ll1}...), addrsOf(resp[0].Msg.Answer, "h1.local."))
		assertFlushAll(t, resp[0].Msg.Answer)
		time.Sleep(5 * time.Second)
		assert.Equal(t, "h1.local.", f.r.HostName())
		evs := hostEvents(f.r)
		assertNoConflict(t, evs, "host")
		assert.Equal(t, []EventKind{EventAnnounced}, kinds(evs), "the announcement after the change only")
		assert.Empty(t, f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe), "not reset to probing")

		// After the record's TTL it is no longer ours: a conflict.
		time.Sleep(121 * time.Second)
		f.peer.Send(t, mdnstest.Response(mdnstest.A("h1.local.", v4Old.String(), 120)))
		synctest.Wait()
		assert.Equal(t, []EventKind{EventConflict}, kinds(hostEvents(f.r)))
		time.Sleep(5 * time.Second)
	})
}

// Two NICs of one host on one link: each announces its own addresses, hears
// the other's probes and announcements, and takes them for what they are:
// ours. No conflict, no rename, no defence against ourselves; the same
// when a third NIC joins the link later.
func TestTwoNICsOnOneLinkNoSelfConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		lan1 := mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.21"), netip.MustParseAddr("fe80::21")}}
		h.Attach(l, lan1)
		peer := l.NewHost("peer", 2)
		r := startOn(t, h, Options{HostName: "h1"})
		hd, err := r.Add(context.Background(), tzService(t, "Office TZ"))
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		assert.Equal(t, "h1.local.", r.HostName())
		assert.Equal(t, tzInst, hd.Name())
		assertNoConflict(t, hostEvents(r), "host")
		assertNoConflict(t, events(hd), "Office TZ")
		for _, c := range []struct {
			idx  int
			want []netip.Addr
		}{{2, []netip.Addr{v4Old, ll1}}, {3, lan1.Addrs}} {
			anns := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, onIf(c.idx), mdnstest.HasAnswer(tzInst, dns.TypeSRV))
			require.NotEmpty(t, anns)
			for _, p := range anns {
				assert.ElementsMatch(t, ss(c.want...), addrsOf(append(p.Msg.Answer, p.Msg.Extra...), "h1.local."), "each NIC announces its own addresses")
			}
		}
		assert.Empty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, func(p mdnstest.Packet) bool { return !p.Multicast() }), "no unicast defence against our own QU probes")

		// A query is answered through both NICs, each with its addresses.
		l.Reset()
		peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		resp := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
		require.Len(t, resp, 2)
		got := map[int][]string{}
		for _, p := range resp {
			got[p.IfIndex] = addrsOf(p.Msg.Answer, "h1.local.")
		}
		assert.Equal(t, map[int][]string{2: ss(v4Old), 3: ss(lan1.Addrs[0])}, got)

		// A third NIC joins the link: probed and announced there, heard by
		// the other two: nothing answered in defence, no conflict.
		time.Sleep(2 * time.Second)
		l.Reset()
		h.Attach(l, mdns.Interface{Index: 4, Name: "lan2", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.31"), netip.MustParseAddr("fe80::31")}})
		time.Sleep(5 * time.Second)
		require.Len(t, l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, onIf(4)), 6, "three probes over each family on lan2")
		assert.Empty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, func(p mdnstest.Packet) bool { return p.IfIndex != 4 }))
		assert.Empty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, func(p mdnstest.Packet) bool { return p.IfIndex != 4 }), "no defence against our own probes")
		assert.NotEmpty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, onIf(4), mdnstest.HasAnswer(tzInst, dns.TypeSRV)))
		assert.Equal(t, "h1.local.", r.HostName())
		assert.Equal(t, tzInst, hd.Name())
		assertNoConflict(t, hostEvents(r), "host")
		assertNoConflict(t, events(hd), "Office TZ")
	})
}

// An interface that comes up while the names are still being claimed at
// start-up: the probe run starts again, so that the new link too gets three
// probes before anything is announced there.
func TestInterfaceUpDuringStartupProbing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := mdnstest.NewLink(), mdnstest.NewLink()
		h := a.NewHost("h1", 1)
		chg := h.Changes()
		go func() {
			time.Sleep(400 * time.Millisecond) // after the first probe
			h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}})
		}()
		logs := &logRecorder{}
		r, err := start(context.Background(), Options{HostName: "h1", Families: []sd.Family{sd.IPv4}, Logger: slog.New(logs)}, h, chg)
		require.NoError(t, err)
		defer r.Close()
		time.Sleep(5 * time.Second)
		probes := b.Packets(mdnstest.From("h1"), mdnstest.IsProbe)
		require.Len(t, probes, 3)
		anns := b.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
		require.NotEmpty(t, anns)
		assert.True(t, anns[0].At.After(probes[2].At))
		assert.Empty(t, logs.errors())
	})
}

// A host renamed after a genuine conflict: the SRV records that pointed at
// the old name, repeated by a peer that holds them, are our own former
// data, and do not rename the services in turn (the cascade of renames a
// stale cache would otherwise cause).
func TestHostRenameDoesNotCascadeToServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		oldSRV := mdnstest.SRV(tzInst, "h1.local.", 8080, 120)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.peer.Send(t, mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.12", 120)))
		f.peer.Drain()
		go func() {
			for {
				p, err := f.peer.ReadPacket(ctx)
				if err != nil {
					return
				}
				if !p.Msg.Response && len(p.Msg.Question) > 0 && dnsname.Equal(p.Msg.Question[0].Name, "h1.local.") {
					_ = f.peer.SendMulticast(ctx, mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.12", 120)), 0, sd.IPv4)
				}
			}
		}()
		time.Sleep(6 * time.Second)
		require.Equal(t, "h1-2.local.", f.r.HostName())
		events(f.tz)
		for range 3 {
			f.peer.Send(t, mdnstest.Response(oldSRV))
			time.Sleep(500 * time.Millisecond)
		}
		time.Sleep(5 * time.Second)
		assert.Equal(t, tzInst, f.tz.Name())
		assertNoConflict(t, events(f.tz), "Office TZ")
	})
}
