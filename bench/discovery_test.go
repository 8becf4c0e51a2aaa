package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lansd/lansd/internal/lantest"
)

// settle is how long an announcer is left after READY before a browser is
// started against it, so that its announcement burst (lansd: 0, 1, 3 s) is
// over and the browser's own queries are what finds it.
const settle = 4 * time.Second

// repGap separates repetitions that query the same announcer.
const repGap = 1100 * time.Millisecond

// BenchmarkColdDiscovery is row 1: the announcer (one instance) is up and
// settled on h1; each repetition starts a new browser process on h2 and
// takes the time to its first complete result (SRV, TXT and an address) for
// that instance. Two times are recorded per repetition:
//   - "from exec": from the benchmark's CLOCK_MONOTONIC just before it
//     execs the browser process (ip netns exec ... then the helper or
//     python) to the browser's timestamp of the result: includes process
//     start-up (python imports included);
//   - "from browse call": from the browser's own timestamp just before its
//     library's browse call to the result: library only.
func BenchmarkColdDiscovery(b *testing.B) {
	for _, p := range pairs() {
		b.Run(strings.ReplaceAll(p.String(), " ", "_"), func(b *testing.B) {
			lan := lantest.New(b, lantest.Hosts(2))
			h1, h2 := lan.Host(1), lan.Host(2)
			name := "cold-" + p.announcer
			ann := startAnnouncer(b, h1, p.announcer, name, 1)
			ready(b, ann, 30*time.Second)
			time.Sleep(settle)
			lp, pp := p.ratioPairs()
			exec := Result{Row: "1", Metric: "cold discovery from exec", Pair: p.String(), Unit: "ms", LansdPair: lp, PeerPair: pp}
			call := Result{Row: "1b", Metric: "cold discovery from browse call", Pair: p.String(), Unit: "ms", LansdPair: lp, PeerPair: pp}
			for b.Loop() {
				exec.Tries++
				call.Tries++
				t0 := mono()
				br := startBrowser(b, h2, p.browser)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				tAdd, err := waitEvent(ctx, br, "ADD", name)
				cancel()
				if err != nil {
					b.Logf("%s: no result in 10 s: %v\n%q", p, err, br.Lines())
					stop(br, 3*time.Second)
					continue
				}
				tStart := lineStamp(b, br, `^START (\d+)`, time.Second)
				exec.Values = append(exec.Values, ms(tAdd-t0))
				call.Values = append(call.Values, ms(tAdd-tStart))
				stop(br, 3*time.Second)
				// RFC 6762 section 6.2: a responder multicasts a record at
				// most once a second; the next browser must not arrive
				// inside that second, or it measures the rate limit.
				time.Sleep(repGap)
			}
			if len(exec.Values) < exec.Tries {
				exec.Note = "no result within 10 s in some tries"
				call.Note = exec.Note
			}
			record(b, exec)
			record(b, call)
			stop(ann, 3*time.Second)
		})
	}
}

// BenchmarkAppearanceRemoval is rows 2 and 3. The browser runs on h2 for
// the whole sub-benchmark. Each repetition starts an announcer process on
// h1 with a new instance name and measures:
//   - appearance (row 2): from the announcer's timestamp just before its
//     library's registration call (after its process start-up) to the
//     browser's timestamp of the complete result;
//   - removal (row 3): the announcer gets SIGTERM once it is READY and has
//     been found; from the benchmark's timestamp just before kill(2) to the
//     browser's timestamp of the removal. Waited for at most 5 s; when a
//     browser reports no removal in the first repetition, it is "n/a (no
//     removal events)" and the later repetitions do not wait.
func BenchmarkAppearanceRemoval(b *testing.B) {
	for _, p := range pairs() {
		b.Run(strings.ReplaceAll(p.String(), " ", "_"), func(b *testing.B) {
			lan := lantest.New(b, lantest.Hosts(2))
			h1, h2 := lan.Host(1), lan.Host(2)
			br := startBrowser(b, h2, p.browser)
			lineStamp(b, br, `^START (\d+)`, 10*time.Second)
			time.Sleep(1500 * time.Millisecond) // past the browser's first queries
			lp, pp := p.ratioPairs()
			app := Result{Row: "2", Metric: "appearance", Pair: p.String(), Unit: "ms", LansdPair: lp, PeerPair: pp}
			rem := Result{Row: "3", Metric: "removal after SIGTERM", Pair: p.String(), Unit: "ms", LansdPair: lp, PeerPair: pp}
			noRemoval := false
			i := 0
			for b.Loop() {
				i++
				name := fmtName("app"+p.announcer+"-", i)
				ann := startAnnouncer(b, h1, p.announcer, name, 1)
				tReg := lineStamp(b, ann, `^REG (\d+)`, 10*time.Second)
				app.Tries++
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				tAdd, err := waitEvent(ctx, br, "ADD", name)
				cancel()
				if err != nil {
					b.Logf("%s: %s not found in 10 s: %v", p, name, err)
					stop(ann, 3*time.Second)
					continue
				}
				app.Values = append(app.Values, ms(tAdd-tReg))
				ready(b, ann, 30*time.Second)
				if noRemoval {
					stop(ann, 3*time.Second)
					continue
				}
				rem.Tries++
				t0 := mono()
				ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
				go stop(ann, 3*time.Second)
				tRem, err := waitEvent(ctx, br, "REMOVE", name)
				cancel()
				if err != nil {
					if len(rem.Values) == 0 {
						noRemoval = true
					}
					continue
				}
				rem.Values = append(rem.Values, ms(tRem-t0))
				// The announcer has exited (or is being killed) before the next one.
				ctx, cancel = context.WithTimeout(context.Background(), 6*time.Second)
				_ = ann.Wait(ctx)
				cancel()
			}
			if len(app.Values) < app.Tries {
				app.Note = "not found within 10 s in some tries"
			}
			if n := appearanceNote(p); n != "" {
				app.Note = strings.TrimPrefix(app.Note+"; "+n, "; ")
			}
			if noRemoval {
				rem.Note = "n/a (no removal event within 5 s)"
			} else if len(rem.Values) < rem.Tries {
				rem.Note = "no removal within 5 s in some tries"
			}
			record(b, app)
			record(b, rem)
		})
	}
}

// appearanceNote explains the appearance rows whose figures come from a
// peer's own behaviour (checked in the peers' sources at the pinned
// versions), "" for the others.
func appearanceNote(p pair) string {
	switch {
	case p.announcer == libHashicorp && p.browser == libLansd:
		return "hashicorp never announces and answers QM queries by unicast, which RFC 6762 s6 makes a querier ignore; lansd finds it only in the 2 s after its QU query"
	case p.announcer == libGrandcat:
		return "grandcat announces without probing"
	case p.browser == libDnssd:
		return "dnssd's browser takes records from probes' Authority section (cache.go filterRecords), before the name is won"
	}
	return ""
}
