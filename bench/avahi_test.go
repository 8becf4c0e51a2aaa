package bench

// Avahi (Debian avahi-daemon and avahi-utils 0.8) as a peer of rows 7 and 8,
// run by internal/avahitest as the interop tests run it: each Avahi host has
// a private dbus-daemon and avahi-daemons with their own configuration,
// their mounts private to the namespace.

import (
	"testing"

	"github.com/lansd/lansd/internal/avahitest"
	"github.com/lansd/lansd/internal/lantest"
)

// startAvahiBus starts the private dbus-daemon of h (skipping, or failing
// with LANSD_REQUIRE_PEERS=1, when Avahi is missing).
func startAvahiBus(tb testing.TB, h *lantest.Host) *avahitest.Host {
	tb.Helper()
	return avahitest.StartBus(tb, h)
}

// startAvahiDaemon starts an avahi-daemon on a's host, serving the
// interfaces allow, with a static service file per name in names
// (_timezone._tcp, port 9000, TXT path=/bench, as the other announcers), and
// waits until it and every static service are up. SIGTERM stops it with
// goodbyes.
func startAvahiDaemon(tb testing.TB, a *avahitest.Host, allow []string, names ...string) *lantest.Proc {
	tb.Helper()
	svcs := make([]avahitest.Service, 0, len(names))
	for _, n := range names {
		svcs = append(svcs, avahitest.Service{Name: n, Type: benchType, Port: 9000, TXT: []string{"path=/bench"}})
	}
	return a.StartDaemon(tb, allow, svcs...)
}

// avahiBrowser starts avahi-browse on a's host through the bench-browse
// helper (LIB=avahi), which prints the same lines as the other browsers.
func avahiBrowser(tb testing.TB, a *avahitest.Host, env ...string) *lantest.Proc {
	tb.Helper()
	return a.H.Helper(tb, "bench-browse", append([]string{"LIB=" + libAvahi, "AVAHI_BUS=" + a.Bus}, env...)...)
}
