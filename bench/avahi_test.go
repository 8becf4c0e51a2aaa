package bench

// Avahi (Debian avahi-daemon and avahi-utils 0.8) as a peer of rows 7 and 8,
// run as interop/avahi_test.go runs it: each Avahi host has, inside its
// namespace and through lantest's guard, a private dbus-daemon (socket in a
// temporary directory, passed as DBUS_SYSTEM_BUS_ADDRESS) and an
// avahi-daemon with its own configuration. Its pid file directory
// /run/avahi-daemon and the static service directory /etc/avahi/services
// are mounted (tmpfs, bind) by the shell the guard execs: `ip netns exec`
// gives every process a private mount namespace, so the mounts never reach
// the machine (checked after start-up).

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
)

// requireAvahi skips (or fails, with LANSD_REQUIRE_PEERS=1) when Avahi or
// dbus-daemon is missing.
func requireAvahi(tb testing.TB) {
	tb.Helper()
	for _, p := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon", "stdbuf", "mount", "sh"} {
		if _, err := exec.LookPath(p); err != nil {
			msg := fmt.Sprintf("%s missing (%v); apt-get install avahi-daemon avahi-utils dbus-daemon", p, err)
			if os.Getenv("LANSD_REQUIRE_PEERS") == "1" {
				tb.Fatal(msg)
			}
			tb.Skip(msg)
		}
	}
}

// avahiHost is a private D-Bus on a host, for an avahi-daemon and its
// clients.
type avahiHost struct {
	h   *lantest.Host
	dir string // configs, static services, the bus socket
	bus string // DBUS_SYSTEM_BUS_ADDRESS
	n   int    // daemons started
}

const avahiDBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
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

// avahiDaemonConfig: the interfaces given, both families, no wide-area, no
// HINFO or workstation records.
const avahiDaemonConfig = `[server]
host-name=%s
domain-name=local
use-ipv4=yes
use-ipv6=yes
allow-interfaces=%s
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

var (
	avahiBusReadyRE = regexp.MustCompile(`^unix:`)
	avahiUpRE       = regexp.MustCompile(`^Server startup complete\. Host name is `)
	avahiStaticRE   = regexp.MustCompile(`^Service ".*" \(/etc/avahi/services/.*\) successfully established\.$`)
)

// startAvahiBus starts the private dbus-daemon of h.
func startAvahiBus(tb testing.TB, h *lantest.Host) *avahiHost {
	tb.Helper()
	requireAvahi(tb)
	// Short path: the socket's path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "lansd-avahi-")
	require.NoError(tb, err)
	// Registered before the processes start, so it runs after they are killed.
	tb.Cleanup(func() { os.RemoveAll(dir) })
	a := &avahiHost{h: h, dir: dir}
	sock := filepath.Join(dir, "bus")
	a.bus = "unix:path=" + sock
	conf := filepath.Join(dir, "dbus.conf")
	require.NoError(tb, os.WriteFile(conf, fmt.Appendf(nil, avahiDBusConfig, sock), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus := h.Start(tb, "dbus-daemon", "--nofork", "--nopidfile", "--nosyslog", "--print-address", "--config-file", conf)
	_, err = bus.WaitFor(ctx, avahiBusReadyRE)
	require.NoError(tb, err, "dbus-daemon: %q", bus.Lines())
	return a
}

// startDaemon starts an avahi-daemon on the host, serving the interfaces
// allow, with a static service file per name in names (_timezone._tcp, port
// 9000, TXT path=/bench, as the other announcers), and waits until it and
// every static service are up. SIGTERM stops it with goodbyes.
func (a *avahiHost) startDaemon(tb testing.TB, allow []string, names ...string) *lantest.Proc {
	tb.Helper()
	a.n++
	d := filepath.Join(a.dir, fmt.Sprintf("d%d", a.n))
	svcDir := filepath.Join(d, "services")
	require.NoError(tb, os.MkdirAll(svcDir, 0o755))
	for i, n := range names {
		var esc strings.Builder
		_ = xml.EscapeText(&esc, []byte(n))
		svc := fmt.Sprintf("<?xml version=\"1.0\" standalone='no'?>\n<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n"+
			"<service-group>\n  <name>%s</name>\n  <service>\n    <type>%s</type>\n    <port>9000</port>\n"+
			"    <txt-record>path=/bench</txt-record>\n  </service>\n</service-group>\n", esc.String(), benchType)
		require.NoError(tb, os.WriteFile(filepath.Join(svcDir, fmt.Sprintf("s%d.service", i)), []byte(svc), 0o644))
	}
	conf := filepath.Join(d, "avahi-daemon.conf")
	require.NoError(tb, os.WriteFile(conf, fmt.Appendf(nil, avahiDaemonConfig, a.h.Name, strings.Join(allow, ",")), 0o644))
	// The shell runs after the guard (it is what the guard execs); the
	// mounts land in the private mount namespace of `ip netns exec`.
	script := fmt.Sprintf("set -e; mkdir -p /run/avahi-daemon; mount -t tmpfs -o size=1m,mode=0755 tmpfs /run/avahi-daemon; "+
		"mount --bind %s /etc/avahi/services; DBUS_SYSTEM_BUS_ADDRESS=%s; export DBUS_SYSTEM_BUS_ADDRESS; "+
		"exec avahi-daemon --no-chroot --no-drop-root --no-rlimits --no-proc-title -f %s",
		shQuote(svcDir), shQuote(a.bus), shQuote(conf))
	p := a.h.Start(tb, "sh", "-c", script)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.WaitFor(ctx, avahiUpRE)
	require.NoError(tb, err, "avahi-daemon: %q", p.Lines())
	if len(names) > 0 {
		_, err = p.WaitForN(ctx, avahiStaticRE, len(names))
		require.NoError(tb, err, "avahi-daemon static services: %q", p.Lines())
	}
	requireNoHostMount(tb, "/run/avahi-daemon", "/etc/avahi/services")
	return p
}

// browser starts avahi-browse on the host through the bench-browse helper
// (LIB=avahi), which prints the same lines as the other browsers.
func (a *avahiHost) browser(tb testing.TB, env ...string) *lantest.Proc {
	tb.Helper()
	return a.h.Helper(tb, "bench-browse", append([]string{"LIB=" + libAvahi, "AVAHI_BUS=" + a.bus}, env...)...)
}

// requireNoHostMount fails when one of paths is a mount point in this
// process's own mount namespace: the namespace-private mounts of
// startDaemon must never reach the machine.
func requireNoHostMount(tb testing.TB, paths ...string) {
	tb.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(tb, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		for _, p := range paths {
			require.NotEqual(tb, p, fields[4], "a mount made for Avahi inside a namespace leaked to the machine: %s", sc.Text())
		}
	}
	require.NoError(tb, sc.Err())
}

// shQuote quotes s for sh.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
