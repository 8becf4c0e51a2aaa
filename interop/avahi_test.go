package interop

// Avahi (Debian avahi-daemon and avahi-utils 0.8) in both directions, name
// conflicts each way, and avahi-daemon and lansd sharing port 5353 on one
// host.
//
// Each Avahi host runs, inside its namespace and through lantest's guard, a
// private dbus-daemon (socket in a temporary directory, passed to Avahi and
// its tools as DBUS_SYSTEM_BUS_ADDRESS) and an avahi-daemon with its own
// configuration. The daemon's pid file directory /run/avahi-daemon and the
// static service directory /etc/avahi/services are mounted (tmpfs, bind)
// by a shell that the guard execs: `ip netns exec` gives every process a
// private mount namespace, so these mounts never reach the machine (checked
// after start-up).

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
)

// avahiType is the service type every Avahi test uses.
const avahiType = "_timezone._tcp"

// requireAvahi skips (or fails) the test when Avahi or dbus-daemon is
// missing.
func requireAvahi(t *testing.T) {
	t.Helper()
	requirePeer(t, "Avahi (Debian avahi-daemon, avahi-utils, dbus-daemon)", func() error {
		return lookPaths("avahi-daemon", "avahi-browse", "avahi-publish", "dbus-daemon", "stdbuf", "mount", "sh", "env")
	})
}

// avahiService is one static service file's content.
type avahiService struct {
	Name string
	Port int
	TXT  []string
}

// avahi is an avahi-daemon (and its private D-Bus) running on a host.
type avahi struct {
	h      *lantest.Host
	dir    string // temporary directory: configs, services, bus socket
	bus    string // DBUS_SYSTEM_BUS_ADDRESS
	daemon *lantest.Proc
}

const dbusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`

// avahiConfig: only lan0, both families, D-Bus on, no wide-area, no extra
// records (HINFO, workstation) that would only add traffic.
const avahiConfig = `[server]
host-name=%s
domain-name=local
use-ipv4=yes
use-ipv6=yes
allow-interfaces=lan0
enable-dbus=yes
disallow-other-stacks=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes
publish-aaaa-on-ipv4=yes
publish-a-on-ipv6=no

[reflector]
enable-reflector=no

[rlimits]
`

// serviceFile renders a static Avahi service file.
func serviceFile(s avahiService) string {
	var b strings.Builder
	esc := func(v string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(v))
		return e.String()
	}
	b.WriteString("<?xml version=\"1.0\" standalone='no'?>\n")
	b.WriteString("<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n<service-group>\n")
	fmt.Fprintf(&b, "  <name>%s</name>\n  <service>\n    <type>%s</type>\n    <port>%d</port>\n", esc(s.Name), avahiType, s.Port)
	for _, kv := range s.TXT {
		fmt.Fprintf(&b, "    <txt-record>%s</txt-record>\n", esc(kv))
	}
	b.WriteString("  </service>\n</service-group>\n")
	return b.String()
}

var (
	dbusReadyRE   = regexp.MustCompile(`^unix:`)
	avahiReadyRE  = regexp.MustCompile(`^Server startup complete\. Host name is `)
	avahiStaticRE = regexp.MustCompile(`^Service ".*" \(/etc/avahi/services/.*\) successfully established\.$`)
)

// startAvahi starts a private dbus-daemon and avahi-daemon on h publishing
// the static services, and waits until the daemon and every static service
// are up.
func startAvahi(t *testing.T, h *lantest.Host, services ...avahiService) *avahi {
	t.Helper()
	// Short path: the bus socket's path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "lansd-avahi-")
	require.NoError(t, err)
	// Registered before the processes start, so it runs after they are killed.
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &avahi{h: h, dir: dir}
	sock := filepath.Join(dir, "bus")
	a.bus = "unix:path=" + sock
	svcDir := filepath.Join(dir, "services")
	require.NoError(t, os.Mkdir(svcDir, 0o755))
	for i, s := range services {
		require.NoError(t, os.WriteFile(filepath.Join(svcDir, fmt.Sprintf("s%d.service", i)), []byte(serviceFile(s)), 0o644))
	}
	dbusConf, avahiConf := filepath.Join(dir, "dbus.conf"), filepath.Join(dir, "avahi-daemon.conf")
	require.NoError(t, os.WriteFile(dbusConf, fmt.Appendf(nil, dbusConfig, sock), 0o644))
	require.NoError(t, os.WriteFile(avahiConf, fmt.Appendf(nil, avahiConfig, h.Name), 0o644))

	ctx := lantest.Context(t, 30*time.Second)
	bus := h.Start(t, "dbus-daemon", "--nofork", "--nopidfile", "--nosyslog", "--print-address", "--config-file", dbusConf)
	_, err = bus.WaitFor(ctx, dbusReadyRE)
	require.NoError(t, err, "dbus-daemon:\n%v", bus.Lines())

	// The shell runs after the guard (it is what the guard execs); the mounts
	// land in the private mount namespace of `ip netns exec`.
	script := fmt.Sprintf("set -e; mkdir -p /run/avahi-daemon; mount -t tmpfs -o size=1m,mode=0755 tmpfs /run/avahi-daemon; "+
		"mount --bind %s /etc/avahi/services; DBUS_SYSTEM_BUS_ADDRESS=%s; export DBUS_SYSTEM_BUS_ADDRESS; "+
		"exec avahi-daemon --no-chroot --no-drop-root --no-rlimits --no-proc-title -f %s",
		shQuote(svcDir), shQuote(a.bus), shQuote(avahiConf))
	a.daemon = h.Start(t, "sh", "-c", script)
	_, err = a.daemon.WaitFor(ctx, avahiReadyRE)
	require.NoError(t, err, "avahi-daemon:\n%v", a.daemon.Lines())
	if len(services) > 0 {
		_, err = a.daemon.WaitForN(ctx, avahiStaticRE, len(services))
		require.NoError(t, err, "avahi-daemon static services:\n%v", a.daemon.Lines())
	}
	requireNoHostMount(t, "/run/avahi-daemon", "/etc/avahi/services")
	return a
}

// requireNoHostMount fails the test when one of paths is a mount point in
// the test process's own mount namespace: the namespace-private mounts of
// startAvahi must never reach the machine.
func requireNoHostMount(t *testing.T, paths ...string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		for _, p := range paths {
			require.NotEqual(t, p, fields[4], "a mount made for Avahi inside a namespace leaked to the machine: %s", sc.Text())
		}
	}
	require.NoError(t, sc.Err())
}

// shQuote quotes s for sh.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// tool runs an Avahi client program on the daemon's host with its bus.
func (a *avahi) tool(t *testing.T, args ...string) *lantest.Proc {
	t.Helper()
	return a.h.Start(t, "env", append([]string{"DBUS_SYSTEM_BUS_ADDRESS=" + a.bus, "stdbuf", "-oL", "-eL"}, args...)...)
}

// browse runs `avahi-browse -r -p -k -f _timezone._tcp` (resolve, parsable,
// no service-type database lookups, keep going while the daemon is away).
func (a *avahi) browse(t *testing.T) *lantest.Proc {
	t.Helper()
	return a.tool(t, "avahi-browse", "-r", "-p", "-k", "-f", avahiType)
}

// publish runs `avahi-publish -s NAME _timezone._tcp PORT TXT...`.
func (a *avahi) publish(t *testing.T, name string, port int, txt ...string) *lantest.Proc {
	t.Helper()
	return a.tool(t, append([]string{"avahi-publish", "-s", name, avahiType, strconv.Itoa(port)}, txt...)...)
}

// avahiLine is one parsed line of `avahi-browse -p -r`.
type avahiLine struct {
	Kind   string // "+" new, "=" resolved, "-" removed
	Iface  string
	Proto  string // IPv4 or IPv6
	Name   string // unescaped
	Type   string
	Domain string
	Host   string // "=" only
	Addr   string
	Port   int
	TXT    []string
}

// parseAvahiLine parses a parsable line; ok is false for anything else.
func parseAvahiLine(l string) (avahiLine, bool) {
	f := strings.SplitN(l, ";", 10)
	if len(f) < 6 || (f[0] != "+" && f[0] != "-" && f[0] != "=") {
		return avahiLine{}, false
	}
	// avahi_escape_label writes \. \\ and \DDD (decimal), as DNS
	// presentation form does.
	al := avahiLine{Kind: f[0], Iface: f[1], Proto: f[2], Name: dnsname.UnescapeLabel(f[3]), Type: f[4], Domain: f[5]}
	if f[0] == "=" {
		if len(f) != 10 {
			return avahiLine{}, false
		}
		al.Host, al.Addr = f[6], f[7]
		var err error
		if al.Port, err = strconv.Atoi(f[8]); err != nil {
			return avahiLine{}, false
		}
		if al.TXT, err = parseAvahiTXT(f[9]); err != nil {
			return avahiLine{}, false
		}
	}
	return al, true
}

// parseAvahiTXT splits avahi-browse's `"a=b" "c"` TXT field.
func parseAvahiTXT(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] != '"' {
			return nil, fmt.Errorf("TXT field %q: want a quoted string", s)
		}
		var b []byte
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b = append(b, s[i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("TXT field %q: unterminated string", s)
		}
		out = append(out, string(b))
		s = s[i+1:]
	}
	return out, nil
}

// waitAvahi waits for an avahi-browse line of kind for name (and proto,
// when not "").
func waitAvahi(ctx context.Context, p *lantest.Proc, kind, name, proto string) (avahiLine, error) {
	var al avahiLine
	_, err := p.WaitLine(ctx, func(l string) bool {
		a, ok := parseAvahiLine(l)
		if !ok || a.Kind != kind || a.Name != name || (proto != "" && a.Proto != proto) {
			return false
		}
		al = a
		return true
	})
	if err != nil {
		return al, fmt.Errorf("no %q line for %q from avahi-browse: %w", kind, name, err)
	}
	return al, nil
}

// avahiNames returns the names of every parsed avahi-browse line of kind.
func avahiNames(p *lantest.Proc, kind string) []string {
	var names []string
	for _, l := range p.Lines() {
		if a, ok := parseAvahiLine(l); ok && a.Kind == kind {
			names = append(names, a.Name)
		}
	}
	return names
}

// TestAvahiBrowsesLansd: avahi-browse -r resolves lansd's instance with the
// same host, port, TXT and IPv4 address, and reports its removal after lansd
// is stopped (goodbye).
func TestAvahiBrowsesLansd(t *testing.T) {
	t.Parallel()
	requireAvahi(t)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 90*time.Second)

	av := startAvahi(t, h2)
	ab := av.browse(t)
	lansd, ann := startAnnounce(t, h1, "Lansd Avahi", 8080, "path=/tz")
	require.Equal(t, "Lansd Avahi._timezone._tcp.local.", ann.Name)

	res, err := waitAvahi(ctx, ab, "=", "Lansd Avahi", "IPv4")
	require.NoError(t, err, "avahi-browse:\n%v", ab.Lines())
	assert.Equal(t, "lan0", res.Iface)
	assert.Equal(t, avahiType, res.Type)
	assert.Equal(t, "local", res.Domain)
	assert.Equal(t, "h1.local", res.Host)
	assert.Equal(t, h1.IPv4.String(), res.Addr)
	assert.Equal(t, 8080, res.Port)
	assert.Equal(t, []string{"path=/tz"}, res.TXT)
	t.Logf("avahi-browse: %+v", res)

	stopAnnounce(t, lansd)
	_, err = waitAvahi(ctx, ab, "-", "Lansd Avahi", "")
	require.NoError(t, err, "avahi-browse saw no removal after lansd's goodbye:\n%v", ab.Lines())
}

// TestLansdBrowsesAvahi: lansd browse finds an instance Avahi publishes
// from a static service file and one published with avahi-publish -s (host,
// port, TXT, address), and reports the removal of the second when
// avahi-publish exits.
func TestLansdBrowsesAvahi(t *testing.T) {
	t.Parallel()
	requireAvahi(t)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 90*time.Second)

	br := startBrowse(t, h2)
	av := startAvahi(t, h1, avahiService{Name: "Avahi Static", Port: 8081, TXT: []string{"path=/static"}})
	pub := av.publish(t, "Avahi Published", 8082, "path=/pub")
	_, err := pub.WaitFor(ctx, regexp.MustCompile(`^Established under name 'Avahi Published'`))
	require.NoError(t, err, "avahi-publish:\n%v", pub.Lines())

	for _, want := range []struct {
		name string
		port int
		path string
	}{{"Avahi Static", 8081, "/static"}, {"Avahi Published", 8082, "/pub"}} {
		add, err := clitest.WaitEvent(ctx, br, "add", want.name, nil)
		require.NoError(t, err, "lansd browse:\n%v", br.Lines())
		assert.Equal(t, want.name+"._timezone._tcp.local.", add.Name)
		assert.Equal(t, uint16(want.port), add.Port, want.name)
		assert.Equal(t, "h1.local.", add.Host, want.name)
		assert.Equal(t, `"path=`+want.path+`"`, add.TXT.String(), want.name)
		requireHasAddr(t, add.Addrs, h1.IPv4.String())
	}

	require.NoError(t, pub.Signal(syscall.SIGTERM))
	_, err = clitest.WaitEvent(ctx, br, "remove", "Avahi Published", nil)
	require.NoError(t, err, "lansd browse saw no removal after avahi-publish exited:\n%v", br.Lines())
	assert.Empty(t, clitest.Select(clitest.Events(t, br.Lines()), "remove", "Avahi Static"), "the static service must stay")
}

// TestAvahiNameConflicts: a name Avahi holds makes lansd rename ("NAME
// (2)", with the reason printed), and a name lansd holds makes Avahi rename
// in its own style ("NAME #2"), as avahi-publish and avahi-browse show.
func TestAvahiNameConflicts(t *testing.T) {
	t.Parallel()
	requireAvahi(t)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 90*time.Second)

	av := startAvahi(t, h1, avahiService{Name: "Avahi Taken", Port: 8081, TXT: []string{"path=/static"}})
	ab := av.browse(t)

	// Avahi first, then lansd.
	_, ann := startAnnounce(t, h2, "Avahi Taken", 8080, "path=/tz")
	assert.Equal(t, "Avahi Taken (2)._timezone._tcp.local.", ann.Name)
	assert.NotEmpty(t, ann.Renamed, "lansd did not say why it renamed")
	res, err := waitAvahi(ctx, ab, "=", "Avahi Taken (2)", "IPv4")
	require.NoError(t, err, "avahi-browse:\n%v", ab.Lines())
	assert.Equal(t, 8080, res.Port)

	// lansd first, then Avahi.
	_, ann = startAnnounce(t, h2, "Lansd Taken", 8080, "path=/tz")
	require.Equal(t, "Lansd Taken._timezone._tcp.local.", ann.Name)
	_, err = waitAvahi(ctx, ab, "=", "Lansd Taken", "IPv4")
	require.NoError(t, err, "avahi-browse:\n%v", ab.Lines())
	pub := av.publish(t, "Lansd Taken", 8082, "path=/pub")
	_, err = pub.WaitFor(ctx, regexp.MustCompile(`^Established under name 'Lansd Taken #2'`))
	require.NoError(t, err, "avahi-publish did not rename:\n%v", pub.Lines())
	t.Logf("avahi-publish: %q", pub.Lines())
	res, err = waitAvahi(ctx, ab, "=", "Lansd Taken #2", "IPv4")
	require.NoError(t, err, "avahi-browse:\n%v", ab.Lines())
	assert.Equal(t, 8082, res.Port)
	assert.Equal(t, "h1.local", res.Host)
	// lansd kept its name: avahi-browse still lists it, unremoved.
	assert.NotContains(t, avahiNames(ab, "-"), "Lansd Taken")
}

// TestAvahiSharedPort: avahi-daemon and lansd (announce and browse) on ONE
// host share port 5353 and both keep working: from another host, lansd
// browse sees the services of both; on the shared host, lansd browse and
// avahi-browse both find a remote instance and each other's; both claim
// h1.local without a conflict.
func TestAvahiSharedPort(t *testing.T) {
	t.Parallel()
	requireAvahi(t)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 90*time.Second)

	av := startAvahi(t, h1, avahiService{Name: "Avahi Shared", Port: 8083, TXT: []string{"path=/avahi"}})
	ab := av.browse(t)
	br1 := startBrowse(t, h1)
	lansd1, ann := startAnnounce(t, h1, "Lansd Shared", 8084, "path=/lansd")
	require.Equal(t, "Lansd Shared._timezone._tcp.local.", ann.Name)
	require.Empty(t, ann.Renamed)

	br2 := startBrowse(t, h2)
	_, ann = startAnnounce(t, h2, "Remote Lansd", 8085, "path=/remote")
	require.Equal(t, "Remote Lansd._timezone._tcp.local.", ann.Name)

	// From h2: both services of the shared host.
	for _, want := range []struct {
		name string
		port int
	}{{"Avahi Shared", 8083}, {"Lansd Shared", 8084}} {
		add, err := clitest.WaitEvent(ctx, br2, "add", want.name, nil)
		require.NoError(t, err, "lansd browse on h2:\n%v", br2.Lines())
		assert.Equal(t, uint16(want.port), add.Port)
		assert.Equal(t, "h1.local.", add.Host)
		requireHasAddr(t, add.Addrs, h1.IPv4.String())
	}
	// On h1: lansd browse and avahi-browse both find the remote instance.
	add, err := clitest.WaitEvent(ctx, br1, "add", "Remote Lansd", nil)
	require.NoError(t, err, "lansd browse on the shared host:\n%v", br1.Lines())
	assert.Equal(t, uint16(8085), add.Port)
	requireHasAddr(t, add.Addrs, h2.IPv4.String())
	res, err := waitAvahi(ctx, ab, "=", "Remote Lansd", "IPv4")
	require.NoError(t, err, "avahi-browse on the shared host:\n%v", ab.Lines())
	assert.Equal(t, 8085, res.Port)
	assert.Equal(t, h2.IPv4.String(), res.Addr)
	// Each also sees the other's service on the shared host (multicast
	// loopback reaches every socket on the port).
	_, err = clitest.WaitEvent(ctx, br1, "add", "Avahi Shared", nil)
	require.NoError(t, err, "lansd browse on the shared host:\n%v", br1.Lines())
	res, err = waitAvahi(ctx, ab, "=", "Lansd Shared", "IPv4")
	require.NoError(t, err, "avahi-browse on the shared host:\n%v", ab.Lines())
	assert.Equal(t, 8084, res.Port)
	assert.Equal(t, "h1.local", res.Host)

	// Both claim the host name h1.local with the same addresses: identical
	// records are no conflict (RFC 6762 section 8.2), neither renames it.
	assert.False(t, av.daemon.Exited(), "avahi-daemon exited:\n%v", av.daemon.Lines())
	for _, l := range av.daemon.Lines() {
		assert.NotContains(t, strings.ToLower(l), "conflict", "avahi-daemon")
	}
	for _, l := range lansd1.Lines() {
		assert.NotContains(t, l, "renamed", "lansd announce on the shared host")
	}
}
