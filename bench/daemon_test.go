package bench

// Row 11 (issue 14): a browse through a warm lansd daemon next to a cold
// in-process browse. h2 announces one instance; h1 runs lansd daemon,
// whose cache holds it once a first browse went through. Measured, each
// inside h1's namespace with CLOCK_MONOTONIC: from the exec of `lansd
// browse timezone --json` to its first add line, through the daemon and
// with --no-daemon; and, in the test process (a Unix socket is reached by
// its path from any namespace; nothing is sent by multicast), from
// daemon.Dial plus Client.Browse to the first event.

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

func init() {
	lantest.RegisterHelper("bench-exec-first-add", helperExecFirstAdd)
}

// helperExecFirstAdd runs the command of $BENCH_EXEC_ARGV (a JSON array)
// and prints "FIRST <ns>": the time from its exec to its first stdout
// line holding $BENCH_EXEC_MATCH; then kills it.
func helperExecFirstAdd() int {
	guarded()
	var argv []string
	if err := json.Unmarshal([]byte(os.Getenv("BENCH_EXEC_ARGV")), &argv); err != nil || len(argv) == 0 {
		outf("%s: BENCH_EXEC_ARGV: %v", fatalMsg, err)
		return 1
	}
	match := os.Getenv("BENCH_EXEC_MATCH")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		outf("%s: %v", fatalMsg, err)
		return 1
	}
	t0 := mono()
	if err := cmd.Start(); err != nil {
		outf("%s: %v", fatalMsg, err)
		return 1
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), match) {
			outf("FIRST %d", mono()-t0)
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return 0
}

// execFirstAdd runs args of lansd in h through helperExecFirstAdd and
// returns the milliseconds to the first add of instance.
func execFirstAdd(b *testing.B, h *lantest.Host, bin, instance string, args ...string) (float64, bool) {
	b.Helper()
	argv, _ := json.Marshal(append([]string{bin}, args...))
	p := h.Helper(b, "bench-exec-first-add", "BENCH_EXEC_ARGV="+string(argv),
		"BENCH_EXEC_MATCH="+`"event":"add","instance":"`+instance+`"`)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	re := regexpMust(`^FIRST (\d+)$`)
	line, err := waitLine(ctx, p, re)
	stop(p, 3*time.Second)
	if err != nil {
		b.Logf("%v: %v\n%q", args, err, p.Lines())
		return 0, false
	}
	return ms(stamp(line, re)), true
}

func BenchmarkDaemonBrowse(b *testing.B) {
	lan := lantest.New(b, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	bin := clitest.Binary(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "lansd-bench-")
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "lansd.sock")
	d := clitest.Start(b, h1, "daemon", "--socket", sock, "--hostname", h1.Name, "--services-dir", "")
	_, err = d.WaitFor(ctx, regexpMust(`lansd daemon: ready`))
	require.NoError(b, err, "%q", d.Lines())
	defer stop(d, 3*time.Second)
	ann := clitest.Start(b, h2, "announce", "--service", "timezone", "--name", "Known", "--port", "7", "--no-daemon")
	_, err = ann.WaitFor(ctx, regexpMust(`^announced "`))
	require.NoError(b, err, "%q", ann.Lines())
	defer stop(ann, 3*time.Second)
	// The first browse through the daemon warms its cache.
	if _, ok := execFirstAdd(b, h1, bin, "Known", "browse", "timezone", "--json", "--daemon-socket", sock); !ok {
		b.Fatal("the daemon did not find the instance")
	}

	warmExec := Result{Row: "11", Metric: "browse, exec to the first add", Pair: "lansd browse through the warm daemon", Unit: "ms",
		LansdPair: "lansd browse through the warm daemon", PeerPair: "lansd browse --no-daemon (cold, in-process)"}
	coldExec := Result{Row: "11", Metric: warmExec.Metric, Pair: warmExec.PeerPair, Unit: "ms"}
	warmCall := Result{Row: "11b", Metric: "browse, daemon.Dial + Client.Browse to the first event", Pair: "library through the warm daemon", Unit: "ms"}
	for b.Loop() {
		warmExec.Tries++
		coldExec.Tries++
		warmCall.Tries++
		if v, ok := execFirstAdd(b, h1, bin, "Known", "browse", "timezone", "--json", "--daemon-socket", sock); ok {
			warmExec.Values = append(warmExec.Values, v)
		}
		if v, ok := execFirstAdd(b, h1, bin, "Known", "browse", "timezone", "--json", "--no-daemon"); ok {
			coldExec.Values = append(coldExec.Values, v)
		}
		func() {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			t0 := mono()
			c, err := daemon.Dial(cctx, sock)
			if err != nil {
				b.Logf("dial: %v", err)
				return
			}
			defer c.Close()
			br, err := c.Browse(cctx, []string{"timezone"}, daemon.BrowseOptions{})
			if err != nil {
				b.Logf("browse: %v", err)
				return
			}
			defer br.Close()
			select {
			case <-br.Events():
				warmCall.Values = append(warmCall.Values, ms(mono()-t0))
			case <-cctx.Done():
				b.Log("no event in 10 s")
			}
		}()
		// RFC 6762 section 6.2: answers to the cold browse's queries are
		// rate-limited per record; the next cold browse waits that second.
		time.Sleep(repGap)
	}
	record(b, warmExec)
	record(b, coldExec)
	record(b, warmCall)
}
