package announce

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
)

// watcher is a browser on the link: the browse engine (internal/engine)
// fed by a host of its own, as package browse feeds it, keeping every event.
type watcher struct {
	h   *mdnstest.Host
	e   *engine.Engine
	mu  sync.Mutex
	evs []sd.Event
}

// watchAsker asks the engine's questions by multicast, once each.
type watchAsker struct{ h *mdnstest.Host }

func (a watchAsker) Browse(name string, _ time.Time, _ bool) {
	a.ask(engine.Question{Name: name, Type: dns.TypePTR})
}
func (a watchAsker) Resolve(qs []engine.Question, _ time.Time) { a.ask(qs...) }
func (a watchAsker) Refresh(q engine.Question, _ time.Time)    { a.ask(q) }
func (a watchAsker) IfaceName(int) string                      { return "lan0" }
func (a watchAsker) ask(qs ...engine.Question) {
	m := mdnstest.Query()
	for _, q := range qs {
		m.Question = append(m.Question, mdnstest.QM(q.Name, q.Type))
	}
	_ = a.h.SendMulticast(context.Background(), m, 0, mdns.IPv4)
}

// newWatcher starts a browser of typ (a PTR question name) on l, as host
// "browser"; it stops at the end of the test. Must run in a synctest bubble.
func newWatcher(t *testing.T, l *mdnstest.Link, typ string) *watcher {
	w := &watcher{h: l.NewHost("browser", 5)}
	w.e = engine.New(engine.Config{Asker: watchAsker{w.h}, Logger: discard()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		assert.Zero(t, w.h.Dropped(), "packets lost at the browser's full inbox")
	})
	w.e.AddType(engine.Type{Query: typ, Service: "_timezone._tcp"}, time.Now())
	go func() {
		defer close(done)
		for {
			wait := time.Hour
			if at, ok := w.e.Wake(); ok {
				wait = max(0, time.Until(at))
			}
			rctx, rcancel := context.WithTimeout(ctx, wait)
			p, err := w.h.ReadPacket(rctx)
			rcancel()
			if ctx.Err() != nil {
				return
			}
			now := time.Now()
			if err == nil && p.Msg.Response {
				var flush []*engine.Entry
				for _, rr := range append(append([]dns.RR{}, p.Msg.Answer...), p.Msg.Extra...) {
					en, _ := w.e.Put(rr, p.IfIndex, p.Family, now)
					if en != nil && rr.Header().Class&dnsname.CacheFlush != 0 && rr.Header().Ttl > 0 {
						flush = append(flush, en)
					}
				}
				for _, en := range flush {
					w.e.Flush(en, now)
				}
			}
			w.e.Advance(now)
			w.e.Settle(now)
			w.mu.Lock()
			for {
				ev, n := w.e.NextEvent()
				if n == 0 {
					break
				}
				w.evs = append(w.evs, ev)
				w.e.EventSent()
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// events returns the kinds of the events of instance name so far.
func (w *watcher) events(name string) []sd.EventKind {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []sd.EventKind
	for _, ev := range w.evs {
		if dnsname.Equal(ev.Instance.Name, name) {
			out = append(out, ev.Kind)
		}
	}
	return out
}

// rescueFixture is newFixture with a browser of _timezone._tcp that has
// found Office TZ, and the records sent meanwhile forgotten.
func rescueFixture(t *testing.T) (*fixture, *watcher) {
	f := newFixture(t, Options{})
	w := newWatcher(t, f.l, "_timezone._tcp.local.")
	time.Sleep(2 * time.Second)
	require.Equal(t, []sd.EventKind{sd.Add}, w.events(tzInst), "the browser found Office TZ")
	f.settle()
	return f, w
}

// sentWith returns the multicast responses of h1 over IPv4 since the last
// settle that hold rr (same name, type and rdata) with a TTL above zero.
func sentWith(f *fixture, rr dns.RR) []mdnstest.Packet {
	k := dnsname.RRKey(rr)
	var out []mdnstest.Packet
	for _, p := range f.responses(multicastOnly, mdnstest.Family(mdns.IPv4)) {
		for _, a := range append(append([]dns.RR{}, p.Msg.Answer...), p.Msg.Extra...) {
			if a.Header().Ttl > 0 && dnsname.RRKey(a) == k {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// inAnswers reports whether p holds rr (same name, type, rdata) as an answer.
func inAnswers(p mdnstest.Packet, rr dns.RR) bool {
	k := dnsname.RRKey(rr)
	for _, a := range p.Msg.Answer {
		if a.Header().Ttl > 0 && dnsname.RRKey(a) == k {
			return true
		}
	}
	return false
}

var (
	tzPTR = mdnstest.PTR("_timezone._tcp.local.", tzInst, 4500)
	tzSRV = mdnstest.SRV(tzInst, "h1.local.", 8080, 120)
	tzTXT = mdnstest.TXT(tzInst, 4500, "path=/tz")
	h1A   = mdnstest.A("h1.local.", "198.51.100.11", 120)
)

// goodbyeOf returns rr with TTL 0 (RFC 6762 section 10.1).
func goodbyeOf(rr dns.RR) dns.RR {
	cp := dns.Copy(rr)
	cp.Header().Ttl = 0
	return cp
}

func TestGoodbyeFromAnotherHostIsRescued(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rr     dns.RR
		shared bool
	}{
		{"PTR", tzPTR, true},
		{"SRV", tzSRV, false},
		{"TXT", tzTXT, false},
		{"A", h1A, false},
		{"subtype PTR", mdnstest.PTR("_printer._sub._http._tcp.local.", httpInst, 4500), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, w := rescueFixture(t)
				t0 := time.Now()
				f.peer.Send(t, mdnstest.Response(goodbyeOf(tc.rr)))
				time.Sleep(5 * time.Second)
				got := sentWith(f, tc.rr)
				require.NotEmpty(t, got, "the record was multicast again (RFC 6762 section 10.1)")
				assert.True(t, inAnswers(got[0], tc.rr), "as an answer")
				d := got[0].At.Sub(t0)
				if tc.shared {
					assert.True(t, d >= sharedDelayMin && d <= sharedDelayMax, "a shared record after 20-120 ms (section 6), got %v", d)
				} else {
					assert.Zero(t, d, "a unique record at once")
				}
				assert.Len(t, got, 1, "once")
				assert.Empty(t, f.responses(mdnstest.Family(mdns.IPv6)), "only over the family the goodbye came over")
				assert.NotContains(t, w.events(tzInst), sd.Remove, "the browser never reports Office TZ removed")
			})
		})
	}
}

func TestGoodbyeNotRescuedBrowserRemoves(t *testing.T) {
	// The browser of these tests does report the removal of a record that
	// nobody rescues: a goodbye for Office TZ's PTR that the responder
	// never hears (injected into the browser only).
	synctest.Test(t, func(t *testing.T) {
		f, w := rescueFixture(t)
		f.l.Inject(w.h, 2, mdns.IPv4, netip.AddrPortFrom(f.peer.Addr4(), mdns.Port), mdns.GroupV4, mdnstest.Response(goodbyeOf(tzPTR)))
		time.Sleep(3 * time.Second)
		assert.Equal(t, []sd.EventKind{sd.Add, sd.Remove}, w.events(tzInst))
		assert.Empty(t, sentWith(f, tzPTR))
	})
}

func TestCacheFlushOfSharedRRsetIsRescued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, w := rescueFixture(t)
		// A spoofed PTR for _timezone._tcp with the cache-flush bit and
		// other data: it flushes our PTR from the caches in one second
		// (RFC 6762 section 10.2).
		fake := mdnstest.PTR("_timezone._tcp.local.", "Fake._timezone._tcp.local.", 4500)
		fake.Hdr.Class |= dnsname.CacheFlush
		t0 := time.Now()
		f.peer.Send(t, mdnstest.Response(fake))
		time.Sleep(5 * time.Second)
		got := sentWith(f, tzPTR)
		require.Len(t, got, 1, "our PTR multicast again")
		assert.True(t, inAnswers(got[0], tzPTR))
		assert.Less(t, got[0].At.Sub(t0), time.Second)
		assert.Nil(t, mdnstest.FindRR(got[0].Msg.Answer, "Fake._timezone._tcp.local.", dns.TypePTR))
		assert.NotContains(t, w.events(tzInst), sd.Remove)

		// The same record holding our data too flushes nothing of ours.
		f.settle()
		ours := mdnstest.PTR("_timezone._tcp.local.", tzInst, 4500)
		ours.Hdr.Class |= dnsname.CacheFlush
		f.peer.Send(t, mdnstest.Response(fake, ours))
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.responses(), "nothing of ours flushed")
	})
}

func TestCacheFlushOfUniqueRecordStaysConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := rescueFixture(t)
		events(f.tz)
		f.peer.Send(t, mdnstest.Response(mdnstest.SRV(tzInst, "peer.local.", 9999, 120)))
		synctest.Wait()
		assert.Empty(t, f.responses(), "no rescue: the name is probed again (RFC 6762 section 9)")
		time.Sleep(5 * time.Second)
		assert.Equal(t, []EventKind{EventConflict, EventAnnounced}, kinds(events(f.tz)))
	})
}

func TestOwnGoodbyesAreNotRescued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, w := rescueFixture(t)
		// A goodbye from our own address (our own multicast looped back,
		// or heard through another interface of ours) for a record we
		// still publish.
		ifc := f.h.Interfaces()[0]
		f.l.Inject(f.h, ifc.Index, mdns.IPv4, netip.AddrPortFrom(f.h.Addr4(), mdns.Port), mdns.GroupV4, mdnstest.Response(goodbyeOf(tzSRV)))
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.responses(), "our own goodbye is not rescued")

		// Removing the service: its goodbyes loop back to us and stay
		// goodbyes; so does another host's repetition of them.
		require.NoError(t, f.tz.Remove(context.Background()))
		f.peer.Send(t, mdnstest.Response(goodbyeOf(tzPTR), goodbyeOf(tzSRV), goodbyeOf(tzTXT)))
		time.Sleep(3 * time.Second)
		for _, rr := range []dns.RR{tzPTR, tzSRV, tzTXT} {
			assert.Empty(t, sentWith(f, rr), "%v", rr)
		}
		assert.Equal(t, []sd.EventKind{sd.Add, sd.Remove}, w.events(tzInst), "the browser reports the removal")
	})
}

func TestGoodbyeForRecordsNotOursIsIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, w := rescueFixture(t)
		f.peer.Send(t, mdnstest.Response(
			goodbyeOf(mdnstest.PTR("_timezone._tcp.local.", "Other._timezone._tcp.local.", 4500)),
			goodbyeOf(mdnstest.SRV(tzInst, "peer.local.", 9999, 120)),
			goodbyeOf(mdnstest.TXT(tzInst, 4500, "path=/other")),
			goodbyeOf(mdnstest.A("h1.local.", "198.51.100.99", 120)),
			goodbyeOf(mdnstest.A("peer.local.", "198.51.100.12", 120)),
			goodbyeOf(mdnstest.PTR("_other._tcp.local.", "X._other._tcp.local.", 4500)),
		))
		time.Sleep(3 * time.Second)
		assert.Empty(t, f.responses())
		assert.Equal(t, []sd.EventKind{sd.Add}, w.events(tzInst))
	})
}

func TestRescueRespectsRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, w := rescueFixture(t)
		// The SRV record is multicast in answer to a query...
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeSRV)))
		synctest.Wait()
		first := sentWith(f, tzSRV)
		require.Len(t, first, 1)
		tq := first[0].At
		// ...and said goodbye to 300 ms later, then again and again, every
		// 130 ms for 4 s. (A goodbye sent at the very instant of one of our
		// multicasts would leave no margin: see rescue.go.)
		time.Sleep(300 * time.Millisecond)
		for range 31 {
			f.peer.Send(t, mdnstest.Response(goodbyeOf(tzSRV)))
			time.Sleep(130 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		got := sentWith(f, tzSRV)
		require.GreaterOrEqual(t, len(got), 4)
		assert.Equal(t, time.Second, got[1].At.Sub(tq), "the rescue waits for the second since the last multicast (RFC 6762 section 6.2)")
		for i := 1; i < len(got); i++ {
			assert.GreaterOrEqual(t, got[i].At.Sub(got[i-1].At), time.Second, "at most one multicast per second")
			assert.True(t, inAnswers(got[i], tzSRV))
		}
		assert.LessOrEqual(t, len(got), 6)
		assert.NotContains(t, w.events(tzInst), sd.Remove, "the browser never reports Office TZ removed")
		done := make(chan struct{})
		require.NoError(t, f.r.call(context.Background(), func() {
			assert.Empty(t, f.r.rescues, "nothing left waiting")
			close(done)
		}))
		<-done
	})
}
