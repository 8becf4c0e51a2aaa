package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

func TestMain(m *testing.M) {
	// A helper process re-executed inside a namespace runs its helper and
	// exits here (lantest's guard has already proved the namespace).
	lantest.MaybeRunHelper()
	code := m.Run()
	clitest.Remove()
	if err := lantest.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	os.Exit(code)
}

// pyzcScript returns the python-zeroconf peer script, skipping (or failing
// with LANSD_REQUIRE_PEERS=1) when python3-zeroconf is missing.
func pyzcScript(tb testing.TB) string {
	tb.Helper()
	if err := exec.Command(python, "-c", "import zeroconf").Run(); err != nil {
		if os.Getenv("LANSD_REQUIRE_PEERS") == "1" {
			tb.Fatalf("python3-zeroconf missing (%v); apt-get install python3-zeroconf", err)
		}
		tb.Skipf("python3-zeroconf missing (%v); apt-get install python3-zeroconf", err)
	}
	p, err := filepath.Abs("peers/pyzc_bench.py")
	require.NoError(tb, err)
	return p
}

// python is Debian's interpreter, the one python3-zeroconf is installed for.
const python = "/usr/bin/python3"

// Result is one measured row of the table, written as a JSON line to the
// file named by $BENCH_RESULTS (bench/run.sh renders them).
type Result struct {
	// Row is the table row ("1", "2", ...); Metric names the measurement.
	Row    string `json:"row"`
	Metric string `json:"metric"`
	// Pair is "BROWSER browses ANNOUNCER" or another label.
	Pair string `json:"pair"`
	// Unit of Values ("ms", "MB", "qps", ...).
	Unit   string    `json:"unit"`
	Values []float64 `json:"values"`
	// Tries is the number of repetitions made; Tries-len(Values) of them
	// gave no value (see Note).
	Tries int    `json:"tries"`
	Note  string `json:"note,omitempty"`
	// LansdPair and PeerPair name the rows whose medians give the ratio
	// lansd/peer printed on this row.
	LansdPair string `json:"lansd_pair,omitempty"`
	PeerPair  string `json:"peer_pair,omitempty"`
}

var resultsMu sync.Mutex

// record reports r's median as a benchmark metric and appends r to
// $BENCH_RESULTS when set.
func record(b *testing.B, r Result) {
	b.Helper()
	if len(r.Values) > 0 {
		med, _, _ := stats(r.Values)
		key := sanitize(r.Unit) + "/" + sanitize(r.Metric)
		if r.Row == "5" || r.Row == "5b" { // one sub-benchmark, one row per library
			key += "/" + sanitize(r.Pair)
		}
		b.ReportMetric(med, key)
	}
	b.Logf("row %s %s %s: %v %s (%d tries) %s", r.Row, r.Metric, r.Pair, r.Values, r.Unit, r.Tries, r.Note)
	path := os.Getenv("BENCH_RESULTS")
	if path == "" {
		return
	}
	line, err := json.Marshal(r)
	require.NoError(b, err)
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(b, err)
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	require.NoError(b, err)
}

// stats returns the median, minimum and maximum of v (zeros when empty).
func stats(v []float64) (med, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func TestStats(t *testing.T) {
	med, lo, hi := stats([]float64{5, 1, 3})
	assert.Equal(t, []float64{3, 1, 5}, []float64{med, lo, hi})
	med, lo, hi = stats([]float64{4, 1, 3, 2})
	assert.Equal(t, []float64{2.5, 1, 4}, []float64{med, lo, hi})
	med, _, _ = stats(nil)
	assert.Zero(t, med)
}

// procStat is the CPU time and resident memory of a process.
type procStat struct {
	CPU time.Duration // utime+stime
	RSS int64         // VmRSS in bytes
	// RSSAnon and RSSFile split RSS into anonymous memory (heap, stacks)
	// and file-backed pages (the mapped executable and libraries).
	RSSAnon, RSSFile int64
}

// readProcStat reads /proc/PID/stat (utime, stime) and /proc/PID/status
// (VmRSS).
func readProcStat(pid int) (procStat, error) {
	var ps procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, fmt.Errorf("bench: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return ps, fmt.Errorf("bench: /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return ps, fmt.Errorf("bench: /proc/%d/stat: %d fields", pid, len(f))
	}
	// f[0] is field 3 (state): utime is field 14, stime 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return ps, fmt.Errorf("bench: /proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	ps.CPU = time.Duration(ut+st) * time.Second / clkTck
	st2, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ps, fmt.Errorf("bench: %w", err)
	}
	defer st2.Close()
	sc := bufio.NewScanner(st2)
	for sc.Scan() {
		for key, dst := range map[string]*int64{"VmRSS:": &ps.RSS, "RssAnon:": &ps.RSSAnon, "RssFile:": &ps.RSSFile} {
			if v, ok := strings.CutPrefix(sc.Text(), key); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return ps, fmt.Errorf("bench: %s %q: %w", key, v, err)
				}
				*dst = kb * 1024
			}
		}
	}
	return ps, nil
}

func TestReadProcStat(t *testing.T) {
	ps, err := readProcStat(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, ps.RSS)
	_, err = readProcStat(-1)
	assert.Error(t, err)
}

// Lines printed by the helpers and the python peer: a keyword, a
// CLOCK_MONOTONIC timestamp in ns, and for ADD/REMOVE the instance label.
var (
	startRE  = regexp.MustCompile(`^START (\d+)`)
	regRE    = regexp.MustCompile(`^REG (\d+)`)
	readyRE  = regexp.MustCompile(`^(READY \d+|FATAL)`)
	byeRE    = regexp.MustCompile(`^BYE (\d+)`)
	eventRE  = regexp.MustCompile(`^(ADD|REMOVE) (\d+) (.+)$`)
	fatalMsg = "FATAL"
)

// stamp extracts the timestamp of a line matched by re.
func stamp(line string, re *regexp.Regexp) int64 {
	m := re.FindStringSubmatch(line)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// waitLine waits for a line matching re (FATAL lines fail at once).
func waitLine(ctx context.Context, p *lantest.Proc, re *regexp.Regexp) (string, error) {
	line, err := p.WaitFor(ctx, regexp.MustCompile(re.String()+`|^FATAL`))
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(line, fatalMsg) {
		return "", fmt.Errorf("bench: %s", line)
	}
	return line, nil
}

// waitEvent waits for kind (ADD or REMOVE) of instance and returns its
// timestamp.
func waitEvent(ctx context.Context, p *lantest.Proc, kind, instance string) (int64, error) {
	re := regexp.MustCompile(`^` + kind + ` (\d+) ` + regexp.QuoteMeta(instance) + `$`)
	line, err := waitLine(ctx, p, re)
	if err != nil {
		return 0, err
	}
	return stamp(line, re), nil
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// hasPyzc reports whether python3-zeroconf is importable.
func hasPyzc() bool { return exec.Command(python, "-c", "import zeroconf").Run() == nil }

// sanitize makes s usable in a benchmark metric unit (no white space).
func sanitize(s string) string { return strings.Join(strings.Fields(s), "_") }
