package announce

import (
	"context"
	"fmt"
	"net"
	"net/netip"
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

// tzService is the service most tests publish.
func tzService(t testing.TB, instance string) Service {
	t.Helper()
	rec, err := txt.ParseArgs([]string{"path=/tz"})
	require.NoError(t, err)
	return Service{Instance: instance, Type: "_timezone._tcp", Port: 8080, TXT: rec}
}

// probeQuestionName returns the first question name of a probe.
func probeQuestionName(p mdnstest.Packet) string {
	if len(p.Msg.Question) == 0 {
		return ""
	}
	return p.Msg.Question[0].Name
}

func TestHostProbeMessagesAndAnnouncements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		t0 := time.Now()
		r := startOn(t, h, Options{HostName: "h1"})
		assert.Equal(t, "h1.local.", r.HostName())

		probes := l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv4))
		require.Len(t, probes, 3, "three probes (RFC 6762 section 8.1)")
		assert.Len(t, l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv6)), 3, "also on IPv6")
		wait := probes[0].At.Sub(t0)
		assert.True(t, wait >= 0 && wait <= 250*time.Millisecond, "first probe after a 0-250 ms wait, got %v", wait)
		for i, p := range probes {
			if i > 0 {
				assert.GreaterOrEqual(t, p.At.Sub(probes[i-1].At), 250*time.Millisecond, "probes 250 ms apart")
			}
			m := p.Msg
			assert.False(t, m.Response)
			assert.Equal(t, dns.OpcodeQuery, m.Opcode)
			assert.Zero(t, m.Id)
			require.Len(t, m.Question, 1)
			wantClass := uint16(dns.ClassINET)
			if i == 0 {
				wantClass |= dnsname.QU // QU on the first probe (RFC 6762 section 8.1)
			}
			assert.Equal(t, dns.Question{Name: "h1.local.", Qtype: dns.TypeANY, Qclass: wantClass}, m.Question[0], "ANY question")
			require.Len(t, m.Ns, 2, "proposed A and AAAA in the Authority section")
			a := mdnstest.FindRR(m.Ns, "h1.local.", dns.TypeA).(*dns.A)
			assert.Equal(t, "198.51.100.11", a.A.String())
			assert.Equal(t, uint16(dns.ClassINET), a.Hdr.Class)
			assert.Equal(t, uint32(120), a.Hdr.Ttl)
			aaaa := mdnstest.FindRR(m.Ns, "h1.local.", dns.TypeAAAA).(*dns.AAAA)
			assert.Equal(t, "fe80::1", aaaa.AAAA.String())
			assert.Empty(t, m.Answer)
		}

		time.Sleep(5 * time.Second)
		anns := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Family(mdns.IPv4))
		require.Len(t, anns, 3, "three announcements")
		assert.GreaterOrEqual(t, anns[0].At.Sub(probes[2].At), 250*time.Millisecond, "announce 250 ms after the third probe")
		assert.GreaterOrEqual(t, anns[1].At.Sub(anns[0].At), time.Second, "announcements at least one second apart")
		assert.GreaterOrEqual(t, anns[2].At.Sub(anns[1].At), 2*time.Second, "interval doubles")
		for _, p := range anns {
			m := p.Msg
			assert.True(t, m.Response && m.Authoritative)
			assert.Zero(t, m.Id)
			assert.Empty(t, m.Question, "responses carry no questions")
			assert.True(t, p.Multicast())
			a := mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeA)
			require.NotNil(t, a)
			assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), a.Header().Class, "cache-flush on unique records")
			assert.Equal(t, uint32(120), a.Header().Ttl)
			require.NotNil(t, mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeAAAA))
		}
	})
}

func TestServiceProbeAndAnnouncement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r := startOn(t, h, Options{HostName: "h1"})
		l.Reset()
		s := tzService(t, "Office TZ")
		s.Subtypes = []string{"_printer"}
		hd, err := r.Add(context.Background(), s)
		require.NoError(t, err)
		const inst = "Office TZ._timezone._tcp.local."
		assert.Equal(t, inst, hd.Name())
		renamed, _ := hd.Renamed()
		assert.False(t, renamed)

		probes := l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv4))
		require.Len(t, probes, 3)
		for i, p := range probes {
			require.Len(t, p.Msg.Question, 1, "the host name is already ours: only the instance is probed")
			assertName(t, inst, p.Msg.Question[0].Name)
			assert.Equal(t, dns.TypeANY, p.Msg.Question[0].Qtype)
			assert.Equal(t, i == 0, p.Msg.Question[0].Qclass&dnsname.QU != 0, "QU on the first probe only")
			require.Len(t, p.Msg.Ns, 2)
			srv := mdnstest.FindRR(p.Msg.Ns, inst, dns.TypeSRV).(*dns.SRV)
			assert.Equal(t, uint16(8080), srv.Port)
			assert.Equal(t, "h1.local.", srv.Target)
			tx := mdnstest.FindRR(p.Msg.Ns, inst, dns.TypeTXT).(*dns.TXT)
			assert.Equal(t, []string{"path=/tz"}, tx.Txt)
		}
		anns := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Family(mdns.IPv4))
		require.Len(t, anns, 1, "Add returns after the first announcement")
		m := anns[0].Msg
		ptr := mdnstest.FindRR(m.Answer, "_timezone._tcp.local.", dns.TypePTR).(*dns.PTR)
		assertName(t, inst, ptr.Ptr)
		assert.Equal(t, uint16(dns.ClassINET), ptr.Hdr.Class, "no cache-flush on shared PTR")
		assert.Equal(t, uint32(4500), ptr.Hdr.Ttl)
		sub := mdnstest.FindRR(m.Answer, "_printer._sub._timezone._tcp.local.", dns.TypePTR)
		require.NotNil(t, sub, "subtype PTR")
		assertName(t, inst, sub.(*dns.PTR).Ptr)
		enum := mdnstest.FindRR(m.Answer, "_services._dns-sd._udp.local.", dns.TypePTR)
		require.NotNil(t, enum, "enumeration PTR")
		assert.Equal(t, "_timezone._tcp.local.", enum.(*dns.PTR).Ptr)
		srv := mdnstest.FindRR(m.Answer, inst, dns.TypeSRV)
		require.NotNil(t, srv)
		assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), srv.Header().Class)
		assert.Equal(t, uint32(120), srv.Header().Ttl)
		tx := mdnstest.FindRR(m.Answer, inst, dns.TypeTXT)
		require.NotNil(t, tx)
		assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), tx.Header().Class)
		assert.Equal(t, uint32(4500), tx.Header().Ttl)
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeA), "target address as additional record")
		assert.NotNil(t, mdnstest.FindRR(m.Extra, "h1.local.", dns.TypeAAAA))
		nsec := mdnstest.FindRR(m.Extra, inst, dns.TypeNSEC)
		require.NotNil(t, nsec)
		assert.Equal(t, []uint16{dns.TypeTXT, dns.TypeSRV}, nsec.(*dns.NSEC).TypeBitMap)

		ev := <-hd.Events()
		assert.Equal(t, EventAnnounced, ev.Kind)
		time.Sleep(5 * time.Second)
		assert.Len(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Family(mdns.IPv4), mdnstest.HasAnswer(inst, dns.TypeSRV)), 3)
	})
}

// Options.Services are probed in the host name's probe packets (RFC 6762
// section 8.1: several names in one packet), so New returns with them
// announced after one probing sequence, not two.
func TestInitialServicesShareTheHostProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		t0 := time.Now()
		r := startOn(t, h, Options{HostName: "h1", Services: []Service{
			tzService(t, "Office TZ"), tzService(t, "Home TZ"), tzService(t, "Office TZ"),
		}})
		took := time.Since(t0)
		const office, home, office2 = "Office TZ._timezone._tcp.local.", "Home TZ._timezone._tcp.local.", "Office TZ (2)._timezone._tcp.local."

		hs := r.Handles()
		require.Len(t, hs, 3)
		assertName(t, office, hs[0].Name())
		assertName(t, home, hs[1].Name())
		assertName(t, office2, hs[2].Name())
		renamed, why := hs[2].Renamed()
		assert.True(t, renamed, "a duplicate within Options.Services is renamed at once")
		assert.Contains(t, why, "already published by this responder")

		probes := l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv4))
		require.Len(t, probes, 3, "one probing sequence for all names")
		for _, p := range probes {
			var names []string
			for _, q := range p.Msg.Question {
				names = append(names, q.Name)
			}
			assert.Len(t, names, 4, "host name and three instances in one probe")
			assertName(t, "h1.local.", names[0])
			require.NotNil(t, mdnstest.FindRR(p.Msg.Ns, "h1.local.", dns.TypeA))
			require.NotNil(t, mdnstest.FindRR(p.Msg.Ns, office2, dns.TypeSRV))
		}
		// 0-250 ms wait, three probes 250 ms apart, 250 ms after the last.
		assert.LessOrEqual(t, took, time.Second, "New returns after one probing sequence")
		assert.GreaterOrEqual(t, took, 750*time.Millisecond)
		anns := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Family(mdns.IPv4))
		require.Len(t, anns, 1, "the names won together are announced together, in one packet here")
		m := anns[0].Msg
		for _, inst := range []string{office, home, office2} {
			assert.NotNil(t, mdnstest.FindRR(m.Answer, inst, dns.TypeSRV), "SRV of %s", inst)
			assert.NotNil(t, mdnstest.FindRR(m.Answer, inst, dns.TypeTXT), "TXT of %s", inst)
		}
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeA), "with the host's address")
		assert.Len(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Family(mdns.IPv4), mdnstest.HasAnswer(home, dns.TypeSRV)), 1)
	})
}

// A probe run with more names than fit in one packet is spread over
// several (RFC 6762 section 17), each name's question with all of its
// proposed records, so that every packet can be tie-broken on its own
// (section 8.2); the announcements of the names won together share packets.
func TestManyNamesProbedInPacketsThatFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		var svcs []Service
		for i := range 100 {
			svcs = append(svcs, tzService(t, fmt.Sprintf("A service with a rather long instance name %03d", i)))
		}
		startOn(t, h, Options{HostName: "h1", Services: svcs})
		limit := mdns.PacketLimit(1500, mdns.IPv4)
		probes := l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv4))
		require.Greater(t, len(probes), 3, "more than one packet per probe")
		asked := map[string]int{}
		for i, p := range probes {
			assert.LessOrEqual(t, p.Size, limit, "probe packet %d", i)
			names := map[string]bool{}
			for _, q := range p.Msg.Question {
				names[dnsname.Canonical(q.Name)] = true
				asked[dnsname.Canonical(q.Name)]++
			}
			for _, rr := range p.Msg.Ns {
				assert.True(t, names[dnsname.Canonical(rr.Header().Name)], "packet %d: %s proposed without its question", i, rr.Header().Name)
			}
			for n := range names {
				want := 2 // SRV and TXT
				if n == dnsname.Canonical("h1.local.") {
					want = 1 // A on IPv4; AAAA in the IPv6 packets
				}
				got := 0
				for _, rr := range p.Msg.Ns {
					if dnsname.Canonical(rr.Header().Name) == n && rr.Header().Rrtype != dns.TypeAAAA {
						got++
					}
				}
				assert.GreaterOrEqual(t, got, want, "packet %d: all proposed records of %s", i, n)
			}
		}
		require.Len(t, asked, 101)
		for n, c := range asked {
			assert.Equal(t, 3, c, "%s probed three times", n)
		}
		anns := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.Family(mdns.IPv4))
		assert.Less(t, len(anns), 100, "announced together, not one packet per name")
		srv := 0
		for i, p := range anns {
			assert.LessOrEqual(t, p.Size, limit, "announcement packet %d", i)
			for _, rr := range p.Msg.Answer {
				if rr.Header().Rrtype == dns.TypeSRV {
					srv++
				}
			}
		}
		assert.Equal(t, 100, srv, "every SRV in the first announcement")
	})
}

func TestNewRefusesBadServicesBeforeOpening(t *testing.T) {
	bad := tzService(t, "Office TZ")
	bad.Port = 0
	bad.Type = "_not a type"
	err := checkOptions(Options{Services: []Service{tzService(t, "Fine"), bad}})
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Contains(t, err.Error(), "Type")
	require.NoError(t, checkOptions(Options{Services: []Service{tzService(t, "Fine")}}))
	require.Error(t, checkOptions(Options{HostName: "a.b.c"}))
}

func TestTieBreakComparison(t *testing.T) {
	a := func(ip string) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 120}, A: net.ParseIP(ip).To4()}
	}
	aaaa := func(ip string) dns.RR {
		return &dns.AAAA{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 120}, AAAA: net.ParseIP(ip)}
	}
	withClass := func(rr dns.RR, c uint16) dns.RR { rr.Header().Class = c; return rr }
	withTTL := func(rr dns.RR, ttl uint32) dns.RR { rr.Header().Ttl = ttl; return rr }
	txtRR := func(s ...string) dns.RR {
		return &dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 4500}, Txt: s}
	}
	srv := func(port uint16, target string) dns.RR {
		return &dns.SRV{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: port, Target: target}
	}
	set := func(rrs ...dns.RR) []dns.RR { return rrs }
	tests := []struct {
		name         string
		ours, theirs []dns.RR
		want         int
	}{
		{"identical", set(a("169.254.99.200")), set(a("169.254.99.200")), 0},
		{"RFC 6762 8.2 example: 169.254.99.200 loses to 169.254.200.50", set(a("169.254.99.200")), set(a("169.254.200.50")), -1},
		{"and the other way round wins", set(a("169.254.200.50")), set(a("169.254.99.200")), 1},
		{"class decides first", set(withClass(a("255.255.255.255"), dns.ClassINET)), set(withClass(a("0.0.0.0"), dns.ClassCHAOS)), -1},
		{"cache-flush bit is ignored", set(withClass(a("10.0.0.1"), dns.ClassINET|dnsname.CacheFlush)), set(a("10.0.0.1")), 0},
		{"TTL is ignored", set(withTTL(a("10.0.0.1"), 1)), set(a("10.0.0.1")), 0},
		{"type decides before rdata", set(a("255.255.255.255")), set(aaaa("::")), -1},
		{"rdata as unsigned bytes", set(a("10.0.0.200")), set(a("10.0.0.7")), 1},
		{"a prefix is earlier", set(txtRR("abc")), set(txtRR("abc", "d")), -1},
		{"SRV port in rdata", set(srv(80, "h.local.")), set(srv(8080, "h.local.")), -1},
		{"sets are sorted before comparing", set(a("10.0.0.2"), a("10.0.0.1")), set(a("10.0.0.1"), a("10.0.0.2")), 0},
		{"the set that runs out first is earlier", set(a("10.0.0.1")), set(a("10.0.0.1"), a("10.0.0.2")), -1},
		{"more records but an earlier first pair", set(a("10.0.0.1"), a("10.0.0.9")), set(a("10.0.0.2")), -1},
		{"mixed types, first difference in AAAA", set(a("10.0.0.1"), aaaa("fe80::2")), set(a("10.0.0.1"), aaaa("fe80::1")), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, compareSets(tc.ours, tc.theirs))
			assert.Equal(t, -tc.want, compareSets(tc.theirs, tc.ours), "antisymmetric")
		})
	}
}

// probeFor builds a probe from a peer for name with the given records
// (proposed, so without the cache-flush bit of a response's answers).
func probeFor(name string, qclass uint16, ns ...dns.RR) *dns.Msg {
	m := mdnstest.Query(dns.Question{Name: name, Qtype: dns.TypeANY, Qclass: qclass})
	for _, rr := range ns {
		m.Ns = append(m.Ns, mdnstest.NoFlush(rr))
	}
	return m
}

func TestSimultaneousProbe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		theirIP string
		lose    bool
	}{
		{"their data is later: we lose and wait 1s", "198.51.100.200", true},
		{"their data is earlier: we win and go on", "198.51.100.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := mdnstest.NewLink()
				h := l.NewHost("h1", 1)
				peer := l.NewHost("peer", 2)
				ready := make(chan *Responder)
				go func() {
					r, err := start(context.Background(), Options{HostName: "h1", Families: []sd.Family{sd.IPv4}, Logger: discard()}, h, nil)
					if err != nil {
						panic(err)
					}
					ready <- r
				}()
				time.Sleep(300 * time.Millisecond) // after our first probe, before the third
				before := len(l.Packets(mdnstest.From("h1"), mdnstest.IsProbe))
				require.GreaterOrEqual(t, before, 1)
				require.Less(t, before, 3)
				sentAt := time.Now()
				peer.Send(t, probeFor("h1.local.", dns.ClassINET|dnsname.QU, mdnstest.A("h1.local.", tc.theirIP, 120)))
				r := <-ready
				defer r.Close()
				assert.Equal(t, "h1.local.", r.HostName(), "a tie-break is no conflict: the name is kept")
				probes := l.Packets(mdnstest.From("h1"), mdnstest.IsProbe)
				if !tc.lose {
					require.Len(t, probes, 3, "the winner keeps probing as before")
					return
				}
				require.Len(t, probes, before+3, "the loser starts a full new probe sequence")
				assert.GreaterOrEqual(t, probes[before].At.Sub(sentAt), time.Second, "after waiting one second (RFC 6762 section 8.2)")
			})
		})
	}
}

func TestServiceTieBreakEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		peer := l.NewHost("peer", 2)
		r := startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})
		const inst = "Office TZ._timezone._tcp.local."
		type result struct {
			h   *Handle
			err error
		}
		done := make(chan result)
		go func() {
			hd, err := r.Add(context.Background(), tzService(t, "Office TZ"))
			done <- result{hd, err}
		}()
		time.Sleep(300 * time.Millisecond)
		// The same name, with a later SRV (higher port): we lose.
		peer.Send(t, probeFor(inst, dns.ClassINET|dnsname.QU,
			&dns.SRV{Hdr: dns.RR_Header{Name: inst, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 9999, Target: "peer.local."}))
		res := <-done
		require.NoError(t, res.err)
		assert.Equal(t, inst, res.h.Name())
		ev := <-res.h.Events()
		assert.Equal(t, EventDeferred, ev.Kind)
		assert.Contains(t, ev.Reason, "8.2")
		ev = <-res.h.Events()
		assert.Equal(t, EventAnnounced, ev.Kind)
	})
}

// defender answers, from peer, every probe or query whose question names
// one of the claimed names (compared case-insensitively, ignoring the
// "(N)" suffix when prefix is set), as a host holding those names would.
// It stops after max answers (0: never) or when ctx ends.
func defender(ctx context.Context, peer *mdnstest.Host, claimed func(name string) bool, max int) {
	n := 0
	for {
		p, err := peer.ReadPacket(ctx)
		if err != nil {
			return
		}
		if p.Msg.Response {
			continue
		}
		for _, q := range p.Msg.Question {
			if !claimed(q.Name) {
				continue
			}
			resp := newResponse()
			resp.Answer = append(resp.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET | dnsname.CacheFlush, Ttl: 120}, Port: 1, Target: "peer.local."})
			_ = peer.SendMulticast(ctx, resp, 0, mdns.IPv4)
			n++
			if max > 0 && n >= max {
				return
			}
		}
	}
}

func TestRenameSequenceOnConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		peer := l.NewHost("peer", 2)
		r := startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		taken := map[string]bool{dnsname.MustKey("office tz._timezone._tcp.local."): true, dnsname.MustKey("office tz (2)._timezone._tcp.local."): true}
		go defender(ctx, peer, func(n string) bool { return taken[dnsname.MustKey(n)] }, 0)
		hd, err := r.Add(context.Background(), tzService(t, "Office TZ"))
		require.NoError(t, err)
		assert.Equal(t, "Office TZ (3)._timezone._tcp.local.", hd.Name())
		renamed, why := hd.Renamed()
		assert.True(t, renamed)
		assert.Contains(t, why, "conflict")
		var evs []Event
		for len(hd.Events()) > 0 {
			evs = append(evs, <-hd.Events())
		}
		require.Len(t, evs, 3)
		assert.Equal(t, Event{Kind: EventRenamed, Old: "Office TZ._timezone._tcp.local.", New: "Office TZ (2)._timezone._tcp.local."}, Event{Kind: evs[0].Kind, Old: evs[0].Old, New: evs[0].New})
		assert.Equal(t, EventRenamed, evs[1].Kind)
		assert.Equal(t, "Office TZ (3)._timezone._tcp.local.", evs[1].New)
		assert.Equal(t, EventAnnounced, evs[2].Kind)
		// Nothing was ever announced under the taken names.
		assert.Empty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer("Office TZ._timezone._tcp.local.", dns.TypeSRV)))
		assert.Empty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer("Office TZ (2)._timezone._tcp.local.", dns.TypeSRV)))
	})
}

func TestHostNameConflictBetweenResponders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r1 := startOn(t, l.NewHost("a", 1), Options{HostName: "h1"})
		r2 := startOn(t, l.NewHost("b", 2), Options{HostName: "h1"})
		assert.Equal(t, "h1.local.", r1.HostName())
		assert.Equal(t, "h1-2.local.", r2.HostName(), "the second responder renames (RFC 6762 section 9)")
		// Its host events tell the rename, then the announcement.
		var kinds []EventKind
		for len(r2.HostEvents()) > 0 {
			ev := <-r2.HostEvents()
			kinds = append(kinds, ev.Kind)
			if ev.Kind == EventRenamed {
				assert.Equal(t, "h1.local.", ev.Old)
				assert.Equal(t, "h1-2.local.", ev.New)
				assert.Contains(t, ev.Reason, "name conflict")
			}
		}
		assert.Equal(t, []EventKind{EventRenamed, EventAnnounced}, kinds)
		require.Len(t, r1.HostEvents(), 1)
		assert.Equal(t, EventAnnounced, (<-r1.HostEvents()).Kind, "the first one only announced")
		// The defence was a unicast answer to the QU probe (section 5.4).
		defence := l.Packets(mdnstest.From("a"), mdnstest.IsResponse, func(p mdnstest.Packet) bool { return !p.Multicast() })
		require.NotEmpty(t, defence)
		assert.Equal(t, netip.MustParseAddr("198.51.100.12"), defence[0].Dst.Addr())

		h1, err := r1.Add(context.Background(), tzService(t, "Office TZ"))
		require.NoError(t, err)
		h2, err := r2.Add(context.Background(), tzService(t, "Office TZ"))
		require.NoError(t, err)
		assert.Equal(t, "Office TZ._timezone._tcp.local.", h1.Name())
		assert.Equal(t, "Office TZ (2)._timezone._tcp.local.", h2.Name())
		// r2's SRV points at its renamed host.
		srv := l.Packets(mdnstest.From("b"), mdnstest.IsResponse, mdnstest.HasAnswer(h2.Name(), dns.TypeSRV))
		require.NotEmpty(t, srv)
		assert.Equal(t, "h1-2.local.", mdnstest.FindRR(srv[0].Msg.Answer, h2.Name(), dns.TypeSRV).(*dns.SRV).Target)
	})
}

func TestConflictRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		peer := l.NewHost("peer", 2)
		r := startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The peer holds "Storm" and "Storm (2)" ... "Storm (17)".
		taken := map[string]bool{dnsname.MustKey("Storm._timezone._tcp.local."): true}
		for i := 2; i <= 17; i++ {
			taken[dnsname.MustKey(fmt.Sprintf("Storm (%d)._timezone._tcp.local.", i))] = true
		}
		require.Len(t, taken, 17)
		go defender(ctx, peer, func(n string) bool { return taken[dnsname.MustKey(n)] }, 0)
		l.Reset()
		hd, err := r.Add(context.Background(), tzService(t, "Storm"))
		require.NoError(t, err)
		assert.Equal(t, "Storm (18)._timezone._tcp.local.", hd.Name())

		// The first probe of each attempt, in order.
		var starts []time.Time
		last := ""
		for _, p := range l.Packets(mdnstest.From("h1"), mdnstest.IsProbe) {
			if n := probeQuestionName(p); n != last {
				last = n
				starts = append(starts, p.At)
			}
		}
		require.Len(t, starts, 18)
		for i := 1; i < 15; i++ {
			assert.Less(t, starts[i].Sub(starts[i-1]), time.Second, "attempt %d follows at once", i+1)
		}
		// 15 conflicts within 10 s: each further attempt waits at least
		// 5 s (RFC 6762 section 8.1).
		assert.GreaterOrEqual(t, starts[15].Sub(starts[14]), 5*time.Second, "attempt 16 waits")
		assert.GreaterOrEqual(t, starts[16].Sub(starts[15]), 5*time.Second, "attempt 17 waits")
	})
}

func TestLocalDuplicateInstanceRenamed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r := startOn(t, l.NewHost("h1", 1), Options{HostName: "h1"})
		a, err := r.Add(context.Background(), tzService(t, "Office TZ"))
		require.NoError(t, err)
		b, err := r.Add(context.Background(), tzService(t, "office tz"))
		require.NoError(t, err)
		assert.Equal(t, "Office TZ._timezone._tcp.local.", a.Name())
		assert.Equal(t, "office tz (2)._timezone._tcp.local.", b.Name(), "names compare case-insensitively")
		ok, why := b.Renamed()
		assert.True(t, ok)
		assert.Contains(t, why, "already published by this responder")
	})
}

func TestTwoRespondersProbingTheSameNameAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		hosts := []*mdnstest.Host{l.NewHost("a", 1), l.NewHost("b", 2)}
		got := make(chan *Responder, 2)
		for _, h := range hosts {
			go func() {
				r, err := start(context.Background(), Options{HostName: "h1", Logger: discard()}, h, nil)
				if err != nil {
					panic(err)
				}
				got <- r
			}()
		}
		r1, r2 := <-got, <-got
		defer r1.Close()
		defer r2.Close()
		names := []string{r1.HostName(), r2.HostName()}
		assert.ElementsMatch(t, []string{"h1.local.", "h1-2.local."}, names, "one wins the tie-break, the other is renamed")
		// b's address (198.51.100.12) is lexicographically later, so b wins
		// (RFC 6762 section 8.2).
		winner := r1
		if r1.tr.(*mdnstest.Host).Name() != "b" {
			winner = r2
		}
		assert.Equal(t, "h1.local.", winner.HostName())
	})
}
