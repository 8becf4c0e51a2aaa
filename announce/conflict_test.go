package announce

import (
	"context"
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
)

// events returns the events queued on h now.
func events(h *Handle) []Event {
	var out []Event
	for len(h.Events()) > 0 {
		ev, ok := <-h.Events()
		if !ok {
			break
		}
		out = append(out, ev)
	}
	return out
}

func kinds(evs []Event) []EventKind {
	var out []EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestOngoingConflictReprobesAndRenames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		events(f.http)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Another host now claims our instance name with other data, and
		// defends it when we probe.
		f.peer.Send(t, mdnstest.Response(mdnstest.SRV(tzInst, "peer.local.", 9999, 120)))
		f.peer.Drain()
		go defender(ctx, f.peer, func(n string) bool { return dnsname.Equal(n, tzInst) }, 0)
		time.Sleep(5 * time.Second)

		assert.Equal(t, "Office TZ (2)._timezone._tcp.local.", f.tz.Name())
		evs := events(f.tz)
		assert.Equal(t, []EventKind{EventConflict, EventRenamed, EventAnnounced}, kinds(evs))
		assert.Contains(t, evs[0].Reason, "section 9")
		probes := f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe)
		require.NotEmpty(t, probes, "reset to probing (RFC 6762 section 9)")
		assertName(t, tzInst, probeQuestionName(probes[0]))
		// The other service was not disturbed.
		assert.Equal(t, httpInst, f.http.Name())
		assert.Empty(t, events(f.http))
	})
}

func TestOngoingConflictWithoutDefenderKeepsName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		f.peer.Send(t, mdnstest.Response(mdnstest.SRV(tzInst, "peer.local.", 9999, 120)))
		time.Sleep(5 * time.Second)
		assert.Equal(t, tzInst, f.tz.Name(), "nobody defended the name: it stays ours")
		assert.Equal(t, []EventKind{EventConflict, EventAnnounced}, kinds(events(f.tz)))
		assert.Len(t, f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv4)), 3)
	})
}

func TestHostConflictRetargetsServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.peer.Send(t, mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.12", 120)))
		f.peer.Drain()
		go func() {
			// Defend h1.local. with the peer's address.
			for {
				p, err := f.peer.ReadPacket(ctx)
				if err != nil {
					return
				}
				if !p.Msg.Response && len(p.Msg.Question) > 0 && dnsname.Equal(p.Msg.Question[0].Name, "h1.local.") {
					_ = f.peer.SendMulticast(ctx, mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.12", 120)), 0, mdns.IPv4)
				}
			}
		}()
		time.Sleep(6 * time.Second)
		assert.Equal(t, "h1-2.local.", f.r.HostName())
		// The services were re-announced with the new SRV target (RFC 6762
		// section 8.4).
		srv := f.l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer(tzInst, dns.TypeSRV))
		require.NotEmpty(t, srv)
		got := mdnstest.FindRR(srv[len(srv)-1].Msg.Answer, tzInst, dns.TypeSRV).(*dns.SRV)
		assertName(t, "h1-2.local.", got.Target)
		assert.NotNil(t, mdnstest.FindRR(srv[len(srv)-1].Msg.Extra, "h1-2.local.", dns.TypeA))
	})
}

func TestIdenticalRecordIsNoConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		// Our own records, as another host caching them might repeat them
		// (names in other case, other TTL, cache-flush bit).
		f.peer.Send(t, mdnstest.Response(
			mdnstest.SRV("OFFICE TZ._timezone._tcp.local.", "H1.local.", 8080, 120),
			&dns.TXT{Hdr: dns.RR_Header{Name: tzInst, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 10}, Txt: []string{"path=/tz"}},
			mdnstest.NoFlush(mdnstest.A("h1.local.", "198.51.100.11", 3)),
			&dns.AAAA{Hdr: dns.RR_Header{Name: "h1.local.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 120}, AAAA: netip.MustParseAddr("fe80::1").AsSlice()},
		))
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe))
		assert.Empty(t, events(f.tz))
		assert.Equal(t, "h1.local.", f.r.HostName())
	})
}

func TestIgnoredResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		// From a port other than 5353 (RFC 6762 section 6).
		odd := f.l.NewHost("odd", 3)
		odd.SetSourcePort(5354)
		odd.Send(t, mdnstest.Response(mdnstest.SRV(tzInst, "odd.local.", 9999, 120)))
		// With a non-zero response code (section 18.11).
		bad := mdnstest.Response(mdnstest.SRV(tzInst, "peer.local.", 9999, 120))
		bad.Rcode = dns.RcodeServerFailure
		f.peer.Send(t, bad)
		// A goodbye for our name claims nothing.
		gb := mdnstest.SRV(tzInst, "peer.local.", 9999, 120)
		gb.Hdr.Ttl = 0
		f.peer.Send(t, mdnstest.Response(gb))
		// A type we do not have for our name, in the established state.
		f.peer.Send(t, mdnstest.Response(&dns.HINFO{Hdr: dns.RR_Header{Name: "h1.local.", Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 120}, Cpu: "x", Os: "y"}))
		// A query with another opcode (section 18.3).
		upd := mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV))
		upd.Opcode = dns.OpcodeUpdate
		f.peer.Send(t, upd)
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.l.Packets(mdnstest.From("h1")), "nothing sent in reply to any of them")
		assert.Empty(t, events(f.tz))
	})
}

func TestHostilePackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ifc := f.h.Interfaces()[0]
		src := netip.AddrPortFrom(f.peer.Addr4(), 5353)
		pkt := func(m *dns.Msg) *mdns.Packet {
			return &mdns.Packet{Msg: m, Src: src, Dst: mdns.GroupV4, IfIndex: ifc.Index, Family: mdns.IPv4}
		}
		many := mdnstest.Query()
		for i := range 2000 {
			many.Question = append(many.Question, mdnstest.QM("h1.local.", uint16(i%300)))
			many.Answer = append(many.Answer, mdnstest.A("h1.local.", "10.0.0.1", 120))
			many.Ns = append(many.Ns, mdnstest.A("h1.local.", "10.0.0.2", 120))
		}
		weird := mdnstest.Query(mdnstest.QM(".", dns.TypeANY), mdnstest.QM("", dns.TypeA), mdnstest.QM("\\000.local.", dns.TypeA))
		weird.Ns = []dns.RR{&dns.RFC3597{Hdr: dns.RR_Header{Name: tzInst, Rrtype: 65280, Class: dns.ClassINET, Ttl: 1}, Rdata: "00ff"}}
		unknownIf := pkt(mdnstest.Query(mdnstest.QM("h1.local.", dns.TypeA)))
		unknownIf.IfIndex = 99
		for _, p := range []*mdns.Packet{
			nil,
			{},
			pkt(many),
			pkt(weird),
			unknownIf,
			pkt(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: []dns.RR{nil}}),
			pkt(&dns.Msg{Ns: []dns.RR{nil}, Question: []dns.Question{mdnstest.QM("h1.local.", dns.TypeA)}}),
		} {
			f.r.pkts <- p
		}
		time.Sleep(2 * time.Second)
		// Still answering.
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		synctest.Wait()
		assert.Len(t, f.responses(mdnstest.Family(mdns.IPv4)), 1)
		// Bounded work: the giant packet cannot have left more than the
		// bounded tables hold.
		done := make(chan struct{})
		require.NoError(t, f.r.call(context.Background(), func() {
			assert.LessOrEqual(t, len(f.r.pending), 2)
			assert.LessOrEqual(t, len(f.r.tcWait), maxTCWaits)
			assert.LessOrEqual(t, len(f.r.lastMC), maxLastMC)
			close(done)
		}))
		<-done
	})
}
