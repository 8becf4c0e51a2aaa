package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/txt"
	"github.com/lansd/lansd/wide"
)

// The wide-area CLI tests run lansd in-process against a real BIND 9
// (internal/dnstest) on 127.0.0.1: unicast DNS only. They skip without
// named and fail under LANSD_REQUIRE_PEERS=1.

const wideTestZone = "tz.example.net"

// lockedBuffer is a bytes.Buffer safe for a running command and a test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bgRun is lansd running in the background.
type bgRun struct {
	cancel      context.CancelFunc
	out, errOut *lockedBuffer
	done        chan int
	hup         chan os.Signal // what the command takes for SIGHUP
}

// startLansd runs lansd args in-process until stop (which simulates
// SIGTERM by cancelling its context, as main's signal.NotifyContext does).
func startLansd(t *testing.T, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &bgRun{cancel: cancel, out: &lockedBuffer{}, errOut: &lockedBuffer{}, done: make(chan int, 1), hup: make(chan os.Signal, 1)}
	hangups := func() (<-chan os.Signal, func()) { return r.hup, func() {} }
	go func() {
		r.done <- run(ctx, &cliEnv{stdin: strings.NewReader(""), stdout: r.out, stderr: r.errOut, hangups: hangups}, args)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("lansd did not stop")
		}
	})
	return r
}

// waitOutput waits until stdout contains want, or the command ends.
func (r *bgRun) waitOutput(t *testing.T, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(r.out.String(), want) {
			return
		}
		select {
		case code := <-r.done:
			r.done <- code
			if strings.Contains(r.out.String(), want) {
				return
			}
			t.Fatalf("lansd exited %d before printing %q\nstdout:\n%s\nstderr:\n%s", code, want, r.out, r.errOut)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no %q within %v\nstdout:\n%s\nstderr:\n%s", want, within, r.out, r.errOut)
}

// waitErr waits until the command's stderr holds want.
func (r *bgRun) waitErr(t *testing.T, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(r.errOut.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q on stderr within %v\nstdout:\n%s\nstderr:\n%s", want, within, r.out, r.errOut)
}

// stop cancels the command and returns its exit status.
func (r *bgRun) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("lansd did not stop within 20 s of SIGTERM")
		return -1
	}
}

// wait waits for the command to end by itself.
func (r *bgRun) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(within):
		t.Fatalf("lansd still running after %v\nstdout:\n%s\nstderr:\n%s", within, r.out, r.errOut)
		return -1
	}
}

// noMulticast makes opening the Multicast DNS responder or querier fail
// the test: the unicast DNS modes must not open them.
func noMulticast(t *testing.T) *atomic.Int32 {
	t.Helper()
	var opened atomic.Int32
	oldB, oldR, oldResp := newBrowser, resolveInstance, newResponder
	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) {
		opened.Add(1)
		return nil, fmt.Errorf("test: the mDNS querier was opened")
	}
	resolveInstance = func(context.Context, string, browse.Options) ([]browse.Instance, error) {
		opened.Add(1)
		return nil, fmt.Errorf("test: the mDNS querier was opened")
	}
	newResponder = func(context.Context, announce.Options) (*announce.Responder, error) {
		opened.Add(1)
		return nil, fmt.Errorf("test: the mDNS responder was opened")
	}
	t.Cleanup(func() {
		newBrowser, resolveInstance, newResponder = oldB, oldR, oldResp
		assert.Zero(t, opened.Load(), "the Multicast DNS transport was opened in a unicast DNS mode")
	})
	return &opened
}

// wideAnnounceArgs are the flags registering "Office TZ" with s.
func wideAnnounceArgs(s *dnstest.Server, extra ...string) []string {
	return append([]string{"announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--txt", "path=/tz",
		"--domain", wideTestZone, "--server", s.Addr, "--tsig", s.TSIGSpec(),
		"--hostname", "h1", "--addr", "198.51.100.7", "--addr", "2001:db8::7", "--timeout", "2s"}, extra...)
}

// jsonLines decodes --json output.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		evs = append(evs, m)
	}
	return evs
}

func TestWideAnnounceBrowseAndRemove(t *testing.T) {
	noMulticast(t)
	s := dnstest.StartBIND(t, wideTestZone)
	before := s.Snapshot(t)

	ann := startLansd(t, wideAnnounceArgs(s)...)
	ann.waitOutput(t, "registered", 10*time.Second)
	assert.Equal(t, fmt.Sprintf("registered %q in tz.example.net. at %s\n", "Office TZ._timezone._tcp.tz.example.net.", s.Addr), ann.out.String())

	// A plain DNS client sees the records.
	ptrs := s.Query(t, "_timezone._tcp.tz.example.net.", dns.TypePTR)
	require.Len(t, ptrs, 1)
	assert.Equal(t, `Office\ TZ._timezone._tcp.tz.example.net.`, ptrs[0].(*dns.PTR).Ptr)
	srv := s.Query(t, `Office\ TZ._timezone._tcp.tz.example.net.`, dns.TypeSRV)
	require.Len(t, srv, 1)
	assert.Equal(t, uint16(8080), srv[0].(*dns.SRV).Port)
	assert.Equal(t, "h1.tz.example.net.", srv[0].(*dns.SRV).Target)
	assert.Contains(t, s.Dig(t, "+short", `Office\032TZ._timezone._tcp.tz.example.net.`, "TXT"), `"path=/tz"`)

	// lansd browse sees them, human and JSON.
	code, out, errOut := lansd(t, "", "browse", "timezone", "--domain", wideTestZone, "--server", s.Addr, "--once")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "+ Office TZ  _timezone._tcp  h1.tz.example.net.:8080  198.51.100.7 2001:db8::7  \"path=/tz\"  ✓\n", out)

	code, out, errOut = lansd(t, "", "browse", "timezone", "--domain", wideTestZone, "--server", s.Addr, "--once", "--json")
	require.Equal(t, exitOK, code, errOut)
	evs := clitest.Output(t, out)
	require.Len(t, evs, 1)
	assert.Equal(t, "add", evs[0].Event)
	assert.Equal(t, "Office TZ", evs[0].Instance)
	assert.Equal(t, "tz.example.net.", evs[0].Domain)
	assert.Equal(t, `"path=/tz"`, evs[0].TXT.String())
	assert.True(t, evs[0].Conforms)
	assert.Equal(t, []string{s.Addr}, evs[0].Iface)

	code, out, errOut = lansd(t, "", "browse", "timezone", "--domain", wideTestZone, "--server", s.Addr, "--once", "--parsable")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, fmt.Sprintf("+;%[1]s;IPv4;Office\\032TZ;_timezone._tcp;tz.example.net\n=;%[1]s;IPv4;Office\\032TZ;_timezone._tcp;tz.example.net;h1.tz.example.net;198.51.100.7;8080;\"path=/tz\"\n", s.Addr), out)

	// lansd resolve resolves it over unicast DNS.
	code, out, errOut = lansd(t, "", "resolve", "Office TZ._timezone._tcp.tz.example.net.", "--server", s.Addr)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "= Office TZ  _timezone._tcp  h1.tz.example.net.:8080  198.51.100.7 2001:db8::7  \"path=/tz\"  ✓\n", out)

	// A browser polling every 200 ms sees a TXT update made through the
	// library, then the removal on SIGTERM.
	br := startLansd(t, "browse", "timezone", "--domain", wideTestZone, "--server", s.Addr, "--interval", "200ms", "--json")
	br.waitOutput(t, `"event":"add","instance":"Office TZ"`, 5*time.Second)

	r, err := wide.NewRegistrar(wide.RegistrarOptions{Domain: wideTestZone, Server: s.Addr,
		TSIG: tsig.Key{Name: s.KeyName, Algorithm: s.Algorithm, Secret: s.Secret}, HostName: "h2",
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.8")}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec, err := txt.ParseArgs([]string{"path=/lib"})
	require.NoError(t, err)
	h, err := r.Add(ctx, announce.Service{Instance: "Lib TZ", Type: "timezone", Port: 9090, TXT: rec})
	require.NoError(t, err)
	br.waitOutput(t, `"event":"add","instance":"Lib TZ"`, 5*time.Second)
	rec2, err := txt.ParseArgs([]string{"path=/lib2"})
	require.NoError(t, err)
	require.NoError(t, h.UpdateTXT(ctx, rec2))
	br.waitOutput(t, `"event":"update","instance":"Lib TZ"`, 5*time.Second)
	assert.Contains(t, br.out.String(), `"txt":{"path":"/lib2"}`)

	require.Equal(t, exitOK, ann.stop(t), ann.errOut.String())
	assert.Contains(t, ann.out.String(), "removed \"Office TZ._timezone._tcp.tz.example.net.\"\n")
	br.waitOutput(t, `"event":"remove","instance":"Office TZ"`, 5*time.Second)
	require.NoError(t, r.Close(ctx))
	br.waitOutput(t, `"event":"remove","instance":"Lib TZ"`, 5*time.Second)
	assert.Equal(t, exitOK, br.stop(t))

	assert.Equal(t, before, s.Snapshot(t), "the zone is left as it was found")
}

func TestWideAnnounceConflict(t *testing.T) {
	noMulticast(t)
	s := dnstest.StartBIND(t, wideTestZone)
	s.Nsupdate(t, `update add _services._dns-sd._udp.tz.example.net. 120 PTR _timezone._tcp.tz.example.net.
update add _timezone._tcp.tz.example.net. 120 PTR Office\032TZ._timezone._tcp.tz.example.net.
update add Office\032TZ._timezone._tcp.tz.example.net. 120 SRV 0 0 9999 other.tz.example.net.
update add Office\032TZ._timezone._tcp.tz.example.net. 120 TXT "path=/other"`)
	before := s.Snapshot(t)

	// --no-rename: refused, exit 1, nothing written.
	code, out, errOut, opened := announceRun(t, wideAnnounceArgs(s, "--no-rename")[1:]...)
	assert.Equal(t, exitNonConf, code, "stdout: %s\nstderr: %s", out, errOut)
	assert.Empty(t, opened)
	assert.Contains(t, errOut, `"Office TZ._timezone._tcp.tz.example.net." is taken in the zone`)
	assert.Contains(t, errOut, "SRV 0 0 9999 other.tz.example.net.")
	assert.Empty(t, out)
	assert.Equal(t, before, s.Snapshot(t))

	// Default: renamed "Office TZ (2)".
	ann := startLansd(t, wideAnnounceArgs(s)...)
	ann.waitOutput(t, "registered", 10*time.Second)
	assert.Contains(t, ann.out.String(), `registered "Office TZ (2)._timezone._tcp.tz.example.net." in tz.example.net. at `+s.Addr+` (renamed: `)
	code, out, errOut = lansd(t, "", "browse", "timezone", "--domain", wideTestZone, "--server", s.Addr, "--once")
	require.Equal(t, exitOK, code, errOut)
	// The other's instance has no address record: reported after the poll
	// with host, port and a warning naming the host (issue 11; it used to
	// be hidden).
	assert.Equal(t, "+ Office TZ  _timezone._tcp  other.tz.example.net.:9999  (no address)  \"path=/other\"  ✓\n"+
		"    warning: no address for host \"other.tz.example.net.\" (RFC 6763 section 5)\n"+
		"+ Office TZ (2)  _timezone._tcp  h1.tz.example.net.:8080  198.51.100.7 2001:db8::7  \"path=/tz\"  ✓\n", out)
	require.Equal(t, exitOK, ann.stop(t))
	assert.Contains(t, ann.out.String(), `removed "Office TZ (2)._timezone._tcp.tz.example.net."`)
	assert.Equal(t, before, s.Snapshot(t), "the other's records stay, ours are gone")
}

func TestWideAnnounceRefusals(t *testing.T) {
	noMulticast(t)
	s := dnstest.StartBIND(t, wideTestZone)
	before := s.Snapshot(t)

	// A wrong TSIG key: a clear error, nothing written.
	wrong := strings.TrimSuffix(s.KeyName, ".") + ":" + "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	args := wideAnnounceArgs(s)
	for i, a := range args {
		if a == s.TSIGSpec() {
			args[i] = wrong
		}
	}
	code, out, errOut, _ := announceRun(t, args[1:]...)
	assert.Equal(t, exitInternal, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "TSIG key "+strings.TrimSuffix(s.KeyName, ".")+" rejected")
	assert.Contains(t, errOut, "rejected by "+s.Addr)
	assert.Equal(t, before, s.Snapshot(t))

	// Invalid TXT: exit 2, nothing sent.
	code, _, errOut, _ = announceRun(t, wideAnnounceArgs(s, "--txt", "path")[1:]...)
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "nothing was sent")
	assert.Equal(t, before, s.Snapshot(t))

	// --tsig-file, with --config.
	cfg := writeFile(t, "svc.json", `{"services": [{"name": "From File", "service": "timezone", "port": 7070, "txt": {"path": "/f"}}]}`)
	ann := startLansd(t, "announce", "--config", cfg, "--domain", wideTestZone, "--server", s.Addr, "--tsig-file", s.KeyFile(t),
		"--hostname", "h1", "--addr", "198.51.100.7")
	ann.waitOutput(t, `registered "From File._timezone._tcp.tz.example.net."`, 10*time.Second)
	require.Equal(t, exitOK, ann.stop(t))
	assert.Equal(t, before, s.Snapshot(t))

	// Usage errors: flags of the other mode, both key flags.
	for _, c := range []struct {
		args []string
		want string
	}{
		{wideAnnounceArgs(s, "--iface", "lo")[1:], "--iface cannot be used with --domain"},
		{wideAnnounceArgs(s, "--no-validate")[1:], "--no-validate cannot be used with --domain"},
		{wideAnnounceArgs(s, "--tsig-file", "/nonexistent")[1:], "not both"},
		{[]string{"-s", "timezone", "-n", "x", "-p", "1", "--tsig", "k:c2VjcmV0"}, "--tsig needs --domain"},
		{[]string{"-s", "timezone", "-n", "x", "-p", "1", "--domain", wideTestZone, "--tsig", "nope:x:y:z"}, "--tsig"},
	} {
		code, _, errOut, opened := announceRun(t, c.args...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errOut)
		assert.Contains(t, errOut, c.want, c.args)
		assert.Empty(t, opened)
	}
	assert.Equal(t, before, s.Snapshot(t))
}

func TestWideServerDown(t *testing.T) {
	noMulticast(t)
	addr := dnstest.UnusedAddr(t)
	start := time.Now()
	code, out, errOut, _ := announceRun(t, "--service", "timezone", "--name", "Office TZ", "--port", "8080",
		"--domain", wideTestZone, "--server", addr, "--tsig", "hmac-sha256:k:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
		"--hostname", "h1", "--addr", "198.51.100.7", "--timeout", "1s")
	assert.Equal(t, exitInternal, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, addr)
	assert.Less(t, time.Since(start), 10*time.Second, "bounded wait")
	t.Log(errOut)

	start = time.Now()
	code, out, errOut = lansd(t, "", "browse", "timezone", "--domain", wideTestZone, "--server", addr, "--once")
	assert.Equal(t, exitInternal, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "lansd browse: browse: query _timezone._tcp.tz.example.net. PTR at "+addr+": no answer within")
	assert.Less(t, time.Since(start), 10*time.Second, "bounded wait")

	code, _, errOut = lansd(t, "", "resolve", "X._timezone._tcp.tz.example.net.", "--server", addr)
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, errOut, "no answer within")
}

func TestWideBrowseDomainsAndMany(t *testing.T) {
	noMulticast(t)
	s := dnstest.StartBIND(t, wideTestZone, dnstest.WithNamedOptions("max-records-per-type 0;"))
	s.Nsupdate(t, `update add b._dns-sd._udp.tz.example.net. 60 PTR tz.example.net.
update add b._dns-sd._udp.tz.example.net. 60 PTR lab.tz.example.net.
update add db._dns-sd._udp.tz.example.net. 60 PTR tz.example.net.
update add lb._dns-sd._udp.tz.example.net. 60 PTR lab.tz.example.net.`)
	code, out, errOut := lansd(t, "", "browse", "--domains", "--domain", wideTestZone, "--server", s.Addr)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, `b   lab.tz.example.net.  (from tz.example.net.)
b   tz.example.net.  (from tz.example.net.)
db  tz.example.net.  (from tz.example.net.)
lb  lab.tz.example.net.  (from tz.example.net.)
`, out)
	code, out, errOut = lansd(t, "", "browse", "--domains", "--domain", wideTestZone, "--server", s.Addr, "--json")
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, jsonLines(t, out), 4)
	assert.Contains(t, out, `{"domain":"tz.example.net.","from":"tz.example.net.","kind":"db","ttl":60}`)

	if testing.Short() {
		return
	}
	// 500 instances registered, all found by one lansd browse --once.
	r, err := wide.NewRegistrar(wide.RegistrarOptions{Domain: wideTestZone, Server: s.Addr,
		TSIG: tsig.Key{Name: s.KeyName, Algorithm: s.Algorithm, Secret: s.Secret}, HostName: "h1",
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.7")}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	defer r.Close(ctx)
	const n = 500
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rec, _ := txt.ParseArgs([]string{fmt.Sprintf("path=/tz/%d", i)})
			_, errs[i] = r.Add(ctx, announce.Service{Instance: fmt.Sprintf("Clock %03d", i), Type: "timezone", Port: uint16(8000 + i), TXT: rec})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	code, out, errOut = lansd(t, "", "browse", "timezone", "--domain", wideTestZone, "--server", s.Addr, "--once", "--json")
	require.Equal(t, exitOK, code, errOut)
	evs := clitest.Output(t, out)
	require.Len(t, evs, n)
	seen := map[string]bool{}
	for _, ev := range evs {
		assert.Equal(t, "add", ev.Event)
		seen[ev.Instance] = true
	}
	for i := range n {
		assert.True(t, seen[fmt.Sprintf("Clock %03d", i)], i)
	}
}

// lansd browse --domains also asks the reverse-mapping domains of the
// host's networks (RFC 6763 section 11), or of --network.
func TestWideBrowseDomainsReverseMapping(t *testing.T) {
	noMulticast(t)
	old := localNetworks
	localNetworks = func() ([]netip.Prefix, error) {
		return []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}, nil
	}
	t.Cleanup(func() { localNetworks = old })
	s := dnstest.StartBIND(t, "100.51.198.in-addr.arpa.")
	s.Nsupdate(t, `update add b._dns-sd._udp.0.100.51.198.in-addr.arpa. 60 PTR tz.example.net.
update add lb._dns-sd._udp.128.100.51.198.in-addr.arpa. 60 PTR lab.tz.example.net.`)

	code, out, errOut := lansd(t, "", "browse", "--domains", "--server", s.Addr)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "b   tz.example.net.  (from 0.100.51.198.in-addr.arpa.)\n", out, "the host's network")

	code, out, errOut = lansd(t, "", "browse", "--domains", "--server", s.Addr, "--network", "198.51.100.128/25", "-p")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "lb;lab.tz.example.net;128.100.51.198.in-addr.arpa\n", out, "--network instead of the host's")

	code, _, errOut = lansd(t, "", "browse", "--domains", "--server", s.Addr, "--network", "198.51.100.0")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `--network "198.51.100.0": want a prefix`)
	code, _, errOut = lansd(t, "", "browse", "timezone", "--network", "198.51.100.0/24")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--network goes with --domains")
}

func TestWideBrowseMixedDomainsUsesBoth(t *testing.T) {
	// --domain local. --domain X opens the mDNS querier (stubbed here) and
	// browses X by unicast DNS: the stub's failure ends the browse.
	var opened atomic.Int32
	old := newBrowser
	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) {
		opened.Add(1)
		return nil, fmt.Errorf("test: mDNS stub")
	}
	t.Cleanup(func() { newBrowser = old })
	s := dnstest.StartBIND(t, wideTestZone)
	code, _, errOut := lansd(t, "", "browse", "timezone", "--domain", "local.", "--domain", wideTestZone, "--server", s.Addr, "--once")
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, errOut, "test: mDNS stub")
	assert.Equal(t, int32(1), opened.Load())

	// Usage errors open nothing.
	noMulticast(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"timezone", "--domain", "a..b"}, "not a domain name"},
		{[]string{"timezone", "--domain", wideTestZone, "--interval", "-1s"}, "negative"},
		{[]string{"--domains", "timezone"}, "takes no TYPE"},
	} {
		code, _, errOut := lansd(t, "", append([]string{"browse"}, c.args...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errOut)
		assert.Contains(t, errOut, c.want)
	}
}
