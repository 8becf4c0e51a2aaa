package engine

// Tests of instances per link (RFC 6762: Multicast DNS names are per
// link), of instances without address (reported after the resolution
// window) and of address changes.

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

const sameName = `Same\ TZ._timezone._tcp.local.`

// sameRecords are "Same TZ" on host, port and address.
func sameRecords(host string, port uint16, addr string) []dns.RR {
	return []dns.RR{
		ptrRR("_timezone._tcp.local.", sameName, 4500),
		srvRR(sameName, host, port, 120),
		txtRR(sameName, 4500, "path=/tz"),
		aRR(host, addr, 120),
	}
}

// kinds returns the kinds and interfaces of evs: "add eth2".
func kinds(evs []sd.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Kind.String()+" "+ev.Instance.Ifaces[0])
	}
	return out
}

// The same name on two interfaces is two instances, each with its own
// port, addresses, TTL and events; neither ever takes the other's data.
func TestSameNameOnTwoInterfacesIsTwoInstances(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	putAll(e, 2, sd.IPv4, t0, sameRecords("ha.local.", 8080, "198.18.1.1")...)
	putAll(e, 3, sd.IPv4, t0, sameRecords("hb.local.", 9090, "198.18.2.1")...)
	evs := events(e, t0)
	require.Equal(t, []string{"add eth2", "add eth3"}, kinds(evs))
	a, b := evs[0].Instance, evs[1].Instance
	assert.Equal(t, "Same TZ._timezone._tcp.local.", a.Name)
	assert.Equal(t, a.Name, b.Name)
	assert.Equal(t, uint16(8080), a.Port)
	assert.Equal(t, "ha.local.", a.Host)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.1")}, a.Addrs)
	assert.Equal(t, []string{"eth2"}, a.Ifaces)
	assert.Equal(t, []sd.Source{{Iface: "eth2", Family: sd.IPv4}}, a.Seen)
	assert.Equal(t, uint16(9090), b.Port)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.2.1")}, b.Addrs)
	assert.Equal(t, []string{"eth3"}, b.Ifaces)
	assert.Equal(t, 2, e.Stats().Instances)
	got := e.Instances()
	require.Len(t, got, 2)
	assert.Equal(t, []string{"eth2"}, got[0].Ifaces, "sorted by name, then interface")
	assert.Equal(t, []string{"eth3"}, got[1].Ifaces)

	// Refreshes on both links, interleaved: no event, nothing flips.
	for i := 1; i <= 5; i++ {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		putAll(e, 3, sd.IPv4, now, sameRecords("hb.local.", 9090, "198.18.2.1")...)
		putAll(e, 2, sd.IPv4, now, sameRecords("ha.local.", 8080, "198.18.1.1")...)
		require.Empty(t, events(e, now))
	}

	// A host of link A also answers on link B with a shorter TTL: each
	// instance's TTL is its own link's.
	t1 := t0.Add(time.Minute)
	putAll(e, 3, sd.IPv4, t1, txtRR(sameName, 4500, "path=/b"))
	evs = events(e, t1)
	require.Equal(t, []string{"update eth3"}, kinds(evs))
	assert.Equal(t, `"path=/b"`, evs[0].Instance.TXT.String())
	got = e.Instances()
	assert.Equal(t, `"path=/tz"`, got[0].TXT.String(), "link A's instance keeps its TXT record")

	// Goodbye on link A: only its instance goes.
	t2 := t1.Add(time.Second)
	putAll(e, 2, sd.IPv4, t2, ptrRR("_timezone._tcp.local.", sameName, 0))
	e.Advance(t2.Add(time.Second))
	evs = events(e, t2.Add(time.Second))
	require.Equal(t, []string{"remove eth2"}, kinds(evs))
	assert.Equal(t, uint16(8080), evs[0].Instance.Port)
	require.Len(t, e.Instances(), 1)
	assert.Equal(t, uint16(9090), e.Instances()[0].Port)
}

// Questions go on every interface; an answer on one does not make them
// unneeded while the instance lacks the record on another.
func TestNeededPerInterface(t *testing.T) {
	e, a := newTestEngine(t, Config{})
	a.take()
	ptr := ptrRR("_timezone._tcp.local.", sameName, 4500)
	putAll(e, 2, sd.IPv4, t0, ptr)
	putAll(e, 3, sd.IPv4, t0, ptr)
	events(e, t0)
	k := dnsname.MustKey(sameName)
	putAll(e, 2, sd.IPv4, t0, srvRR(sameName, "ha.local.", 8080, 120))
	events(e, t0)
	assert.True(t, e.Needed(k, dns.TypeSRV), "eth3 lacks it")
	putAll(e, 3, sd.IPv4, t0, srvRR(sameName, "hb.local.", 9090, 120))
	events(e, t0)
	assert.False(t, e.Needed(k, dns.TypeSRV))
	assert.True(t, e.Needed(dnsname.MustKey("ha.local."), dns.TypeA))
	putAll(e, 3, sd.IPv4, t0, aRR("ha.local.", "198.18.1.1", 120))
	events(e, t0)
	assert.True(t, e.Needed(dnsname.MustKey("ha.local."), dns.TypeA), "ha's address arrived on the wrong link")
	putAll(e, 2, sd.IPv4, t0, aRR("ha.local.", "198.18.1.1", 120))
	events(e, t0)
	assert.False(t, e.Needed(dnsname.MustKey("ha.local."), dns.TypeA))
	assert.Equal(t, []string{"TXT record"}, e.Missing(sameName), "the interface that got furthest")
}

// An instance whose SRV target has no address is reported once the
// resolution window is over, with host, port, no address and a warning
// naming the host; the address arriving later is an Update.
func TestNoAddressReportedAfterWindow(t *testing.T) {
	e, a := newTestEngine(t, Config{AddressWait: 3 * time.Second})
	a.take()
	rrs := sameRecords("h9.local.", 8080, "198.18.1.9")[:3]
	putAll(e, 2, sd.IPv4, t0, rrs...)
	assert.Empty(t, events(e, t0), "held back during the window")
	assert.Equal(t, []string{"Resolve h9.local./A h9.local./AAAA"}, methods(a.take()))
	at, ok := e.Wake()
	require.True(t, ok)
	assert.Equal(t, t0.Add(3*time.Second), at)
	end, ok := e.AddressWaitEnd()
	require.True(t, ok)
	assert.Equal(t, at, end)
	assert.Empty(t, e.Instances())

	// Refreshes during the window do not restart it.
	putAll(e, 2, sd.IPv4, t0.Add(time.Second), rrs...)
	assert.Empty(t, events(e, t0.Add(time.Second)))
	e.Advance(at.Add(-time.Millisecond))
	assert.Empty(t, events(e, at.Add(-time.Millisecond)))
	e.Advance(at)
	evs := events(e, at)
	require.Len(t, evs, 1)
	ev := evs[0]
	assert.Equal(t, sd.Add, ev.Kind)
	assert.Equal(t, "h9.local.", ev.Instance.Host)
	assert.Equal(t, uint16(8080), ev.Instance.Port)
	assert.Empty(t, ev.Instance.Addrs)
	assert.True(t, ev.Instance.Conforms(), "a warning only")
	require.NotEmpty(t, ev.Instance.Report.Findings)
	f := ev.Instance.Report.Findings[0]
	assert.Equal(t, txt.Warning, f.Severity)
	assert.Equal(t, -1, f.Offset)
	assert.Equal(t, `no address for host "h9.local."`, f.Reason)
	assert.Equal(t, "RFC 6763 section 5", f.Rule)
	assert.Len(t, e.Instances(), 1)
	assert.Equal(t, 1, e.Stats().Instances)
	_, ok = e.AddressWaitEnd()
	assert.False(t, ok)
	assert.True(t, e.Needed(dnsname.MustKey("h9.local."), dns.TypeA), "still asked for")

	// The address arrives: Update, without the warning.
	t1 := at.Add(5 * time.Second)
	putAll(e, 2, sd.IPv4, t1, aRR("h9.local.", "198.18.1.9", 120))
	evs = events(e, t1)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Update, evs[0].Kind)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.9")}, evs[0].Instance.Addrs)
	assert.Empty(t, evs[0].Instance.Report.Findings)

	// The address said goodbye to, with the service still announced: an
	// Update without address once it is gone, at once (no new window).
	t2 := t1.Add(time.Second)
	putAll(e, 2, sd.IPv4, t2, aRR("h9.local.", "198.18.1.9", 0))
	assert.Empty(t, events(e, t2), "the last address stays its second")
	e.Advance(t2.Add(time.Second))
	evs = events(e, t2.Add(time.Second))
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Update, evs[0].Kind)
	assert.Empty(t, evs[0].Instance.Addrs)
	assert.Equal(t, `no address for host "h9.local."`, evs[0].Instance.Report.Findings[0].Reason)
}

// With no window (a unicast DNS poll), an instance without address is
// reported at once; one that never had SRV or TXT is never reported.
func TestNoAddressWithoutWindow(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	putAll(e, 0, sd.IPv4, t0, sameRecords("h9.local.", 8080, "198.18.1.9")[:3]...)
	evs := events(e, t0)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Add, evs[0].Kind)
	assert.Empty(t, evs[0].Instance.Addrs)

	e2, _ := newTestEngine(t, Config{})
	putAll(e2, 0, sd.IPv4, t0, sameRecords("h9.local.", 8080, "198.18.1.9")[:2]...)
	assert.Empty(t, events(e2, t0), "no TXT record: not reported")
	e2.Advance(t0.Add(time.Hour))
	assert.Empty(t, events(e2, t0.Add(time.Hour)))
}

// An address that changes (the new one announced with the cache-flush
// bit, RFC 6762 section 10.2) is one Update with the new set, at once;
// the old record's expiry a second later is no event.
func TestAddressChangeIsOneUpdate(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	putAll(e, 2, sd.IPv4, t0, sameRecords("hm.local.", 8080, "198.18.1.1")...)
	require.Len(t, events(e, t0), 1)
	t1 := t0.Add(10 * time.Second)
	putAll(e, 2, sd.IPv4, t1, aRR("hm.local.", "198.18.1.11", 120))
	evs := events(e, t1)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Update, evs[0].Kind)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.11")}, evs[0].Instance.Addrs, "the new address, not the old")
	e.Advance(t1.Add(time.Second))
	assert.Empty(t, events(e, t1.Add(time.Second)))
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.11")}, e.Instances()[0].Addrs)

	// A goodbye for one of two addresses: an Update at once.
	t2 := t1.Add(10 * time.Second)
	putAll(e, 2, sd.IPv4, t2, aaaaRR("hm.local.", "fe80::9", 120))
	require.Len(t, events(e, t2), 1)
	t3 := t2.Add(10 * time.Second)
	putAll(e, 2, sd.IPv4, t3, aRR("hm.local.", "198.18.1.11", 0))
	evs = events(e, t3)
	require.Len(t, evs, 1)
	assert.Equal(t, sd.Update, evs[0].Kind)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("fe80::9%eth2")}, evs[0].Instance.Addrs)
	e.Advance(t3.Add(time.Second))
	assert.Empty(t, events(e, t3.Add(time.Second)))
}

// A pinned name (resolution) is followed on every interface its records
// arrive on, one instance per interface; once none is left it is asked
// for again.
func TestPinOnTwoInterfaces(t *testing.T) {
	a := &recAsker{}
	var got []sd.Event
	e := New(Config{Asker: a, Sink: func(ev sd.Event) { got = append(got, ev) }})
	e.Pin(sameName)
	e.Settle(t0)
	assert.Equal(t, []string{"Resolve " + sameName + "/SRV " + sameName + "/TXT"}, methods(a.take()))
	assert.Equal(t, []Tracked{{Name: sameName}}, e.Tracked(), "a pinned name is polled before it is seen")
	putAll(e, 2, sd.IPv4, t0, sameRecords("ha.local.", 8080, "198.18.1.1")[1:]...)
	putAll(e, 3, sd.IPv6, t0, sameRecords("hb.local.", 9090, "198.18.2.1")[1:]...)
	e.Settle(t0)
	require.Equal(t, []string{"add eth2", "add eth3"}, kinds(got))
	assert.Equal(t, uint16(8080), got[0].Instance.Port)
	assert.Equal(t, uint16(9090), got[1].Instance.Port)
	assert.Equal(t, []sd.Source{{Iface: "eth3", Family: sd.IPv6}}, got[1].Instance.Seen)
	assert.Empty(t, e.Missing(sameName))
	assert.Empty(t, a.take())

	e.Purge(2)
	e.Purge(3)
	e.Settle(t0.Add(time.Second))
	require.Equal(t, []string{"add eth2", "add eth3", "remove eth2", "remove eth3"}, kinds(got))
	assert.Equal(t, []string{"Resolve " + sameName + "/SRV " + sameName + "/TXT"}, methods(a.take()), "asked for again")
	assert.True(t, e.Needed(dnsname.MustKey(sameName), dns.TypeSRV))
}

// A cache-flush refresh of one of two known addresses flushes the other
// (RFC 6762 section 10.2): it leaves the address set at once.
func TestFlushRefreshDropsOtherAddressAtOnce(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	rrs := sameRecords("hm.local.", 8080, "198.18.1.1")
	putAll(e, 2, sd.IPv4, t0, rrs...)
	// A second address, without the cache-flush bit.
	second := aRR("hm.local.", "198.18.1.11", 120)
	second.Hdr.Class = dns.ClassINET
	putAll(e, 2, sd.IPv4, t0, second)
	evs := events(e, t0)
	require.Len(t, evs, 1)
	require.Len(t, evs[0].Instance.Addrs, 2)
	t1 := t0.Add(10 * time.Second)
	putAll(e, 2, sd.IPv4, t1, aRR("hm.local.", "198.18.1.11", 120))
	evs = events(e, t1)
	require.Len(t, evs, 1)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.11")}, evs[0].Instance.Addrs)
}
