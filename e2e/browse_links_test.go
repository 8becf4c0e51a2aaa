package e2e

// End-to-end tests of lansd browse and lansd resolve on a host with
// interfaces on two LANs (issue 11): Multicast DNS names are per link
// (RFC 6762), so "Same TZ" announced on each LAN is two instances; an
// interface that goes away takes its instances with it; an instance whose
// host has no address is reported, then updated.

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// twoLANs is host M (h1 of LAN A, lan0) joined to LAN B (lanB,
// 198.18.2.1), with "Same TZ" announced by lansd on each LAN: port 8080
// from h2 of A (h2.local., 198.51.100.12), port 9090 from h3 of B
// (h3.local., 198.18.2.13). LAN B has its own subnet (lantest.Subnet):
// with A's 198.51.100.0/24 on both, h3 would send its unicast answers to
// M's lan0 address on LAN B (to LAN B's h1), and M would hear that link
// only at the next multicast query.
type twoLANs struct {
	a, b   *lantest.LAN
	m      *lantest.Host
	lanB   lantest.Link
	annA   *lantest.Proc
	annB   *lantest.Proc
	ctx    context.Context
	bAddrs []string
}

func newTwoLANs(t *testing.T) *twoLANs {
	t.Helper()
	l := &twoLANs{ctx: lantest.Context(t, 90*time.Second)}
	l.a = lantest.New(t, lantest.Hosts(2))
	l.b = lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.2.0/24")))
	l.m = l.a.Host(1)
	l.lanB = l.b.Join(t, l.m, "lanB", netip.MustParseAddr("198.18.2.1"))
	l.bAddrs = []string{l.b.Host(3).IPv4.String(), "fe80::3%lanB"}
	l.annA = clitest.Start(t, l.a.Host(2), "announce", "--service", "timezone", "--name", "Same TZ", "--port", "8080", "--txt", "path=/a")
	l.annB = clitest.Start(t, l.b.Host(3), "announce", "--service", "timezone", "--name", "Same TZ", "--port", "9090", "--txt", "path=/b")
	brAnnounced(t, l.ctx, l.annA)
	brAnnounced(t, l.ctx, l.annB)
	return l
}

// ifaceIs selects events of one interface.
func ifaceIs(iface string) func(clitest.Event) bool {
	return func(e clitest.Event) bool { return slices.Equal(e.Iface, []string{iface}) }
}

// "Same TZ" on LAN A (8080) and LAN B (9090), browsed from M on both: two
// instances, each with its own interface, port and addresses, that never
// flip; --parsable gives each link's IPv4 and IPv6 lines; lansd resolve
// prints both, and --iface one.
func TestBrowseSameNameOnTwoLANs(t *testing.T) {
	t.Parallel()
	l := newTwoLANs(t)
	ctx := l.ctx
	js := clitest.Start(t, l.m, "browse", "timezone", "--json")
	parsable := clitest.Start(t, l.m, "browse", "timezone", "--parsable")

	a, err := clitest.WaitEvent(ctx, js, "add", "Same TZ", ifaceIs("lan0"))
	require.NoError(t, err)
	assert.Equal(t, uint16(8080), a.Port)
	assert.Equal(t, "h2.local.", a.Host)
	assert.Equal(t, `"path=/a"`, a.TXT.String())
	b, err := clitest.WaitEvent(ctx, js, "add", "Same TZ", ifaceIs("lanB"))
	require.NoError(t, err)
	assert.Equal(t, uint16(9090), b.Port)
	assert.Equal(t, "h3.local.", b.Host)
	assert.Equal(t, `"path=/b"`, b.TXT.String())

	// A few query rounds later: still two instances, never flipped.
	time.Sleep(4 * time.Second)
	evs := clitest.Events(t, js.Lines())
	for _, e := range evs {
		require.Len(t, e.Iface, 1, "one interface per instance: %+v", e)
		assert.NotEqual(t, "remove", e.Event, "%+v", e)
		switch e.Iface[0] {
		case "lan0":
			assert.Equal(t, uint16(8080), e.Port)
			assert.Equal(t, "h2.local.", e.Host)
			assert.Equal(t, []string{"198.51.100.12", "fe80::2%lan0"}, e.Addrs, "only LAN A's addresses")
		case "lanB":
			assert.Equal(t, uint16(9090), e.Port)
			assert.Equal(t, "h3.local.", e.Host)
			assert.Equal(t, l.bAddrs, e.Addrs, "only LAN B's addresses")
		default:
			t.Errorf("unexpected interface %q", e.Iface[0])
		}
	}
	t.Logf("lansd browse timezone --json on two LANs:\n%s", strings.Join(js.Lines(), "\n"))

	// --parsable: each link's instance over IPv4 and over IPv6.
	for _, re := range []string{
		`^\+;lan0;IPv4;Same\\032TZ;_timezone\._tcp;local$`,
		`^\+;lan0;IPv6;Same\\032TZ;_timezone\._tcp;local$`,
		`^\+;lanB;IPv4;Same\\032TZ;_timezone\._tcp;local$`,
		`^\+;lanB;IPv6;Same\\032TZ;_timezone\._tcp;local$`,
		`^=;lan0;IPv4;Same\\032TZ;_timezone\._tcp;local;h2\.local;198\.51\.100\.12;8080;"path=/a"$`,
		`^=;lan0;IPv6;Same\\032TZ;_timezone\._tcp;local;h2\.local;fe80::2;8080;"path=/a"$`,
		`^=;lanB;IPv4;Same\\032TZ;_timezone\._tcp;local;h3\.local;198\.18\.2\.13;9090;"path=/b"$`,
		`^=;lanB;IPv6;Same\\032TZ;_timezone\._tcp;local;h3\.local;fe80::3;9090;"path=/b"$`,
	} {
		_, err := parsable.WaitFor(ctx, regexp.MustCompile(re))
		require.NoError(t, err, "%s in %q", re, parsable.Lines())
	}
	for _, line := range parsable.Lines() {
		n := len(strings.Split(line, ";"))
		assert.True(t, n == 6 || n == 10, "%q splits into %d fields", line, n)
	}
	t.Logf("lansd browse timezone --parsable on two LANs:\n%s", strings.Join(parsable.Lines(), "\n"))

	// lansd resolve: one line per link.
	res := clitest.Start(t, l.m, "resolve", "Same TZ._timezone._tcp")
	require.Equal(t, 0, brExitCode(t, ctx, res), "%q", res.Lines())
	require.Len(t, res.Lines(), 2, "%q", res.Lines())
	assert.Regexp(t, `^= Same TZ  _timezone\._tcp  h2\.local\.:8080  198\.51\.100\.12 fe80::2%lan0  "path=/a"  ✓$`, res.Lines()[0])
	assert.Regexp(t, `^= Same TZ  _timezone\._tcp  h3\.local\.:9090  198\.18\.2\.13 fe80::3%lanB  "path=/b"  ✓$`, res.Lines()[1])
	t.Logf("lansd resolve \"Same TZ._timezone._tcp\":\n%s", strings.Join(res.Lines(), "\n"))
	resJSON := clitest.Start(t, l.m, "resolve", "Same TZ._timezone._tcp", "--json")
	require.Equal(t, 0, brExitCode(t, ctx, resJSON))
	got := clitest.Events(t, resJSON.Lines())
	require.Len(t, got, 2)
	assert.Equal(t, []string{"lan0"}, got[0].Iface)
	assert.Equal(t, uint16(8080), got[0].Port)
	assert.Equal(t, []string{"lanB"}, got[1].Iface)
	assert.Equal(t, uint16(9090), got[1].Port)
	one := clitest.Start(t, l.m, "resolve", "Same TZ._timezone._tcp", "--iface", "lanB", "--json")
	require.Equal(t, 0, brExitCode(t, ctx, one))
	got = clitest.Events(t, one.Lines())
	require.Len(t, got, 1)
	assert.Equal(t, []string{"lanB"}, got[0].Iface)
	assert.Equal(t, uint16(9090), got[0].Port)
	assert.Equal(t, l.bAddrs, got[0].Addrs)
}

// M's interface on LAN B goes away: the instance learnt there is removed
// (one remove event, with its last state), LAN A's is left alone. When M
// is plugged into LAN B again, the new interface is asked on and the
// instance there found again.
func TestBrowseInterfaceRemovedOnTwoLANs(t *testing.T) {
	t.Parallel()
	l := newTwoLANs(t)
	ctx := l.ctx
	js := clitest.Start(t, l.m, "browse", "timezone", "--json")
	_, err := clitest.WaitEvent(ctx, js, "add", "Same TZ", ifaceIs("lan0"))
	require.NoError(t, err)
	_, err = clitest.WaitEvent(ctx, js, "add", "Same TZ", ifaceIs("lanB"))
	require.NoError(t, err)
	n := len(clitest.Events(t, js.Lines()))

	l.b.Disconnect(t, l.m, l.lanB)
	gone := time.Now()
	rmCtx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	rm, err := clitest.WaitEvent(rmCtx, js, "remove", "Same TZ", nil)
	require.NoError(t, err, "%q", js.Lines())
	t.Logf("remove %v after the interface went", time.Since(gone))
	assert.Equal(t, []string{"lanB"}, rm.Iface)
	assert.Equal(t, uint16(9090), rm.Port, "the last state")

	// LAN A's instance: no event, still answered.
	time.Sleep(3 * time.Second)
	evs := clitest.Events(t, js.Lines())[n:]
	require.Len(t, evs, 1, "only the remove: %+v", evs)
	res := clitest.Start(t, l.m, "resolve", "Same TZ._timezone._tcp", "--json")
	require.Equal(t, 0, brExitCode(t, ctx, res))
	got := clitest.Events(t, res.Lines())
	require.Len(t, got, 1)
	assert.Equal(t, []string{"lan0"}, got[0].Iface)
	assert.Equal(t, uint16(8080), got[0].Port)

	// Back on LAN B.
	n = len(clitest.Events(t, js.Lines()))
	l.b.Join(t, l.m, "lanB", netip.MustParseAddr("198.18.2.1"))
	back := time.Now()
	addCtx, cancel2 := context.WithTimeout(ctx, 8*time.Second)
	defer cancel2()
	// The second add on lanB (the first was before it went).
	lines, err := js.WaitForN(addCtx, regexp.MustCompile(`^\{"event":"add","instance":"Same TZ".*"iface":\["lanB"\]`), 2)
	require.NoError(t, err, "%q", js.Lines())
	t.Logf("found again %v after the interface came back", time.Since(back))
	add, err := clitest.Decode(lines[1])
	require.NoError(t, err)
	assert.Len(t, clitest.Events(t, js.Lines())[n:], 1, "only the add")
	assert.Equal(t, uint16(9090), add.Port)
}

// An instance whose host has no address (its SRV target never answers) is
// reported after the resolution window, with host, port, no address and a
// warning naming the host, in every format; when the address comes, an
// update.
func TestBrowseInstanceWithoutAddress(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	raw := h2.Helper(t, "browse-raw")
	brReady(t, ctx, raw)
	js := clitest.Start(t, h1, "browse", "timezone", "--json")
	human := clitest.Start(t, h1, "browse", "timezone")
	parsable := clitest.Start(t, h1, "browse", "timezone", "--parsable")
	time.Sleep(500 * time.Millisecond)

	name := `NoAddr\ TZ._timezone._tcp.local.`
	sent := time.Now()
	brSend(t, ctx, raw, 1, brResponse(
		brRR(t, `_timezone._tcp.local. 4500 IN PTR `+name),
		brFlush(brRR(t, name+` 120 IN SRV 0 0 8082 h9.local.`)),
		brFlush(brRR(t, name+` 4500 IN TXT "path=/na"`)),
	))
	ev, err := clitest.WaitEvent(ctx, js, "add", "NoAddr TZ", nil)
	require.NoError(t, err)
	took := time.Since(sent)
	t.Logf("reported without address %v after its records", took)
	assert.GreaterOrEqual(t, took, 3*time.Second, "after the resolution window")
	assert.Less(t, took, 6*time.Second)
	assert.Equal(t, "h9.local.", ev.Host)
	assert.Equal(t, uint16(8082), ev.Port)
	assert.Empty(t, ev.Addrs)
	assert.Equal(t, []string{"lan0"}, ev.Iface)
	assert.True(t, ev.Conforms)
	require.NotEmpty(t, ev.Findings)
	assert.Equal(t, "warning", ev.Findings[0].Severity)
	assert.Equal(t, `no address for host "h9.local."`, ev.Findings[0].Reason)
	line, err := human.WaitFor(ctx, regexp.MustCompile(`^\+ NoAddr TZ  `))
	require.NoError(t, err)
	assert.Equal(t, `+ NoAddr TZ  _timezone._tcp  h9.local.:8082  (no address)  "path=/na"  ✓`, line)
	_, err = human.WaitFor(ctx, regexp.MustCompile(`^    warning: no address for host "h9\.local\." \(RFC 6763 section 5\)$`))
	require.NoError(t, err)
	_, err = parsable.WaitFor(ctx, regexp.MustCompile(`^=;lan0;IPv4;NoAddr\\032TZ;_timezone\._tcp;local;h9\.local;;8082;"path=/na"$`))
	require.NoError(t, err, "%q", parsable.Lines())

	brSend(t, ctx, raw, 2, brResponse(brFlush(brRR(t, `h9.local. 120 IN A 198.51.100.99`))))
	up, err := clitest.WaitEvent(ctx, js, "update", "NoAddr TZ", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"198.51.100.99"}, up.Addrs)
	assert.Empty(t, up.Findings)
	_, err = human.WaitFor(ctx, regexp.MustCompile(`^~ NoAddr TZ  _timezone\._tcp  h9\.local\.:8082  198\.51\.100\.99  "path=/na"  ✓$`))
	require.NoError(t, err)
	_, err = parsable.WaitFor(ctx, regexp.MustCompile(`^=;lan0;IPv4;NoAddr\\032TZ;_timezone\._tcp;local;h9\.local;198\.51\.100\.99;8082;"path=/na"$`))
	require.NoError(t, err)
	t.Logf("lansd browse timezone (instance without address, then its address):\n%s", strings.Join(human.Lines(), "\n"))
}
