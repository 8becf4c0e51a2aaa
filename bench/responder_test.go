package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// respCount is the number of services of the announcers of row 5.
const respCount = 100

// idleDuration is the idle window of row 5: $BENCH_IDLE (a Go duration),
// default 60 s.
func idleDuration(tb testing.TB) time.Duration {
	v := os.Getenv("BENCH_IDLE")
	if v == "" {
		return 60 * time.Second
	}
	d, err := time.ParseDuration(v)
	require.NoError(tb, err, "BENCH_IDLE")
	return d
}

// startLansdAnnounce runs the lansd binary (`lansd announce --config`) with
// respCount services named idle-lansd-i on h.
func startLansdAnnounce(tb testing.TB, h *lantest.Host) *lantest.Proc {
	tb.Helper()
	return startLansdAnnounceN(tb, h, "idle-lansd", respCount)
}

// startLansdAnnounceN runs the lansd binary (`lansd announce --config`)
// with count _timezone._tcp services named prefix-i on h.
func startLansdAnnounceN(tb testing.TB, h *lantest.Host, prefix string, count int) *lantest.Proc {
	tb.Helper()
	type svc struct {
		Name    string            `json:"name"`
		Service string            `json:"service"`
		Port    int               `json:"port"`
		TXT     map[string]string `json:"txt"`
	}
	var cfg struct {
		Services []svc `json:"services"`
	}
	for i, n := range instanceNames(prefix, count) {
		cfg.Services = append(cfg.Services, svc{Name: n, Service: "timezone", Port: 9000 + i%50000, TXT: map[string]string{"path": "/bench"}})
	}
	b, err := json.Marshal(cfg)
	require.NoError(tb, err)
	path := filepath.Join(tb.TempDir(), "services.json")
	require.NoError(tb, os.WriteFile(path, b, 0o644))
	return clitest.Start(tb, h, "announce", "--config", path, "--iface", lantest.Iface)
}

var announcedRE = regexp.MustCompile(`^announced "`)

// BenchmarkResponder is row 5. Each announcer runs alone on a LAN of its
// own, all at the same time: the lansd binary (`lansd announce --config`,
// 100 services) and the peers' announcers with 100 services each (grandcat: 100 zeroconf.Register
// servers, hashicorp: 100 mdns servers, dnssd: one responder, python-
// zeroconf: one AsyncZeroconf), all in the same process layout they would
// have in an application.
//
// Idle: once every announcer is ready, 5 s more for the announcement
// bursts; then CPU (utime+stime from /proc/PID/stat) is sampled at the
// start and end of an idle window of $BENCH_IDLE (default 60 s) with no
// other traffic on the LAN, and VmRSS (/proc/PID/status) at its end. Done
// once per run (n=1), whatever -benchtime.
//
// Load: from h2 of lansd's LAN, a querier (helperQuery) sends legacy unicast SRV queries
// for the 100 instances in turn to lansd's IPv4 address, one outstanding
// (the next sent as soon as the answer arrives) for $BENCH_LOAD (default
// 5 s) per repetition; answered queries per second, lansd's CPU during the
// repetition (in % of one core) and its VmRSS after it.
func BenchmarkResponder(b *testing.B) {
	// One LAN per announcer, so that none of them hears the others.
	lan := lantest.New(b, lantest.Hosts(2))
	procs := map[string]*lantest.Proc{}
	order := []string{libLansd, libGrandcat, libHashicorp, libDnssd}
	procs[libLansd] = startLansdAnnounce(b, lan.Host(1))
	for _, lib := range []string{libGrandcat, libHashicorp, libDnssd} {
		procs[lib] = startAnnouncer(b, lantest.New(b, lantest.Hosts(1)).Host(1), lib, "idle-"+lib, respCount)
	}
	if hasPyzc() {
		procs[libPyzc] = startAnnouncer(b, lantest.New(b, lantest.Hosts(1)).Host(1), libPyzc, "idle-pyzc", respCount)
		order = append(order, libPyzc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	_, err := procs[libLansd].WaitForN(ctx, announcedRE, respCount)
	cancel()
	require.NoError(b, err, "lansd announce: %q", procs[libLansd].Lines())
	for _, lib := range order[1:] {
		ready(b, procs[lib], 120*time.Second)
	}
	time.Sleep(5 * time.Second)

	b.Run("idle", func(b *testing.B) {
		idle := idleDuration(b)
		first := true
		for b.Loop() {
			if !first {
				continue
			}
			first = false
			before := map[string]procStat{}
			for _, lib := range order {
				ps, err := readProcStat(procs[lib].Pid())
				require.NoError(b, err)
				before[lib] = ps
			}
			time.Sleep(idle)
			for _, lib := range order {
				ps, err := readProcStat(procs[lib].Pid())
				require.NoError(b, err)
				cpu := Result{Row: "5", Metric: fmt.Sprintf("idle CPU over %v, 100 services", idle), Pair: libTitle[lib], Unit: "ms CPU",
					Values: []float64{float64((ps.CPU - before[lib].CPU).Milliseconds())}, Tries: 1}
				rss := Result{Row: "5b", Metric: "idle RSS, 100 services", Pair: libTitle[lib], Unit: "MB",
					Values: []float64{float64(ps.RSS) / (1 << 20)}, Tries: 1,
					Note: fmt.Sprintf("anon %.1f MB, file-backed %.1f MB", float64(ps.RSSAnon)/(1<<20), float64(ps.RSSFile)/(1<<20))}
				if lib != libLansd {
					cpu.LansdPair, cpu.PeerPair = libTitle[libLansd], libTitle[lib]
					rss.LansdPair, rss.PeerPair = libTitle[libLansd], libTitle[lib]
				}
				record(b, cpu)
				record(b, rss)
			}
		}
	})

	b.Run("load", func(b *testing.B) {
		d := 5 * time.Second
		if v := os.Getenv("BENCH_LOAD"); v != "" {
			var err error
			d, err = time.ParseDuration(v)
			require.NoError(b, err, "BENCH_LOAD")
		}
		pid := procs[libLansd].Pid()
		qps := Result{Row: "5c", Metric: "legacy unicast SRV queries answered per second, 100 services", Pair: "lansd (1 outstanding)", Unit: "qps"}
		cpu := Result{Row: "5d", Metric: "lansd CPU under that load", Pair: "lansd", Unit: "% of a core"}
		rss := Result{Row: "5e", Metric: "lansd RSS after that load", Pair: "lansd", Unit: "MB"}
		for b.Loop() {
			qps.Tries++
			cpu.Tries++
			rss.Tries++
			before, err := readProcStat(pid)
			require.NoError(b, err)
			q := lan.Host(2).Helper(b, "bench-query", "DST="+lan.Host(1).IPv4.String()+":5353",
				"NAME=idle-lansd", "COUNT="+strconv.Itoa(respCount), "WINDOW=1", "DURATION="+d.String())
			ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
			line, err := waitLine(ctx, q, regexp.MustCompile(`^LOAD `))
			cancel()
			require.NoError(b, err, "%q", q.Lines())
			after, err := readProcStat(pid)
			require.NoError(b, err)
			f := strings.Fields(line)
			answered, _ := strconv.ParseFloat(f[2], 64)
			elapsed, _ := strconv.ParseFloat(f[4], 64)
			if lost, _ := strconv.Atoi(f[3]); lost > 0 {
				qps.Note = "some queries unanswered within 250 ms: " + line
			}
			qps.Values = append(qps.Values, answered/(elapsed/1e9))
			cpu.Values = append(cpu.Values, 100*float64(after.CPU-before.CPU)/elapsed)
			rss.Values = append(rss.Values, float64(after.RSS)/(1<<20))
			ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
			_ = q.Wait(ctx)
			cancel()
		}
		record(b, qps)
		record(b, cpu)
		record(b, rss)
	})
}
