package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/internal/mdns"
)

func init() {
	lantest.RegisterHelper("browse-spoof-flood", brSpoofFlood)
}

// brSpoofFlood multicasts S_PACKETS packets (default S_COUNT) announcing
// S_COUNT distinct fake _timezone._tcp instances in turn (PTR, SRV, TXT and
// A each, one packet per instance, each on its own host) over IPv4 from
// port 5353, at S_RATE packets per second. It prints "READY", then
// "FLOODED <n> <seconds>".
func brSpoofFlood() int {
	lantest.MustBeGuarded()
	ctx := context.Background()
	count, _ := strconv.Atoi(os.Getenv("S_COUNT"))
	rate, _ := strconv.Atoi(os.Getenv("S_RATE"))
	packets := count
	if v := os.Getenv("S_PACKETS"); v != "" {
		packets, _ = strconv.Atoi(v)
	}
	if count <= 0 || rate <= 0 || packets <= 0 {
		brPrintf("FATAL bad S_COUNT, S_RATE or S_PACKETS")
		return 1
	}
	conn, err := mdns.Listen(ctx, mdns.Config{Families: []mdns.Family{mdns.IPv4}, Logger: brQuiet()})
	if err != nil {
		brPrintf("FATAL %v", err)
		return 1
	}
	defer conn.Close()
	brPrintf("READY")
	start := time.Now()
	const batch = 50
	for p := range packets {
		i := p % count
		name := fmt.Sprintf("fake%d._timezone._tcp.local.", i)
		host := fmt.Sprintf("fake%d.local.", i)
		m := new(dns.Msg)
		m.Response, m.Authoritative = true, true
		hdr := func(n string, t uint16, ttl uint32, flush bool) dns.RR_Header {
			c := uint16(dns.ClassINET)
			if flush {
				c |= 1 << 15
			}
			return dns.RR_Header{Name: n, Rrtype: t, Class: c, Ttl: ttl}
		}
		m.Answer = []dns.RR{
			&dns.PTR{Hdr: hdr("_timezone._tcp.local.", dns.TypePTR, 4500, false), Ptr: name},
			&dns.SRV{Hdr: hdr(name, dns.TypeSRV, 120, true), Target: host, Port: 8080},
			&dns.TXT{Hdr: hdr(name, dns.TypeTXT, 4500, true), Txt: []string{"path=/"}},
			&dns.A{Hdr: hdr(host, dns.TypeA, 120, true), A: []byte{198, 18, byte(i >> 8), byte(i)}},
		}
		if err := conn.SendMulticast(ctx, m, 0, mdns.IPv4); err != nil {
			brPrintf("FATAL %v", err)
			return 1
		}
		if p%batch == batch-1 {
			if d := time.Until(start.Add(time.Duration(p+1) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
		}
	}
	brPrintf("FLOODED %d %.1f", packets, time.Since(start).Seconds())
	return 0
}

// brSpoofRate is the packet rate of TestBrowseSpoofFlood's spoofer:
// 100,000 instances in 10 s, short enough for CI. LANSD_SPOOF_RATE and
// LANSD_SPOOF_SECS change it (issue 12's figure is 50,000 packets/s for
// 20 s, the instances sent again in turn).
const brSpoofRate = 10000

// spoofCase is one cache bound TestBrowseSpoofFlood runs lansd browse
// with, and its documented figures (README, "Reliability").
type spoofCase struct {
	name string
	args []string // extra lansd browse arguments
	// rssCeiling is the ceiling of lansd browse's resident memory under the
	// flood (kB); fakeAdds the fake instances the spoofer's share holds
	// (its records / 4).
	rssCeiling int
	fakeAdds   int
	// cpuBound is the CPU share of a core lansd browse may use under the
	// flood at brSpoofRate, scaled with the rate when it differs. At the
	// 10,000-record bound it measures 11-12 % at 10,000 packets/s and 32 %
	// at 50,000; at the default bound 21-24 % at 10,000/s. The bounds leave
	// room for a loaded machine.
	cpuBound float64
}

var spoofCases = []spoofCase{
	// The default bound (100,000 records: a link of 10,000 instances fits):
	// the spoofer holds half, 50,000 records; peak measured 120-129 MB.
	{name: "default", rssCeiling: 160 << 10, fakeAdds: 12500, cpuBound: 0.40},
	// --max-records 10000, the bound before 10,000-instance links were
	// supported: the spoofer holds 5,000 records; peak 22-25 MB.
	{name: "max-records-10000", args: []string{"--max-records", "10000"}, rssCeiling: 32 << 10, fakeAdds: 1250, cpuBound: 0.25},
}

// TestBrowseSpoofFlood (issue 12): one host floods the link with 100,000
// fake _timezone._tcp instances while an honest host announces one. lansd
// browse finds the honest instance as fast as on a quiet link, never
// removes it, keeps the spoofer to its share, and its memory stays under
// the case's ceiling.
func TestBrowseSpoofFlood(t *testing.T) {
	for _, c := range spoofCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			spoofFlood(t, c)
		})
	}
}

func spoofFlood(t *testing.T, c spoofCase) {
	lan := lantest.New(t, lantest.Hosts(3))
	ctx := lantest.Context(t, 120*time.Second)
	victim, spoofer, honest := lan.Host(1), lan.Host(2), lan.Host(3)
	br := clitest.Start(t, victim, append([]string{"browse", "timezone", "--json", "-v"}, c.args...)...)
	time.Sleep(1500 * time.Millisecond) // started, and its first queries went out
	rssBefore := annVmRSS(t, br.Pid())

	// Sample the browser's memory while the flood runs.
	var mu sync.Mutex
	peak := rssBefore
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if br.Exited() {
				return
			}
			r := annVmRSS(t, br.Pid())
			mu.Lock()
			peak = max(peak, r)
			mu.Unlock()
		}
	}()

	const count = 100000
	rate := envInt(t, "LANSD_SPOOF_RATE", brSpoofRate)
	secs := envInt(t, "LANSD_SPOOF_SECS", max(1, count/max(rate, 1)))
	fl := spoofer.Helper(t, "browse-spoof-flood", fmt.Sprintf("S_COUNT=%d", count), fmt.Sprintf("S_RATE=%d", rate),
		fmt.Sprintf("S_PACKETS=%d", rate*secs))
	brReady(t, ctx, fl)
	cpuBefore, floodStart := annCPUTicks(t, br.Pid()), time.Now()
	time.Sleep(3 * time.Second) // the flood is on, and the spoofer holds its share
	announced := time.Now()
	ann, _ := annStart(t, ctx, honest, annArgs()...)
	add, err := clitest.WaitEvent(ctx, br, "add", annName, nil)
	require.NoError(t, err, "%q", br.Lines())
	found := add.Time.Sub(announced)
	if add.Time.IsZero() {
		found = time.Since(announced)
	}
	line, err := fl.WaitFor(ctx, regexp.MustCompile(`^(FLOODED|FATAL)`))
	require.NoError(t, err)
	cpu := float64(annCPUTicks(t, br.Pid())-cpuBefore) / 100 / time.Since(floodStart).Seconds()
	load, _ := os.ReadFile("/proc/loadavg")
	time.Sleep(2 * time.Second)
	close(stop)
	<-sampled
	rssAfter, drops := annVmRSS(t, br.Pid()), udpDrops(t, br.Pid())
	require.False(t, br.Exited(), "%q", br.Lines())
	require.NoError(t, br.Signal(os.Interrupt))
	_ = br.Wait(ctx)
	_ = ann

	evs := clitest.Events(t, br.Lines())
	var adds, removes, honestEvs int
	for _, ev := range evs {
		if ev.Instance == annName {
			honestEvs++
			assert.NotEqual(t, "remove", ev.Event, "the honest instance is never removed")
			continue
		}
		switch ev.Event {
		case "add":
			adds++
		case "remove":
			removes++
		}
	}
	var stats string
	for _, l := range br.Lines() {
		if regexp.MustCompile(`browse: stats`).MatchString(l) {
			stats = l
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var sent int
	var took float64
	_, err = fmt.Sscanf(line, "FLOODED %d %f", &sent, &took)
	require.NoError(t, err, line)
	t.Logf("%d packets in %.1f s (%.0f/s); browser CPU %.1f %% of a core over the flood; load average %s",
		sent, took, float64(sent)/took, 100*cpu, strings.TrimSpace(string(load)))
	t.Logf("honest instance found %v after lansd announce started; fake adds %d, removes %d; VmRSS %d kB before, %d kB peak, %d kB after; datagrams the kernel dropped at the browser's sockets: %d",
		found, adds, removes, rssBefore, peak, rssAfter, drops)
	t.Logf("last stats: %s", stats)
	assert.Equal(t, 1, honestEvs, "one add for the honest instance")
	assert.Less(t, found, 3*time.Second, "found within the normal time")
	assert.Zero(t, removes, "no fake instance flaps either")
	assert.LessOrEqual(t, adds, c.fakeAdds, "the spoofer holds no more than its share")
	assert.Less(t, peak, c.rssCeiling, "VmRSS peak under the ceiling (kB)")
	assert.Less(t, cpu, c.cpuBound*float64(rate)/brSpoofRate, "browser CPU share of a core, in proportion to the rate")
}
