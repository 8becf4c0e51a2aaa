//go:build linux

package e2e

// The README's three-VLAN example of lansd gateway, run for real: a router
// with one interface on each of three links (vlan10: office, vlan20:
// guest, vlan30: iot), a BIND 9 on the router for the zone
// dnssd.example.net., and hosts on each link running what the README
// shows. The test asserts what the README says and writes the transcript
// (commands and their real output) to $LANSD_TRANSCRIPT when set.

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/internal/lantest"
)

// transcript collects the example's commands and output.
type transcript struct {
	mu sync.Mutex
	sb strings.Builder
}

func (tr *transcript) cmd(prompt, cmd string, out ...string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	fmt.Fprintf(&tr.sb, "%s$ %s\n", prompt, cmd)
	for _, l := range out {
		tr.sb.WriteString(l + "\n")
	}
	tr.sb.WriteString("\n")
}

func (tr *transcript) note(s string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.sb.WriteString("# " + s + "\n")
}

// TestGatewayThreeVLANs: office services reach the guest and IoT links by
// type and conformance, everything conforming of the office goes into the
// zone, a non-conforming instance goes nowhere, a goodbye on the office
// link removes the instance everywhere, and the router's SIGTERM leaves
// the links and the zone as they were.
func TestGatewayThreeVLANs(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 150*time.Second)
	tr := &transcript{}
	uplink := lantest.New(t, lantest.Hosts(1), lantest.Subnet(netip.MustParsePrefix("198.18.0.0/24")))
	office := lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.10.0/24")))
	guest := lantest.New(t, lantest.Hosts(1), lantest.Subnet(netip.MustParsePrefix("198.18.20.0/24")))
	iot := lantest.New(t, lantest.Hosts(1), lantest.Subnet(netip.MustParsePrefix("198.18.30.0/24")))
	router := uplink.Host(1)
	office.Join(t, router, "vlan10", netip.MustParseAddr("198.18.10.1"))
	guest.Join(t, router, "vlan20", netip.MustParseAddr("198.18.20.1"))
	iot.Join(t, router, "vlan30", netip.MustParseAddr("198.18.30.1"))

	const zone = "dnssd.example.net."
	s := dnstest.StartBIND(t, zone, dnstest.WithRunner(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return router.Command(ctx, name, args...)
	}))
	before := s.Snapshot(t)
	keyFile := s.KeyFile(t)

	cfg := fmt.Sprintf(`{
  "links": {
    "office": {"interfaces": ["vlan10"]},
    "guest": {"interfaces": ["vlan20"]},
    "iot": {"interfaces": ["vlan30"]}
  },
  "zones": {
    "corp": {"domain": %q, "server": %q, "tsig_file": %q, "ttl": 120}
  },
  "rules": [
    {"from": ["office"], "to": ["guest", "iot"], "types": ["timezone", "_ipp._tcp"], "conformance": "conforming"},
    {"from": ["office"], "to_zones": ["corp"], "types": ["*"], "conformance": "conforming"}
  ]
}`, zone, s.Addr, keyFile)
	path := filepath.Join(t.TempDir(), "gateway.json")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	tr.cmd("router", "cat /etc/lansd/gateway.json", strings.Split(cfg, "\n")...)

	g := clitest.Start(t, router, "gateway", "--config", path, "--hostname", "router")
	// Wait until it runs: its own host name claimed on the three links.
	time.Sleep(1500 * time.Millisecond)
	require.False(t, g.Exited(), "%q", g.Lines())

	tz := clitest.Start(t, office.Host(1), "announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--txt", "path=/tz", "--ipv4-only")
	printer := clitest.Start(t, office.Host(3), "announce", "--service", "_ipp._tcp", "--name", "Office Printer", "--port", "631",
		"--txt", "txtvers=1", "--txt", "rp=printers/office", "--ipv4-only")
	badHash := "5e7580598c0d7064d4fc79faaeb42585e1a675f" // 39 hex digits
	sync := clitest.Start(t, office.Host(2), "announce", "--service", "jnx-kcsync", "--name", "Lab Sync", "--port", "5000",
		"--txt", "hash="+badHash, "--txt", "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9",
		"--txt", "uuid=db61dc092922252e45bbb264f59147138c7fd5fa", "--no-validate", "--ipv4-only")
	for _, p := range []*lantest.Proc{tz, printer, sync} {
		_, err := p.WaitFor(ctx, annAnnouncedRE)
		require.NoError(t, err, "%q", p.Lines())
	}
	tr.cmd("office-h1", `lansd announce --service timezone --name "Office TZ" --port 8080 --txt path=/tz --ipv4-only`, tz.Lines()...)
	tr.cmd("office-h3", `lansd announce --service _ipp._tcp --name "Office Printer" --port 631 --txt txtvers=1 --txt rp=printers/office --ipv4-only`, printer.Lines()...)
	tr.cmd("office-h2", `lansd announce --service jnx-kcsync --name "Lab Sync" --port 5000 --txt hash=`+badHash+` --txt salt=... --txt uuid=... --no-validate --ipv4-only`, sync.Lines()...)

	// What crosses: the gateway's decisions.
	proxiedRE := regexp.MustCompile(`^proxied `)
	_, err := g.WaitForN(ctx, proxiedRE, 6) // 2 instances x (guest, iot, corp)
	require.NoError(t, err, "%q", g.Lines())
	_, err = g.WaitFor(ctx, regexp.MustCompile(`^refused .*Lab Sync.* -> corp .*hash`))
	require.NoError(t, err, "%q", g.Lines())

	// Guest and IoT see the office's time-zone server and printer only.
	for _, l := range []struct {
		name string
		lan  *lantest.LAN
	}{{"guest", guest}, {"iot", iot}} {
		br := clitest.Start(t, l.lan.Host(1), "browse", "--all", "--once")
		require.NoError(t, br.Wait(ctx), "%q", br.Lines())
		tr.cmd(l.name+"-h1", "lansd browse --all --once", br.Lines()...)
		out := strings.Join(br.Lines(), "\n")
		assert.Contains(t, out, `+ Office TZ  _timezone._tcp  h1.local.:8080  198.18.10.11  "path=/tz"  ✓`, l.name)
		assert.Contains(t, out, `+ Office Printer  _ipp._tcp  h3.local.:631  198.18.10.13`, l.name)
		assert.NotContains(t, out, "Lab Sync", l.name)
	}

	// The zone: standard DNS-SD clients browse it.
	dig := func(args ...string) string {
		out := s.Dig(t, append([]string{"+noall", "+answer"}, args...)...)
		tr.cmd("router", "dig @127.0.0.1 -p "+fmt.Sprint(s.Port)+" +noall +answer "+strings.Join(args, " "), strings.Split(strings.TrimRight(out, "\n"), "\n")...)
		return strings.Join(strings.Fields(out), " ")
	}
	assert.Contains(t, dig("PTR", "lb._dns-sd._udp."+zone), "PTR "+zone)
	assert.Contains(t, dig("PTR", "_ipp._tcp."+zone), `PTR Office\032Printer._ipp._tcp.`+zone)
	wb := clitest.Start(t, router, "browse", "--all", "--domain", zone, "--server", s.Addr, "--once")
	require.NoError(t, wb.Wait(ctx), "%q", wb.Lines())
	tr.cmd("router", "lansd browse --all --domain "+zone+" --server "+s.Addr+" --once", wb.Lines()...)
	wout := strings.Join(wb.Lines(), "\n")
	assert.Contains(t, wout, `+ Office TZ  _timezone._tcp  h1.office.dnssd.example.net.:8080  198.18.10.11  "path=/tz"  ✓`)
	assert.Contains(t, wout, "Office Printer")
	assert.NotContains(t, wout, "Lab Sync")

	// A goodbye on the office link: gone on guest and from the zone.
	gbr := clitest.Start(t, guest.Host(1), "browse", "timezone")
	_, err = gbr.WaitFor(ctx, regexp.MustCompile(`^\+ Office TZ `))
	require.NoError(t, err, "%q", gbr.Lines())
	require.NoError(t, tz.Signal(syscall.SIGTERM))
	sent := time.Now()
	_, err = gbr.WaitFor(ctx, regexp.MustCompile(`^- Office TZ `))
	require.NoError(t, err, "%q", gbr.Lines())
	gone := time.Since(sent)
	_, err = g.WaitFor(ctx, regexp.MustCompile(`^removed .*Office TZ.* -> corp`))
	require.NoError(t, err, "%q", g.Lines())
	tr.note(fmt.Sprintf("SIGTERM to the announcer on office-h1; on guest-h1 the instance is removed %v later", gone.Round(100*time.Millisecond)))
	tr.cmd("guest-h1", "lansd browse timezone", gbr.Lines()...)
	assert.Empty(t, dig("SRV", `Office\032TZ._timezone._tcp.`+zone))

	// The router stops: goodbyes on guest and iot, the zone as found.
	require.NoError(t, g.Signal(syscall.SIGTERM))
	require.NoError(t, g.Wait(ctx), "%q", g.Lines())
	tr.cmd("router", "lansd gateway --config /etc/lansd/gateway.json --hostname router    # then SIGTERM", g.Lines()...)
	assert.Equal(t, before, s.Snapshot(t), "the zone as the gateway found it")

	t.Logf("transcript:\n%s", tr.sb.String())
	if p := os.Getenv("LANSD_TRANSCRIPT"); p != "" {
		require.NoError(t, os.WriteFile(p, []byte(tr.sb.String()), 0o644))
	}
}
