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
	"context"
	"encoding/json"
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

	"github.com/lansd/lansd/internal/lantest"
)

// RequirePeersEnv turns a missing peer from a skip into a failure.
const RequirePeersEnv = "LANSD_REQUIRE_PEERS"

// lansdBin is the lansd binary built once for the whole package.
var lansdBin string

// pyzcScript is the absolute path of peers/pyzc.py.
var pyzcScript string

func TestMain(m *testing.M) {
	// Helper processes re-executed inside a namespace run their helper and
	// exit here (the guard has already run in lantest's init).
	lantest.MaybeRunHelper()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lansd-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	lansdBin = filepath.Join(dir, "lansd")
	build := exec.Command("go", "build", "-o", lansdBin, "../cmd/lansd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "interop: building lansd:", err)
		return 1
	}
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

// testCtx returns a context that ends after d or at the end of the test.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// anyLine matches every line; used to wait for output to grow.
var anyLine = regexp.MustCompile(``)

// waitLine returns the first output line of p (past or future) for which
// match returns true, or an error when ctx ends or p exits first.
func waitLine(ctx context.Context, p *lantest.Proc, match func(string) bool) (string, error) {
	seen := 0
	for {
		lines := p.Lines()
		for _, l := range lines[min(seen, len(lines)):] {
			if match(l) {
				return l, nil
			}
		}
		seen = len(lines)
		if _, err := p.WaitForN(ctx, anyLine, seen+1); err != nil {
			return "", err
		}
	}
}

// startLansd starts the lansd binary with args inside host h (guarded by
// lantest).
func startLansd(t *testing.T, h *lantest.Host, args ...string) *lantest.Proc {
	t.Helper()
	return h.Start(t, lansdBin, args...)
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
	p := startLansd(t, h, args...)
	return p, waitAnnounced(t, p)
}

// waitAnnounced waits for the first announced line of p and parses it.
func waitAnnounced(t *testing.T, p *lantest.Proc) announced {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	line, err := p.WaitFor(ctx, announcedRE)
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Wait(ctx), "lansd announce after SIGTERM:\n%v", p.Lines())
}

// browseEvent is one line of `lansd browse --json`.
type browseEvent struct {
	Event    string         `json:"event"`
	Instance string         `json:"instance"`
	Service  string         `json:"service"`
	Domain   string         `json:"domain"`
	Host     string         `json:"host"`
	Port     int            `json:"port"`
	Addrs    []string       `json:"addrs"`
	TXT      map[string]any `json:"txt"`
	Iface    []string       `json:"iface"`
	TTL      int            `json:"ttl"`
	Conforms bool           `json:"conforms"`
	Name     string         `json:"name"`
}

// startBrowse runs `lansd browse timezone --json` on h, on lan0 only.
func startBrowse(t *testing.T, h *lantest.Host) *lantest.Proc {
	t.Helper()
	return startLansd(t, h, "browse", "timezone", "--json", "--iface", lantest.Iface, "--timeout", "90s")
}

// waitBrowse waits for a lansd browse --json event of kind for instance
// (the instance label, unescaped) for which also (when not nil) holds.
func waitBrowse(ctx context.Context, p *lantest.Proc, kind, instance string, also func(browseEvent) bool) (browseEvent, error) {
	var ev browseEvent
	_, err := waitLine(ctx, p, func(l string) bool {
		var e browseEvent
		if json.Unmarshal([]byte(l), &e) != nil || e.Event != kind || e.Instance != instance {
			return false
		}
		if also != nil && !also(e) {
			return false
		}
		ev = e
		return true
	})
	if err != nil {
		return ev, fmt.Errorf("no %s event for %q from lansd browse: %w", kind, instance, err)
	}
	return ev, nil
}

// browseEvents returns every parsed --json event of p for instance.
func browseEvents(p *lantest.Proc, instance string) []browseEvent {
	var evs []browseEvent
	for _, l := range p.Lines() {
		var e browseEvent
		if json.Unmarshal([]byte(l), &e) == nil && e.Instance == instance {
			evs = append(evs, e)
		}
	}
	return evs
}

// requireHasAddr asserts that addrs holds every address of want.
func requireHasAddr(t *testing.T, addrs []string, want ...string) {
	t.Helper()
	for _, w := range want {
		require.True(t, slices.Contains(addrs, w), "addresses %v lack %s", addrs, w)
	}
}
