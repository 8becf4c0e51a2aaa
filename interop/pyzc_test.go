package interop

// python-zeroconf (Debian python3-zeroconf, for /usr/bin/python3) through
// peers/pyzc.py, in both directions: discovery, TXT update, removal and
// name conflicts.

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// systemPython is the interpreter Debian's python3-zeroconf is installed for.
const systemPython = "/usr/bin/python3"

// pyType is the service type as python-zeroconf spells it.
const pyType = "_timezone._tcp.local."

// requirePython skips (or fails) the test when python-zeroconf is missing.
func requirePython(t *testing.T) {
	t.Helper()
	requirePeer(t, "python-zeroconf (Debian python3-zeroconf)", func() error {
		out, err := exec.Command(systemPython, "-c", "import zeroconf; print(zeroconf.__version__)").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s -c 'import zeroconf': %w: %s", systemPython, err, strings.TrimSpace(string(out)))
		}
		return nil
	})
}

// pyEvent is one JSON line of peers/pyzc.py.
type pyEvent struct {
	Event  string         `json:"event"`
	Name   string         `json:"name"`
	Port   int            `json:"port"`
	Server string         `json:"server"`
	Addrs  []string       `json:"addrs"`
	TXT    map[string]any `json:"txt"`
	Error  string         `json:"error"`
}

// startPy runs peers/pyzc.py with args on h.
func startPy(t *testing.T, h *lantest.Host, args ...string) *lantest.Proc {
	t.Helper()
	return h.Start(t, systemPython, append([]string{"-u", pyzcScript}, args...)...)
}

// pyRegisterArgs are the pyzc.py arguments registering NAME on h.
func pyRegisterArgs(h *lantest.Host, name string, port int, txt ...string) []string {
	args := []string{"register", "--name", name, "--type", pyType, "--port", strconv.Itoa(port),
		"--server", h.Name + ".local.", "--addr", h.IPv4.String(), "--addr", h.LinkLocal.String()}
	for _, kv := range txt {
		args = append(args, "--txt", kv)
	}
	return args
}

// waitPy waits for a pyzc.py event of kind (for name, when not "").
func waitPy(ctx context.Context, p *lantest.Proc, kind, name string) (pyEvent, error) {
	var ev pyEvent
	_, err := p.WaitLine(ctx, func(l string) bool {
		var e pyEvent
		if json.Unmarshal([]byte(l), &e) != nil {
			return false
		}
		if e.Event == "error" {
			ev = e
			return true
		}
		if e.Event != kind || (name != "" && e.Name != name) {
			return false
		}
		ev = e
		return true
	})
	if err == nil && ev.Event == "error" && kind != "error" {
		err = fmt.Errorf("pyzc.py: %s", ev.Error)
	}
	if err != nil {
		return ev, fmt.Errorf("no %s event for %q from pyzc.py: %w", kind, name, err)
	}
	return ev, nil
}

// TestPyZeroconfBrowsesLansd: python-zeroconf's ServiceBrowser finds the
// instance lansd announces, resolves it to the same port, TXT, host and
// addresses, and reports its removal after lansd is stopped with SIGTERM.
func TestPyZeroconfBrowsesLansd(t *testing.T) {
	t.Parallel()
	requirePython(t)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 60*time.Second)

	py := startPy(t, h2, "browse", "--type", pyType)
	_, err := waitPy(ctx, py, "ready", "")
	require.NoError(t, err)

	lansd, ann := startAnnounce(t, h1, "Lansd Py", 8080, "path=/tz")
	require.Equal(t, "Lansd Py._timezone._tcp.local.", ann.Name)
	require.Empty(t, ann.Renamed)

	add, err := waitPy(ctx, py, "add", ann.Name)
	require.NoError(t, err, "pyzc.py browse:\n%v", py.Lines())
	assert.Equal(t, 8080, add.Port)
	assert.Equal(t, map[string]any{"path": "/tz"}, add.TXT)
	assert.Equal(t, "h1.local.", add.Server)
	requireHasAddr(t, add.Addrs, h1.IPv4.String())
	t.Logf("python-zeroconf: %+v", add)

	stopAnnounce(t, lansd)
	_, err = waitPy(ctx, py, "remove", ann.Name)
	require.NoError(t, err, "python-zeroconf saw no removal after lansd's goodbye:\n%v", py.Lines())
}

// TestLansdBrowsesPyZeroconf: lansd browse finds the instance python-
// zeroconf registers (port, TXT, host, address), reports python's TXT
// update as an update with the new TXT, and reports the removal when python
// unregisters on SIGTERM.
func TestLansdBrowsesPyZeroconf(t *testing.T) {
	t.Parallel()
	requirePython(t)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 60*time.Second)

	br := startBrowse(t, h2)
	py := startPy(t, h1, pyRegisterArgs(h1, "Py Zc", 8090, "path=/py")...)
	reg, err := waitPy(ctx, py, "registered", "")
	require.NoError(t, err)
	require.Equal(t, "Py Zc._timezone._tcp.local.", reg.Name)

	add, err := clitest.WaitEvent(ctx, br, "add", "Py Zc", nil)
	require.NoError(t, err, "lansd browse:\n%v", br.Lines())
	assert.Equal(t, "Py Zc._timezone._tcp.local.", add.Name)
	assert.Equal(t, "_timezone._tcp", add.Service)
	assert.Equal(t, uint16(8090), add.Port)
	assert.Equal(t, "h1.local.", add.Host)
	assert.Equal(t, `"path=/py"`, add.TXT.String())
	requireHasAddr(t, add.Addrs, h1.IPv4.String())

	require.NoError(t, py.WriteLine("TXT path=/py2 v=2"))
	_, err = waitPy(ctx, py, "updated", "")
	require.NoError(t, err)
	upd, err := clitest.WaitEvent(ctx, br, "update", "Py Zc", func(e clitest.Event) bool { return e.TXTValue("path") == "/py2" })
	require.NoError(t, err, "lansd browse saw no update with python's new TXT:\n%v", br.Lines())
	assert.Equal(t, `"path=/py2" "v=2"`, upd.TXT.String())
	assert.Equal(t, uint16(8090), upd.Port)

	require.NoError(t, py.Signal(syscall.SIGTERM))
	_, err = waitPy(ctx, py, "unregistered", "")
	require.NoError(t, err)
	_, err = clitest.WaitEvent(ctx, br, "remove", "Py Zc", nil)
	require.NoError(t, err, "lansd browse saw no removal after python unregistered:\n%v", br.Lines())
}

// TestPyZeroconfNameConflicts: a name python-zeroconf holds makes lansd
// rename its instance (lansd style "NAME (2)"), and a name lansd holds makes
// python-zeroconf pick another (python style "NAME-2") or, without
// allow_name_change, refuse with NonUniqueNameException.
//
// python-zeroconf 0.47 "probes" with a QU question for the service type and
// looks for a conflicting PTR in its cache; it finds lansd's through the
// unicast answer. A unicast datagram to port 5353 reaches only one of the
// sockets sharing the port on a host, so with another python-zeroconf (or
// Avahi) on the prober's host the answer can go to the wrong process and
// python takes the name (seen here while both pythons ran on h1). Each
// registering python therefore runs alone on its host.
func TestPyZeroconfNameConflicts(t *testing.T) {
	t.Parallel()
	requirePython(t)
	lan := lantest.New(t, lantest.Hosts(3))
	h1, h2, h3 := lan.Host(1), lan.Host(2), lan.Host(3)
	ctx := lantest.Context(t, 60*time.Second)

	// python first, then lansd.
	py := startPy(t, h1, pyRegisterArgs(h1, "Py Dup", 8091, "path=/py")...)
	_, err := waitPy(ctx, py, "registered", "Py Dup._timezone._tcp.local.")
	require.NoError(t, err)
	_, ann := startAnnounce(t, h2, "Py Dup", 8080, "path=/tz")
	assert.Equal(t, "Py Dup (2)._timezone._tcp.local.", ann.Name)
	assert.NotEmpty(t, ann.Renamed, "lansd did not say why it renamed")
	t.Logf("lansd: renamed to %q (%s)", ann.Name, ann.Renamed)

	// lansd first, then python, allowed to rename.
	_, ann = startAnnounce(t, h2, "Lansd Dup", 8080, "path=/tz")
	require.Equal(t, "Lansd Dup._timezone._tcp.local.", ann.Name)
	py2 := startPy(t, h3, append(pyRegisterArgs(h3, "Lansd Dup", 8092, "path=/py"), "--rename")...)
	reg, err := waitPy(ctx, py2, "registered", "")
	require.NoError(t, err, "pyzc.py:\n%v", py2.Lines())
	assert.Equal(t, "Lansd Dup-2._timezone._tcp.local.", reg.Name)
	t.Logf("python-zeroconf: picked %q", reg.Name)
	require.NoError(t, py2.WriteLine("QUIT"))
	require.NoError(t, py2.Wait(ctx), "pyzc.py:\n%v", py2.Lines())

	// lansd first, then python, not allowed to rename.
	py3 := startPy(t, h3, pyRegisterArgs(h3, "Lansd Dup", 8093, "path=/py")...)
	fail, err := waitPy(ctx, py3, "error", "")
	require.NoError(t, err, "pyzc.py:\n%v", py3.Lines())
	assert.Contains(t, fail.Error, "NonUniqueNameException")
}
