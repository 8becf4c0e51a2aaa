package browse

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
)

// browseFake runs a browser for types over a fake transport inside the
// current synctest bubble; the browser is closed at the end of the test.
func browseFake(t *testing.T, types []string, opts Options, tr *fake) (*Browser, *eventLog) {
	t.Helper()
	b := startFake(t, types, opts, tr)
	t.Cleanup(func() { b.Close() })
	return b, consume(b)
}

func TestAddUpdateRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)

		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		synctest.Wait()
		evs := log.all()
		require.Len(t, evs, 1)
		assert.Equal(t, Add, evs[0].Kind)
		in := evs[0].Instance
		assert.Equal(t, "Office TZ._timezone._tcp.local.", in.Name)
		assert.Equal(t, "Office TZ", in.Instance)
		assert.Equal(t, "_timezone._tcp", in.Service)
		assert.Equal(t, "local.", in.Domain)
		assert.Equal(t, "h2.local.", in.Host)
		assert.Equal(t, uint16(8080), in.Port)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("fe80::2%eth0")}, in.Addrs)
		assert.Equal(t, "path=/tz", in.TXT.String()[1:len(in.TXT.String())-1])
		assert.Equal(t, []string{"eth0"}, in.Ifaces)
		assert.Equal(t, []Source{{Iface: "eth0", Family: mdns.IPv4}}, in.Seen)
		assert.Equal(t, 120*time.Second, in.TTL)
		assert.True(t, in.Conforms())
		assert.Equal(t, "timezone", in.Registered)

		// The same announcement again: nothing to report.
		time.Sleep(2 * time.Second)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		synctest.Wait()
		assert.Len(t, log.all(), 1)

		// A new TXT record with the cache-flush bit: one Update at once; the
		// old record, received more than a second ago, is flushed a second
		// later without another event.
		time.Sleep(2 * time.Second)
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(mdnstest.TXT(`Office\ TZ._timezone._tcp.local.`, 4500, "path=/tz2")))
		synctest.Wait()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		evs = log.all()
		require.Len(t, evs, 2)
		assert.Equal(t, Update, evs[1].Kind)
		assert.Equal(t, `"path=/tz2"`, evs[1].Instance.TXT.String())
		assert.Equal(t, uint64(1), b.Stats().Flushed)

		// Goodbye: Remove one second later, not before.
		gbAt := time.Now()
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Goodbye(tzInstance(120, "path=/tz2")))
		synctest.Wait()
		assert.Len(t, log.all(), 2)
		time.Sleep(time.Second)
		synctest.Wait()
		evs = log.all()
		require.Len(t, evs, 3)
		assert.Equal(t, Remove, evs[2].Kind)
		assert.Equal(t, time.Second, evs[2].Time.Sub(gbAt))
		assert.Equal(t, "Office TZ", evs[2].Instance.Instance, "Remove carries the last state")
		assert.Empty(t, b.Instances())
		assert.Equal(t, 0, b.Stats().Records, "the goodbye records left the cache")
	})
}

// Multicast DNS names are per link (RFC 6762): the same name answered on
// two interfaces is two instances, each with its own addresses, Seen and
// events.
func TestSameNameOnTwoInterfacesIsTwoInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t, fakeEth0, fakeEth1)
		b, log := browseFake(t, []string{"_timezone._tcp"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		m := tzInstance(120)
		m.Extra = m.Extra[1:] // only the AAAA on eth1
		tr.inject(fakeEth1, mdns.IPv6, m)
		tr.inject(fakeEth0, mdns.IPv6, tzInstance(120))
		synctest.Wait()
		evs := log.all()
		require.Equal(t, []EventKind{Add, Add, Update}, log.kinds())
		assert.Equal(t, []string{"eth0"}, evs[0].Instance.Ifaces)
		assert.Equal(t, []string{"eth1"}, evs[1].Instance.Ifaces)
		assert.Equal(t, []string{"eth0"}, evs[2].Instance.Ifaces, "eth0's instance seen over IPv6 too")
		in := b.Instances()
		require.Len(t, in, 2)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("fe80::2%eth0")}, in[0].Addrs)
		assert.Equal(t, []string{"eth0"}, in[0].Ifaces)
		assert.Equal(t, []Source{{Iface: "eth0", Family: mdns.IPv4}, {Iface: "eth0", Family: mdns.IPv6}}, in[0].Seen)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("fe80::2%eth1")}, in[1].Addrs, "only its own link's addresses")
		assert.Equal(t, []string{"eth1"}, in[1].Ifaces)
		assert.Equal(t, []Source{{Iface: "eth1", Family: mdns.IPv6}}, in[1].Seen)
		assert.Equal(t, 2, b.Stats().Instances)

		// Goodbye on eth1 only: its instance goes, eth0's stays as it was.
		tr.inject(fakeEth1, mdns.IPv6, mdnstest.Goodbye(m))
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, []EventKind{Add, Add, Update, Remove}, log.kinds())
		assert.Equal(t, []string{"eth1"}, log.all()[3].Instance.Ifaces)
		require.Len(t, b.Instances(), 1)
		assert.Equal(t, in[0], b.Instances()[0])
	})
}

func TestRecordsInSeparatePacketsAndAskingForMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		name := "Raw TZ._timezone._tcp.local."
		step := func(rr dns.RR) {
			tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(rr))
			time.Sleep(2 * time.Second)
			synctest.Wait()
		}
		start := time.Now()
		step(mdnstest.PTR("_timezone._tcp.local.", name, 4500))
		// Asked for SRV and TXT within 20-120 ms (+ aggregation).
		srvQ := tr.queries(name, dns.TypeSRV, mdnstest.Family(mdns.IPv4))
		require.NotEmpty(t, srvQ)
		assert.Less(t, srvQ[0].At.Sub(start), 250*time.Millisecond)
		assert.NotEmpty(t, tr.queries(name, dns.TypeTXT))
		assert.Empty(t, tr.queries("rawhost.local.", dns.TypeA), "no target known yet")

		step(mdnstest.SRV(name, "rawhost.local.", 8081, 120))
		assert.NotEmpty(t, tr.queries("rawhost.local.", dns.TypeA), "address of the new target asked for")
		assert.NotEmpty(t, tr.queries("rawhost.local.", dns.TypeAAAA))
		step(mdnstest.TXT(name, 4500, "path=/raw"))
		assert.Empty(t, log.all(), "not complete without an address")
		step(mdnstest.A("rawhost.local.", "198.51.100.12", 120))
		evs := log.all()
		require.Len(t, evs, 1)
		assert.Equal(t, Add, evs[0].Kind)
		assert.Equal(t, uint16(8081), evs[0].Instance.Port)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.12")}, evs[0].Instance.Addrs)

		// Complete: nothing is asked any more (beyond refreshes, much later).
		n := len(tr.queries(name, dns.TypeSRV)) + len(tr.queries("rawhost.local.", dns.TypeA))
		time.Sleep(30 * time.Second)
		synctest.Wait()
		assert.Equal(t, n, len(tr.queries(name, dns.TypeSRV))+len(tr.queries("rawhost.local.", dns.TypeA)))
		_ = b
	})
}

func TestIgnoredResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		// Source port not 5353 (RFC 6762 section 6).
		tr.injectFrom(fakeEth0, mdns.IPv4, netip4("198.51.100.12:40000"), mdns.GroupV4, tzInstance(120))
		// Unicast from off the link, within the two seconds after our QU
		// query (section 11).
		tr.injectFrom(fakeEth0, mdns.IPv4, netip4("203.0.113.12:5353"), netip.MustParseAddr("198.51.100.11"), tzInstance(120))
		// Non-zero rcode (section 18.11) and opcode (18.3).
		m := tzInstance(120)
		m.Rcode = dns.RcodeServerFailure
		tr.inject(fakeEth0, mdns.IPv4, m)
		m = tzInstance(120)
		m.Opcode = dns.OpcodeUpdate
		tr.inject(fakeEth0, mdns.IPv4, m)
		// Unicast, on the link, but more than two seconds after our only
		// QU query: not asked for (section 6).
		time.Sleep(2500 * time.Millisecond)
		tr.injectFrom(fakeEth0, mdns.IPv4, netip4("198.51.100.12:5353"), netip.MustParseAddr("198.51.100.11"), tzInstance(120))
		synctest.Wait()
		st := b.Stats()
		assert.Equal(t, uint64(5), st.Ignored)
		assert.Equal(t, 0, st.Records)
		assert.Empty(t, log.all())
	})
}

// A unicast response to our first (QU) query, from an on-link responder,
// is used: hashicorp/mdns answers only by unicast (RFC 6762 sections 5.4, 6).
func TestUnicastAnswerToQUAccepted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		_, log := browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond) // the first query (QU) has gone out
		tr.injectFrom(fakeEth0, mdns.IPv4, netip4("198.51.100.12:5353"), netip.MustParseAddr("198.51.100.11"), tzInstance(120))
		synctest.Wait()
		evs := log.all()
		require.Len(t, evs, 1)
		assert.Equal(t, Add, evs[0].Kind)
	})
}

func TestVerdicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		_, log := browseFake(t, []string{"jnx-kcsync", "_unknown-svc._tcp"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		bad := "Bad._jnx-kcsync._tcp.local."
		hash := "5e7580598c0d7064d4fc79faaeb42585e1a675f" // 39 hex digits
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(
			mdnstest.PTR("_jnx-kcsync._tcp.local.", bad, 4500), mdnstest.SRV(bad, "h2.local.", 9, 120),
			mdnstest.TXT(bad, 4500, "hash="+hash, "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9", "uuid=db61dc092922252e45bbb264f59147138c7fd5fa"),
			mdnstest.A("h2.local.", "198.51.100.12", 120),
		))
		other := "Other._unknown-svc._tcp.local."
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(
			mdnstest.PTR("_unknown-svc._tcp.local.", other, 4500), mdnstest.SRV(other, "h2.local.", 9, 120), mdnstest.TXT(other, 4500, "anything=goes"),
		))
		synctest.Wait()
		evs := log.all()
		require.Len(t, evs, 2)
		byName := map[string]Instance{}
		for _, ev := range evs {
			byName[ev.Instance.Instance] = ev.Instance
		}
		in := byName["Bad"]
		assert.False(t, in.Conforms())
		assert.Equal(t, "jnx-kcsync", in.Registered)
		require.NotEmpty(t, in.Report.Errors())
		f := in.Report.Errors()[0]
		assert.Equal(t, "hash", f.Key)
		assert.Contains(t, f.Rule, "jnx-kcsync: hash=<40hex characters>")
		assert.Equal(t, 0, f.Offset)

		in = byName["Other"]
		assert.True(t, in.Conforms(), "unknown type: syntax only")
		assert.Equal(t, "", in.Registered)
	})
}

func TestStrictVerdicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		_, log := browseFake(t, []string{"timezone"}, Options{Strict: true}, tr)
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120, "path=/tz", "colour=blue"))
		synctest.Wait()
		evs := log.all()
		require.Len(t, evs, 1)
		assert.False(t, evs[0].Instance.Conforms(), "an undefined key is a warning, an error when strict")
	})
}

func TestSubtypeAndEnumeration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{ServicesType, "_printer._sub._http._tcp"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		require.NotEmpty(t, tr.queries(engine.ServicesName, dns.TypePTR))
		require.NotEmpty(t, tr.queries("_printer._sub._http._tcp.local.", dns.TypePTR))
		assert.Empty(t, tr.queries("_timezone._tcp.local.", dns.TypePTR))

		// A responder enumerates its type: the browser browses it.
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(mdnstest.PTR(engine.ServicesName, "_timezone._tcp.local.", 4500)))
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		assert.NotEmpty(t, tr.queries("_timezone._tcp.local.", dns.TypePTR))
		assert.Equal(t, []string{"_timezone._tcp"}, b.Types())
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))

		// The subtype's instance is an _http._tcp instance.
		pr := "Printer._http._tcp.local."
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(
			mdnstest.PTR("_printer._sub._http._tcp.local.", pr, 4500), mdnstest.SRV(pr, "h2.local.", 631, 120), mdnstest.TXT(pr, 4500, "path=/"),
		))
		synctest.Wait()
		names := map[string]string{}
		for _, ev := range log.all() {
			names[ev.Instance.Instance] = ev.Instance.Service
		}
		assert.Equal(t, map[string]string{"Office TZ": "_timezone._tcp", "Printer": "_http._tcp"}, names)
	})
}

func TestDefaultMaxRecordsIsTheEngines(t *testing.T) {
	assert.Equal(t, engine.DefaultMaxRecords, DefaultMaxRecords)
}

func TestFloodKeepsBrowsedInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{"timezone"}, Options{MaxRecords: 500}, tr)
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(4500))
		for i := range 100 {
			var rrs []dns.RR
			for j := range 50 {
				rrs = append(rrs, mdnstest.A(fmt.Sprintf("junk-%d-%d.local.", i, j), "198.51.100.77", 4500))
			}
			tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(rrs...))
		}
		synctest.Wait()
		st := b.Stats()
		assert.LessOrEqual(t, st.Records, 500)
		// One source: beyond its share of the cache and its rate of new
		// names, its junk is dropped (internal/engine fairness.go).
		assert.GreaterOrEqual(t, st.Evicted+st.DroppedRate+st.DroppedBound, uint64(4500))
		assert.Equal(t, []EventKind{Add}, log.kinds(), "the browsed instance survives the flood")
	})
}

// withFakeTransport makes open use tr for the duration of the test.
func withFakeTransport(t *testing.T, tr *fake) {
	old := openTransport
	openTransport = func(context.Context, mdns.Config) (transport, error) { return tr.h, nil }
	t.Cleanup(func() { openTransport = old })
}

func TestResolveAsksAndReturnsComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		name := `Office\ TZ._timezone._tcp.local.`
		// A responder answering what is asked, one record type at a time.
		tr.l.OnTransmit(func(s mdnstest.Packet) {
			if s.Family != mdns.IPv4 {
				return
			}
			var rrs []dns.RR
			for _, q := range s.Msg.Question {
				switch q.Qtype {
				case dns.TypeSRV:
					rrs = append(rrs, mdnstest.SRV(name, "h2.local.", 8080, 120))
				case dns.TypeTXT:
					rrs = append(rrs, mdnstest.TXT(name, 4500, "path=/tz"))
				case dns.TypeA:
					rrs = append(rrs, mdnstest.A("h2.local.", "198.51.100.12", 120))
				}
			}
			if len(rrs) > 0 {
				go tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(rrs...))
			}
		})
		withFakeTransport(t, tr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		in, err := Resolve(ctx, "Office TZ._timezone._tcp", Options{})
		require.NoError(t, err)
		assert.Equal(t, "Office TZ._timezone._tcp.local.", in.Name)
		assert.Equal(t, uint16(8080), in.Port)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.12")}, in.Addrs)
		assert.True(t, in.Conforms())
		assert.Less(t, time.Since(start), 500*time.Millisecond, "two rounds of questions, 20-120 ms each")
	})
}

func TestResolveTimeoutNamesWhatIsMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		name := `Office\ TZ._timezone._tcp.local.`
		tr.l.OnTransmit(func(s mdnstest.Packet) {
			if s.Family != mdns.IPv4 {
				return
			}
			for _, q := range s.Msg.Question {
				if q.Qtype == dns.TypeSRV {
					go tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(mdnstest.SRV(name, "h2.local.", 8080, 120)))
				}
			}
		})
		withFakeTransport(t, tr)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := Resolve(ctx, "Office TZ._timezone._tcp.local.", Options{})
		var re *ResolveError
		require.ErrorAs(t, err, &re)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, []string{"TXT record", "address of h2.local."}, re.Missing)
		assert.Contains(t, err.Error(), `"Office TZ._timezone._tcp.local."`)
		assert.Contains(t, err.Error(), "no TXT record, no address of h2.local.")

		_, err = Resolve(context.Background(), "no-type-here", Options{})
		assert.ErrorIs(t, err, ErrBadName)
	})
}

func TestEnumerate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		tr.l.OnTransmit(func(s mdnstest.Packet) {
			if s.Family == mdns.IPv4 {
				go tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(
					mdnstest.PTR(engine.ServicesName, "_timezone._tcp.local.", 4500),
					mdnstest.PTR(engine.ServicesName, "_http._tcp.local.", 4500),
					mdnstest.PTR(engine.ServicesName, "not a type.local.", 4500),
				))
			}
		})
		withFakeTransport(t, tr)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		types, err := Enumerate(ctx, Options{})
		require.NoError(t, err)
		assert.Equal(t, []string{"_http._tcp", "_timezone._tcp"}, types)
		assert.Empty(t, tr.queries("_timezone._tcp.local.", dns.TypePTR), "Enumerate does not browse the types")
	})
}

func TestQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, _ := browseFake(t, []string{"timezone"}, Options{}, tr)
		start := time.Now()
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		<-b.Quiet()
		// Three queries (~0.1, ~1.1, ~3.1 s), then a quiet second.
		d := time.Since(start)
		assert.GreaterOrEqual(t, d, 4*time.Second)
		assert.LessOrEqual(t, d, 4200*time.Millisecond)
	})
}

func TestCloseStopsEverything(t *testing.T) {
	// Outside a bubble, with the goroutine count: Close leaves nothing behind.
	before := countGoroutines()
	tr := newFake(t)
	b := startFake(t, []string{"timezone"}, Options{}, tr)
	log := consume(b)
	tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
	require.Eventually(t, func() bool { return len(log.all()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "idempotent")
	// Polled here, not with assert.Eventually, whose own goroutine counts.
	after := countGoroutines()
	for deadline := time.Now().Add(2 * time.Second); after > before && time.Now().Before(deadline); after = countGoroutines() {
		time.Sleep(10 * time.Millisecond)
	}
	if !assert.LessOrEqual(t, after, before, "goroutines left after Close") {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
	_, open := <-b.Events()
	assert.False(t, open)
	assert.Equal(t, Stats{}, b.Stats(), "zero after stop")
}

func TestContextEndStopsBrowse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		withFakeTransport(t, tr)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var n int
		err := Browse(ctx, []string{"timezone"}, Options{}, func(Event) { n++ })
		require.NoError(t, err)
		// synctest.Test fails if any goroutine of the bubble is left.
		assert.Equal(t, 0, n)
		err = Browse(ctx, []string{"_timezone._xyz"}, Options{}, func(Event) {})
		assert.ErrorIs(t, err, ErrBadName)
	})
}

// NewBrowser's context bounds only its start-up, as for announce.New: the
// browser runs on after it ends, until Close.
func TestContextBoundsOnlyStartUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		withFakeTransport(t, tr)
		ctx, cancel := context.WithCancel(context.Background())
		b, err := NewBrowser(ctx, []string{"timezone"}, Options{})
		require.NoError(t, err)
		cancel()
		log := consume(b)
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		synctest.Wait()
		assert.Equal(t, []EventKind{Add}, log.kinds(), "still browsing after the start-up context ended")
		assert.NoError(t, b.Err())
		require.NoError(t, b.Close())
		synctest.Wait()
		_, open := <-b.Events()
		assert.False(t, open, "Close stops it")
	})
}

// Options.RemoveOnGoodbye: the goodbye removes the instance at once (a
// gateway passes it on without waiting for the second of RFC 6762 section
// 10.1); a re-announcement within that second adds it again, and a
// browser without the option still waits (TestAddUpdateRemove).
func TestRemoveOnGoodbye(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{"timezone"}, Options{RemoveOnGoodbye: true}, tr)
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		synctest.Wait()
		require.Equal(t, []EventKind{Add}, log.kinds())

		gbAt := time.Now()
		tr.inject(fakeEth0, mdns.IPv4, mdnstest.Goodbye(tzInstance(120)))
		synctest.Wait()
		evs := log.all()
		require.Equal(t, []EventKind{Add, Remove}, log.kinds())
		assert.Equal(t, gbAt, evs[1].Time, "removed at the goodbye")
		assert.Empty(t, b.Instances())
		assert.NotZero(t, b.Stats().Records, "the records stay cached for the second")

		time.Sleep(400 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(120))
		synctest.Wait()
		require.Equal(t, []EventKind{Add, Remove, Add}, log.kinds(), "re-announced within the second")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Equal(t, []EventKind{Add, Remove, Add}, log.kinds(), "and it stays")
		assert.Len(t, b.Instances(), 1)
	})
}
