// Package interop tests lansd against other mDNS / DNS-SD implementations on
// a virtual LAN of network namespaces (internal/lantest): Avahi, python-
// zeroconf, github.com/grandcat/zeroconf v1.0.0 and github.com/hashicorp/mdns
// v1.0.7, in both directions. Every peer and every lansd process runs inside
// a namespace the test created, started through lantest's guard, which proves
// the namespace before the program can send anything.
//
// A peer that is not installed skips its tests with a message; with
// LANSD_REQUIRE_PEERS=1 it fails them instead (scripts/deps.sh installs the
// Debian packages).
package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// RequirePeersEnv turns a missing peer from a skip into a failure.
const RequirePeersEnv = "LANSD_REQUIRE_PEERS"

// pyzcScript is the absolute path of peers/pyzc.py.
var pyzcScript string

func TestMain(m *testing.M) {
	// Helper processes re-executed inside a namespace run their helper and
	// exit here (the guard has already run in lantest's init).
	lantest.MaybeRunHelper()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Built before any test starts its clock.
	defer clitest.Remove()
	if _, err := clitest.Build(); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	var err error
	if pyzcScript, err = filepath.Abs(filepath.Join("peers", "pyzc.py")); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	code := m.Run()
	// Belt and braces: every LAN is already torn down by t.Cleanup.
	if err := lantest.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		code = 1
	}
	return code
}

// requirePeer skips the test (or fails it when LANSD_REQUIRE_PEERS=1) when
// check reports that peer cannot run here.
func requirePeer(t *testing.T, peer string, check func() error) {
	t.Helper()
	err := check()
	if err == nil {
		return
	}
	if os.Getenv(RequirePeersEnv) == "1" {
		t.Fatalf("interop: %s is not available: %v (required: %s=1)", peer, err, RequirePeersEnv)
	}
	t.Skipf("interop: %s is not available: %v (install it with scripts/deps.sh; set %s=1 to make this a failure)", peer, err, RequirePeersEnv)
}

// lookPaths checks that every program is in PATH.
func lookPaths(progs ...string) error {
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			return err
		}
	}
	return nil
}

// announcedRE matches lansd announce's line for a service, capturing the
// final full name and the optional rename reason.
var announcedRE = regexp.MustCompile(`^announced ("(?:[^"\\]|\\.)*") on \S+(?: \(renamed: (.*)\))?$`)

// announced is what lansd announce printed once a service was announced.
type announced struct {
	Name    string // full instance name, e.g. `X._timezone._tcp.local.`
	Renamed string // the rename reason, "" when not renamed
}

// startAnnounce runs `lansd announce` on h and waits until it prints the
// announced line.
func startAnnounce(t *testing.T, h *lantest.Host, name string, port int, txt ...string) (*lantest.Proc, announced) {
	t.Helper()
	args := []string{"announce", "--service", "timezone", "--name", name, "--port", strconv.Itoa(port), "--iface", lantest.Iface}
	for _, kv := range txt {
		args = append(args, "--txt", kv)
	}
	p := clitest.Start(t, h, args...)
	return p, waitAnnounced(t, p)
}

// waitAnnounced waits for the first announced line of p and parses it.
func waitAnnounced(t *testing.T, p *lantest.Proc) announced {
	t.Helper()
	line, err := p.WaitFor(lantest.Context(t, 20*time.Second), announcedRE)
	require.NoError(t, err, "lansd announce output:\n%v", p.Lines())
	m := announcedRE.FindStringSubmatch(line)
	name, err := strconv.Unquote(m[1])
	require.NoError(t, err, "announced line %q", line)
	return announced{Name: name, Renamed: m[2]}
}

// stopAnnounce sends SIGTERM to a lansd announce and waits for it to exit
// with status 0 (it sends goodbye packets first).
func stopAnnounce(t *testing.T, p *lantest.Proc) {
	t.Helper()
	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.NoError(t, p.Wait(lantest.Context(t, 10*time.Second)), "lansd announce after SIGTERM:\n%v", p.Lines())
}

// startBrowse runs `lansd browse timezone --json` on h, on lan0 only.
func startBrowse(t *testing.T, h *lantest.Host) *lantest.Proc {
	t.Helper()
	return clitest.Start(t, h, "browse", "timezone", "--json", "--iface", lantest.Iface, "--timeout", "90s")
}

// requireHasAddr asserts that addrs holds every address of want.
func requireHasAddr(t *testing.T, addrs []string, want ...string) {
	t.Helper()
	for _, w := range want {
		require.True(t, slices.Contains(addrs, w), "addresses %v lack %s", addrs, w)
	}
}
