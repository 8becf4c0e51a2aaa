package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
)

// The implementations compared. lansd is the in-process library (announce,
// browse), the same code the lansd binary runs; pyzc is python-zeroconf.
const (
	libLansd     = "lansd"
	libGrandcat  = "grandcat"
	libHashicorp = "hashicorp"
	libDnssd     = "dnssd"
	libPyzc      = "pyzc"
	// libAvahi is avahi-daemon with a static service file, browsed with
	// avahi-browse (rows 7 and 8 only; see avahi_test.go).
	libAvahi = "avahi"
)

// peers are the implementations lansd is compared with.
var peers = []string{libGrandcat, libHashicorp, libDnssd, libPyzc}

// libTitle is how the table names a library.
var libTitle = map[string]string{
	libLansd:     "lansd",
	libGrandcat:  "grandcat",
	libHashicorp: "hashicorp",
	libDnssd:     "dnssd",
	libPyzc:      "python-zeroconf",
	libAvahi:     "Avahi",
}

// pair is one browser browsing one announcer.
type pair struct{ browser, announcer string }

func (p pair) String() string { return libTitle[p.browser] + " browses " + libTitle[p.announcer] }

// lansdPair and peerPair give the rows whose medians make this row's
// lansd/peer ratio: a peer's own pair compares with lansd's own pair; a
// mixed pair compares with the peer's own pair (lansd's browser or
// announcer standing in for the peer's).
func (p pair) ratioPairs() (lansd, peer string) {
	own := pair{libLansd, libLansd}.String()
	switch {
	case p.browser == libLansd && p.announcer == libLansd:
		return "", ""
	case p.browser == p.announcer:
		return own, p.String()
	case p.browser == libLansd:
		return p.String(), pair{p.announcer, p.announcer}.String()
	default:
		return p.String(), pair{p.browser, p.browser}.String()
	}
}

// pairs are the 13 browser/announcer pairs of rows 1-3: every library with
// itself, lansd browsing each peer, and each peer browsing lansd.
func pairs() []pair {
	ps := []pair{{libLansd, libLansd}}
	for _, p := range peers {
		ps = append(ps, pair{p, p}, pair{libLansd, p}, pair{p, libLansd})
	}
	return ps
}

// startBrowser starts lib's browser on h (see helperBrowse and
// peers/pyzc_bench.py); env is the Go helper's environment, of which the
// python browser takes ADDRS=1 (as --addrs).
func startBrowser(tb testing.TB, h *lantest.Host, lib string, env ...string) *lantest.Proc {
	tb.Helper()
	if lib == libPyzc {
		args := []string{pyzcScript(tb), "browse"}
		if slices.Contains(env, "ADDRS=1") {
			args = append(args, "--addrs")
		}
		return h.Start(tb, python, args...)
	}
	return h.Helper(tb, "bench-browse", append([]string{"LIB=" + lib}, env...)...)
}

// startAnnouncer starts lib's announcer of count instances named name (or
// name-i) on h (see helperAnnounce and peers/pyzc_bench.py).
func startAnnouncer(tb testing.TB, h *lantest.Host, lib, name string, count int) *lantest.Proc {
	tb.Helper()
	if lib == libPyzc {
		// Both of the host's addresses, as a host would publish: with only
		// the IPv4 address, python-zeroconf 0.47.3 was seen not to answer
		// lansd's queries at all (no packet on the LAN), see the report.
		return h.Start(tb, python, pyzcScript(tb), "register", "--name", name,
			"--count", strconv.Itoa(count), "--addr", h.IPv4.String(), "--addr", h.LinkLocal.String())
	}
	return h.Helper(tb, "bench-announce", "LIB="+lib, "NAME="+name, "COUNT="+strconv.Itoa(count))
}

// stop sends SIGTERM to p and waits up to grace for it to exit, then
// SIGKILLs it (by PID; it was started by this benchmark).
func stop(p *lantest.Proc, grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if p.Wait(ctx) != nil {
		_ = p.Signal(syscall.SIGKILL)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		_ = p.Wait(ctx2)
	}
}

// ready waits for an announcer's READY line and returns its timestamp.
func ready(tb testing.TB, p *lantest.Proc, d time.Duration) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	line, err := waitLine(ctx, p, readyRE)
	require.NoError(tb, err, "announcer output: %q", p.Lines())
	return stamp(line, readyStampRE)
}

var readyStampRE = regexpMust(`^READY (\d+)`)

// lineStamp waits for a line matching re (with one (\d+) group) and returns
// its timestamp.
func lineStamp(tb testing.TB, p *lantest.Proc, re string, d time.Duration) int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	r := regexpMust(re)
	line, err := waitLine(ctx, p, r)
	require.NoError(tb, err, "output: %q", p.Lines())
	return stamp(line, r)
}

func fmtName(prefix string, i int) string { return fmt.Sprintf("%s%d", prefix, i) }
