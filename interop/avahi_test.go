package interop

// Avahi (Debian avahi-daemon and avahi-utils 0.8) in both directions, name
// conflicts each way, and avahi-daemon and lansd sharing port 5353 on one
// host.
//
// Each Avahi host runs, through internal/avahitest, a private dbus-daemon
// and an avahi-daemon with their own configuration, their mounts private to
// the namespace.

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/avahitest"
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
	requirePeer(t, "Avahi (Debian avahi-daemon, avahi-utils, dbus-daemon)", avahitest.Available)
}

// avahiService is one static service file's content (of type avahiType).
type avahiService struct {
	Name string
	Port int
	TXT  []string
}

// avahi is an avahi-daemon (and its private D-Bus) running on a host.
type avahi struct {
	*avahitest.Host
	daemon *lantest.Proc
}

// startAvahi starts a private dbus-daemon and avahi-daemon (serving lan0)
// on h publishing the static services, and waits until the daemon and every
// static service are up.
func startAvahi(t *testing.T, h *lantest.Host, services ...avahiService) *avahi {
	t.Helper()
	svcs := make([]avahitest.Service, 0, len(services))
	for _, s := range services {
		svcs = append(svcs, avahitest.Service{Name: s.Name, Type: avahiType, Port: s.Port, TXT: s.TXT})
	}
	a := &avahi{Host: avahitest.StartBus(t, h)}
	a.daemon = a.StartDaemon(t, []string{lantest.Iface}, svcs...)
	return a
}

// browse runs `avahi-browse -r -p -k -f _timezone._tcp` (resolve, parsable,
// no service-type database lookups, keep going while the daemon is away).
func (a *avahi) browse(t *testing.T) *lantest.Proc {
	t.Helper()
	return a.Browse(t, avahiType)
}

// publish runs `avahi-publish -s NAME _timezone._tcp PORT TXT...`.
func (a *avahi) publish(t *testing.T, name string, port int, txt ...string) *lantest.Proc {
	t.Helper()
	return a.Publish(t, name, avahiType, port, txt...)
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
