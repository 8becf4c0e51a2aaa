package e2e

import (
	"bytes"
	"context"
	"os/exec"
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

// The wide-area end-to-end test runs the lansd binary on this machine, which
// is allowed only for the unicast DNS modes against a server on 127.0.0.1:
// they send no multicast. wideCmd refuses anything else.

// wideCmd returns the lansd binary run with args, after checking that args
// name a unicast DNS domain (not local.) and a server on 127.0.0.1.
func wideCmd(t *testing.T, ctx context.Context, s *dnstest.Server, args ...string) *exec.Cmd {
	t.Helper()
	joined := " " + strings.Join(args, " ") + " "
	hasDomain := strings.Contains(joined, " --domain ") && !strings.Contains(joined, " --domain local")
	isResolve := len(args) > 0 && args[0] == "resolve" && !strings.Contains(args[1], ".local")
	require.True(t, hasDomain || isResolve, "lansd may run on the bare machine only in a unicast DNS mode: %v", args)
	require.Contains(t, joined, " --server "+s.Addr+" ", "only against the test server on 127.0.0.1")
	require.True(t, strings.HasPrefix(s.Addr, "127.0.0.1:"))
	return exec.CommandContext(ctx, clitest.Binary(t), args...)
}

// syncBuf is a bytes.Buffer for a running process.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// wideRun runs lansd to the end and returns its exit status and output.
func wideRun(t *testing.T, s *dnstest.Server, args ...string) (int, string, string) {
	t.Helper()
	cmd := wideCmd(t, lantest.Context(t, 30*time.Second), s, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	t.Logf("$ lansd %s\n%s%s(exit %d)", strings.Join(args, " "), out.String(), errOut.String(), code)
	return code, out.String(), errOut.String()
}

func TestWideBinaryRegisterBrowseSIGTERM(t *testing.T) {
	s := dnstest.StartBIND(t, "tz.example.net")
	before := s.Snapshot(t)
	s.Nsupdate(t, `update add b._dns-sd._udp.tz.example.net. 3600 PTR tz.example.net.
update add db._dns-sd._udp.tz.example.net. 3600 PTR tz.example.net.
update add lb._dns-sd._udp.tz.example.net. 3600 PTR tz.example.net.`)
	withDomains := s.Snapshot(t)
	require.NotEqual(t, before, withDomains)

	ctx := lantest.Context(t, 60*time.Second)
	args := []string{"announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--txt", "path=/tz",
		"--domain", "tz.example.net", "--server", s.Addr, "--tsig", s.TSIGSpec(), "--hostname", "h1", "--addr", "198.51.100.7"}
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
	t.Logf("$ lansd %s &\n%s", strings.Join(args, " "), out.String())
	assert.Equal(t, `registered "Office TZ._timezone._tcp.tz.example.net." in tz.example.net. at `+s.Addr+"\n", out.String())

	dig := s.Dig(t, "+noall", "+answer", "_timezone._tcp.tz.example.net.", "PTR")
	dig += s.Dig(t, "+noall", "+answer", `Office\032TZ._timezone._tcp.tz.example.net.`, "SRV")
	dig += s.Dig(t, "+noall", "+answer", `Office\032TZ._timezone._tcp.tz.example.net.`, "TXT")
	dig += s.Dig(t, "+noall", "+answer", "h1.tz.example.net.", "A")
	t.Logf("$ dig -p %d @127.0.0.1 +noall +answer ...\n%s", s.Port, dig)
	assert.Contains(t, dig, `"path=/tz"`)
	assert.Contains(t, dig, "SRV 0 0 8080 h1.tz.example.net.")

	code, got, _ := wideRun(t, s, "browse", "timezone", "--domain", "tz.example.net", "--server", s.Addr, "--once")
	assert.Equal(t, 0, code)
	assert.Equal(t, "+ Office TZ  _timezone._tcp  h1.tz.example.net.:8080  198.51.100.7  \"path=/tz\"  ✓\n", got)
	code, got, _ = wideRun(t, s, "browse", "timezone", "--domain", "tz.example.net", "--server", s.Addr, "--once", "--json")
	assert.Equal(t, 0, code)
	assert.Contains(t, got, `"event":"add","instance":"Office TZ","service":"_timezone._tcp","domain":"tz.example.net."`)
	code, got, _ = wideRun(t, s, "resolve", "Office TZ._timezone._tcp.tz.example.net.", "--server", s.Addr)
	assert.Equal(t, 0, code)
	assert.Contains(t, got, "= Office TZ  _timezone._tcp  h1.tz.example.net.:8080")
	code, got, _ = wideRun(t, s, "browse", "--domains", "--domain", "tz.example.net", "--server", s.Addr)
	assert.Equal(t, 0, code)
	assert.Equal(t, "b   tz.example.net.  (from tz.example.net.)\ndb  tz.example.net.  (from tz.example.net.)\nlb  tz.example.net.  (from tz.example.net.)\n", got)

	// A real SIGTERM: the records go, exit 0.
	br := wideCmd(t, ctx, s, "browse", "timezone", "--domain", "tz.example.net", "--server", s.Addr, "--interval", "250ms")
	var brOut syncBuf
	br.Stdout, br.Stderr = &brOut, &brOut
	require.NoError(t, br.Start())
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(brOut.String(), "+ Office TZ") {
		require.True(t, time.Now().Before(deadline), "browser saw nothing: %s", brOut.String())
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, ann.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "exit 0 after SIGTERM: %s", errOut.String())
	case <-time.After(15 * time.Second):
		t.Fatal("lansd announce did not exit after SIGTERM")
	}
	t.Logf("(SIGTERM)\n%s", out.String())
	assert.Contains(t, out.String(), `removed "Office TZ._timezone._tcp.tz.example.net."`+"\n")
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(brOut.String(), "- Office TZ") {
		require.True(t, time.Now().Before(deadline), "browser saw no removal: %s", brOut.String())
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, br.Process.Signal(syscall.SIGTERM))
	assert.NoError(t, br.Wait())
	t.Logf("$ lansd browse timezone --domain tz.example.net --server %s --interval 250ms\n%s", s.Addr, brOut.String())
	assert.Equal(t, withDomains, s.Snapshot(t), "the zone is as it was before the registration")
}
