//go:build linux

package e2e

// End-to-end test of lansd gateway's zone destinations (issue 13, "into
// DNS"): link A (198.18.1.0/24), the gateway on A's h2, and a real BIND
// 9 (internal/dnstest) started inside the gateway host's namespace,
// listening on that namespace's 127.0.0.1: only what runs there (the
// gateway, dig, nsupdate, lansd browse --domain) reaches it.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/internal/lantest"
)

// gwZone is the zone the test mirrors into.
const gwZone = "dnssd.example.net."

// TestGatewayZone: an instance announced on A appears in the zone (PTR,
// SRV to h1.a.<zone>, TXT, A, and the b/lb browsing-domain PTRs), seen by
// dig and by lansd browse --domain; a name taken in the zone is withdrawn,
// never renamed; a non-conforming instance under "conforming" never
// reaches the zone; the announcer's goodbye removes the instance from the
// zone within seconds; the gateway's SIGTERM leaves the zone exactly as
// found.
func TestGatewayZone(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 120*time.Second)
	a := lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.1.0/24")))
	gw := a.Host(2)
	// Someone else's "Taken TZ" is in the zone already.
	s := dnstest.StartBIND(t, gwZone, dnstest.WithRunner(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return gw.Command(ctx, name, args...)
	}), dnstest.WithRecords(
		"_services._dns-sd._udp IN PTR _timezone._tcp",
		`_timezone._tcp IN PTR Taken\032TZ._timezone._tcp`,
		`Taken\032TZ._timezone._tcp IN SRV 0 0 9999 other`,
		`Taken\032TZ._timezone._tcp IN TXT "path=/other"`,
		"other IN A 198.51.100.99",
	))
	before := s.Snapshot(t)
	t.Logf("zone before:\n%s", strings.Join(before, "\n"))

	cfg := gwConfig(t, fmt.Sprintf(`{
  "links": {"a": {"interfaces": ["lan0"]}},
  "zones": {"corp": {"domain": %q, "server": %q, "tsig": %q, "ttl": 30}},
  "rules": [
    {"from": ["a"], "to_zones": ["corp"], "types": ["timezone"]},
    {"from": ["a"], "to_zones": ["corp"], "types": ["_jnx-kcsync._tcp"], "conformance": "conforming"}
  ]
}`, gwZone, s.Addr, s.TSIGSpec()))
	g := clitest.Start(t, gw, "gateway", "--config", cfg, "--json", "-v")

	ann := clitest.Start(t, a.Host(1), "announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080",
		"--txt", "path=/tz", "--ipv4-only")
	_, err := ann.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", ann.Lines())
	announced := time.Now()
	pe := gwWait(t, ctx, g, "proxied", "Office TZ._timezone._tcp.local.")
	inZone := time.Since(announced)
	t.Logf("in the zone %v after the announcer's announced line: %+v", inZone.Round(time.Millisecond), pe)
	assert.Equal(t, "a", pe.From)
	assert.Equal(t, "corp", pe.To)
	assert.Equal(t, 0, pe.Rule)
	assert.Contains(t, pe.Reason, `Office TZ._timezone._tcp.dnssd.example.net., SRV h1.a.dnssd.example.net.:8080, addresses 198.18.1.11`)
	assert.Less(t, inZone, 5*time.Second)
	// The gateway's own part: from its browser's add to the server's
	// acceptance (its -v log, to the millisecond, and the event's time).
	if l, err := g.WaitFor(ctx, regexp.MustCompile(`msg="gateway: browse event" .*kind=add instance="Office TZ`)); err == nil {
		if m := regexp.MustCompile(`^time=(\S+)`).FindStringSubmatch(l); m != nil {
			seen, err1 := time.Parse(time.RFC3339Nano, m[1])
			done, err2 := time.Parse(time.RFC3339Nano, pe.Time)
			if err1 == nil && err2 == nil {
				t.Logf("browse add on A -> in the zone: %v", done.Sub(seen).Round(time.Millisecond))
			}
		}
	}

	// dig, inside the namespace, sees it as any client would.
	dig := func(args ...string) string {
		out := s.Dig(t, append([]string{"+noall", "+answer"}, args...)...)
		t.Logf("$ dig -p %d @127.0.0.1 +noall +answer %s\n%s", s.Port, strings.Join(args, " "), out)
		return strings.Join(strings.Fields(out), " ") // dig separates with tabs and spaces
	}
	ptr := dig("PTR", "_timezone._tcp."+gwZone)
	assert.Contains(t, ptr, `PTR Office\032TZ._timezone._tcp.dnssd.example.net.`)
	assert.Contains(t, ptr, `PTR Taken\032TZ._timezone._tcp.dnssd.example.net.`)
	assert.Contains(t, dig("SRV", `Office\032TZ._timezone._tcp.`+gwZone), "30 IN SRV 0 0 8080 h1.a.dnssd.example.net.")
	assert.Contains(t, dig("TXT", `Office\032TZ._timezone._tcp.`+gwZone), `"path=/tz"`)
	assert.Contains(t, dig("A", "h1.a."+gwZone), "IN A 198.18.1.11")
	assert.Empty(t, dig("AAAA", "h1.a."+gwZone), "no link-local address")
	assert.Contains(t, dig("PTR", "b._dns-sd._udp."+gwZone), "PTR dnssd.example.net.")
	assert.Contains(t, dig("PTR", "lb._dns-sd._udp."+gwZone), "PTR dnssd.example.net.")
	assert.Contains(t, dig("SRV", `Taken\032TZ._timezone._tcp.`+gwZone), "SRV 0 0 9999 other.dnssd.example.net.", "the other one's stays")

	// lansd browse --domain, a wide-area client, finds it with its verdict.
	browse := func(args ...string) string {
		p := clitest.Start(t, gw, append([]string{"browse", "timezone", "--domain", gwZone, "--server", s.Addr, "--once"}, args...)...)
		require.NoError(t, p.Wait(ctx), "%q", p.Lines())
		t.Logf("$ lansd browse timezone --domain %s --server %s --once %s\n%s", gwZone, s.Addr, strings.Join(args, " "), strings.Join(p.Lines(), "\n"))
		return strings.Join(p.Lines(), "\n")
	}
	out := browse()
	assert.Contains(t, out, `+ Office TZ  _timezone._tcp  h1.a.dnssd.example.net.:8080  198.18.1.11  "path=/tz"  ✓`)
	var office clitest.Event
	for _, ev := range clitest.Events(t, strings.Split(browse("--json"), "\n")) {
		if ev.Instance == "Office TZ" {
			office = ev
		}
	}
	assert.Equal(t, "add", office.Event)
	assert.Equal(t, gwZone, office.Domain)
	assert.True(t, office.Conforms, "%+v", office)
	assert.Equal(t, []string{"198.18.1.11"}, office.Addrs)

	// A name taken in the zone: withdrawn, not renamed, nothing written.
	taken := clitest.Start(t, a.Host(3), "announce", "--service", "timezone", "--name", "Taken TZ", "--port", "8081", "--ipv4-only")
	_, err = taken.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", taken.Lines())
	we := gwWait(t, ctx, g, "withdrawn", "Taken TZ._timezone._tcp.local.")
	t.Logf("gateway: %+v", we)
	assert.Equal(t, "corp", we.To)
	assert.Contains(t, we.Reason, "not renamed")
	assert.Contains(t, dig("SRV", `Taken\032TZ._timezone._tcp.`+gwZone), "SRV 0 0 9999 other.dnssd.example.net.")
	assert.Empty(t, dig("A", "h3.a."+gwZone))

	// Not conforming under "conforming": refused, never in the zone.
	kc := clitest.Start(t, a.Host(3), "announce", "--service", "_jnx-kcsync._tcp", "--name", "Keys", "--port", "4000", "--ipv4-only",
		"--txt", "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f", "--txt", "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9", "--hostname", "kc", "--no-validate")
	_, err = kc.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", kc.Lines())
	re := gwWait(t, ctx, g, "refused", "Keys._jnx-kcsync._tcp.local.")
	assert.Equal(t, 1, re.Rule)
	assert.Equal(t, "corp", re.To)
	assert.Contains(t, re.Reason, "rules[1].conformance")
	assert.Empty(t, dig("PTR", "_jnx-kcsync._tcp."+gwZone))
	assert.Empty(t, dig("SRV", "Keys._jnx-kcsync._tcp."+gwZone))

	// The announcer's goodbye: gone from the zone within seconds (the
	// gateway's browser drops the instance 1 s after the goodbye, RFC 6762
	// section 10.1; then one UPDATE).
	require.NoError(t, ann.Signal(syscall.SIGTERM))
	sent := time.Now()
	re = gwWait(t, ctx, g, "removed", "Office TZ._timezone._tcp.local.")
	gone := time.Since(sent)
	t.Logf("removed from the zone %v after SIGTERM to the announcer: %+v", gone.Round(time.Millisecond), re)
	assert.Equal(t, "corp", re.To)
	assert.Less(t, gone, 3*time.Second)
	assert.Empty(t, dig("SRV", `Office\032TZ._timezone._tcp.`+gwZone))
	assert.Empty(t, dig("A", "h1.a."+gwZone))
	assert.NotContains(t, browse(), "Office TZ")

	// The gateway's SIGTERM: the zone exactly as found (the b/lb PTRs it
	// added go too).
	require.NoError(t, g.Signal(syscall.SIGTERM))
	require.NoError(t, g.Wait(ctx), "%q", g.Lines())
	after := s.Snapshot(t)
	assert.Equal(t, before, after, "the zone is as the gateway found it")
	for _, l := range append(ann.Lines(), taken.Lines()...) {
		assert.NotContains(t, l, "renamed", "nobody renamed anything")
	}
}

// TestGatewayZoneRefusesKey: a zone whose server rejects the gateway's
// key is a configuration error: lansd gateway exits 2 naming the zone,
// before anything is sent on its links.
func TestGatewayZoneRefusesKey(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(1), lantest.Subnet(netip.MustParsePrefix("198.18.1.0/24")))
	gw := lan.Host(1)
	s := dnstest.StartBIND(t, gwZone, dnstest.WithRunner(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return gw.Command(ctx, name, args...)
	}))
	before := s.Snapshot(t)
	cfg := gwConfig(t, fmt.Sprintf(`{
  "links": {"a": {"interfaces": ["lan0"]}},
  "zones": {"corp": {"domain": %q, "server": %q, "tsig": "hmac-sha256:%s:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}},
  "rules": [{"from": ["a"], "to_zones": ["corp"], "types": ["timezone"]}]
}`, gwZone, s.Addr, strings.TrimSuffix(s.KeyName, ".")))
	obs := lan.Observe(t)
	g := clitest.Start(t, gw, "gateway", "--config", cfg)
	require.Error(t, g.Wait(ctx))
	assert.Equal(t, 2, g.ExitCode(), "%q", g.Lines())
	out := strings.Join(g.Lines(), "\n")
	t.Logf("lansd gateway:\n%s", out)
	assert.Contains(t, out, "zones.corp")
	assert.Contains(t, out, "BADSIG")
	time.Sleep(200 * time.Millisecond)
	for _, c := range obs.Packets() {
		if c.Src.Addr() == gw.IPv4 || c.Src.Addr() == gw.LinkLocal {
			t.Errorf("a packet was sent on the link: %+v", c)
		}
	}
	assert.Equal(t, before, s.Snapshot(t))
}

// TestGatewayZoneExpiry: an instance that expires on A (its records
// multicast once with a TTL of 4 s by a sender that then stays silent, as
// a host that lost power) is deleted from the zone when it expires there:
// the gateway's browser drops it at the end of its TTL, after the
// reconfirming queries at 80 to 95% (RFC 6762 section 5.2), and the
// deletion follows.
func TestGatewayZoneExpiry(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 90*time.Second)
	a := lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.1.0/24")))
	gw := a.Host(2)
	s := dnstest.StartBIND(t, gwZone, dnstest.WithRunner(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return gw.Command(ctx, name, args...)
	}))
	before := s.Snapshot(t)
	cfg := gwConfig(t, fmt.Sprintf(`{
  "links": {"a": {"interfaces": ["lan0"]}},
  "zones": {"corp": {"domain": %q, "server": %q, "tsig": %q, "ttl": 30}},
  "rules": [{"from": ["a"], "to_zones": ["corp"], "types": ["timezone"]}]
}`, gwZone, s.Addr, s.TSIGSpec()))
	raw := a.Host(3).Helper(t, "browse-raw")
	brReady(t, ctx, raw)
	g := clitest.Start(t, gw, "gateway", "--config", cfg, "--json")
	time.Sleep(2 * time.Second) // the gateway's browser is up
	brSend(t, ctx, raw, 1, brResponse(
		brRR(t, `_timezone._tcp.local. 4 IN PTR Short\ TZ._timezone._tcp.local.`),
		brRR(t, `Short\ TZ._timezone._tcp.local. 4 IN SRV 0 0 8080 h3.local.`),
		brRR(t, `Short\ TZ._timezone._tcp.local. 4 IN TXT "path=/short"`),
		brRR(t, `h3.local. 4 IN A 198.18.1.13`),
	))
	sent := time.Now()
	gwWait(t, ctx, g, "proxied", "Short TZ._timezone._tcp.local.")
	assert.Contains(t, strings.Join(strings.Fields(s.Dig(t, "+noall", "+answer", "SRV", `Short\032TZ._timezone._tcp.`+gwZone)), " "), "SRV 0 0 8080 h3.a.dnssd.example.net.")
	ev := gwWait(t, ctx, g, "removed", "Short TZ._timezone._tcp.local.")
	gone := time.Since(sent)
	t.Logf("removed from the zone %v after the records (TTL 4 s) were sent: %+v", gone.Round(time.Millisecond), ev)
	assert.GreaterOrEqual(t, gone, 3*time.Second, "not before it expired")
	assert.Less(t, gone, 7*time.Second)
	assert.Empty(t, s.Query(t, `Short\ TZ._timezone._tcp.`+gwZone, dns.TypeSRV))
	assert.Empty(t, s.Query(t, "h3.a."+gwZone, dns.TypeA))
	require.NoError(t, g.Signal(syscall.SIGTERM))
	require.NoError(t, g.Wait(ctx), "%q", g.Lines())
	assert.Equal(t, before, s.Snapshot(t))
}

// TestGatewayZoneAndLink: one rule to link B and to the zone: the
// instance is proxied on B and written into the zone, and its goodbye on
// A takes it away from both.
func TestGatewayZoneAndLink(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 90*time.Second)
	a, b, gw := gwLANs(t)
	s := dnstest.StartBIND(t, gwZone, dnstest.WithRunner(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return gw.Command(ctx, name, args...)
	}))
	before := s.Snapshot(t)
	cfg := gwConfig(t, fmt.Sprintf(`{
  "links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["gwb"]}},
  "zones": {"corp": {"domain": %q, "server": %q, "tsig": %q}},
  "rules": [{"from": ["a"], "to": ["b"], "to_zones": ["corp"], "types": ["timezone"]}]
}`, gwZone, s.Addr, s.TSIGSpec()))
	g := clitest.Start(t, gw, "gateway", "--config", cfg, "--json", "--hostname", "gw")
	br := clitest.Start(t, b.Host(1), "browse", "timezone", "--json")
	ann := clitest.Start(t, a.Host(1), "announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--ipv4-only")
	_, err := ann.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", ann.Lines())
	const name = "Office TZ._timezone._tcp.local."
	_, err = g.WaitLine(ctx, func(l string) bool { return strings.Contains(l, `"proxied"`) && strings.Contains(l, `"to":"corp"`) })
	require.NoError(t, err, "%q", g.Lines())
	_, err = g.WaitLine(ctx, func(l string) bool { return strings.Contains(l, `"proxied"`) && strings.Contains(l, `"to":"b"`) })
	require.NoError(t, err, "%q", g.Lines())
	_, err = clitest.WaitEvent(ctx, br, "add", "Office TZ", nil)
	require.NoError(t, err, "browser on B: %q", br.Lines())
	assert.Len(t, s.Query(t, `Office\ TZ._timezone._tcp.`+gwZone, dns.TypeSRV), 1)

	require.NoError(t, ann.Signal(syscall.SIGTERM))
	_, err = g.WaitLine(ctx, func(l string) bool { return strings.Contains(l, `"removed"`) && strings.Contains(l, `"to":"corp"`) })
	require.NoError(t, err, "%q", g.Lines())
	_, err = clitest.WaitEvent(ctx, br, "remove", "Office TZ", nil)
	require.NoError(t, err, "browser on B: %q", br.Lines())
	gwWait(t, ctx, g, "removed", name)
	assert.Empty(t, s.Query(t, `Office\ TZ._timezone._tcp.`+gwZone, dns.TypeSRV))
	require.NoError(t, g.Signal(syscall.SIGTERM))
	require.NoError(t, g.Wait(ctx), "%q", g.Lines())
	assert.Equal(t, before, s.Snapshot(t))
}

// TestGatewayZoneReload: SIGHUP reloads the zone rules in place. A
// reload that keeps the timezone rule and adds one for _http._tcp
// sends nothing to the zone (its SOA serial stays, its records too)
// until an _http._tcp instance appears, which is written; a reload that
// drops the timezone rule deletes Office TZ from the zone (reported
// removed); one that names the zone no more leaves it exactly as found,
// each of its records reported removed.
func TestGatewayZoneReload(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 120*time.Second)
	a := lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.1.0/24")))
	gw := a.Host(2)
	s := dnstest.StartBIND(t, gwZone, dnstest.WithRunner(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return gw.Command(ctx, name, args...)
	}))
	before := s.Snapshot(t)
	zone := fmt.Sprintf(`"zones": {"corp": {"domain": %q, "server": %q, "tsig": %q, "ttl": 30}}`, gwZone, s.Addr, s.TSIGSpec())
	rules := func(types ...string) string {
		var rs []string
		for _, ty := range types {
			rs = append(rs, `{"from": ["a"], "to_zones": ["corp"], "types": [`+ty+`]}`)
		}
		return `{"links": {"a": {"interfaces": ["lan0"]}}, ` + zone + `, "rules": [` + strings.Join(rs, ", ") + `]}`
	}
	cfg := gwConfig(t, rules(`"timezone"`))
	g := clitest.Start(t, gw, "gateway", "--config", cfg, "--json", "-v")
	ann := clitest.Start(t, a.Host(1), "announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080",
		"--txt", "path=/tz", "--ipv4-only")
	_, err := ann.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", ann.Lines())
	gwWait(t, ctx, g, "proxied", "Office TZ._timezone._tcp.local.")
	serial := func() uint32 {
		for _, rr := range s.Query(t, gwZone, dns.TypeSOA) {
			if soa, ok := rr.(*dns.SOA); ok {
				return soa.Serial
			}
		}
		t.Fatal("no SOA")
		return 0
	}
	serial1, snap1 := serial(), s.Snapshot(t)
	hup := func() {
		t.Helper()
		inPlace := func(l string) bool {
			return strings.Contains(l, "lansd gateway: reloaded") && strings.HasSuffix(l, "in place")
		}
		before := 0
		for _, l := range g.Lines() {
			if inPlace(l) {
				before++
			}
		}
		require.NoError(t, g.Signal(syscall.SIGHUP))
		seen := 0
		_, err := g.WaitLine(ctx, func(l string) bool {
			if inPlace(l) {
				seen++
			}
			return seen > before
		})
		require.NoError(t, err, "%q", g.Lines())
	}
	writes := func(name string) int {
		n := 0
		for _, l := range g.Lines() {
			if strings.Contains(l, `msg="gateway: mirroring into zone"`) && strings.Contains(l, `instance="`+name) {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, writes("Office TZ"), "%q", g.Lines())

	// The timezone rule kept, _http._tcp added: nothing sent to the zone.
	require.NoError(t, os.WriteFile(cfg, []byte(rules(`"timezone"`, `"_http._tcp"`)), 0o644))
	hup()
	time.Sleep(2 * time.Second)
	assert.Equal(t, serial1, serial(), "the zone was updated by a reload that changes nothing in it")
	assert.Equal(t, snap1, s.Snapshot(t))
	assert.Equal(t, 1, writes("Office TZ"), "Office TZ written again")
	web := clitest.Start(t, a.Host(3), "announce", "--service", "_http._tcp", "--name", "Web", "--port", "80", "--ipv4-only")
	_, err = web.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", web.Lines())
	pe := gwWait(t, ctx, g, "proxied", "Web._http._tcp.local.")
	assert.Equal(t, 1, pe.Rule)
	assert.NotEmpty(t, s.Query(t, "Web._http._tcp."+gwZone, dns.TypeSRV))

	// The timezone rule dropped: Office TZ deleted from the zone.
	require.NoError(t, os.WriteFile(cfg, []byte(rules(`"_http._tcp"`)), 0o644))
	hup()
	re := gwWait(t, ctx, g, "removed", "Office TZ._timezone._tcp.local.")
	t.Logf("gateway: %+v", re)
	assert.Equal(t, "corp", re.To)
	assert.Empty(t, s.Query(t, `Office\032TZ._timezone._tcp.`+gwZone, dns.TypeSRV))
	assert.NotEmpty(t, s.Query(t, "Web._http._tcp."+gwZone, dns.TypeSRV), "Web stays")

	// The zone named no more: left as found, Web reported removed.
	require.NoError(t, os.WriteFile(cfg, []byte(`{"links": {"a": {"interfaces": ["lan0"]}}}`), 0o644))
	hup()
	re = gwWait(t, ctx, g, "removed", "Web._http._tcp.local.")
	t.Logf("gateway: %+v", re)
	assert.Equal(t, before, s.Snapshot(t), "the zone is as the gateway found it")
	require.NoError(t, g.Signal(syscall.SIGTERM))
	require.NoError(t, g.Wait(ctx), "%q", g.Lines())
}
