package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

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
