// Package avahitest runs Avahi (Debian avahi-daemon and avahi-utils 0.8) as
// a peer on the virtual LAN of internal/lantest, for the interop tests and
// the benchmarks.
//
// Each Avahi host has, inside its namespace and through lantest's guard, a
// private dbus-daemon (socket in a temporary directory, passed to Avahi and
// its tools as DBUS_SYSTEM_BUS_ADDRESS) and avahi-daemons with their own
// configuration. A daemon's pid file directory /run/avahi-daemon and the
// static service directory /etc/avahi/services are mounted (tmpfs, bind) by
// a shell that the guard execs: `ip netns exec` gives every process a
// private mount namespace, so these mounts never reach the machine (checked
// after start-up by RequireNoHostMount).
package avahitest

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lansd/lansd/internal/lantest"
)

// RequirePeersEnv turns a missing Avahi from a skip into a failure (Require).
const RequirePeersEnv = "LANSD_REQUIRE_PEERS"

// Programs are the programs the harness runs.
var Programs = []string{"avahi-daemon", "avahi-browse", "avahi-publish", "dbus-daemon", "stdbuf", "mount", "sh", "env"}

// startTimeout bounds the start-up of dbus-daemon and of avahi-daemon with
// its static services.
const startTimeout = 30 * time.Second

// Available reports, as an error, the first program of Programs missing
// from PATH.
func Available() error {
	for _, p := range Programs {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s missing (%w); apt-get install avahi-daemon avahi-utils dbus-daemon", p, err)
		}
	}
	return nil
}

// Require skips tb (or fails it, with LANSD_REQUIRE_PEERS=1) when Avahi or
// dbus-daemon is missing.
func Require(tb testing.TB) {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv(RequirePeersEnv) == "1" {
			tb.Fatal(err.Error())
		}
		tb.Skip(err.Error())
	}
}

// DBusConfig is the private system bus's configuration; %s is the socket's
// path. Anyone may own and send anything on it.
const DBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
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

// DaemonConfig is avahi-daemon's configuration; the verbs are the host name
// and the allowed interfaces (comma-separated). Both families, D-Bus on, no
// wide-area, no extra records (HINFO, workstation) that would only add
// traffic.
const DaemonConfig = `[server]
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

// Service is one static service file's content.
type Service struct {
	Name string
	Type string // e.g. _timezone._tcp
	Port int
	TXT  []string
}

// ServiceFile renders a static Avahi service file.
func ServiceFile(s Service) string {
	var b strings.Builder
	esc := func(v string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(v))
		return e.String()
	}
	b.WriteString("<?xml version=\"1.0\" standalone='no'?>\n")
	b.WriteString("<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n<service-group>\n")
	fmt.Fprintf(&b, "  <name>%s</name>\n  <service>\n    <type>%s</type>\n    <port>%d</port>\n", esc(s.Name), esc(s.Type), s.Port)
	for _, kv := range s.TXT {
		fmt.Fprintf(&b, "    <txt-record>%s</txt-record>\n", esc(kv))
	}
	b.WriteString("  </service>\n</service-group>\n")
	return b.String()
}

var (
	busReadyRE = regexp.MustCompile(`^unix:`)
	upRE       = regexp.MustCompile(`^Server startup complete\. Host name is `)
	staticRE   = regexp.MustCompile(`^Service ".*" \(/etc/avahi/services/.*\) successfully established\.$`)
)

// Host is a private D-Bus on a lantest host, for avahi-daemons and their
// clients.
type Host struct {
	H   *lantest.Host
	Dir string // temporary directory: configs, static services, the bus socket
	Bus string // DBUS_SYSTEM_BUS_ADDRESS
	// Reflector, set before StartDaemon, turns on Avahi's reflector
	// (enable-reflector=yes): it repeats mDNS traffic between the allowed
	// interfaces, the peer of lansd gateway in the benchmarks.
	Reflector bool
	n         int // daemons started
}

// StartBus starts the private dbus-daemon of h (after Require) and waits
// until it listens.
func StartBus(tb testing.TB, h *lantest.Host) *Host {
	tb.Helper()
	Require(tb)
	// Short path: the socket's path must fit in sun_path (108 bytes).
	dir, err := os.MkdirTemp("", "lansd-avahi-")
	if err != nil {
		tb.Fatal(err)
	}
	// Registered before the processes start, so it runs after they are killed.
	tb.Cleanup(func() { os.RemoveAll(dir) })
	a := &Host{H: h, Dir: dir}
	sock := filepath.Join(dir, "bus")
	a.Bus = "unix:path=" + sock
	conf := filepath.Join(dir, "dbus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, DBusConfig, sock), 0o644); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	bus := h.Start(tb, "dbus-daemon", "--nofork", "--nopidfile", "--nosyslog", "--print-address", "--config-file", conf)
	if _, err := bus.WaitFor(ctx, busReadyRE); err != nil {
		tb.Fatalf("dbus-daemon: %v\n%q", err, bus.Lines())
	}
	return a
}

// StartDaemon starts an avahi-daemon on the host serving the interfaces
// allow (lantest.Iface when empty) and publishing the static services, and
// waits until it and every static service are up. SIGTERM stops it with
// goodbyes.
func (a *Host) StartDaemon(tb testing.TB, allow []string, services ...Service) *lantest.Proc {
	tb.Helper()
	if len(allow) == 0 {
		allow = []string{lantest.Iface}
	}
	a.n++
	d := filepath.Join(a.Dir, fmt.Sprintf("d%d", a.n))
	svcDir := filepath.Join(d, "services")
	if err := os.MkdirAll(svcDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for i, s := range services {
		if err := os.WriteFile(filepath.Join(svcDir, fmt.Sprintf("s%d.service", i)), []byte(ServiceFile(s)), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	conf := filepath.Join(d, "avahi-daemon.conf")
	cfg := fmt.Sprintf(DaemonConfig, a.H.Name, strings.Join(allow, ","))
	if a.Reflector {
		cfg = strings.Replace(cfg, "enable-reflector=no", "enable-reflector=yes", 1)
	}
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	// The shell runs after the guard (it is what the guard execs); the
	// mounts land in the private mount namespace of `ip netns exec`.
	script := fmt.Sprintf("set -e; mkdir -p /run/avahi-daemon; mount -t tmpfs -o size=1m,mode=0755 tmpfs /run/avahi-daemon; "+
		"mount --bind %s /etc/avahi/services; DBUS_SYSTEM_BUS_ADDRESS=%s; export DBUS_SYSTEM_BUS_ADDRESS; "+
		"exec avahi-daemon --no-chroot --no-drop-root --no-rlimits --no-proc-title -f %s",
		ShQuote(svcDir), ShQuote(a.Bus), ShQuote(conf))
	p := a.H.Start(tb, "sh", "-c", script)
	ctx, cancel := context.WithTimeout(tb.Context(), startTimeout)
	defer cancel()
	if _, err := p.WaitFor(ctx, upRE); err != nil {
		tb.Fatalf("avahi-daemon: %v\n%q", err, p.Lines())
	}
	if len(services) > 0 {
		if _, err := p.WaitForN(ctx, staticRE, len(services)); err != nil {
			tb.Fatalf("avahi-daemon static services: %v\n%q", err, p.Lines())
		}
	}
	RequireNoHostMount(tb, "/run/avahi-daemon", "/etc/avahi/services")
	return p
}

// Tool runs an Avahi client program on the host with its bus, line-buffered.
func (a *Host) Tool(tb testing.TB, args ...string) *lantest.Proc {
	tb.Helper()
	return a.H.Start(tb, "env", append([]string{"DBUS_SYSTEM_BUS_ADDRESS=" + a.Bus, "stdbuf", "-oL", "-eL"}, args...)...)
}

// Browse runs `avahi-browse -r -p -k -f TYPE` (resolve, parsable, no
// service-type database lookups, keep going while the daemon is away).
func (a *Host) Browse(tb testing.TB, typ string) *lantest.Proc {
	tb.Helper()
	return a.Tool(tb, "avahi-browse", "-r", "-p", "-k", "-f", typ)
}

// Publish runs `avahi-publish -s NAME TYPE PORT TXT...`.
func (a *Host) Publish(tb testing.TB, name, typ string, port int, txt ...string) *lantest.Proc {
	tb.Helper()
	return a.Tool(tb, append([]string{"avahi-publish", "-s", name, typ, strconv.Itoa(port)}, txt...)...)
}

// RequireNoHostMount fails tb when one of paths is a mount point in this
// process's own mount namespace: the namespace-private mounts of
// StartDaemon must never reach the machine.
func RequireNoHostMount(tb testing.TB, paths ...string) {
	tb.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := checkMounts(f, paths...); err != nil {
		tb.Fatal(err)
	}
}

// checkMounts reads mountinfo lines (proc(5)) and reports one whose mount
// point is one of paths.
func checkMounts(r io.Reader, paths ...string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		for _, p := range paths {
			if fields[4] == p {
				return fmt.Errorf("a mount made for Avahi inside a namespace leaked to the machine: %s", sc.Text())
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("mountinfo: %w", err)
	}
	return nil
}

// ShQuote quotes s for sh.
func ShQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
