package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// Scale (row 4): scaleHosts announcer processes, each an in-process lansd
// responder with scalePerHost instances, on h1..h4; browsers on h5.
const (
	scaleHosts   = 4
	scalePerHost = 250
	scaleTotal   = scaleHosts * scalePerHost
	scaleWindow  = 10 * time.Second
)

// BenchmarkScale is row 4. The 1,000 instances are announced and settled
// once; each repetition starts a new browser process on h5 and, from the
// browser's timestamp just before its browse call, takes the time until it
// has reported all 1,000 complete, and how many it has reported within
// 10 s. lansd browses on a clean LAN and with 10 % and 30 % of the frames
// dropped by the switch (lan.SetLoss, per frame and output port, so both
// queries and answers are lost); grandcat and python-zeroconf browse on the
// clean LAN (BENCH_SCALE_PEER_REPS repetitions, default 2).
func BenchmarkScale(b *testing.B) {
	lan := lantest.New(b, lantest.Hosts(scaleHosts+1))
	var anns []*lantest.Proc
	for k := 1; k <= scaleHosts; k++ {
		anns = append(anns, startAnnouncer(b, lan.Host(k), libLansd, fmt.Sprintf("s%d", k), scalePerHost))
	}
	for _, a := range anns {
		ready(b, a, 120*time.Second)
	}
	time.Sleep(scaleSettle(b))
	bh := lan.Host(scaleHosts + 1)
	peerReps, _ := strconv.Atoi(os.Getenv("BENCH_SCALE_PEER_REPS"))
	if peerReps <= 0 {
		peerReps = 2
	}
	run := func(browser string, loss, reps int) {
		name := fmt.Sprintf("%s_browses_1000_lansd_loss%d", libTitle[browser], loss)
		b.Run(name, func(b *testing.B) {
			pairName := fmt.Sprintf("%s browses 1000 lansd, %d %% loss", libTitle[browser], loss)
			all := Result{Row: "4", Metric: "time to find all 1000", Pair: pairName, Unit: "ms"}
			found := Result{Row: "4b", Metric: "instances found in 10 s", Pair: pairName, Unit: "found"}
			if browser != libLansd {
				lp := fmt.Sprintf("lansd browses 1000 lansd, %d %% loss", loss)
				all.LansdPair, all.PeerPair = lp, pairName
				found.LansdPair, found.PeerPair = lp, pairName
			}
			i := 0
			for b.Loop() {
				i++
				if i > reps {
					continue
				}
				all.Tries++
				found.Tries++
				br := startBrowser(b, bh, browser, "DURATION=30s")
				tStart := lineStamp(b, br, `^START (\d+)`, 10*time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), scaleWindow+2*time.Second)
				_, _ = br.WaitForN(ctx, eventRE, scaleTotal)
				cancel()
				n, tAll := 0, int64(0)
				seen := map[string]bool{}
				for _, l := range br.Lines() {
					m := eventRE.FindStringSubmatch(l)
					if m == nil || m[1] != "ADD" || seen[m[3]] {
						continue
					}
					ts, _ := strconv.ParseInt(m[2], 10, 64)
					if ts-tStart > scaleWindow.Nanoseconds() {
						continue
					}
					seen[m[3]] = true
					n++
					if n == scaleTotal {
						tAll = ts
					}
				}
				found.Values = append(found.Values, float64(n))
				if tAll > 0 {
					all.Values = append(all.Values, ms(tAll-tStart))
				}
				stop(br, 3*time.Second)
				time.Sleep(repGap)
			}
			if len(all.Values) < all.Tries {
				all.Note = fmt.Sprintf("not all found within 10 s in %d of %d tries", all.Tries-len(all.Values), all.Tries)
			}
			record(b, all)
			record(b, found)
		})
	}
	const every = 1 << 30 // every repetition b.Loop asks for
	for _, loss := range []int{0, 10, 30} {
		lan.SetLoss(loss)
		run(libLansd, loss, every)
	}
	lan.SetLoss(0)
	for _, p := range []string{libGrandcat, libPyzc} {
		if p == libPyzc && !hasPyzc() {
			b.Logf("python-zeroconf missing: skipping it")
			continue
		}
		run(p, 0, peerReps)
	}
}

// scaleSettle is how long the 1,000 instances are left after their
// announcers are READY before the first browser starts: $BENCH_SCALE_SETTLE
// (a Go duration), default 20 s. Each responder announces its 250
// services three times (0, 1, 3 s after probing), which was measured to
// take about 3.5 s of CPU per responder after READY (BenchmarkProfileScale):
// with less, the browsers would be measured against responders still busy
// announcing on a 2-core machine.
func scaleSettle(tb testing.TB) time.Duration {
	v := os.Getenv("BENCH_SCALE_SETTLE")
	if v == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("BENCH_SCALE_SETTLE: %v", err)
	}
	return d
}

// Back-to-back (row 4c): one `lansd announce --config` with backToBackCount
// services on h1; browsers started one after another on h2..h6 (each on
// its own host, stopped once it has all of them, the next started
// backToBackGap later), as the issue that found the trickle did. Each
// repetition is the time from the browser's browse call to its last
// instance. Row 4d: how many of them it had within 200 ms.
const (
	backToBackCount = 1000
	backToBackGap   = 1100 * time.Millisecond
)

// BenchmarkBackToBack is rows 4c and 4d: the browsers are the lansd
// library (helperBrowse, from its browse call) and the lansd binary
// (`lansd browse timezone --json`, from just before its exec).
func BenchmarkBackToBack(b *testing.B) {
	const browsers = 5
	lan := lantest.New(b, lantest.Hosts(browsers+1))
	ann := startLansdAnnounceN(b, lan.Host(1), "b2b", backToBackCount)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	_, err := ann.WaitForN(ctx, announcedRE, backToBackCount)
	cancel()
	if err != nil {
		b.Fatalf("lansd announce did not announce %d services: %v (last lines %q)", backToBackCount, err, tail(ann.Lines(), 5))
	}
	time.Sleep(scaleSettle(b) / 4)
	gap := backToBackGap
	if v := os.Getenv("BENCH_B2B_GAP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("BENCH_B2B_GAP: %v", err)
		}
		gap = d
	}
	var obs *lantest.Observer
	if os.Getenv("BENCH_B2B_TRACE") == "1" {
		obs = lan.Observe(b)
	}
	i := 0
	for _, cli := range []bool{false, true} {
		what := "library"
		if cli {
			what = "binary"
		}
		b.Run(what, func(b *testing.B) {
			pair := fmt.Sprintf("lansd %s browses %d lansd (one responder), next browser %v later", what, backToBackCount, gap)
			all := Result{Row: "4c", Metric: fmt.Sprintf("back-to-back: time to find all %d", backToBackCount), Pair: pair, Unit: "ms"}
			early := Result{Row: "4d", Metric: "back-to-back: instances found in 200 ms", Pair: pair, Unit: "found"}
			for b.Loop() {
				h := lan.Host(2 + i%browsers)
				i++
				all.Tries++
				early.Tries++
				var adds []time.Duration
				if cli {
					adds = backToBackCLI(b, h)
				} else {
					adds = backToBackLib(b, h)
				}
				if obs != nil && len(adds) > 0 && slices.Max(adds) > 200*time.Millisecond {
					traceB2B(b, obs, slices.Max(adds))
				}
				n200 := 0
				for _, d := range adds {
					if d <= 200*time.Millisecond {
						n200++
					}
				}
				early.Values = append(early.Values, float64(n200))
				if len(adds) >= backToBackCount {
					all.Values = append(all.Values, ms(slices.Max(adds).Nanoseconds()))
				}
				time.Sleep(gap)
			}
			if len(all.Values) < all.Tries {
				all.Note = fmt.Sprintf("not all found within %v in %d of %d tries", scaleWindow, all.Tries-len(all.Values), all.Tries)
			}
			record(b, all)
			record(b, early)
		})
	}
}

// backToBackLib runs one library browser on h until it has all
// backToBackCount instances (or scaleWindow) and returns when it added
// each, from its browse call.
func backToBackLib(b *testing.B, h *lantest.Host) []time.Duration {
	br := startBrowser(b, h, libLansd, "DURATION=30s")
	defer stop(br, 3*time.Second)
	tStart := lineStamp(b, br, `^START (\d+)`, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), scaleWindow)
	_, _ = br.WaitForN(ctx, eventRE, backToBackCount)
	cancel()
	var adds []time.Duration
	seen := map[string]bool{}
	for _, l := range br.Lines() {
		m := eventRE.FindStringSubmatch(l)
		if m == nil || m[1] != "ADD" || seen[m[3]] {
			continue
		}
		seen[m[3]] = true
		ts, _ := strconv.ParseInt(m[2], 10, 64)
		adds = append(adds, time.Duration(ts-tStart))
	}
	return adds
}

// backToBackCLI runs `lansd browse timezone --json` on h until it has all
// backToBackCount instances (or scaleWindow) and returns when it added
// each (the events' time), from just before the process was started.
func backToBackCLI(b *testing.B, h *lantest.Host) []time.Duration {
	t0 := time.Now()
	br := clitest.Start(b, h, "browse", "timezone", "--json", "--iface", lantest.Iface)
	defer stop(br, 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), scaleWindow)
	_, _ = br.WaitForN(ctx, addJSONRE, backToBackCount)
	cancel()
	var adds []time.Duration
	seen := map[string]bool{}
	for _, e := range clitest.Events(b, br.Lines()) {
		if e.Event != "add" || seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		adds = append(adds, e.Time.Sub(t0))
	}
	return adds
}

var addJSONRE = regexp.MustCompile(`^\{"event":"add"`)

// tail returns the last n of lines.
func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// traceB2B logs the datagrams of the last window on the LAN.
func traceB2B(b *testing.B, obs *lantest.Observer, window time.Duration) {
	pk := obs.Packets()
	end := pk[len(pk)-1].Time
	for _, p := range pk {
		if end.Sub(p.Time) > window+500*time.Millisecond || p.Msg == nil {
			continue
		}
		qu := 0
		for _, q := range p.Msg.Question {
			if q.Qclass&0x8000 != 0 {
				qu++
			}
		}
		b.Logf("TRACE %s %v -> %v resp=%v q=%d qu=%d an=%d ns=%d ex=%d size=%d", p.Time.Format("05.000"), p.Src, p.Dst, p.Msg.Response,
			len(p.Msg.Question), qu, len(p.Msg.Answer), len(p.Msg.Ns), len(p.Msg.Extra), p.Size)
	}
}
