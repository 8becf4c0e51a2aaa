package e2e

// End-to-end tests of lansd announce's signals (issue 12): SIGHUP reloads
// a --config file (a browser on another host sees the adds, updates and
// removals; a broken file changes nothing), a single SIGTERM says goodbye
// and exits 0, and a second SIGTERM during a shutdown that hangs exits at
// once with 143.

import (
	"context"
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

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/internal/lantest"
)

// sigWriteConfig writes a --config file holding services.
func sigWriteConfig(t *testing.T, path, services string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(`{"services": [`+services+`]}`), 0o644))
}

// sigWaitAny waits for an event of br, of any kind, about instance, for
// which also holds.
func sigWaitAny(t *testing.T, ctx context.Context, br *lantest.Proc, instance string, also func(clitest.Event) bool) clitest.Event {
	t.Helper()
	var ev clitest.Event
	_, err := br.WaitLine(ctx, func(l string) bool {
		e, err := clitest.Decode(l)
		if err != nil || e.Instance != instance || !also(e) {
			return false
		}
		ev = e
		return true
	})
	require.NoError(t, err, "%q", br.Lines())
	return ev
}

// TestAnnounceReloadOnSIGHUP: lansd announce --config on h1, lansd browse
// --json on h2. A SIGHUP with a broken file prints the problems and
// changes nothing the browser sees; one with a changed file updates a TXT
// record in place, replaces a service whose port changed, withdraws one
// no longer in the file and adds a new one, each seen by the browser.
func TestAnnounceReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 90*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	cfg := filepath.Join(t.TempDir(), "services.json")
	sigWriteConfig(t, cfg, `
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": 2, "txt": {"v": "1"}},
  {"name": "Port", "service": "timezone", "port": 3},
  {"name": "Gone", "service": "timezone", "port": 4}`)
	ann := clitest.Start(t, h1, "announce", "--config", cfg)
	annCapture(t, ann)
	_, err := ann.WaitForN(ctx, annAnnouncedRE, 4)
	require.NoError(t, err, "%q", ann.Lines())
	br := clitest.Start(t, h2, "browse", "timezone", "--json")
	for _, n := range []string{"Keep", "Txt", "Port", "Gone"} {
		_, err := clitest.WaitEvent(ctx, br, "add", n, nil)
		require.NoError(t, err, "%q", br.Lines())
	}

	// A broken file: the problems named, the set kept.
	sigWriteConfig(t, cfg, `
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": "two"}`)
	seen := len(br.Lines())
	require.NoError(t, ann.Signal(syscall.SIGHUP))
	_, err = ann.WaitFor(ctx, regexp.MustCompile(`reload of .* refused; the 4 services published before stay as they are`))
	require.NoError(t, err, "%q", ann.Lines())
	assert.True(t, slicesContainsSub(ann.Lines(), "services[1].port"), "the problem names the field: %q", ann.Lines())
	assert.True(t, slicesContainsSub(ann.Lines(), cfg), "the problem names the file: %q", ann.Lines())
	time.Sleep(3 * time.Second)
	assert.Empty(t, clitest.Events(t, br.Lines()[seen:]), "the browser sees no change")
	assert.False(t, ann.Exited())

	// A changed file.
	sigWriteConfig(t, cfg, `
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": 2, "txt": {"v": "2"}},
  {"name": "Port", "service": "timezone", "port": 33},
  {"name": "New", "service": "timezone", "port": 5}`)
	seen = len(br.Lines())
	require.NoError(t, ann.Signal(syscall.SIGHUP))
	_, err = ann.WaitFor(ctx, regexp.MustCompile(`reloaded .*: 1 added, 1 updated, 1 replaced, 1 removed, 1 unchanged`))
	require.NoError(t, err, "%q", ann.Lines())
	_, err = clitest.WaitEvent(ctx, br, "update", "Txt", func(e clitest.Event) bool { return e.TXTValue("v") == "2" })
	require.NoError(t, err, "%q", br.Lines())
	_, err = clitest.WaitEvent(ctx, br, "remove", "Gone", nil)
	require.NoError(t, err, "%q", br.Lines())
	_, err = clitest.WaitEvent(ctx, br, "add", "New", nil)
	require.NoError(t, err, "%q", br.Lines())
	sigWaitAny(t, ctx, br, "Port", func(e clitest.Event) bool { return e.Event != "remove" && e.Port == 33 })
	out := strings.Join(annOutput(ann), "\n")
	assert.Contains(t, out, `updated TXT of "Txt._timezone._tcp.local."`)
	assert.Contains(t, out, `goodbye "Gone._timezone._tcp.local." (no longer in `+cfg+`)`)
	assert.Contains(t, out, `goodbye "Port._timezone._tcp.local." (replaced:`)
	assert.Regexp(t, `(?m)^announced "New._timezone._tcp.local." on `, out)
	time.Sleep(2 * time.Second)
	for _, ev := range clitest.Events(t, br.Lines()[seen:]) {
		assert.NotEqual(t, "Keep", ev.Instance, "the unchanged service is left alone: %+v", ev)
	}

	// SIGHUP without --config is ignored.
	plain, _ := annStart(t, ctx, h1, annArgs("--hostname", "other")...)
	require.NoError(t, plain.Signal(syscall.SIGHUP))
	_, err = plain.WaitFor(ctx, regexp.MustCompile(`SIGHUP ignored: there is no --config file to reload`))
	require.NoError(t, err, "%q", plain.Lines())
	assert.False(t, plain.Exited())
}

// slicesContainsSub reports whether a line of lines contains sub.
func slicesContainsSub(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// TestAnnounceSIGTERMBrowserSeesRemove: a single SIGTERM sends goodbyes: a
// browser on another host prints the remove within about a second, and
// lansd exits 0.
func TestAnnounceSIGTERMBrowserSeesRemove(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	ann, _ := annStart(t, ctx, h1, annArgs()...)
	br := clitest.Start(t, h2, "browse", "timezone", "--json")
	_, err := clitest.WaitEvent(ctx, br, "add", annName, nil)
	require.NoError(t, err, "%q", br.Lines())
	at := time.Now()
	require.NoError(t, ann.Signal(syscall.SIGTERM))
	_, err = clitest.WaitEvent(ctx, br, "remove", annName, nil)
	require.NoError(t, err, "%q", br.Lines())
	took := time.Since(at)
	t.Logf("remove seen %v after SIGTERM", took)
	assert.Less(t, took, time.Second+annSlack, "goodbyes: a browser drops the service 1 s after them (RFC 6762 section 10.1)")
	require.NoError(t, ann.Wait(ctx), "%q", ann.Lines())
	assert.Equal(t, 0, ann.ExitCode())
}

// TestAnnounceSecondSIGTERMExitsAtOnce: lansd announce --domain registers
// with a DNS server on 127.0.0.1 (unicast only), which then stops, so that
// the removal on SIGTERM hangs waiting for it. A second SIGTERM exits at
// once with 143, saying the shutdown did not finish.
func TestAnnounceSecondSIGTERMExitsAtOnce(t *testing.T) {
	s := dnstest.StartBIND(t, "tz.example.net")
	ctx := lantest.Context(t, 60*time.Second)
	args := []string{"announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080",
		"--domain", "tz.example.net", "--server", s.Addr, "--tsig", s.TSIGSpec(), "--hostname", "h1",
		"--addr", "198.51.100.7", "--timeout", "5s"}
	ann := wideCmd(t, ctx, s, args...)
	var out, errOut syncBuf
	ann.Stdout, ann.Stderr = &out, &errOut
	require.NoError(t, ann.Start())
	exited := make(chan error, 1)
	go func() { exited <- ann.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "registered") {
		require.True(t, time.Now().Before(deadline), "not registered: %s %s", out.String(), errOut.String())
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	require.NoError(t, ann.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		t.Fatalf("exited on the first SIGTERM although the server is gone: %v\n%s%s", err, out.String(), errOut.String())
	case <-time.After(500 * time.Millisecond):
	}
	at := time.Now()
	require.NoError(t, ann.Process.Signal(syscall.SIGTERM))
	var err error
	select {
	case err = <-exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after the second SIGTERM\n%s%s", out.String(), errOut.String())
	}
	took := time.Since(at)
	t.Logf("exited %v after the second SIGTERM; stderr:\n%s", took, errOut.String())
	assert.Less(t, took, 500*time.Millisecond)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 143, ee.ExitCode())
	assert.Contains(t, errOut.String(), "exiting at once; the shutdown did not finish")
	assert.NotContains(t, out.String(), "removed")
}
