package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// largeCount is the number of services of row 9: ten times row 4's.
const largeCount = 10000

// BenchmarkLarge is row 9, a link with largeCount instances: one `lansd
// announce --config` holding all of them (9a-9c: the time from its start to
// its last "announced" line, the CPU it used meanwhile and its RSS after),
// or (BENCH_LARGE_HOSTS=10) ten of largeCount/10 each; then each repetition
// starts `lansd browse timezone --json` on another host (9d: the time from
// its exec to its largeCount-th add; 9e: the events it prints in the
// largeCountQuiet that follow, which must be none: the link is quiet; 9f:
// its RSS then).
func BenchmarkLarge(b *testing.B) {
	hosts := 1
	if v := os.Getenv("BENCH_LARGE_HOSTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || largeCount%n != 0 {
			b.Fatalf("BENCH_LARGE_HOSTS=%q: want a divisor of %d", v, largeCount)
		}
		hosts = n
	}
	const browsers = 2
	lan := lantest.New(b, lantest.Hosts(hosts+browsers))
	layout := fmt.Sprintf("%d lansd announce of %d", hosts, largeCount/hosts)
	ann := make([]*lantest.Proc, hosts)
	t0 := time.Now()
	for k := range hosts {
		ann[k] = startLansdAnnounceN(b, lan.Host(1+k), fmt.Sprintf("big%d", k), largeCount/hosts)
	}
	announced := Result{Row: "9a", Metric: fmt.Sprintf("%d services: start to last announced", largeCount), Pair: layout, Unit: "s"}
	cpu := Result{Row: "9b", Metric: "announcer CPU until announced (sum)", Pair: layout, Unit: "s"}
	rss := Result{Row: "9c", Metric: "announcer RSS after (sum)", Pair: layout, Unit: "MB"}
	var cpuSum time.Duration
	var last time.Duration
	for k, p := range ann {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
		if _, err := p.WaitForN(ctx, announcedRE, 1); err == nil {
			ps, _ := readProcStat(p.Pid())
			b.Logf("announcer %d: first announced line after %v (CPU %v)", k, time.Since(t0), ps.CPU)
		}
		_, err := p.WaitForN(ctx, announcedRE, largeCount/hosts)
		cancel()
		if err != nil {
			b.Fatalf("announcer %d: %v (last lines %q)", k, err, tail(p.Lines(), 5))
		}
		last = max(last, time.Since(t0))
		ps, err := readProcStat(p.Pid())
		if err != nil {
			b.Fatal(err)
		}
		cpuSum += ps.CPU
	}
	announced.Values = []float64{last.Seconds()}
	cpu.Values = []float64{cpuSum.Seconds()}
	announced.Tries, cpu.Tries, rss.Tries = 1, 1, 1
	// The last announcements (RFC 6762 section 8.3), and lansd announce's
	// return of its start-up memory (cmd/lansd startupTrim).
	time.Sleep(8 * time.Second)
	var rssBytes int64
	for _, p := range ann {
		if ps, err := readProcStat(p.Pid()); err == nil {
			rssBytes += ps.RSS
		}
	}
	rss.Values = []float64{float64(rssBytes) / 1e6}

	var obs *lantest.Observer
	if os.Getenv("BENCH_LARGE_TRACE") == "1" {
		obs = lan.Observe(b)
	}
	pair := fmt.Sprintf("lansd browses %d (%s)", largeCount, layout)
	all := Result{Row: "9d", Metric: fmt.Sprintf("time to find all %d", largeCount), Pair: pair, Unit: "ms"}
	noise := Result{Row: "9e", Metric: fmt.Sprintf("events in the %v after", largeQuiet), Pair: pair, Unit: "events"}
	brss := Result{Row: "9f", Metric: "browser RSS", Pair: pair, Unit: "MB"}
	i := 0
	for b.Loop() {
		h := lan.Host(hosts + 1 + i%browsers)
		i++
		all.Tries++
		noise.Tries++
		brss.Tries++
		t0 := time.Now()
		args := []string{"browse", "timezone", "--json", "--iface", lantest.Iface}
		if obs != nil {
			args = append(args, "-v")
		}
		br := clitest.Start(b, h, args...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = br.WaitForN(ctx, addJSONRE, largeCount)
		cancel()
		evs := clitest.Events(b, br.Lines())
		n, tAll := 0, time.Duration(0)
		seen := map[string]bool{}
		for _, e := range evs {
			if e.Event == "add" && !seen[e.Name] {
				seen[e.Name] = true
				n++
				if n == largeCount {
					tAll = e.Time.Sub(t0)
				}
			}
		}
		if tAll > 0 {
			all.Values = append(all.Values, ms(tAll.Nanoseconds()))
		} else {
			b.Logf("browser found %d of %d in 30 s", n, largeCount)
			var per [31]int
			for _, e := range evs {
				if e.Event == "add" {
					if s := int(e.Time.Sub(t0) / time.Second); s >= 0 && s < len(per) {
						per[s]++
					}
				}
			}
			b.Logf("adds per second: %v", per)
			for _, l := range br.Lines() {
				if strings.Contains(l, "stats") || strings.Contains(l, "drop") || strings.Contains(l, "WARN") || strings.Contains(l, "ERROR") {
					b.Logf("browser: %.300s", l)
				}
			}
			if obs != nil {
				logPerSecond(b, obs.Packets(), t0, 30)
			}
		}
		before := len(br.Lines())
		time.Sleep(largeQuiet)
		noise.Values = append(noise.Values, float64(len(br.Lines())-before))
		for _, l := range tail(br.Lines()[before:], 5) {
			b.Logf("printed after: %.200s", l)
		}
		if out, err := h.Command(context.Background(), "cat", "/proc/net/snmp").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, "Udp:") {
					b.Logf("%s %s", h.Name, l)
				}
			}
		}
		if ps, err := readProcStat(br.Pid()); err == nil {
			brss.Values = append(brss.Values, float64(ps.RSS)/1e6)
		}
		stop(br, 3*time.Second)
		time.Sleep(backToBackGap)
	}
	for _, r := range []Result{announced, cpu, rss, all, noise, brss} {
		record(b, r)
	}
	for _, p := range ann {
		stop(p, 10*time.Second)
	}
}

// largeQuiet is how long row 9e listens after the browser found all.
const largeQuiet = 10 * time.Second

// logPerSecond logs, per second since t0 (up to last seconds), the queries
// (questions, known answers, with TC) and responses (records) in pk.
func logPerSecond(b *testing.B, pk []lantest.Captured, t0 time.Time, last int) {
	type cnt struct{ q, qs, ka, tc, r, recs int }
	per := map[int]*cnt{}
	for _, p := range pk {
		if p.Msg == nil || p.Time.Before(t0) {
			continue
		}
		s := int(p.Time.Sub(t0) / time.Second)
		c := per[s]
		if c == nil {
			c = &cnt{}
			per[s] = c
		}
		if p.Msg.Response {
			c.r++
			c.recs += len(p.Msg.Answer) + len(p.Msg.Extra)
		} else {
			c.q++
			c.qs += len(p.Msg.Question)
			c.ka += len(p.Msg.Answer)
			if p.Msg.Truncated {
				c.tc++
			}
		}
	}
	for s := 0; s <= last; s++ {
		if c := per[s]; c != nil {
			b.Logf("second %2d: %4d queries (%5d questions, %6d known answers, %3d TC), %4d responses (%6d records)", s, c.q, c.qs, c.ka, c.tc, c.r, c.recs)
		}
	}
}
