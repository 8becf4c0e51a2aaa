//go:build linux

package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/avahitest"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// TestDaemonBesideAvahiTenClients: lansd daemon runs beside avahi-daemon
// on the same host (port 5353 shared); ten clients register through the
// daemon, and python-zeroconf and avahi-browse on another host find all
// ten, and Avahi's own service, with nobody renamed.
func TestDaemonBesideAvahiTenClients(t *testing.T) {
	t.Parallel()
	dcliRequirePython(t)
	avahitest.Require(t)
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 120*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)

	// avahi-daemon on h1 holds h1.local and a static service; the lansd
	// daemon beside it has a host name of its own.
	a1 := avahitest.StartBus(t, h1)
	a1.StartDaemon(t, nil, avahitest.Service{Name: "Avahi TZ", Type: "_timezone._tcp", Port: 9000, TXT: []string{"path=/avahi"}})
	_, sock := dmnStart(t, ctx, h1, "--services-dir", "", "--hostname", "h1-lansd")

	py := h2.Start(t, "/usr/bin/python3", "-u", dcliPyzc, "browse", "--type", "_timezone._tcp.local.")
	_, err := py.WaitFor(ctx, regexp.MustCompile(`"event": "ready"`))
	require.NoError(t, err, "%q", py.Lines())
	a2 := avahitest.StartBus(t, h2)
	a2.StartDaemon(t, nil)
	avb := a2.Browse(t, "_timezone._tcp")

	var clients []*lantest.Proc
	for i := range 10 {
		c := clitest.Start(t, h1, "announce", "--service", "timezone", "--name", fmt.Sprintf("Client %d", i), "--port", fmt.Sprint(8000+i),
			"--txt", "path=/tz", "--daemon-socket", sock)
		clients = append(clients, c)
	}
	for i, c := range clients {
		line, err := c.WaitFor(ctx, annAnnouncedRE)
		require.NoError(t, err, "%q", c.Lines())
		require.Equal(t, fmt.Sprintf(`announced "Client %d._timezone._tcp.local." on lan0`, i), line, "not renamed")
	}
	for i := range 10 {
		_, err := py.WaitFor(ctx, regexp.MustCompile(fmt.Sprintf(`"event": "add".*"name": "Client %d\._timezone\._tcp\.local\."`, i)))
		require.NoError(t, err, "python-zeroconf: %q", py.Lines())
		_, err = avb.WaitFor(ctx, regexp.MustCompile(fmt.Sprintf(`^=;lan0;IPv4;Client\\032%d;_timezone\._tcp;local;h1-lansd\.local;198\.51\.100\.11;%d;"path=/tz"$`, i, 8000+i)))
		require.NoError(t, err, "avahi-browse: %q", avb.Lines())
	}
	_, err = py.WaitFor(ctx, regexp.MustCompile(`"event": "add".*"name": "Avahi TZ\._timezone\._tcp\.local\."`))
	require.NoError(t, err, "python-zeroconf: %q", py.Lines())
	_, err = avb.WaitFor(ctx, regexp.MustCompile(`^=;lan0;IPv4;Avahi\\032TZ;_timezone\._tcp;local;h1\.local;198\.51\.100\.11;9000;"path=/avahi"$`))
	require.NoError(t, err, "avahi-browse: %q", avb.Lines())
	for _, l := range append(py.Lines(), avb.Lines()...) {
		require.NotRegexp(t, `\(2\)|#2|h1-lansd-2|h1-2`, l, "somebody renamed")
	}
}
