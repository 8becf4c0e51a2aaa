//go:build linux

package bench

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// gatewayCount is the number of instances of row 10c.
const gatewayCount = 1000

// gwBench is row 10's virtual network: link A (198.18.1.0/24: h1
// announces, h2 is the gateway) and link B (198.18.2.0/24: h1 browses),
// the gateway's host joined into B as gwb (198.18.2.200), running `lansd
// gateway` with one rule a -> b for timezone; a `lansd browse timezone
// --json` on B; an observer on each link.
type gwBench struct {
	a, b       *lantest.LAN
	gw         *lantest.Host
	gateway    *lantest.Proc
	browser    *lantest.Proc
	obsA, obsB *lantest.Observer
}

// gwPeer is what joins the links in newGWBench: lansd gateway or Avahi's
// reflector.
type gwPeer string

const (
	gwLansd gwPeer = "lansd gateway A -> B"
	gwAvahi gwPeer = "Avahi reflector A <-> B"
)

func newGWBench(b *testing.B, peer gwPeer) *gwBench {
	g := &gwBench{}
	g.a = lantest.New(b, lantest.Hosts(2), lantest.Subnet(netip.MustParsePrefix("198.18.1.0/24")))
	g.b = lantest.New(b, lantest.Hosts(1), lantest.Subnet(netip.MustParsePrefix("198.18.2.0/24")))
	g.gw = g.a.Host(2)
	g.b.Join(b, g.gw, "gwb", netip.MustParseAddr("198.18.2.200"))
	g.obsA, g.obsB = g.a.Observe(b), g.b.Observe(b)
	switch peer {
	case gwLansd:
		cfg := filepath.Join(b.TempDir(), "gateway.json")
		require.NoError(b, os.WriteFile(cfg, []byte(`{
  "links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["gwb"]}},
  "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]
}`), 0o644))
		g.gateway = clitest.Start(b, g.gw, "gateway", "--config", cfg, "--json", "--hostname", "gw")
	case gwAvahi:
		a := startAvahiBus(b, g.gw)
		a.Reflector = true
		g.gateway = a.StartDaemon(b, []string{lantest.Iface, "gwb"})
	}
	g.browser = clitest.Start(b, g.b.Host(1), "browse", "timezone", "--json", "--iface", lantest.Iface, "--max-records", "100000")
	b.Cleanup(func() {
		stop(g.browser, 3*time.Second)
		stop(g.gateway, 5*time.Second)
	})
	// The gateway's own host name claim (about a second) is not part of
	// what the rows measure.
	time.Sleep(3 * time.Second)
	return g
}

// firstPTR returns when the first response from one of src carrying a PTR
// to one of names with a TTL that is zero (goodbye) or not was captured,
// at or after from, per name.
func firstPTR(pk []lantest.Captured, src []netip.Addr, names map[string]bool, goodbye bool, from time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, p := range pk {
		if p.Msg == nil || !p.Msg.Response || p.Time.Before(from) || !slices.Contains(src, p.Src.Addr()) {
			continue
		}
		for _, rr := range p.Msg.Answer {
			ptr, ok := rr.(*dns.PTR)
			if !ok || !names[ptr.Ptr] || (ptr.Hdr.Ttl == 0) != goodbye {
				continue
			}
			if _, seen := out[ptr.Ptr]; !seen {
				out[ptr.Ptr] = p.Time
			}
		}
	}
	return out
}

// browserTimes returns when B's browser reported each of names with event
// kind ("add" or "remove") at or after from.
func (g *gwBench) browserTimes(b *testing.B, kind string, names map[string]bool, from time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, e := range clitest.Events(b, g.browser.Lines()) {
		if e.Event != kind || e.Time.Before(from) {
			continue
		}
		if names[e.Name] {
			if _, seen := out[e.Name]; !seen {
				out[e.Name] = e.Time
			}
		}
	}
	return out
}

// waitBrowser waits until B's browser reported kind for all of names.
func (g *gwBench) waitBrowser(b *testing.B, kind string, names map[string]bool, from time.Time, d time.Duration) map[string]time.Time {
	deadline := time.Now().Add(d)
	for {
		got := g.browserTimes(b, kind, names, from)
		if len(got) == len(names) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkGateway is row 10, `lansd gateway` between two links: 10a, the
// time from an instance's first announcement on A (captured on A's
// bridge) to its add in a `lansd browse` on B; 10b, from its goodbye on A
// to its removal on B; 10c, gatewayCount instances announced on A by one
// `lansd announce --config`: the time from its last first announcement on
// A to the last add on B; 10d, the packets the gateway sends per proxied
// instance per minute once they are all proxied (on B: answers and
// announcements of the proxies; on A: its queries), over $BENCH_IDLE; 10e,
// from the announcer's last goodbye on A to the last removal on B.
func BenchmarkGateway(b *testing.B) {
	pairOf := func(peer gwPeer) string { return "lansd announce on A, " + string(peer) + ", lansd browse on B" }
	for _, peer := range []gwPeer{gwLansd, gwAvahi} {
		name := "one"
		if peer == gwAvahi {
			name = "one-avahi"
		}
		b.Run(name, func(b *testing.B) { gatewayOne(b, peer, pairOf(peer), pairOf(gwLansd), pairOf(gwAvahi)) })
	}
	b.Run("thousand", func(b *testing.B) { gatewayThousand(b, pairOf(gwLansd)) })
}

// gatewayOne is rows 10a and 10b through peer.
func gatewayOne(b *testing.B, peer gwPeer, pair, lansdPair, peerPair string) {
	g := newGWBench(b, peer)
	annA := []netip.Addr{g.a.Host(1).IPv4, g.a.Host(1).LinkLocal}
	{
		appear := Result{Row: "10a", Metric: "gateway: announcement on A to the instance on B", Pair: pair, Unit: "ms", LansdPair: lansdPair, PeerPair: peerPair}
		gone := Result{Row: "10b", Metric: "gateway: goodbye on A to the removal on B", Pair: pair, Unit: "ms", LansdPair: lansdPair, PeerPair: peerPair}
		i := 0
		for b.Loop() {
			i++
			appear.Tries++
			gone.Tries++
			prefix := fmt.Sprintf("gw1-%d", i)
			names := map[string]bool{}
			for _, n := range instanceNames(prefix, 1) {
				names[n+"._timezone._tcp.local."] = true
			}
			t0 := time.Now()
			ann := startLansdAnnounceN(b, g.a.Host(1), prefix, 1)
			added := g.waitBrowser(b, "add", names, t0, 10*time.Second)
			sent := firstPTR(g.obsA.Packets(), annA, names, false, t0)
			for n, at := range added {
				if s, ok := sent[n]; ok {
					appear.Values = append(appear.Values, ms(at.Sub(s).Nanoseconds()))
				}
			}
			t1 := time.Now()
			_ = ann.Signal(syscall.SIGTERM)
			removed := g.waitBrowser(b, "remove", names, t1, 10*time.Second)
			bye := firstPTR(g.obsA.Packets(), annA, names, true, t1)
			for n, at := range removed {
				if s, ok := bye[n]; ok {
					gone.Values = append(gone.Values, ms(at.Sub(s).Nanoseconds()))
				}
			}
			stop(ann, 3*time.Second)
		}
		record(b, appear)
		record(b, gone)
	}
}

// gatewayThousand is rows 10c-10f through lansd gateway.
func gatewayThousand(b *testing.B, pair string) {
	g := newGWBench(b, gwLansd)
	annA := []netip.Addr{g.a.Host(1).IPv4, g.a.Host(1).LinkLocal}
	{
		all := Result{Row: "10c", Metric: fmt.Sprintf("gateway: %d instances, last announced on A to all on B", gatewayCount), Pair: pair, Unit: "ms"}
		onB := Result{Row: "10d", Metric: "gateway: packets per proxied instance per minute, steady state, on B", Pair: pair, Unit: "pkt"}
		onA := Result{Row: "10e", Metric: "gateway: packets per proxied instance per minute, steady state, on A", Pair: pair, Unit: "pkt"}
		removedAll := Result{Row: "10f", Metric: fmt.Sprintf("gateway: %d instances, last goodbye on A to all removed on B", gatewayCount), Pair: pair, Unit: "ms"}
		i := 0
		for b.Loop() {
			i++
			all.Tries++
			removedAll.Tries++
			prefix := fmt.Sprintf("gwk-%d", i)
			names := map[string]bool{}
			for _, n := range instanceNames(prefix, gatewayCount) {
				names[n+"._timezone._tcp.local."] = true
			}
			t0 := time.Now()
			ann := startLansdAnnounceN(b, g.a.Host(1), prefix, gatewayCount)
			added := g.waitBrowser(b, "add", names, t0, 30*time.Second)
			sent := firstPTR(g.obsA.Packets(), annA, names, false, t0)
			if len(added) == gatewayCount && len(sent) == gatewayCount {
				lastSent := slices.MaxFunc(mapValues(sent), time.Time.Compare)
				lastAdd := slices.MaxFunc(mapValues(added), time.Time.Compare)
				firstSent := slices.MinFunc(mapValues(sent), time.Time.Compare)
				all.Values = append(all.Values, ms(lastAdd.Sub(lastSent).Nanoseconds()))
				b.Logf("10c: first announcement on A %v, last %v, last add on B %v after the announcer's exec",
					firstSent.Sub(t0).Round(time.Millisecond), lastSent.Sub(t0).Round(time.Millisecond), lastAdd.Sub(t0).Round(time.Millisecond))
			} else {
				all.Note = fmt.Sprintf("try %d: %d of %d on B in 30 s, %d announced on A", i, len(added), gatewayCount, len(sent))
			}
			// Steady state: the announcer's three announcements are
			// over (RFC 6762 section 8.3: at most eight, one second,
			// then doubling; lansd sends three) and so are the proxies'.
			time.Sleep(10 * time.Second)
			window := idleDuration(b)
			w0 := time.Now()
			time.Sleep(window)
			w1 := time.Now()
			gwA := []netip.Addr{g.gw.IPv4, g.gw.LinkLocal}
			var nA, nB int
			for _, p := range g.obsA.Packets() {
				if !p.Time.Before(w0) && p.Time.Before(w1) && slices.Contains(gwA, p.Src.Addr()) {
					nA++
				}
			}
			for _, p := range g.obsB.Packets() {
				if !p.Time.Before(w0) && p.Time.Before(w1) && !slices.Contains([]netip.Addr{g.b.Host(1).IPv4, g.b.Host(1).LinkLocal}, p.Src.Addr()) {
					nB++
				}
			}
			perMin := func(n int) float64 { return float64(n) / gatewayCount / w1.Sub(w0).Minutes() }
			onA.Values = append(onA.Values, perMin(nA))
			onB.Values = append(onB.Values, perMin(nB))
			onA.Tries++
			onB.Tries++
			b.Logf("10d: over %v the gateway sent %d packets on A and %d on B for %d proxied instances", w1.Sub(w0).Round(time.Second), nA, nB, gatewayCount)
			t1 := time.Now()
			_ = ann.Signal(syscall.SIGTERM)
			removed := g.waitBrowser(b, "remove", names, t1, 30*time.Second)
			bye := firstPTR(g.obsA.Packets(), annA, names, true, t1)
			if os.Getenv("BENCH_GW_TRACE") == "1" {
				b.Log("after the announcer's SIGTERM, on A:")
				logPerSecond(b, g.obsA.Packets(), t1, 30)
				b.Log("on B:")
				logPerSecond(b, g.obsB.Packets(), t1, 30)
				per := map[int]int{}
				for _, at := range removed {
					per[int(at.Sub(t1)/time.Second)]++
				}
				b.Logf("removals on B per second: %v", per)
			}
			if len(removed) == gatewayCount && len(bye) == gatewayCount {
				removedAll.Values = append(removedAll.Values, ms(slices.MaxFunc(mapValues(removed), time.Time.Compare).Sub(slices.MaxFunc(mapValues(bye), time.Time.Compare)).Nanoseconds()))
			} else {
				removedAll.Note = fmt.Sprintf("try %d: %d of %d removed on B in 30 s, %d goodbyes on A", i, len(removed), gatewayCount, len(bye))
			}
			stop(ann, 5*time.Second)
			time.Sleep(3 * time.Second)
		}
		record(b, all)
		record(b, onB)
		record(b, onA)
		record(b, removedAll)
	}
}

// mapValues returns m's values.
func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
