package announce

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
	"github.com/lansd/lansd/txt"
)

const (
	tzInst   = "Office TZ._timezone._tcp.local."
	httpInst = "Printer._http._tcp.local."
)

// fixture is a responder "h1" publishing two services, fully announced,
// and a peer on the same link.
type fixture struct {
	l        *mdnstest.Link
	h, peer  *mdnstest.Host
	r        *Responder
	tz, http *Handle
}

// newFixture must run in a synctest bubble. edit may change the host
// before the responder starts.
func newFixture(t *testing.T, opts Options, edit ...func(*mdnstest.Host)) *fixture {
	t.Helper()
	l := mdnstest.NewLink()
	f := &fixture{l: l, h: l.NewHost("h1", 1), peer: l.NewHost("peer", 2)}
	for _, e := range edit {
		e(f.h)
	}
	if opts.HostName == "" {
		opts.HostName = "h1"
	}
	f.r = startOn(t, f.h, opts)
	var err error
	f.tz, err = f.r.Add(context.Background(), tzService(t, "Office TZ"))
	require.NoError(t, err)
	f.http, err = f.r.Add(context.Background(), Service{Instance: "Printer", Type: "_http._tcp", Subtypes: []string{"_printer"}, Port: 80})
	require.NoError(t, err)
	time.Sleep(5 * time.Second) // every announcement sent
	f.settle()
	return f
}

// settle forgets what was sent and received so far.
func (f *fixture) settle() {
	f.l.Reset()
	f.peer.Drain()
}

// responses returns the responses h1 sent since the last settle.
func (f *fixture) responses(filters ...func(mdnstest.Packet) bool) []mdnstest.Packet {
	return f.l.Packets(append([]func(mdnstest.Packet) bool{mdnstest.From("h1"), mdnstest.IsResponse}, filters...)...)
}

func multicastOnly(p mdnstest.Packet) bool { return p.Multicast() }
func unicastOnly(p mdnstest.Packet) bool   { return !p.Multicast() }

func TestAnswerSharedPTRDelayedWithAdditionals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		t0 := time.Now()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
		synctest.Wait()
		assert.Empty(t, f.responses(), "a shared answer is not sent at once")
		time.Sleep(time.Second)
		resp := f.responses(multicastOnly, mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		d := resp[0].At.Sub(t0)
		assert.True(t, d >= 20*time.Millisecond && d <= 120*time.Millisecond, "delay 20-120 ms (RFC 6762 section 6), got %v", d)
		m := resp[0].Msg
		assert.True(t, m.Response && m.Authoritative)
		assert.Zero(t, m.Id)
		assert.Empty(t, m.Question)
		require.Len(t, m.Answer, 1)
		ptr := m.Answer[0].(*dns.PTR)
		assertName(t, tzInst, ptr.Ptr)
		assert.Equal(t, uint16(dns.ClassINET), ptr.Hdr.Class)
		// RFC 6763 section 12.1: SRV, TXT and the target's addresses.
		assert.NotNil(t, mdnstest.FindRR(m.Extra, tzInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, tzInst, dns.TypeTXT))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeA))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeAAAA))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, tzInst, dns.TypeNSEC))
		for _, rr := range m.Extra {
			assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), rr.Header().Class, "additional %v is unique", rr)
		}
		assert.Empty(t, mdnstest.FindAll(m.Extra, httpInst, dns.TypeSRV), "nothing unrelated")
	})
}

func TestAnswersAggregated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
		time.Sleep(10 * time.Millisecond)
		other := f.l.NewHost("other", 3)
		other.Send(t, mdnstest.Query(mdnstest.QM("_http._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1, "both answers in one response (RFC 6762 section 6.4)")
		m := resp[0].Msg
		assert.Len(t, m.Answer, 2)
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "_timezone._tcp.local.", dns.TypePTR))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "_http._tcp.local.", dns.TypePTR))
		assert.Len(t, mdnstest.FindAll(m.Extra, "h1.local.", dns.TypeA), 1, "additional records not repeated")
	})
}

func TestAnswerUniqueImmediately(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		t0 := time.Now()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		synctest.Wait()
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1, "unique answers go out without delay")
		assert.Equal(t, t0, resp[0].At)
		m := resp[0].Msg
		require.Len(t, m.Answer, 1)
		srv := m.Answer[0].(*dns.SRV)
		assert.Equal(t, uint16(8080), srv.Port)
		assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), srv.Hdr.Class)
		// RFC 6763 section 12.2: the target's addresses.
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeA))
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeAAAA))
		assert.Nil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeNSEC), "no NSEC: both address types exist")
		assert.Nil(t, mdnstest.FindRR(m.Extra, tzInst, dns.TypeTXT), "SRV answers carry no TXT")
	})
}

func TestAnswerNSECForMissingTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v4only := func(h *mdnstest.Host) { h.SetAddrs(2, h.Addr4()) }
		f := newFixture(t, Options{Families: []sd.Family{sd.IPv4}}, v4only)

		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeAAAA)))
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 1)
		m := resp[0].Msg
		require.Len(t, m.Answer, 1, "no AAAA: an NSEC answer (RFC 6762 section 6.1)")
		nsec := m.Answer[0].(*dns.NSEC)
		assertName(t, "h1.local.", nsec.Hdr.Name)
		assertName(t, "h1.local.", nsec.NextDomain)
		assert.Equal(t, []uint16{dns.TypeA}, nsec.TypeBitMap)
		assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), nsec.Hdr.Class)
		assert.Equal(t, uint32(120), nsec.Hdr.Ttl)

		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeA)))
		synctest.Wait()
		resp = f.responses()
		require.Len(t, resp, 1)
		nsec = resp[0].Msg.Answer[0].(*dns.NSEC)
		assert.Equal(t, []uint16{dns.TypeTXT, dns.TypeSRV}, nsec.TypeBitMap)

		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		synctest.Wait()
		resp = f.responses()
		require.Len(t, resp, 1)
		hostNSEC := mdnstest.FindRR(resp[0].Msg.Extra, "h1.local.", dns.TypeNSEC)
		require.NotNil(t, hostNSEC, "the additional A comes with an NSEC denying AAAA")
		assert.Equal(t, []uint16{dns.TypeA}, hostNSEC.(*dns.NSEC).TypeBitMap)

		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("nobody.local.", dns.TypeA), mdnstest.QM("_other._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		assert.Empty(t, f.responses(), "names that are not ours get no answer, not even NSEC")
	})
}

func TestAnswerANY(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeANY)))
		synctest.Wait()
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		m := resp[0].Msg
		assert.Len(t, m.Answer, 2)
		assert.NotNil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeTXT))
		assert.Nil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeNSEC), "ANY is never answered with NSEC")

		f.settle()
		f.peer.Send(t, mdnstest.Query(dns.Question{Name: "H1.LOCAL.", Qtype: dns.TypeANY, Qclass: dns.ClassANY}))
		synctest.Wait()
		resp = f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1, "names match case-insensitively, class ANY matches")
		assert.Len(t, resp[0].Msg.Answer, 2)
		assert.NotNil(t, mdnstest.FindRR(resp[0].Msg.Answer, "h1.local.", dns.TypeA))
		assert.NotNil(t, mdnstest.FindRR(resp[0].Msg.Answer, "h1.local.", dns.TypeAAAA))

		f.settle()
		f.peer.Send(t, mdnstest.Query(dns.Question{Name: "h1.local.", Qtype: dns.TypeA, Qclass: dns.ClassCHAOS}))
		time.Sleep(time.Second)
		assert.Empty(t, f.responses(), "class CH is not ours")
	})
}

func TestServiceEnumerationAndSubtypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		_, err := f.r.Add(context.Background(), tzService(t, "Lab TZ"))
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()

		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_services._dns-sd._udp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		ptrs := mdnstest.FindAll(resp[0].Msg.Answer, "_services._dns-sd._udp.local.", dns.TypePTR)
		var types []string
		for _, rr := range ptrs {
			types = append(types, rr.(*dns.PTR).Ptr)
		}
		assert.ElementsMatch(t, []string{"_timezone._tcp.local.", "_http._tcp.local."}, types, "one PTR per type (RFC 6763 section 9)")
		assert.Empty(t, resp[0].Msg.Extra, "enumeration answers have no additional records")

		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_printer._sub._http._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		resp = f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		require.Len(t, resp[0].Msg.Answer, 1)
		assertName(t, httpInst, resp[0].Msg.Answer[0].(*dns.PTR).Ptr)
		assert.NotNil(t, mdnstest.FindRR(resp[0].Msg.Extra, httpInst, dns.TypeSRV))

		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		resp = f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		assert.Len(t, resp[0].Msg.Answer, 2, "both instances of the type")
	})
}

func TestKnownAnswerSuppression(t *testing.T) {
	for _, tc := range []struct {
		ttl      uint32
		answered bool
	}{
		{4500, false},
		{2250, false}, // exactly half of 4500: still suppressed
		{2249, true},
	} {
		t.Run(fmt.Sprint(tc.ttl), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, Options{})
				m := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
				m.Answer = []dns.RR{mdnstest.PTR("_timezone._tcp.local.", "office\\ tz._timezone._tcp.local.", tc.ttl)}
				f.peer.Send(t, m)
				time.Sleep(time.Second)
				resp := f.responses()
				if tc.answered {
					assert.NotEmpty(t, resp, "a known answer with less than half our TTL is answered again")
				} else {
					assert.Empty(t, resp, "RFC 6762 section 7.1: known answer suppressed")
				}
			})
		})
	}
}

func TestTruncatedQueryWaitsForKnownAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		_, err := f.r.Add(context.Background(), tzService(t, "Lab TZ"))
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()

		t0 := time.Now()
		first := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		first.Truncated = true
		f.peer.Send(t, first)
		time.Sleep(100 * time.Millisecond)
		second := mdnstest.Query()
		second.Answer = []dns.RR{mdnstest.PTR("_timezone._tcp.local.", "Office\\ TZ._timezone._tcp.local.", 4500)}
		f.peer.Send(t, second)
		time.Sleep(2 * time.Second)
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		assert.GreaterOrEqual(t, resp[0].At.Sub(t0), 400*time.Millisecond, "waited 400-500 ms for the known answers (RFC 6762 section 7.2)")
		require.Len(t, resp[0].Msg.Answer, 1, "the known answer from the second packet is suppressed")
		assertName(t, "Lab TZ._timezone._tcp.local.", resp[0].Msg.Answer[0].(*dns.PTR).Ptr)
	})
}

func TestQUAnsweredByUnicastWhenRecentlyMulticast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		f.peer.Send(t, mdnstest.Query(mdnstest.QU(tzInst, dns.TypeSRV)))
		synctest.Wait()
		assert.Empty(t, f.responses(multicastOnly))
		uc := f.responses(unicastOnly)
		require.Len(t, uc, 1, "RFC 6762 section 5.4: unicast to the querier")
		assert.Equal(t, netip.AddrPortFrom(f.peer.Addr4(), 5353), uc[0].Dst)
		assert.NotNil(t, mdnstest.FindRR(uc[0].Msg.Answer, tzInst, dns.TypeSRV))
		var got []*mdns.Packet
		for _, p := range f.peer.Drain() {
			if p.Msg.Response {
				got = append(got, p)
			}
		}
		require.Len(t, got, 1)
		assert.False(t, got[0].Multicast())
	})
}

func TestQUAnsweredByMulticastWhenStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A short TTL: a quarter of 8 s is 2 s, and the last announcement
		// was 2 s before the fixture returns.
		f := newFixture(t, Options{TTL: TTLs{Host: 8 * time.Second, Other: 8 * time.Second}})
		time.Sleep(time.Second)
		f.peer.Send(t, mdnstest.Query(mdnstest.QU(tzInst, dns.TypeSRV)))
		synctest.Wait()
		assert.Empty(t, f.responses(unicastOnly))
		mc := f.responses(multicastOnly, mdnstest.Family(mdns.IPv4))
		require.Len(t, mc, 1, "RFC 6762 section 5.4: not multicast within a quarter TTL, so multicast")
		assert.Equal(t, uint32(8), mc[0].Msg.Answer[0].Header().Ttl, "TTL option applied")
	})
}

func TestLegacyUnicastResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		legacy := f.l.NewHost("legacy", 3)
		legacy.SetSourcePort(40000)
		m := mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA))
		m.Id = 0x1234
		m.RecursionDesired = true
		legacy.Send(t, m)
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 1)
		p := resp[0]
		assert.False(t, p.Multicast())
		assert.Equal(t, netip.AddrPortFrom(legacy.Addr4(), 40000), p.Dst, "to the querier's address and port")
		r := p.Msg
		assert.Equal(t, uint16(0x1234), r.Id, "same ID")
		assert.True(t, r.Authoritative)
		assert.True(t, r.RecursionDesired)
		assert.Equal(t, m.Question, r.Question, "question repeated")
		require.Len(t, r.Answer, 1)
		assert.Equal(t, "198.51.100.11", r.Answer[0].(*dns.A).A.String())
		for _, rr := range append(r.Answer, r.Extra...) {
			assert.LessOrEqual(t, rr.Header().Ttl, uint32(10), "TTL at most 10 s (RFC 6762 section 6.7)")
			assert.Equal(t, uint16(dns.ClassINET), rr.Header().Class, "no cache-flush bit")
		}

		f.settle()
		m = mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		m.Id = 7
		legacy.Send(t, m)
		synctest.Wait()
		resp = f.responses()
		require.Len(t, resp, 1, "legacy queries are answered at once, even for shared records")
		assert.Equal(t, uint16(7), resp[0].Msg.Id)
		assert.NotNil(t, mdnstest.FindRR(resp[0].Msg.Extra, tzInst, dns.TypeSRV))
		for _, rr := range append(resp[0].Msg.Answer, resp[0].Msg.Extra...) {
			assert.LessOrEqual(t, rr.Header().Ttl, uint32(10))
			assert.Equal(t, uint16(dns.ClassINET), rr.Header().Class)
		}
	})
}

func TestMulticastRateLimitAndProbeDefence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		require.Len(t, f.responses(mdnstest.Family(mdns.IPv4)), 1)
		time.Sleep(500 * time.Millisecond)
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		assert.Len(t, f.responses(mdnstest.Family(mdns.IPv4)), 1, "not multicast again within a second (RFC 6762 section 6.2)")

		// A probe for our name with other data is defended at once, the
		// rate limit being 250 ms for that.
		time.Sleep(300 * time.Millisecond)
		f.peer.Send(t, probeFor("h1.local.", dns.ClassINET, mdnstest.A("h1.local.", "198.51.100.99", 120)))
		synctest.Wait()
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 2, "probe defended")
		a := mdnstest.FindRR(resp[1].Msg.Answer, "h1.local.", dns.TypeA)
		require.NotNil(t, a)
		assert.Equal(t, "198.51.100.11", a.(*dns.A).A.String())
		assert.True(t, resp[1].Multicast())

		time.Sleep(1100 * time.Millisecond)
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		synctest.Wait()
		assert.Len(t, f.responses(mdnstest.Family(mdns.IPv4)), 3, "answered again once a second has passed")
	})
}

func TestQUProbeGetsUnicastDefence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		f.peer.Send(t, probeFor(tzInst, dns.ClassINET|dnsname.QU,
			&dns.SRV{Hdr: dns.RR_Header{Name: tzInst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 1, Target: "peer.local."}))
		synctest.Wait()
		uc := f.responses(unicastOnly)
		require.Len(t, uc, 1, "RFC 6762 section 5.4: a probe's QU question always gets the unicast response")
		assert.NotNil(t, mdnstest.FindRR(uc[0].Msg.Answer, tzInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(uc[0].Msg.Answer, tzInst, dns.TypeTXT))
		renamed, _ := f.tz.Renamed()
		assert.False(t, renamed, "a probe from another host does not move us")
	})
}

func TestAddressesPerInterface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := mdnstest.NewLink(), mdnstest.NewLink()
		h := a.NewHost("h1", 1)
		h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.7.1")}})
		peerB := b.NewHost("peer", 2)
		peerB.SetAddrs(2, netip.MustParseAddr("169.254.7.2"))
		startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})

		for _, p := range b.Packets(mdnstest.From("h1"), mdnstest.IsProbe) {
			require.Len(t, p.Msg.Ns, 1, "probes on lan1 propose lan1's address only")
			assert.Equal(t, "169.254.7.1", p.Msg.Ns[0].(*dns.A).A.String())
		}
		time.Sleep(5 * time.Second)
		b.Reset()
		peerB.Send(t, mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA), mdnstest.QM("h1.local.", dns.TypeAAAA)))
		synctest.Wait()
		resp := b.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
		require.Len(t, resp, 1)
		m := resp[0].Msg
		require.Len(t, m.Answer, 2, "the A of lan1 and an NSEC for the missing AAAA")
		assert.Equal(t, "169.254.7.1", mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeA).(*dns.A).A.String())
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeNSEC))
		assert.Empty(t, a.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Since(resp[0].At)), "nothing on the other link")
	})
}

func TestDirectUnicastQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		me := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.11"), 5353)
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)), me)
		synctest.Wait()
		resp := f.responses()
		require.Len(t, resp, 1, "RFC 6762 section 5.5: a unicast query is answered by unicast")
		assert.False(t, resp[0].Multicast())
		assert.Equal(t, netip.AddrPortFrom(f.peer.Addr4(), 5353), resp[0].Dst)

		f.settle()
		far := f.l.NewHost("far", 3)
		far.SetAddrs(2, netip.MustParseAddr("203.0.113.9"))
		far.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)), netip.AddrPortFrom(netip.MustParseAddr("198.51.100.11"), 5353))
		synctest.Wait()
		assert.Empty(t, f.responses(), "a unicast query from off the link is ignored (RFC 6762 section 11)")
	})
}

func TestLargeResponsesAreSplit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r := startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})
		const n = 30
		errs := make(chan error, n)
		for i := range n {
			go func() {
				rec, err := txt.ParseArgs([]string{"path=/" + strings.Repeat("p", 200), fmt.Sprintf("n=%d", i)})
				if err != nil {
					errs <- err
					return
				}
				_, err = r.Add(context.Background(), Service{Instance: fmt.Sprintf("Clock %02d", i), Type: "_timezone._tcp", Port: 8080, TXT: rec})
				errs <- err
			}()
		}
		for range n {
			require.NoError(t, <-errs)
		}
		// Names added together were probed together.
		assert.Less(t, len(l.Packets(mdnstest.From("h1"), mdnstest.IsProbe)), 3*n)
		time.Sleep(5 * time.Second)
		l.Reset()
		peer := l.NewHost("peer", 2)
		var qs []dns.Question
		for i := range n {
			qs = append(qs, mdnstest.QM(fmt.Sprintf("Clock %02d._timezone._tcp.local.", i), dns.TypeTXT))
		}
		peer.Send(t, mdnstest.Query(qs...))
		time.Sleep(time.Second)
		resp := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
		require.Greater(t, len(resp), 1, "too big for one packet")
		limit := mdns.PacketLimit(1500, mdns.IPv4)
		answers := 0
		for _, p := range resp {
			assert.LessOrEqual(t, p.Size, limit, "each part fits the MTU (RFC 6762 section 17)")
			answers += len(p.Msg.Answer)
		}
		assert.Equal(t, n, answers, "every instance answered once")
	})
}

func TestDuplicateAnswerSuppression(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{Families: []sd.Family{sd.IPv4}})
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
		synctest.Wait()
		// Before our delayed answer goes out, another responder (a proxy
		// holding our records) multicasts the same answer with a full TTL.
		other := f.l.NewHost("proxy", 3)
		other.Send(t, mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", tzInst, 4500)))
		time.Sleep(time.Second)
		assert.Empty(t, f.responses(), "RFC 6762 section 7.4: the answer was given by another host")

		// With a lower TTL than ours it does not count.
		time.Sleep(time.Second)
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
		synctest.Wait()
		other.Send(t, mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", tzInst, 100)))
		time.Sleep(time.Second)
		assert.Len(t, f.responses(), 1)
	})
}

func TestOnLink(t *testing.T) {
	ifc := mdns.Interface{Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("2001:db8::1")}}
	for addr, want := range map[string]bool{
		"198.51.100.200":      true,
		"198.51.101.1":        false,
		"203.0.113.1":         false,
		"169.254.3.4":         true,
		"fe80::9%lan0":        true,
		"2001:db8::ff":        true,
		"2001:db8:1::1":       false,
		"::ffff:198.51.100.1": true,
		"127.0.0.1":           true,
	} {
		assert.Equal(t, want, ifc.OnLink(netip.MustParseAddr(addr)), addr)
	}
}
