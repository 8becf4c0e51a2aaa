package engine

// Tests of the seam: a feeder putting records, settling and reading
// events, and the engine calling its Asker. No network, no goroutine: the
// test is the feeder and runs the clock.

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

const tzName = `Office\ TZ._timezone._tcp.local.`

// newTestEngine returns an engine browsing _timezone._tcp, and its asker.
func newTestEngine(t *testing.T, cfg Config) (*Engine, *recAsker) {
	t.Helper()
	a := &recAsker{}
	cfg.Asker = a
	e := New(cfg)
	bt, err := ParseType("timezone", registry.Builtin())
	require.NoError(t, err)
	e.AddType(bt, t0)
	return e, a
}

// putAll puts rrs received on ifIndex over f at now and flushes those with
// the cache-flush bit, as a feeder does with one packet.
func putAll(e *Engine, ifIndex int, f sd.Family, now time.Time, rrs ...dns.RR) {
	var flush []*Entry
	for _, rr := range rrs {
		en, _ := e.Put(rr, ifIndex, f, now)
		if en != nil && rr.Header().Class&dnsname.CacheFlush != 0 && rr.Header().Ttl > 0 {
			flush = append(flush, en)
		}
	}
	for _, en := range flush {
		e.Flush(en, now)
	}
}

// events settles at now and takes every event queued.
func events(e *Engine, now time.Time) []sd.Event {
	e.Settle(now)
	var out []sd.Event
	for {
		ev, n := e.NextEvent()
		if n == 0 {
			return out
		}
		out = append(out, ev)
		e.EventSent()
	}
}

func tzRecords(ttl uint32) []dns.RR {
	return []dns.RR{
		ptrRR("_timezone._tcp.local.", tzName, ttl),
		srvRR(tzName, "h2.local.", 8080, ttl),
		txtRR(tzName, ttl, "path=/tz"),
		aRR("h2.local.", "198.51.100.12", ttl),
		aaaaRR("h2.local.", "fe80::2", ttl),
	}
}

func TestSeamAddTypeAsksToBrowse(t *testing.T) {
	_, a := newTestEngine(t, Config{})
	cs := a.take()
	require.Len(t, cs, 1)
	assert.Equal(t, call{"Browse", "_timezone._tcp.local. learnt=false", t0}, cs[0])
}

func TestSeamPutSettleEvents(t *testing.T) {
	e, a := newTestEngine(t, Config{})
	a.take()
	putAll(e, 2, sd.IPv4, t0, tzRecords(120)...)
	assert.Empty(t, a.calls, "nothing is asked before Settle")
	_, n := e.NextEvent()
	assert.Zero(t, n, "no event before Settle")

	evs := events(e, t0)
	require.Len(t, evs, 1)
	ev := evs[0]
	assert.Equal(t, sd.Add, ev.Kind)
	assert.Equal(t, t0, ev.Time)
	in := ev.Instance
	assert.Equal(t, "Office TZ._timezone._tcp.local.", in.Name)
	assert.Equal(t, "Office TZ", in.Instance)
	assert.Equal(t, "_timezone._tcp", in.Service)
	assert.Equal(t, "local.", in.Domain)
	assert.Equal(t, "h2.local.", in.Host)
	assert.Equal(t, uint16(8080), in.Port)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("fe80::2%eth2")}, in.Addrs,
		"link-local addresses zoned with Asker.IfaceName")
	assert.Equal(t, []string{"eth2"}, in.Ifaces)
	assert.Equal(t, []sd.Source{{Iface: "eth2", Family: sd.IPv4}}, in.Seen)
	assert.Equal(t, 120*time.Second, in.TTL)
	assert.True(t, in.Conforms())
	assert.Equal(t, "timezone", in.Registered)
	assert.Empty(t, a.calls, "a complete instance asks for nothing")

	assert.Equal(t, []sd.Instance{in}, e.Instances())
	st := e.Stats()
	assert.Equal(t, 5, st.Records)
	assert.Equal(t, 1, st.Instances)
	assert.Equal(t, []Tracked{{Name: tzName, Target: "h2.local."}}, e.Tracked())

	// The same records again: nothing to report.
	putAll(e, 2, sd.IPv4, t0.Add(time.Second), tzRecords(120)...)
	assert.Empty(t, events(e, t0.Add(time.Second)))
	// The PTR record over IPv6 too: Seen grows, an Update (--parsable
	// prints a line per family the instance was seen over).
	putAll(e, 2, sd.IPv6, t0.Add(time.Second), tzRecords(120)...)
	evs = events(e, t0.Add(time.Second))
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Update, evs[0].Kind)
	assert.Equal(t, []sd.Source{{Iface: "eth2", Family: sd.IPv4}, {Iface: "eth2", Family: sd.IPv6}}, evs[0].Instance.Seen)
	assert.Equal(t, in.Addrs, evs[0].Instance.Addrs)

	// A new TXT record: Update.
	t1 := t0.Add(3 * time.Second)
	putAll(e, 2, sd.IPv4, t1, txtRR(tzName, 120, "path=/tz2"))
	evs = events(e, t1)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Update, evs[0].Kind)
	assert.Equal(t, `"path=/tz2"`, evs[0].Instance.TXT.String())

	// The old TXT record, received more than a second before, was flushed
	// (RFC 6762 section 10.2): it expires a second later, without event.
	at, ok := e.Wake()
	require.True(t, ok)
	assert.Equal(t, t1.Add(time.Second), at)
	e.Advance(at)
	assert.Empty(t, events(e, at))
	assert.Equal(t, uint64(1), e.Stats().Flushed)

	// Goodbye of the PTR record: Remove one second later (RFC 6762 section
	// 10.1), when Advance expires it.
	t2 := t0.Add(10 * time.Second)
	gb := ptrRR("_timezone._tcp.local.", tzName, 0)
	putAll(e, 2, sd.IPv4, t2, gb)
	putAll(e, 2, sd.IPv6, t2, gb)
	assert.Empty(t, events(e, t2))
	at, ok = e.Wake()
	require.True(t, ok)
	assert.Equal(t, t2.Add(time.Second), at)
	e.Advance(at.Add(-time.Millisecond))
	assert.Empty(t, events(e, at.Add(-time.Millisecond)), "not before the second is over")
	e.Advance(at)
	evs = events(e, at)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Remove, evs[0].Kind)
	assert.Equal(t, "Office TZ", evs[0].Instance.Instance, "Remove carries the last state")
	assert.Empty(t, e.Instances())
	assert.Empty(t, e.Tracked(), "no PTR, not pinned: no longer followed")
	assert.Equal(t, uint64(1), e.Stats().Goodbyes)
}

func TestSeamResolveAsksForWhatIsMissing(t *testing.T) {
	e, a := newTestEngine(t, Config{})
	a.take()
	putAll(e, 2, sd.IPv4, t0, ptrRR("_timezone._tcp.local.", tzName, 4500))
	assert.Empty(t, events(e, t0))
	cs := a.take()
	require.Len(t, cs, 1)
	assert.Equal(t, call{"Resolve", tzName + "/SRV " + tzName + "/TXT", t0}, cs[0])
	k := dnsname.MustKey(tzName)
	assert.True(t, e.Needed(k, dns.TypeSRV))
	assert.True(t, e.Needed(k, dns.TypeTXT))
	assert.Equal(t, []string{"SRV record", "TXT record", "address (no SRV target yet)"}, e.Missing(tzName))

	t1 := t0.Add(time.Second)
	putAll(e, 2, sd.IPv4, t1, srvRR(tzName, "h2.local.", 8080, 120))
	assert.Empty(t, events(e, t1))
	assert.Equal(t, []string{"Resolve " + tzName + "/TXT h2.local./A h2.local./AAAA"}, methods(a.take()))
	assert.False(t, e.Needed(k, dns.TypeSRV), "answered")
	assert.True(t, e.Needed(dnsname.MustKey("h2.local."), dns.TypeA))
	assert.Equal(t, []string{"TXT record", "address of h2.local."}, e.Missing(tzName))

	t2 := t0.Add(2 * time.Second)
	putAll(e, 2, sd.IPv4, t2, txtRR(tzName, 4500, "path=/tz"), aRR("h2.local.", "198.51.100.12", 120))
	evs := events(e, t2)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Add, evs[0].Kind)
	assert.Empty(t, a.take())
	assert.False(t, e.Needed(dnsname.MustKey("h2.local."), dns.TypeAAAA), "an address is known")
	assert.Empty(t, e.Missing(tzName))
}

func TestSeamPinAndSink(t *testing.T) {
	a := &recAsker{}
	var got []sd.Event
	e := New(Config{Asker: a, Sink: func(ev sd.Event) { got = append(got, ev) }})
	e.Pin(tzName)
	e.Settle(t0)
	assert.Equal(t, []string{"Resolve " + tzName + "/SRV " + tzName + "/TXT"}, methods(a.take()),
		"a pinned instance is resolved without a PTR record")
	rrs := tzRecords(120)[1:] // no PTR
	putAll(e, 3, sd.IPv6, t0, rrs...)
	e.Settle(t0)
	require.Len(t, got, 1, "the sink sees the event")
	assert.Equal(t, sd.Add, got[0].Kind)
	assert.Equal(t, []sd.Source{{Iface: "eth3", Family: sd.IPv6}}, got[0].Instance.Seen, "seen where its SRV record arrived")
	_, n := e.NextEvent()
	assert.Zero(t, n, "events given to the sink are not queued")
}

func TestSeamRefreshOnlyWithInterest(t *testing.T) {
	e, a := newTestEngine(t, Config{})
	a.take()
	putAll(e, 2, sd.IPv4, t0, append(tzRecords(100), aRR("unrelated.local.", "198.51.100.99", 100))...)
	events(e, t0)
	// Run the clock to the first refresh points (80-82% of the TTL).
	for now := t0; now.Before(t0.Add(83 * time.Second)); now = now.Add(100 * time.Millisecond) {
		e.Advance(now)
	}
	var asked []string
	for _, c := range a.take() {
		require.Equal(t, "Refresh", c.Method)
		require.GreaterOrEqual(t, c.Now, t0.Add(80*time.Second))
		asked = append(asked, c.Args)
	}
	assert.ElementsMatch(t, []string{
		"_timezone._tcp.local./PTR", tzName + "/SRV", tzName + "/TXT", "h2.local./A", "h2.local./AAAA",
	}, asked, "RFC 6762 section 5.2: no refresh without interest (unrelated.local.)")
}

func TestSeamKnownAnswers(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	putAll(e, 2, sd.IPv4, t0, tzRecords(10)...)
	qk := []QKey{{Name: dnsname.MustKey("_timezone._tcp.local."), Type: dns.TypePTR}}
	ka := e.KnownAnswers(2, qk, t0.Add(3*time.Second))
	require.Len(t, ka, 1)
	assert.Equal(t, uint32(7), ka[0].Header().Ttl, "remaining TTL")
	assert.Empty(t, e.KnownAnswers(3, qk, t0), "per interface")
	assert.Empty(t, e.KnownAnswers(2, qk, t0.Add(6*time.Second)), "RFC 6762 section 7.1: under half its TTL")
	anyQ := []QKey{{Name: dnsname.MustKey("h2.local."), Type: dns.TypeANY}}
	assert.Len(t, e.KnownAnswers(2, anyQ, t0), 2, "ANY: A and AAAA")

	assert.True(t, e.IsKnownAnswer(ptrRR("_TIMEZONE._tcp.local.", tzName, 10), 2, t0.Add(time.Second)))
	assert.False(t, e.IsKnownAnswer(ptrRR("_timezone._tcp.local.", "Other._timezone._tcp.local.", 10), 2, t0))
	assert.False(t, e.IsKnownAnswer(ptrRR("_timezone._tcp.local.", tzName, 10), 3, t0))
}

func TestSeamEnumeration(t *testing.T) {
	a := &recAsker{}
	e := New(Config{Asker: a})
	e.AddType(Type{Query: ServicesName, Service: sd.ServicesType}, t0)
	assert.Equal(t, []string{"Browse _services._dns-sd._udp.local. learnt=false"}, methods(a.take()))
	t1 := t0.Add(time.Second)
	putAll(e, 2, sd.IPv4, t1,
		ptrRR(ServicesName, "_timezone._tcp.local.", 4500),
		ptrRR(ServicesName, "not a type.local.", 4500))
	cs := a.take()
	require.Len(t, cs, 1)
	assert.Equal(t, call{"Browse", "_timezone._tcp.local. learnt=true", t1}, cs[0], "a learnt type is browsed")
	assert.Equal(t, []string{"_timezone._tcp"}, e.Enumerated())
	assert.Equal(t, []string{"_timezone._tcp.local."}, e.Browsed())

	// The meta-query alone notes the types without browsing them.
	a2 := &recAsker{}
	e2 := New(Config{Asker: a2})
	e2.AddType(Type{Query: ServicesName}, t0)
	a2.take()
	putAll(e2, 2, sd.IPv4, t1, ptrRR(ServicesName, "_http._tcp.local.", 4500))
	assert.Empty(t, a2.take())
	assert.Equal(t, []string{"_http._tcp"}, e2.Enumerated())

	// A unicast domain's enumeration (TypeFound).
	e3 := New(Config{Asker: &recAsker{}})
	e3.TypeFound(Type{Query: "_http._tcp.example.net.", Service: "_http._tcp"}, t0)
	assert.Equal(t, []string{"_http._tcp"}, e3.Enumerated())
	assert.Equal(t, []string{"_http._tcp.example.net."}, e3.Browsed())
}

// Unicast DNS: records are confirmed until the next poll and dropped when
// a poll no longer returns them.
func TestSeamConfirmAndRemoveIf(t *testing.T) {
	a := &recAsker{}
	e := New(Config{Asker: a})
	bt := Type{Query: "_timezone._tcp.example.net.", Service: "_timezone._tcp"}
	e.AddType(bt, t0)
	a.take()
	name := "Office._timezone._tcp.example.net."
	rrs := []dns.RR{
		ptrRR(bt.Query, name, 10), srvRR(name, "h.example.net.", 80, 10),
		txtRR(name, 10, "path=/"), aRR("h.example.net.", "198.51.100.7", 10),
	}
	for _, rr := range rrs {
		rr.Header().Class = dns.ClassINET
		en, _ := e.Put(rr, 0, sd.IPv4, t0)
		require.NotNil(t, en)
		e.Confirm(en, t0.Add(time.Minute))
	}
	require.Len(t, events(e, t0), 1)
	// Past the TTL, confirmed: still there, and no refresh asked.
	for now := t0; now.Before(t0.Add(30 * time.Second)); now = now.Add(time.Second) {
		e.Advance(now)
	}
	assert.Empty(t, events(e, t0.Add(30*time.Second)))
	assert.Empty(t, a.take())
	assert.Len(t, e.Instances(), 1)

	// A poll without the PTR record.
	ptrKey := dnsname.MustKey(bt.Query)
	e.RemoveIf(func(en *Entry) bool { return en.NameKey() == ptrKey && en.Type() == dns.TypePTR })
	evs := events(e, t0.Add(31*time.Second))
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Remove, evs[0].Kind)
	assert.Equal(t, 3, e.Stats().Records)

	// Unconfirmed, the rest expires at the time Confirm gave.
	e.Advance(t0.Add(time.Minute))
	assert.Zero(t, e.Stats().Records)
}

// An interface that goes away (Purge) takes its instances with it, at
// once; the same name on another interface is another instance, left as
// it was.
func TestSeamPurgeInterface(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	putAll(e, 2, sd.IPv4, t0, tzRecords(120)...)
	putAll(e, 3, sd.IPv4, t0, tzRecords(120)...)
	require.Len(t, events(e, t0), 2, "one instance per interface")
	e.Purge(3)
	evs := events(e, t0.Add(time.Second))
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Remove, evs[0].Kind)
	assert.Equal(t, []string{"eth3"}, evs[0].Instance.Ifaces)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("fe80::2%eth3")}, evs[0].Instance.Addrs,
		"Remove carries the last state")
	require.Len(t, e.Instances(), 1)
	assert.Equal(t, []string{"eth2"}, e.Instances()[0].Ifaces)
	e.Purge(2)
	evs = events(e, t0.Add(2*time.Second))
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Remove, evs[0].Kind)
	assert.Empty(t, e.Tracked())
	_, ok := e.Wake()
	assert.False(t, ok, "nothing left")
}

// TestSeamRemoveOnGoodbye: with Config.RemoveOnGoodbye, a goodbye of the
// PTR record (or of the SRV record) removes the instance at once; the
// records stay cached for the second (RFC 6762 section 10.1), and a
// re-announcement within it adds the instance again. Without it, the
// Remove waits for the second (TestSeamPutSettleEvents).
func TestSeamRemoveOnGoodbye(t *testing.T) {
	for _, rrtype := range []string{"PTR", "SRV"} {
		t.Run(rrtype, func(t *testing.T) {
			e, _ := newTestEngine(t, Config{RemoveOnGoodbye: true})
			putAll(e, 2, sd.IPv4, t0, tzRecords(120)...)
			evs := events(e, t0)
			require.Len(t, evs, 1)
			require.Equal(t, sd.Add, evs[0].Kind)

			gb := dns.RR(ptrRR("_timezone._tcp.local.", tzName, 0))
			if rrtype == "SRV" {
				gb = srvRR(tzName, "h2.local.", 8080, 0)
			}
			t1 := t0.Add(10 * time.Second)
			putAll(e, 2, sd.IPv4, t1, gb)
			evs = events(e, t1)
			require.Len(t, evs, 1, "removed at the goodbye")
			assert.Equal(t, sd.Remove, evs[0].Kind)
			assert.Equal(t, "Office TZ", evs[0].Instance.Instance, "Remove carries the last state")
			assert.Empty(t, e.Instances())
			assert.Equal(t, 5, e.Stats().Records, "the records said goodbye to stay cached for the second")
			// The same goodbye again (over IPv6, or repeated): nothing more.
			putAll(e, 2, sd.IPv6, t1.Add(100*time.Millisecond), gb)
			assert.Empty(t, events(e, t1.Add(100*time.Millisecond)))

			// Announced again within the second: added again, and it stays
			// when the second is over.
			t2 := t1.Add(500 * time.Millisecond)
			putAll(e, 2, sd.IPv4, t2, tzRecords(120)...)
			evs = events(e, t2)
			require.Len(t, evs, 1, "re-announced within the second")
			assert.Equal(t, sd.Add, evs[0].Kind)
			assert.Equal(t, uint16(8080), evs[0].Instance.Port)
			e.Advance(t1.Add(2 * time.Second))
			assert.Empty(t, events(e, t1.Add(2*time.Second)))
			assert.Len(t, e.Instances(), 1)

			// Goodbye, and no re-announcement: removed at once, then the
			// records leave the cache a second later without another event,
			// and the instance is no longer followed.
			t3 := t0.Add(30 * time.Second)
			putAll(e, 2, sd.IPv4, t3, gb)
			evs = events(e, t3)
			require.Len(t, evs, 1)
			assert.Equal(t, sd.Remove, evs[0].Kind)
			e.Advance(t3.Add(time.Second))
			assert.Empty(t, events(e, t3.Add(time.Second)))
			if rrtype == "PTR" {
				assert.Empty(t, e.Tracked(), "no PTR, not pinned: no longer followed")
			}
			// Announced again later: added as new.
			t4 := t3.Add(5 * time.Second)
			putAll(e, 2, sd.IPv4, t4, tzRecords(120)...)
			evs = events(e, t4)
			require.Len(t, evs, 1)
			assert.Equal(t, sd.Add, evs[0].Kind)
		})
	}
}

// TestSeamGoodbyeOfOneInterface: under RemoveOnGoodbye, a goodbye on one
// interface removes the instance there only, and a goodbye of one of two
// PTR records (two browsed types naming it) removes nothing.
func TestSeamGoodbyeOfOneInterface(t *testing.T) {
	e, _ := newTestEngine(t, Config{RemoveOnGoodbye: true})
	putAll(e, 2, sd.IPv4, t0, tzRecords(120)...)
	putAll(e, 3, sd.IPv4, t0, tzRecords(120)...)
	require.Len(t, events(e, t0), 2)
	t1 := t0.Add(time.Second)
	putAll(e, 3, sd.IPv4, t1, ptrRR("_timezone._tcp.local.", tzName, 0))
	evs := events(e, t1)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Remove, evs[0].Kind)
	assert.Equal(t, []string{"eth3"}, evs[0].Instance.Ifaces)
	require.Len(t, e.Instances(), 1)
	assert.Equal(t, []string{"eth2"}, e.Instances()[0].Ifaces)
	// A goodbye of the TXT record alone is no goodbye of the instance: it
	// leaves when the record does, a second later, as without the option.
	putAll(e, 2, sd.IPv4, t1, txtRR(tzName, 0, "path=/tz"))
	assert.Empty(t, events(e, t1))
	e.Advance(t1.Add(time.Second))
	evs = events(e, t1.Add(time.Second))
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Remove, evs[0].Kind)
}
