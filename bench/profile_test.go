package bench

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
)

// profileDir is where the profiling benchmarks write their profiles:
// $BENCH_PROFILE_DIR, or a temporary directory kept after the run.
func profileDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		var err error
		dir, err = os.MkdirTemp("", "lansd-bench-profile-")
		require.NoError(tb, err)
	}
	require.NoError(tb, os.MkdirAll(dir, 0o755))
	return dir
}

// BenchmarkProfileResponder profiles an in-process lansd responder (the
// announce package, as in `lansd announce`) with 100 services under the
// query load of row 5 (one legacy unicast SRV query outstanding, 5 s):
// CPU profile responder-cpu.pprof, heap profile responder-heap.pprof (after
// a GC, at the end) in $BENCH_PROFILE_DIR. Read them with
// `go tool pprof -top FILE`. Not part of run.sh's table.
func BenchmarkProfileResponder(b *testing.B) {
	dir := profileDir(b)
	lan := lantest.New(b, lantest.Hosts(2))
	for b.Loop() {
		ann := lan.Host(1).Helper(b, "bench-announce", "LIB=lansd", "NAME=idle-lansd", "COUNT="+strconv.Itoa(respCount),
			"CPUPROFILE="+filepath.Join(dir, "responder-cpu.pprof"), "MEMPROFILE="+filepath.Join(dir, "responder-heap.pprof"))
		ready(b, ann, 60*time.Second)
		time.Sleep(4 * time.Second)
		q := lan.Host(2).Helper(b, "bench-query", "DST="+lan.Host(1).IPv4.String()+":5353",
			"NAME=idle-lansd", "COUNT="+strconv.Itoa(respCount), "WINDOW=1", "DURATION=5s")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		line, err := waitLine(ctx, q, regexp.MustCompile(`^LOAD `))
		cancel()
		require.NoError(b, err)
		b.Logf("%s", line)
		stop(ann, 10*time.Second)
		for _, l := range ann.Lines() {
			if regexp.MustCompile(`^MEMSTATS`).MatchString(l) {
				b.Logf("%s", l)
			}
		}
	}
	b.Logf("profiles in %s", dir)
}

// BenchmarkProfileScale profiles lansd's browser finding the 1,000
// instances of row 4 on a clean LAN: scale-browser-cpu.pprof and, for the
// responder on h1, scale-responder-cpu.pprof (from READY to its SIGTERM) in
// $BENCH_PROFILE_DIR; it logs each responder's CPU time during the browse
// and the observer's packet counts per second.
func BenchmarkProfileScale(b *testing.B) {
	dir := profileDir(b)
	lan := lantest.New(b, lantest.Hosts(scaleHosts+1))
	var anns []*lantest.Proc
	for k := 1; k <= scaleHosts; k++ {
		env := []string{"LIB=lansd", "NAME=s" + strconv.Itoa(k), "COUNT=" + strconv.Itoa(scalePerHost)}
		if k == 1 {
			env = append(env, "CPUPROFILE="+filepath.Join(dir, "scale-responder-cpu.pprof"))
		}
		anns = append(anns, lan.Host(k).Helper(b, "bench-announce", env...))
	}
	for _, a := range anns {
		ready(b, a, 120*time.Second)
	}
	// CPU of each responder over the settle time: is it still announcing?
	cpuR := make([]procStat, len(anns))
	for i, a := range anns {
		cpuR[i], _ = readProcStat(a.Pid())
	}
	time.Sleep(scaleSettle(b))
	for i, a := range anns {
		ps, _ := readProcStat(a.Pid())
		b.Logf("responder h%d: %v CPU in the settle time after READY", i+1, ps.CPU-cpuR[i].CPU)
	}
	obs := lan.Observe(b)
	cpu0 := make([]procStat, len(anns))
	for i, a := range anns {
		cpu0[i], _ = readProcStat(a.Pid())
	}
	for b.Loop() {
		br := startBrowser(b, lan.Host(scaleHosts+1), libLansd, "DURATION=12s", "CPUPROFILE="+filepath.Join(dir, "scale-browser-cpu.pprof"))
		tStart := lineStamp(b, br, `^START (\d+)`, 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		lines, _ := br.WaitForN(ctx, eventRE, scaleTotal)
		cancel()
		if len(lines) > 0 {
			last := stamp(lines[len(lines)-1], regexp.MustCompile(`^ADD (\d+)`))
			b.Logf("%d found, last after %.0f ms", len(lines), ms(last-tStart))
		}
		_ = br.Wait(context.Background()) // DURATION ends it and writes the profile
	}
	for i, a := range anns {
		ps, _ := readProcStat(a.Pid())
		b.Logf("responder h%d: %v CPU during the browse", i+1, ps.CPU-cpu0[i].CPU)
	}
	stop(anns[0], 10*time.Second)
	// Per second since the first packet: queries and responses.
	if pk := obs.Packets(); len(pk) > 0 {
		logPerSecond(b, pk, pk[0].Time, 15)
	}
	b.Logf("profile in %s", dir)
}

// BenchmarkProfileLarge profiles one lansd responder announcing the
// largeCount services of row 9 (large-responder-cpu.pprof, from its start
// to 10 s after announce.New returned, and large-responder-heap.pprof
// then) in $BENCH_PROFILE_DIR.
func BenchmarkProfileLarge(b *testing.B) {
	dir := profileDir(b)
	lan := lantest.New(b, lantest.Hosts(1))
	for b.Loop() {
		a := lan.Host(1).Helper(b, "bench-announce", "LIB=lansd", "NAME=big", "COUNT="+strconv.Itoa(largeCount), "PROFILE_ALL=1",
			"CPUPROFILE="+filepath.Join(dir, "large-responder-cpu.pprof"), "MEMPROFILE="+filepath.Join(dir, "large-responder-heap.pprof"))
		reg := lineStamp(b, a, `^REG (\d+)`, 10*time.Second)
		rdy := ready(b, a, 300*time.Second)
		b.Logf("announce.New returned after %.1f s", ms(rdy-reg)/1000)
		time.Sleep(10 * time.Second)
		ps, _ := readProcStat(a.Pid())
		b.Logf("CPU %v, RSS %.1f MB", ps.CPU, float64(ps.RSS)/1e6)
		stop(a, 20*time.Second)
	}
	b.Logf("profile in %s", dir)
}
