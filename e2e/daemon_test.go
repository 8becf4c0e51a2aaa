//go:build linux

package e2e

// End-to-end tests of lansd daemon (issue 14) on the virtual LAN: the
// daemon runs in a host namespace, its socket in a temporary directory;
// clients (package daemon's Client, in the test process: a Unix socket is
// reached by its path from any network namespace) register through it,
// and lansd browse on another host sees what it announces.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// dmnRegisterEnv makes the test binary, run with it set to a socket
// path, register one service through the daemon there and exit: 0 when
// it was registered, 13 when the socket refused the connection for
// permissions, 1 otherwise. It is how a process of another user tries
// to publish (TestDaemonSocketPermissions); it sends nothing itself.
const dmnRegisterEnv = "LANSD_E2E_DAEMON_REGISTER"

func init() {
	path := os.Getenv(dmnRegisterEnv)
	if path == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := daemon.Dial(ctx, path)
	if err != nil {
		fmt.Println("DIAL", err)
		if errors.Is(err, os.ErrPermission) {
			os.Exit(13)
		}
		os.Exit(1)
	}
	r, err := c.Register(ctx, announce.Service{Instance: "Intruder", Type: "timezone", Port: 1})
	if err != nil {
		fmt.Println("REGISTER", err)
		os.Exit(1)
	}
	fmt.Println("REGISTERED", r.Name())
	c.Close()
	os.Exit(0)
}

// dmnReadyRE is the daemon's log line once it serves.
var dmnReadyRE = regexp.MustCompile(`lansd daemon: ready`)

// dmnSocketDir returns a directory for the socket, short enough for a
// Unix socket path and open to every user (mode 0755), so that only the
// socket's own mode decides who connects.
func dmnSocketDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "lansd-e2e-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(d, 0o755))
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// dmnStart starts lansd daemon in h with its socket in a new directory
// and waits until it serves; it returns the process and the socket path.
func dmnStart(t *testing.T, ctx context.Context, h *lantest.Host, args ...string) (*lantest.Proc, string) {
	t.Helper()
	sock := filepath.Join(dmnSocketDir(t), "lansd.sock")
	p := clitest.Start(t, h, append([]string{"daemon", "--socket", sock, "--hostname", h.Name}, args...)...)
	_, err := p.WaitFor(ctx, dmnReadyRE)
	require.NoError(t, err, "%q", p.Lines())
	return p, sock
}

// dmnStatus runs lansd status in h and returns its output.
func dmnStatus(t *testing.T, ctx context.Context, h *lantest.Host, sock string) string {
	t.Helper()
	p := clitest.Start(t, h, "status", "--socket", sock)
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	return strings.Join(p.Lines(), "\n") + "\n"
}

// dmnServicesDir returns a new services directory holding files.
func dmnServicesDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "services.d")
	require.NoError(t, os.Mkdir(dir, 0o755))
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	return dir
}

// dmnIsGoodbye reports whether c is a response from h holding a record
// of name with TTL 0 (RFC 6762 section 10.1).
func dmnIsGoodbye(c lantest.Captured, h *lantest.Host, name string) bool {
	if c.Msg == nil || !c.Msg.Response || !annFromHost(c, h) {
		return false
	}
	for _, rr := range c.Msg.Answer {
		if rr.Header().Ttl == 0 && (dnsname.Equal(rr.Header().Name, name) ||
			rr.Header().Rrtype == dns.TypePTR && dnsname.Equal(rr.(*dns.PTR).Ptr, name)) {
			return true
		}
	}
	return false
}

// TestDaemonTenClientsOneProbeRun: ten clients register a service each
// through one daemon, side by side. The host name is probed once (three
// probes per address family, RFC 6762 section 8.1), not once per client;
// a browser on another host finds the ten services; SIGTERM says goodbye
// for all of them and exits 0.
func TestDaemonTenClientsOneProbeRun(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 90*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	d, sock := dmnStart(t, ctx, h1, "--services-dir", "")
	br := clitest.Start(t, h2, "browse", "timezone", "--json")

	var clients []*daemon.Client
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		c, err := daemon.Dial(ctx, sock)
		require.NoError(t, err)
		clients = append(clients, c)
		wg.Go(func() {
			rec, _ := txt.ParseArgs([]string{fmt.Sprintf("client=%d", i)})
			_, errs[i] = c.Register(ctx, announce.Service{Instance: fmt.Sprintf("Client %d", i), Type: "timezone", Port: uint16(9000 + i), TXT: rec})
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "client %d", i)
	}
	for i := range 10 {
		ev, err := clitest.WaitEvent(ctx, br, "add", fmt.Sprintf("Client %d", i), nil)
		require.NoError(t, err, "%q", br.Lines())
		assert.Equal(t, uint16(9000+i), ev.Port)
		assert.Equal(t, "h1.local.", ev.Host)
		assert.Equal(t, fmt.Sprint(i), ev.TXTValue("client"))
	}
	for _, v4 := range []bool{true, false} {
		probes := annFilter(obs.Packets(), func(c lantest.Captured) bool {
			return annFromHost(c, h1) && annIsV4(c) == v4 && annIsProbe(c, "h1.local.")
		})
		assert.Len(t, probes, 3, "IPv4 %v: one probe run for the host name, whatever the number of clients", v4)
	}
	out := dmnStatus(t, ctx, h1, sock)
	t.Logf("lansd status:\n%s", out)
	assert.Contains(t, out, "host h1.local. on lan0; 11 client(s)", "the ten, and lansd status")
	assert.Contains(t, out, `Client 3._timezone._tcp.local.  (client `)

	// SIGTERM: goodbyes for all, exit 0.
	require.NoError(t, d.Signal(syscall.SIGTERM))
	require.NoError(t, d.Wait(ctx), "%q", d.Lines())
	assert.Equal(t, 0, d.ExitCode())
	for i := range 10 {
		_, err := clitest.WaitEvent(ctx, br, "remove", fmt.Sprintf("Client %d", i), nil)
		require.NoError(t, err, "%q", br.Lines())
	}
	_, err := os.Stat(sock)
	assert.True(t, os.IsNotExist(err), "the socket is removed: %v", err)
	for _, c := range clients {
		c.Close()
	}
}

// TestDaemonClientGoneGoodbyes: a client that disconnects has its
// service withdrawn with goodbyes within a second; the daemon's other
// services stay.
func TestDaemonClientGoneGoodbyes(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	dir := dmnServicesDir(t, map[string]string{"stay.json": `{"services": [{"name": "Stay", "service": "timezone", "port": 1}]}`})
	_, sock := dmnStart(t, ctx, h1, "--services-dir", dir)
	br := clitest.Start(t, h2, "browse", "timezone", "--json")
	c, err := daemon.Dial(ctx, sock)
	require.NoError(t, err)
	reg, err := c.Register(ctx, announce.Service{Instance: "Leaving", Type: "timezone", Port: 2})
	require.NoError(t, err)
	assert.Equal(t, "Leaving._timezone._tcp.local.", reg.Name())
	for _, n := range []string{"Stay", "Leaving"} {
		_, err := clitest.WaitEvent(ctx, br, "add", n, nil)
		require.NoError(t, err, "%q", br.Lines())
	}
	at := time.Now()
	require.NoError(t, c.Close())
	bye, err := obs.WaitFor(ctx, func(p lantest.Captured) bool { return p.Time.After(at) && dmnIsGoodbye(p, h1, reg.Name()) })
	require.NoError(t, err)
	took := bye.Time.Sub(at)
	t.Logf("goodbye on the wire %v after the client disconnected", took)
	assert.Less(t, took, time.Second, "goodbyes within 1 s of the disconnect")
	_, err = clitest.WaitEvent(ctx, br, "remove", "Leaving", nil)
	require.NoError(t, err, "%q", br.Lines())
	time.Sleep(time.Second)
	assert.Empty(t, clitest.Select(clitest.Events(t, br.Lines()), "remove", "Stay"), "the other services stay")
}

// TestDaemonServicesDir: a services.d file edited on disk is announced
// again with its new TXT record within 1.5 s; an invalid file is refused,
// named with its field, while the other files' services stay; a file
// removed withdraws its services.
func TestDaemonServicesDir(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 90*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	dir := dmnServicesDir(t, map[string]string{
		"a.json": `{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"v": "1"}}]}`,
		"b.json": `{"services": [{"name": "B1", "service": "timezone", "port": 2}, {"name": "B2", "service": "timezone", "port": 3}]}`,
	})
	d, sock := dmnStart(t, ctx, h1, "--services-dir", dir)
	br := clitest.Start(t, h2, "browse", "timezone", "--json")
	for _, n := range []string{"A", "B1", "B2"} {
		_, err := clitest.WaitEvent(ctx, br, "add", n, nil)
		require.NoError(t, err, "%q", br.Lines())
	}

	// Edited: the new TXT record announced (RFC 6762 section 8.4).
	at := time.Now()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), []byte(`{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"v": "2"}}]}`), 0o644))
	ev, err := clitest.WaitEvent(ctx, br, "update", "A", func(e clitest.Event) bool { return e.TXTValue("v") == "2" })
	require.NoError(t, err, "%q", br.Lines())
	took := ev.Time.Sub(at)
	t.Logf("new TXT seen by the browser on h2 %v after the file was written", took)
	assert.Less(t, took, 1500*time.Millisecond)

	// An invalid file: refused by name and field; nothing else moves.
	seen := len(br.Lines())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c.json"), []byte(`{"services": [{"name": "C", "service": "timezone", "port": "eighty"}]}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kc.json"), []byte(`{"services": [{"name": "K", "service": "jnx-kcsync", "port": 5, "txt": ["hash=5e75"]}]}`), 0o644))
	line, err := d.WaitFor(ctx, regexp.MustCompile(`services\.d/c\.json: services\[0\]\.port: must be a number`))
	require.NoError(t, err, "%q", d.Lines())
	t.Logf("daemon: %s", line)
	line, err = d.WaitFor(ctx, regexp.MustCompile(`services\.d/kc\.json: services\[0\]\.txt: .*hash`))
	require.NoError(t, err, "%q", d.Lines())
	t.Logf("daemon: %s", line)
	out := dmnStatus(t, ctx, h1, sock)
	t.Logf("lansd status:\n%s", out)
	assert.Regexp(t, `services.d/c.json  0 service\(s\)  refused: services.d/c.json: services\[0\].port`, out)
	time.Sleep(2 * time.Second)
	assert.Empty(t, clitest.Events(t, br.Lines()[seen:]), "the other files' services are left alone")

	// A file removed: its services withdrawn with goodbyes.
	require.NoError(t, os.Remove(filepath.Join(dir, "b.json")))
	for _, n := range []string{"B1", "B2"} {
		_, err := clitest.WaitEvent(ctx, br, "remove", n, nil)
		require.NoError(t, err, "%q", br.Lines())
	}
	assert.Empty(t, clitest.Select(clitest.Events(t, br.Lines()), "remove", "A"))

	// SIGHUP reloads too.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".new.json"), []byte(`{"services": [{"name": "D", "service": "timezone", "port": 4}]}`), 0o644))
	require.NoError(t, os.Rename(filepath.Join(dir, ".new.json"), filepath.Join(dir, "d.json")))
	_, err = clitest.WaitEvent(ctx, br, "add", "D", nil)
	require.NoError(t, err, "%q", br.Lines())
	require.NoError(t, d.Signal(syscall.SIGHUP))
	_, err = d.WaitFor(ctx, regexp.MustCompile(`SIGHUP: reloaded the services files.*unchanged=2`))
	require.NoError(t, err, "%q", d.Lines())
}

// TestDaemonAvahiServiceFile: an Avahi static service file is announced
// as Avahi announces it: the group's name with %h replaced, the type, the
// subtype, the port and the TXT strings.
func TestDaemonAvahiServiceFile(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	avahi := filepath.Join(t.TempDir(), "avahi")
	require.NoError(t, os.Mkdir(avahi, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(avahi, "printer.service"), []byte(`<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">Printer on %h</name>
  <service>
    <type>_ipp._tcp</type>
    <subtype>_universal._sub._ipp._tcp</subtype>
    <port>631</port>
    <txt-record>rp=printers/office</txt-record>
    <txt-record>duplex=T</txt-record>
  </service>
</service-group>`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(avahi, "bad.service"), []byte(`<service-group><name>Bad</name><service><type>_ipp._tcp</type></service></service-group>`), 0o644))
	d, _ := dmnStart(t, ctx, h1, "--services-dir", "", "--avahi-services", avahi)
	_, err := d.WaitFor(ctx, regexp.MustCompile(`avahi/bad\.service: service\[0\]\.port: missing`))
	require.NoError(t, err, "%q", d.Lines())
	for _, typ := range []string{"_ipp._tcp", "_universal._sub._ipp._tcp"} {
		br := clitest.Start(t, h2, "browse", typ, "--json", "--once")
		ev, err := clitest.WaitEvent(ctx, br, "add", "Printer on h1", nil)
		require.NoError(t, err, "%s: %q", typ, br.Lines())
		assert.Equal(t, "_ipp._tcp", ev.Service)
		assert.Equal(t, "h1.local.", ev.Host)
		assert.Equal(t, uint16(631), ev.Port)
		assert.Equal(t, "printers/office", ev.TXTValue("rp"))
		assert.Equal(t, "T", ev.TXTValue("duplex"))
		assert.Contains(t, ev.Addrs, h1.IPv4.String())
	}
}

// TestDaemonSocketPermissions: the socket's mode decides who may
// publish: a process of an unprivileged user (nobody) cannot connect to a
// 0660 root socket, so registers nothing; with the socket opened to
// everyone, the same process registers.
func TestDaemonSocketPermissions(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as nobody")
	}
	lan := lantest.New(t, lantest.Hosts(1))
	ctx := lantest.Context(t, 60*time.Second)
	_, sock := dmnStart(t, ctx, lan.Host(1), "--services-dir", "", "--socket-mode", "0660")
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), fi.Mode().Perm())

	// A copy of the test binary that user nobody can run.
	bin := filepath.Join(dmnSocketDir(t), "e2e.test")
	self, err := os.Executable()
	require.NoError(t, err)
	copyFile(t, self, bin)
	asNobody := func() (int, string) {
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{dmnRegisterEnv + "=" + sock}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	code, out := asNobody()
	assert.Equal(t, 13, code, "nobody cannot connect: %s", out)
	assert.Contains(t, out, "permission denied")

	require.NoError(t, os.Chmod(sock, 0o666))
	code, out = asNobody()
	assert.Equal(t, 0, code, "with the socket open to all, it registers: %s", out)
	assert.Contains(t, out, `REGISTERED Intruder._timezone._tcp.local.`)
}

// copyFile copies src to dst, executable by everyone.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// TestDaemonSecondRefused: a second lansd daemon on the same socket
// refuses to start, saying why, with a non-zero status, and sends
// nothing; the first one goes on serving.
func TestDaemonSecondRefused(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(1))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	_, sock := dmnStart(t, ctx, h1, "--services-dir", "")
	time.Sleep(4 * time.Second) // the first one's announcements are over
	before := len(obs.Packets())
	second := clitest.Start(t, h1, "daemon", "--socket", sock, "--services-dir", "", "--hostname", "other")
	err := second.Wait(ctx)
	require.Error(t, err)
	assert.Equal(t, 3, second.ExitCode())
	out := strings.Join(second.Lines(), "\n")
	assert.Contains(t, out, "another lansd daemon is running on this host ("+sock+" is in use); not starting")
	time.Sleep(time.Second)
	for _, p := range obs.Packets()[before:] {
		if p.Msg != nil {
			for _, q := range p.Msg.Question {
				assert.False(t, dnsname.Equal(q.Name, "other.local."), "the second daemon sent %v", p.Msg)
			}
		}
	}
	c, err := daemon.Dial(ctx, sock)
	require.NoError(t, err, "the first daemon still serves")
	_, err = c.Status(ctx)
	require.NoError(t, err)
	c.Close()
}

// TestDaemonBrowseThroughDaemon: a client browses through the daemon on
// h1 and finds a service h2 announces, with the events and verdicts of
// lansd browse; a second client browsing the same type gets it from the
// daemon's cache at once (one browser for the host, counted in lansd
// status); resolve is answered from the cache too; a change on h2 reaches
// both clients.
func TestDaemonBrowseThroughDaemon(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	_, sock := dmnStart(t, ctx, h1, "--services-dir", "")
	cfg := filepath.Join(t.TempDir(), "services.json")
	sigWriteConfig(t, cfg, `{"name": "Remote", "service": "timezone", "port": 7, "txt": {"v": "1"}}`)
	ann := clitest.Start(t, h2, "announce", "--config", cfg)
	_, err := ann.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", ann.Lines())

	c1, err := daemon.Dial(ctx, sock)
	require.NoError(t, err)
	defer c1.Close()
	cold := time.Now()
	b1, err := c1.Browse(ctx, []string{"timezone"}, daemon.BrowseOptions{})
	require.NoError(t, err)
	defer b1.Close()
	ev := dmnNext(t, ctx, b1)
	t.Logf("cold browse through the daemon: first event after %v", time.Since(cold))
	assert.Equal(t, "Remote", ev.Instance.Instance)
	assert.Equal(t, "h2.local.", ev.Instance.Host)
	assert.Equal(t, uint16(7), ev.Instance.Port)
	assert.True(t, ev.Instance.Conforms())
	assert.NotEmpty(t, ev.Instance.Seen)

	c2, err := daemon.Dial(ctx, sock)
	require.NoError(t, err)
	defer c2.Close()
	var warm []time.Duration
	for range 5 {
		at := time.Now()
		b2, err := c2.Browse(ctx, []string{"_timezone._tcp"}, daemon.BrowseOptions{})
		require.NoError(t, err)
		ev := dmnNext(t, ctx, b2)
		warm = append(warm, time.Since(at))
		assert.Equal(t, "Remote", ev.Instance.Instance)
		require.NoError(t, b2.Close())
	}
	t.Logf("warm browse through the daemon: first event after %v (load %s)", warm, loadavg())
	for _, d := range warm {
		assert.Less(t, d, 100*time.Millisecond, "the cached instance comes at once")
	}
	b2, err := c2.Browse(ctx, []string{"_timezone._tcp"}, daemon.BrowseOptions{})
	require.NoError(t, err)
	defer b2.Close()
	dmnNext(t, ctx, b2)
	st, err := c2.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Browsers, 1, "one browser for both clients: %+v", st.Browsers)
	assert.Equal(t, 2, st.Browsers[0].Clients)
	assert.Equal(t, 1, st.Browsers[0].Instances)

	at := time.Now()
	found, err := c2.Resolve(ctx, "Remote._timezone._tcp.local.", false)
	require.NoError(t, err)
	t.Logf("resolve from the daemon's cache: %v", time.Since(at))
	require.Len(t, found, 1)
	assert.Equal(t, uint16(7), found[0].Port)

	// A change on h2 reaches both.
	sigWriteConfig(t, cfg, `{"name": "Remote", "service": "timezone", "port": 7, "txt": {"v": "2"}}`)
	require.NoError(t, ann.Signal(syscall.SIGHUP))
	for i, b := range []dmnBrowser{b1, b2} {
		for {
			ev := dmnNext(t, ctx, b)
			require.Equal(t, sd.Update, ev.Kind, "client %d: %+v", i+1, ev)
			if v, _, _ := ev.Instance.TXT.Get("v"); string(v) == "2" {
				break
			}
		}
	}
}

// TestDaemonNotifiesSystemd: under systemd (NOTIFY_SOCKET set), lansd
// daemon says READY=1 once its socket serves, and STOPPING=1 on SIGTERM.
// Not parallel: it sets NOTIFY_SOCKET for the process it starts.
func TestDaemonNotifiesSystemd(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	ctx := lantest.Context(t, 60*time.Second)
	nsock := filepath.Join(dmnSocketDir(t), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: nsock, Net: "unixgram"})
	require.NoError(t, err)
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", nsock)
	d, sock := dmnStart(t, ctx, lan.Host(1), "--services-dir", "")
	buf := make([]byte, 4096)
	require.NoError(t, l.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := l.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "READY=1", string(buf[:n]))
	c, err := daemon.Dial(ctx, sock)
	require.NoError(t, err, "the socket serves once READY=1 is sent")
	c.Close()
	require.NoError(t, d.Signal(syscall.SIGTERM))
	n, err = l.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "STOPPING=1", string(buf[:n]))
	require.NoError(t, d.Wait(ctx))
	assert.Equal(t, 0, d.ExitCode())
}

// dmnBrowser is what the tests read of a browse through the daemon.
type dmnBrowser interface {
	Events() <-chan sd.Event
}

// dmnNext returns b's next event.
func dmnNext(t *testing.T, ctx context.Context, b dmnBrowser) sd.Event {
	t.Helper()
	select {
	case ev, ok := <-b.Events():
		require.True(t, ok, "the stream ended")
		return ev
	case <-ctx.Done():
		t.Fatal("no event")
	}
	return sd.Event{}
}

// loadavg returns the first fields of /proc/loadavg.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
