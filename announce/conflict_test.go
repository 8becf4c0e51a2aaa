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
)

// srvRR is an SRV record for name.
func srvRR(name string, port uint16, target string) *dns.SRV {
	return &dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET | dnsname.CacheFlush, Ttl: 120}, Port: port, Target: target}
}

// response builds a response carrying answers.
func response(answers ...dns.RR) *dns.Msg {
	m := newResponse()
	m.Answer = answers
	return m
}

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
		f.peer.send(t, response(srvRR(tzInst, 9999, "peer.local.")))
		f.peer.drain()
		go defender(ctx, f.peer, func(n string) bool { return dnsname.Equal(n, tzInst) }, 0)
		time.Sleep(5 * time.Second)

		assert.Equal(t, "Office TZ (2)._timezone._tcp.local.", f.tz.Name())
		evs := events(f.tz)
		assert.Equal(t, []EventKind{EventConflict, EventRenamed, EventAnnounced}, kinds(evs))
		assert.Contains(t, evs[0].Reason, "section 9")
		probes := f.l.packets(from("h1"), isProbe)
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
		f.peer.send(t, response(srvRR(tzInst, 9999, "peer.local.")))
		time.Sleep(5 * time.Second)
		assert.Equal(t, tzInst, f.tz.Name(), "nobody defended the name: it stays ours")
		assert.Equal(t, []EventKind{EventConflict, EventAnnounced}, kinds(events(f.tz)))
		assert.Len(t, f.l.packets(from("h1"), isProbe, family(mdns.IPv4)), 3)
	})
}

func TestHostConflictRetargetsServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.peer.send(t, response(aRR("h1.local.", "198.51.100.12", 120)))
		f.peer.drain()
		go func() {
			// Defend h1.local. with the peer's address.
			for {
				select {
				case <-ctx.Done():
					return
				case p := <-f.peer.inbox:
					if !p.Msg.Response && len(p.Msg.Question) > 0 && dnsname.Equal(p.Msg.Question[0].Name, "h1.local.") {
						_ = f.peer.SendMulticast(ctx, response(aRR("h1.local.", "198.51.100.12", 120)), 0, mdns.IPv4)
					}
				}
			}
		}()
		time.Sleep(6 * time.Second)
		assert.Equal(t, "h1-2.local.", f.r.HostName())
		// The services were re-announced with the new SRV target (RFC 6762
		// section 8.4).
		srv := f.l.packets(from("h1"), isResponse, hasAnswer(tzInst, dns.TypeSRV))
		require.NotEmpty(t, srv)
		got := findRR(srv[len(srv)-1].Msg.Answer, tzInst, dns.TypeSRV).(*dns.SRV)
		assertName(t, "h1-2.local.", got.Target)
		assert.NotNil(t, findRR(srv[len(srv)-1].Msg.Extra, "h1-2.local.", dns.TypeA))
	})
}

func TestIdenticalRecordIsNoConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		// Our own records, as another host caching them might repeat them
		// (names in other case, other TTL, cache-flush bit).
		f.peer.send(t, response(
			srvRR("OFFICE TZ._timezone._tcp.local.", 8080, "H1.local."),
			&dns.TXT{Hdr: dns.RR_Header{Name: tzInst, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 10}, Txt: []string{"path=/tz"}},
			aRR("h1.local.", "198.51.100.11", 3),
			&dns.AAAA{Hdr: dns.RR_Header{Name: "h1.local.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 120}, AAAA: netip.MustParseAddr("fe80::1").AsSlice()},
		))
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.l.packets(from("h1"), isProbe))
		assert.Empty(t, events(f.tz))
		assert.Equal(t, "h1.local.", f.r.HostName())
	})
}

func TestIgnoredResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		// From a port other than 5353 (RFC 6762 section 6).
		odd := f.l.newHost("odd", 3)
		odd.srcPort = 5354
		odd.send(t, response(srvRR(tzInst, 9999, "odd.local.")))
		// With a non-zero response code (section 18.11).
		bad := response(srvRR(tzInst, 9999, "peer.local."))
		bad.Rcode = dns.RcodeServerFailure
		f.peer.send(t, bad)
		// A goodbye for our name claims nothing.
		gb := srvRR(tzInst, 9999, "peer.local.")
		gb.Hdr.Ttl = 0
		f.peer.send(t, response(gb))
		// A type we do not have for our name, in the established state.
		f.peer.send(t, response(&dns.HINFO{Hdr: dns.RR_Header{Name: "h1.local.", Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 120}, Cpu: "x", Os: "y"}))
		// A query with another opcode (section 18.3).
		upd := query(q(tzInst, dns.TypeSRV))
		upd.Opcode = dns.OpcodeUpdate
		f.peer.send(t, upd)
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.l.packets(from("h1")), "nothing sent in reply to any of them")
		assert.Empty(t, events(f.tz))
	})
}

func TestHostilePackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ifc := f.h.ports[0].ifc
		src := netip.AddrPortFrom(f.peer.addr4(), 5353)
		pkt := func(m *dns.Msg) *mdns.Packet {
			return &mdns.Packet{Msg: m, Src: src, Dst: mdns.GroupV4, IfIndex: ifc.Index, Family: mdns.IPv4}
		}
		many := query()
		for i := range 2000 {
			many.Question = append(many.Question, q("h1.local.", uint16(i%300)))
			many.Answer = append(many.Answer, aRR("h1.local.", "10.0.0.1", 120))
			many.Ns = append(many.Ns, aRR("h1.local.", "10.0.0.2", 120))
		}
		weird := query(q(".", dns.TypeANY), q("", dns.TypeA), q("\\000.local.", dns.TypeA))
		weird.Ns = []dns.RR{&dns.RFC3597{Hdr: dns.RR_Header{Name: tzInst, Rrtype: 65280, Class: dns.ClassINET, Ttl: 1}, Rdata: "00ff"}}
		unknownIf := pkt(query(q("h1.local.", dns.TypeA)))
		unknownIf.IfIndex = 99
		for _, p := range []*mdns.Packet{
			nil,
			{},
			pkt(many),
			pkt(weird),
			unknownIf,
			pkt(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: []dns.RR{nil}}),
			pkt(&dns.Msg{Ns: []dns.RR{nil}, Question: []dns.Question{q("h1.local.", dns.TypeA)}}),
		} {
			f.r.pkts <- p
		}
		time.Sleep(2 * time.Second)
		// Still answering.
		f.settle()
		f.peer.send(t, query(q(tzInst, dns.TypeSRV)))
		synctest.Wait()
		assert.Len(t, f.responses(family(mdns.IPv4)), 1)
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
