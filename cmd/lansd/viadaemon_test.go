package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/sd"
)

func init() {
	// No test may reach a daemon of the machine: the default socket is one
	// that does not exist, unless a test names its fake daemon's.
	os.Setenv(daemonSocketEnv, filepath.Join(os.TempDir(), "lansd-test-no-daemon.sock"))
}

// fakeDaemon speaks the local API of lansd daemon on a Unix socket: it
// answers status, register (refusing instances named "Refuse"), update,
// withdraw, browse (its instances, then quiet), resolve (its instances
// by name, else "not found") and cancel, and records the operations.
type fakeDaemon struct {
	sock      string
	ln        *net.UnixListener
	instances []browse.Instance

	mu    sync.Mutex
	ops   []string
	conns []net.Conn
}

func startFakeDaemon(t *testing.T, instances ...browse.Instance) *fakeDaemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "ldd")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &fakeDaemon{sock: filepath.Join(dir, "d.sock"), instances: instances}
	d.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: d.sock, Net: "unix"})
	require.NoError(t, err)
	t.Cleanup(func() { d.ln.Close() })
	go func() {
		for {
			c, err := d.ln.Accept()
			if err != nil {
				return
			}
			d.mu.Lock()
			d.conns = append(d.conns, c)
			d.mu.Unlock()
			go d.serve(c)
		}
	}()
	return d
}

func (d *fakeDaemon) record(op string) {
	d.mu.Lock()
	d.ops = append(d.ops, op)
	d.mu.Unlock()
}

func (d *fakeDaemon) taken() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.ops...)
}

// dropAll closes every connection: the daemon went away.
func (d *fakeDaemon) dropAll() {
	d.ln.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
}

func (d *fakeDaemon) serve(c net.Conn) {
	defer c.Close()
	var wmu sync.Mutex
	send := func(r daemon.Response) {
		b, _ := json.Marshal(r)
		wmu.Lock()
		c.Write(append(b, '\n'))
		wmu.Unlock()
	}
	yes, no := true, false
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		var req daemon.Request
		if json.Unmarshal(sc.Bytes(), &req) != nil {
			return
		}
		switch req.Op {
		case daemon.OpStatus:
			send(daemon.Response{ID: req.ID, OK: &yes, Status: &daemon.Status{Host: "h1.local.", Interfaces: []string{"lan0"}}})
		case daemon.OpRegister:
			svc, err := daemon.DecodeService(req.Service)
			if err != nil || svc.Instance == "Refuse" {
				send(daemon.Response{ID: req.ID, OK: &no, Error: "refused", Problems: []string{"service.txt: refused by the daemon's registry"}})
				continue
			}
			d.record("register " + svc.Instance)
			send(daemon.Response{ID: req.ID, OK: &yes, Published: svc.Instance + "._timezone._tcp.local."})
		case daemon.OpUpdate, daemon.OpWithdraw:
			d.record(req.Op)
			send(daemon.Response{ID: req.ID, OK: &yes})
		case daemon.OpBrowse:
			d.record("browse " + strings.Join(req.Types, ","))
			send(daemon.Response{ID: req.ID, OK: &yes})
			for _, in := range d.instances {
				send(daemon.Response{ID: req.ID, JSONEvent: ptr(sd.NewJSONEvent("add", in, evTime)), Seen: []string{"lan0/IPv4", "lan0/IPv6"}})
			}
			send(daemon.Response{ID: req.ID, Quiet: true})
		case daemon.OpCancel:
			send(daemon.Response{ID: req.ID, OK: &yes})
			send(daemon.Response{ID: req.Ref, Done: true})
		case daemon.OpResolve:
			d.record("resolve " + req.Name)
			send(daemon.Response{ID: req.ID, OK: &yes})
			found := false
			for _, in := range d.instances {
				if strings.HasPrefix(req.Name, in.Instance+".") {
					found = true
					send(daemon.Response{ID: req.ID, JSONEvent: ptr(sd.NewJSONEvent("resolved", in, evTime)), Seen: []string{"lan0/IPv4", "lan0/IPv6"}})
				}
			}
			r := daemon.Response{ID: req.ID, Done: true}
			if !found {
				r.Error = `"` + req.Name + `" not found: no SRV record`
			}
			send(r)
		}
	}
}

// withoutTime drops the "time" member of --json lines.
func withoutTime(t *testing.T, out string) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "{") {
			lines = append(lines, l)
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		delete(m, "time")
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	return lines
}

func TestBrowseThroughDaemonSameLines(t *testing.T) {
	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	d := startFakeDaemon(t, in)
	for _, format := range [][]string{nil, {"--json"}, {"--parsable"}} {
		withBrowser(t, []browse.Event{{Kind: browse.Add, Instance: in, Time: evTime}}, true)
		args := append([]string{"browse", "timezone", "--once"}, format...)
		code, local, stderr := lansd(t, "", append(args, "--no-daemon")...)
		require.Equal(t, exitOK, code, stderr)
		noNetwork(t)
		code, via, stderr := lansd(t, "", append(args, "--daemon-socket", d.sock)...)
		require.Equal(t, exitOK, code, stderr)
		assert.Empty(t, stderr)
		assert.NotEmpty(t, via)
		assert.Equal(t, withoutTime(t, local), withoutTime(t, via), "%v: the same lines either way", format)
	}
	assert.Equal(t, []string{"browse _timezone._tcp", "browse _timezone._tcp", "browse _timezone._tcp"}, d.taken())
}

func TestBrowseDaemonFromEnvironment(t *testing.T) {
	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	d := startFakeDaemon(t, in)
	t.Setenv(daemonSocketEnv, d.sock)
	noNetwork(t)
	code, out, stderr := lansd(t, "", "browse", "timezone", "--once", "--json")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, `"instance":"Office TZ"`)
	assert.Len(t, d.taken(), 1)
}

func TestBrowseInProcessFlagsBesideDaemon(t *testing.T) {
	d := startFakeDaemon(t)
	for _, flag := range [][]string{{"--iface", "lan0"}, {"--ipv4-only"}, {"--max-records", "500"}} {
		withBrowser(t, nil, true)
		code, _, stderr := lansd(t, "", append([]string{"browse", "timezone", "--once", "--daemon-socket", d.sock}, flag...)...)
		assert.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stderr, "lansd browse: "+flag[0]+": running in-process, not through lansd daemon")
	}
	assert.Empty(t, d.taken(), "the daemon was not asked")
}

func TestBrowseStaleSocketFallsBack(t *testing.T) {
	dir, err := os.MkdirTemp("", "ldd")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	ln.Close() // the file stays; nobody listens
	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	withBrowser(t, []browse.Event{{Kind: browse.Add, Instance: in, Time: evTime}}, true)
	code, out, stderr := lansd(t, "", "browse", "timezone", "--once", "--daemon-socket", sock)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "+ Office TZ")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 1, stderr)
	assert.Contains(t, lines[0], "lansd browse: lansd daemon does not answer on "+sock)
	assert.Contains(t, lines[0], "running in-process")
}

func TestResolveThroughDaemon(t *testing.T) {
	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	d := startFakeDaemon(t, in)
	noNetwork(t)
	code, out, stderr := lansd(t, "", "resolve", "Office TZ._timezone._tcp.local.", "--daemon-socket", d.sock)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, "= Office TZ  _timezone._tcp  h2.local.:8080  198.51.100.12 fe80::2%lan0  \"path=/tz\"  ✓\n", out)
	code, out, stderr = lansd(t, "", "resolve", "Gone._timezone._tcp.local.", "--daemon-socket", d.sock, "--timeout", "1s")
	assert.Equal(t, exitNonConf, code)
	assert.Empty(t, out)
	assert.Equal(t, "lansd resolve: \"Gone._timezone._tcp.local.\" not found: no SRV record\n", stderr)
	assert.Equal(t, []string{"resolve Office TZ._timezone._tcp.local.", "resolve Gone._timezone._tcp.local."}, d.taken())
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAnnounce runs lansd announce in the background; the returned
// function interrupts it (as SIGTERM does) and returns its exit status.
func startAnnounce(t *testing.T, args ...string) (stdout, stderr *syncBuffer, done <-chan int, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ch := make(chan int, 1)
	go func() {
		ch <- run(ctx, &cliEnv{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}, append([]string{"announce"}, args...))
	}()
	t.Cleanup(cancel)
	return stdout, stderr, ch, cancel
}

func TestAnnounceThroughDaemon(t *testing.T) {
	d := startFakeDaemon(t)
	stdout, stderr, done, stop := startAnnounce(t, "--service", "timezone", "--name", "Office TZ", "--port", "8080",
		"--txt", "path=/tz", "--daemon-socket", d.sock)
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "announced") }, 5*time.Second, 10*time.Millisecond, stderr.String())
	assert.Equal(t, "announced \"Office TZ._timezone._tcp.local.\" on lan0\n", stdout.String())
	stop()
	select {
	case code := <-done:
		assert.Equal(t, exitOK, code, stderr.String())
	case <-time.After(5 * time.Second):
		t.Fatal("lansd announce did not stop")
	}
	assert.Equal(t, "announced \"Office TZ._timezone._tcp.local.\" on lan0\ngoodbye \"Office TZ._timezone._tcp.local.\"\n", stdout.String())
	assert.Empty(t, stderr.String())
	assert.Equal(t, []string{"register Office TZ", "withdraw"}, d.taken())
	code, _, _, opened := announceRun(t, "--service", "timezone", "--name", "x", "--port", "1", "--daemon-socket", d.sock, "--hostname", "other")
	assert.Equal(t, exitInternal, code, "in-process: the test's responder fails")
	assert.Len(t, opened, 1, "--hostname runs in-process")
}

func TestAnnounceThroughDaemonValidatesFirst(t *testing.T) {
	d := startFakeDaemon(t)
	bad := []string{"--service", "jnx-kcsync", "--name", "Bad", "--port", "1", "--txt", "hash=nothex"}
	code, _, local, opened := announceRun(t, append(bad, "--no-daemon")...)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	code, out, via, opened := announceRun(t, append(bad, "--daemon-socket", d.sock)...)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	assert.Empty(t, out)
	assert.Equal(t, local, via, "the same refusal, before anything is announced")
	assert.Empty(t, d.taken())

	// What the daemon itself refuses (its registry) exits 2 as well.
	code, _, stderr, _ := announceRun(t, "--service", "timezone", "--name", "Refuse", "--port", "1", "--daemon-socket", d.sock)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `lansd announce: "Refuse" refused by lansd daemon: service.txt: refused by the daemon's registry`)
}

func TestAnnounceConfigReloadThroughDaemon(t *testing.T) {
	d := startFakeDaemon(t)
	cfg := writeFile(t, "s.json", `{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"v": "1"}},
		{"name": "B", "service": "timezone", "port": 2}]}`)
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &cliEnv{stdout: stdout, stderr: stderr, hangups: func() (<-chan os.Signal, func()) { return hup, func() {} }},
			[]string{"announce", "--config", cfg, "--daemon-socket", d.sock})
	}()
	require.Eventually(t, func() bool { return strings.Count(stdout.String(), "announced") == 2 }, 5*time.Second, 10*time.Millisecond, stderr.String())
	require.NoError(t, os.WriteFile(cfg, []byte(`{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"v": "2"}},
		{"name": "C", "service": "timezone", "port": 3}]}`), 0o600))
	hup <- os.Interrupt
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "reloaded") }, 5*time.Second, 10*time.Millisecond, stderr.String())
	out := stdout.String()
	assert.Contains(t, out, `updated TXT of "A._timezone._tcp.local."`)
	assert.Contains(t, out, `goodbye "B._timezone._tcp.local." (no longer in `+cfg+`)`)
	assert.Contains(t, out, `announced "C._timezone._tcp.local." on lan0`)
	cancel()
	assert.Equal(t, exitOK, <-done)
	ops := d.taken()
	assert.ElementsMatch(t, []string{"register A", "register B", "withdraw", "update", "register C", "withdraw", "withdraw"}, ops)
}

func TestAnnounceDaemonGoneExits3(t *testing.T) {
	d := startFakeDaemon(t)
	stdout, stderr, done, _ := startAnnounce(t, "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--daemon-socket", d.sock)
	require.Eventually(t, func() bool { return strings.Contains(stdout.String(), "announced") }, 5*time.Second, 10*time.Millisecond, stderr.String())
	d.dropAll()
	select {
	case code := <-done:
		assert.Equal(t, exitInternal, code)
	case <-time.After(5 * time.Second):
		t.Fatal("lansd announce did not notice the daemon went away")
	}
	assert.Contains(t, stderr.String(), "lansd announce: lansd daemon went away")
}

func ptr[T any](v T) *T { return &v }

func TestDaemonFlagsInHelp(t *testing.T) {
	for _, cmd := range []string{"announce", "browse", "resolve"} {
		code, out, _ := lansd(t, "", cmd, "--help")
		assert.Equal(t, exitOK, code)
		for _, want := range []string{"--no-daemon", "--daemon-socket PATH", "$LANSD_DAEMON_SOCKET", "Through lansd daemon", "--iface, --exclude-iface"} {
			assert.Contains(t, out, want, cmd)
		}
	}
}
