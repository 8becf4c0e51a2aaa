//go:build linux

package e2e

// End-to-end tests of lansd announce, browse and resolve through lansd
// daemon (issue 14): the daemon runs in a host namespace with its socket in
// a temporary directory, the commands find it by --daemon-socket, and
// lansd browse --no-daemon, python-zeroconf and Avahi on other hosts see
// what it announces for them.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/avahitest"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// dcliPyzc is the python-zeroconf peer script of the interop tests.
const dcliPyzc = "../interop/peers/pyzc.py"

// dcliRequirePython skips (or fails, with LANSD_REQUIRE_PEERS=1) when
// python-zeroconf is missing.
func dcliRequirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import zeroconf").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("python-zeroconf is not available: %v: %s", err, out)
	if os.Getenv(avahitest.RequirePeersEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// dcliJSONFields returns the members of a --json line but time.
func dcliJSONFields(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m), line)
	delete(m, "time")
	return m
}

// dcliFirstJSON returns the first --json line of p about instance.
func dcliFirstJSON(t *testing.T, ctx context.Context, p *lantest.Proc, event, instance string) string {
	t.Helper()
	line, err := p.WaitLine(ctx, func(l string) bool {
		return strings.HasPrefix(l, `{"event":"`+event+`","instance":"`+instance+`"`)
	})
	require.NoError(t, err, "%q", p.Lines())
	return line
}

// TestDaemonCLI: lansd announce through the daemon is found by lansd
// browse --no-daemon, python-zeroconf and Avahi on other hosts, and lansd
// status names it a client's; lansd browse through the warm daemon reports
// a known instance at once, with the same --json line as --no-daemon;
// --no-daemon announces beside the daemon on the same host; SIGTERM
// withdraws the service (goodbyes from the daemon) within a second, exit 0.
func TestDaemonCLI(t *testing.T) {
	t.Parallel()
	dcliRequirePython(t)
	avahitest.Require(t)
	lan := lantest.New(t, lantest.Hosts(3))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 120*time.Second)
	h1, h2, h3 := lan.Host(1), lan.Host(2), lan.Host(3)
	_, sock := dmnStart(t, ctx, h1, "--services-dir", "")

	// Watchers on h2 (lansd in-process, python-zeroconf) and h3 (Avahi).
	br := clitest.Start(t, h2, "browse", "timezone", "--json", "--no-daemon")
	py := h2.Start(t, "/usr/bin/python3", "-u", dcliPyzc, "browse", "--type", "_timezone._tcp.local.")
	_, err := py.WaitFor(ctx, regexp.MustCompile(`"event": "ready"`))
	require.NoError(t, err, "%q", py.Lines())
	av := avahitest.StartBus(t, h3)
	av.StartDaemon(t, nil)
	avb := av.Browse(t, "_timezone._tcp")

	ann := clitest.Start(t, h1, "announce", "--service", "timezone", "--name", "Via Daemon", "--port", "8080",
		"--txt", "path=/tz", "--daemon-socket", sock)
	line, err := ann.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", ann.Lines())
	t.Logf("lansd announce --daemon-socket %s: %s", sock, line)
	assert.Equal(t, `announced "Via Daemon._timezone._tcp.local." on lan0`, line)
	status := dmnStatus(t, ctx, h1, sock)
	t.Logf("lansd status:\n%s", status)
	assert.Regexp(t, `Via Daemon\._timezone\._tcp\.local\.  \(client \d+\)`, status, "announced by the daemon, for a client")

	ev, err := clitest.WaitEvent(ctx, br, "add", "Via Daemon", nil)
	require.NoError(t, err, "%q", br.Lines())
	assert.Equal(t, "h1.local.", ev.Host)
	assert.Equal(t, uint16(8080), ev.Port)
	assert.Equal(t, "/tz", ev.TXTValue("path"))
	_, err = py.WaitFor(ctx, regexp.MustCompile(`"event": "add".*"name": "Via Daemon\._timezone\._tcp\.local\."`))
	require.NoError(t, err, "python-zeroconf: %q", py.Lines())
	avLine, err := avb.WaitFor(ctx, regexp.MustCompile(`^=;lan0;IPv4;Via\\032Daemon;_timezone\._tcp;local;h1\.local;198\.51\.100\.\d+;8080;"path=/tz"$`))
	require.NoError(t, err, "avahi-browse: %q", avb.Lines())
	t.Logf("avahi-browse on h3: %s", avLine)

	// --no-daemon beside the daemon on the same host (port 5353 shared).
	inproc := clitest.Start(t, h1, "announce", "--no-daemon", "--service", "timezone", "--name", "In Process", "--port", "8081",
		"--hostname", "h1b")
	_, err = inproc.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", inproc.Lines())
	ev, err = clitest.WaitEvent(ctx, br, "add", "In Process", nil)
	require.NoError(t, err, "%q", br.Lines())
	assert.Equal(t, "h1b.local.", ev.Host)

	// Browse on h1: through the daemon (cold, then warm) and in-process,
	// the same --json line for the instance h2... here, on h1's view of
	// "In Process" (announced by h1's other responder) and of a remote one.
	remote := clitest.Start(t, h2, "announce", "--service", "timezone", "--name", "Remote", "--port", "7", "--txt", "v=1", "--no-daemon")
	_, err = remote.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", remote.Lines())
	cold := clitest.Start(t, h1, "browse", "timezone", "--json", "--daemon-socket", sock)
	viaLine := dcliFirstJSON(t, ctx, cold, "add", "Remote")
	var warm []time.Duration
	for range 5 {
		at := time.Now()
		p := clitest.Start(t, h1, "browse", "timezone", "--json", "--once", "--daemon-socket", sock)
		dcliFirstJSON(t, ctx, p, "add", "Remote")
		warm = append(warm, time.Since(at))
		require.NoError(t, p.Wait(ctx), "%q", p.Lines())
		assert.Equal(t, 0, p.ExitCode())
		assert.Empty(t, clitest.Select(clitest.Events(t, p.Lines()), "remove", ""), "no removal")
	}
	t.Logf("lansd browse through the warm daemon, exec to the first add: %v (load %s)", warm, loadavg())
	for _, d := range warm {
		assert.Less(t, d, 2*time.Second, "a known instance at once (the exec of lansd included)")
	}
	local := clitest.Start(t, h1, "browse", "timezone", "--json", "--once", "--no-daemon")
	localLine := dcliFirstJSON(t, ctx, local, "add", "Remote")
	t.Logf("through the daemon: %s", viaLine)
	t.Logf("in-process:         %s", localLine)
	via, inp := dcliJSONFields(t, viaLine), dcliJSONFields(t, localLine)
	// The TTL is the record's as received: the same either way.
	assert.Equal(t, inp, via, "the same --json line through the daemon and in-process")

	t.Logf("lansd status, browsing:\n%s", dmnStatus(t, ctx, h1, sock))
	// A flag the daemon decides for the host: in-process, with a note.
	ifc := clitest.Start(t, h1, "browse", "timezone", "--json", "--once", "--iface", "lan0", "--daemon-socket", sock)
	require.NoError(t, ifc.Wait(ctx), "%q", ifc.Lines())
	assert.Contains(t, ifc.Lines(), "lansd browse: --iface: running in-process, not through lansd daemon (whose settings are the host's); --no-daemon hides this note")
	assert.NotEmpty(t, clitest.Select(clitest.Events(t, ifc.Lines()), "add", "Remote"), "%q", ifc.Lines())

	// --all (service type enumeration) through the daemon.
	all := clitest.Start(t, h1, "browse", "--all", "--json", "--daemon-socket", sock)
	dcliFirstJSON(t, ctx, all, "add", "Remote")

	// Resolve through the daemon: from its cache.
	res := clitest.Start(t, h1, "resolve", "Remote._timezone._tcp.local.", "--daemon-socket", sock)
	require.NoError(t, res.Wait(ctx), "%q", res.Lines())
	assert.Equal(t, 0, res.ExitCode())
	resLocal := clitest.Start(t, h1, "resolve", "Remote._timezone._tcp.local.", "--no-daemon")
	require.NoError(t, resLocal.Wait(ctx), "%q", resLocal.Lines())
	assert.Equal(t, resLocal.Lines(), res.Lines(), "lansd resolve: the same line either way")
	miss := clitest.Start(t, h1, "resolve", "Nobody._timezone._tcp.local.", "--daemon-socket", sock, "--timeout", "1s")
	require.Error(t, miss.Wait(ctx))
	assert.Equal(t, 1, miss.ExitCode(), "%q", miss.Lines())
	missLocal := clitest.Start(t, h1, "resolve", "Nobody._timezone._tcp.local.", "--no-daemon", "--timeout", "1s")
	require.Error(t, missLocal.Wait(ctx))
	assert.Equal(t, 1, missLocal.ExitCode(), "%q", missLocal.Lines())
	assert.Equal(t, missLocal.Lines(), miss.Lines(), "the same message either way")
	t.Logf("lansd resolve, not found: %q", miss.Lines())

	// SIGTERM: the daemon withdraws with goodbyes; gone on h2 within ~1 s.
	at := time.Now()
	require.NoError(t, ann.Signal(syscall.SIGTERM))
	bye, err := obs.WaitFor(ctx, func(p lantest.Captured) bool {
		return p.Time.After(at) && dmnIsGoodbye(p, h1, "Via Daemon._timezone._tcp.local.")
	})
	require.NoError(t, err)
	_, err = clitest.WaitEvent(ctx, br, "remove", "Via Daemon", nil)
	require.NoError(t, err, "%q", br.Lines())
	took := time.Since(at)
	t.Logf("lansd announce (through the daemon) SIGTERM -> the daemon's goodbye on the wire after %v, remove on h2 after %v (RFC 6762 section 10.1: 1 s after the goodbye)",
		bye.Time.Sub(at), took)
	assert.Less(t, bye.Time.Sub(at), 500*time.Millisecond, "goodbye at once")
	assert.Less(t, took, 1500*time.Millisecond, "removed within about a second")
	require.NoError(t, ann.Wait(ctx), "%q", ann.Lines())
	assert.Equal(t, 0, ann.ExitCode())
	assert.Contains(t, ann.Lines(), `goodbye "Via Daemon._timezone._tcp.local."`)
	t.Logf("lansd announce through the daemon, output: %q", ann.Lines())
	_, err = py.WaitFor(ctx, regexp.MustCompile(`"event": "remove".*Via Daemon`))
	require.NoError(t, err, "python-zeroconf: %q", py.Lines())
	assert.NotContains(t, dmnStatus(t, ctx, h1, sock), "Via Daemon", "no longer announced")
}

// TestDaemonCLIStaleSocket: a socket file nobody answers on makes the
// commands run in-process, with one line on stderr.
func TestDaemonCLIStaleSocket(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	sock := filepath.Join(dmnSocketDir(t), "lansd.sock")
	require.NoError(t, os.WriteFile(sock, nil, 0o600)) // not a listening socket
	remote := clitest.Start(t, h2, "announce", "--service", "timezone", "--name", "Remote", "--port", "7", "--no-daemon")
	_, err := remote.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", remote.Lines())
	p := clitest.Start(t, h1, "browse", "timezone", "--json", "--once", "--daemon-socket", sock)
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	assert.Equal(t, 0, p.ExitCode())
	assert.NotEmpty(t, clitest.Select(clitest.Events(t, p.Lines()), "add", "Remote"))
	var notes []string
	for _, l := range p.Lines() {
		if strings.HasPrefix(l, "lansd browse:") {
			notes = append(notes, l)
		}
	}
	require.Len(t, notes, 1, "%q", p.Lines())
	t.Logf("stale socket: %s", notes[0])
	assert.Contains(t, notes[0], "lansd daemon does not answer on "+sock)
}

// TestDaemonCLIConfigReload: lansd announce --config through the daemon
// registers every service; SIGHUP updates a TXT record in place and
// withdraws a service gone from the file, seen on another host.
func TestDaemonCLIConfigReload(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	_, sock := dmnStart(t, ctx, h1, "--services-dir", "")
	br := clitest.Start(t, h2, "browse", "timezone", "--json", "--no-daemon")
	cfg := filepath.Join(t.TempDir(), "services.json")
	sigWriteConfig(t, cfg, `{"name": "Keep", "service": "timezone", "port": 1, "txt": {"path": "/a"}}, {"name": "Drop", "service": "timezone", "port": 2}`)
	ann := clitest.Start(t, h1, "announce", "--config", cfg, "--daemon-socket", sock)
	_, err := ann.WaitForN(ctx, annAnnouncedRE, 2)
	require.NoError(t, err, "%q", ann.Lines())
	for _, n := range []string{"Keep", "Drop"} {
		_, err := clitest.WaitEvent(ctx, br, "add", n, nil)
		require.NoError(t, err, "%q", br.Lines())
	}
	assert.Contains(t, dmnStatus(t, ctx, h1, sock), "Drop._timezone._tcp.local.  (client ")
	sigWriteConfig(t, cfg, `{"name": "Keep", "service": "timezone", "port": 1, "txt": {"path": "/b"}}`)
	require.NoError(t, ann.Signal(syscall.SIGHUP))
	_, err = clitest.WaitEvent(ctx, br, "update", "Keep", func(e clitest.Event) bool { return e.TXTValue("path") == "/b" })
	require.NoError(t, err, "%q", br.Lines())
	_, err = clitest.WaitEvent(ctx, br, "remove", "Drop", nil)
	require.NoError(t, err, "%q", br.Lines())
	_, err = ann.WaitFor(ctx, regexp.MustCompile(`reloaded .*: 0 added, 1 updated, 0 replaced, 1 removed, 0 unchanged`))
	require.NoError(t, err, "%q", ann.Lines())
	t.Logf("lansd announce --config through the daemon, after SIGHUP: %q", ann.Lines())
	assert.Contains(t, ann.Lines(), `updated TXT of "Keep._timezone._tcp.local."`)
	assert.NotContains(t, dmnStatus(t, ctx, h1, sock), "Drop.")
	require.NoError(t, ann.Signal(syscall.SIGTERM))
	require.NoError(t, ann.Wait(ctx), "%q", ann.Lines())
	assert.Equal(t, 0, ann.ExitCode())
}
