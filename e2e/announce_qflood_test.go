//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/ipv4"

	"github.com/lansd/lansd/internal/lantest"
)

func init() {
	lantest.RegisterHelper("announce-qflood", helperAnnounceQFlood)
}

// helperAnnounceQFlood multicasts the QM query Q_NAME PTR from port 5353
// at Q_RATE queries a second (0: as fast as it can) for Q_SECS seconds,
// and counts the responses from Q_FROM (an IPv4 address) it hears on the
// group meanwhile and for a second after. It prints "QFLOODED sent N
// responses M".
func helperAnnounceQFlood() int {
	lantest.MustBeGuarded()
	secs, err := strconv.Atoi(os.Getenv("Q_SECS"))
	if err != nil || secs <= 0 {
		fmt.Println("ERR bad Q_SECS")
		return 1
	}
	rate, err := strconv.Atoi(os.Getenv("Q_RATE"))
	if err != nil || rate < 0 {
		fmt.Println("ERR bad Q_RATE")
		return 1
	}
	from := net.ParseIP(os.Getenv("Q_FROM"))
	lis, snd, err := groupSockets()
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	var responses int
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 9000)
		for {
			n, src, err := lis.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if n > 2 && buf[2]&0x80 != 0 && src.IP.Equal(from) {
				mu.Lock()
				responses++
				mu.Unlock()
			}
		}
	}()
	q := new(dns.Msg)
	q.Question = []dns.Question{{Name: os.Getenv("Q_NAME"), Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	b, err := q.Pack()
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Println("READY")
	sent := 0
	start := time.Now()
	end := start.Add(time.Duration(secs) * time.Second)
	for now := start; now.Before(end); now = time.Now() {
		if rate > 0 {
			// Paced one datagram at a time, spinning (a sleep is far
			// coarser than 1/60,000 s), so that they arrive evenly
			// spread rather than in bursts the reader could batch.
			if due := start.Add(time.Duration(sent) * time.Second / time.Duration(rate)); now.Before(due) {
				continue
			}
		}
		if _, err := snd.WriteToUDP(b, mdnsGroup4); err == nil {
			sent++
		}
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	fmt.Println("QFLOODED sent", sent, "responses", responses)
	return 0
}

// annQFloodCPUBound is the CPU share of a core lansd announce may use
// under the query flood of TestAnnounceQueryFlood: issue 12's goal. It
// measures 6-10 % at 60,000 queries/s (README, Reliability), so the bound
// leaves room for a loaded machine.
const annQFloodCPUBound = 0.30

// annQFloodRate is the query rate of TestAnnounceQueryFlood, the figure of
// issue 12; LANSD_QFLOOD_RATE changes it (0: as fast as the sender can).
const annQFloodRate = 60000

// TestAnnounceQueryFlood (issue 12): a host multicasts QM queries for the
// PTR of a 10-service lansd announce at 60,000 a second for 10 s. The
// responder answers once a second (RFC 6762 section 6.2), drops the rest
// on their bytes (announce's query fast path), at a fraction of a core and
// with flat memory.
func TestAnnounceQueryFlood(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 90*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	var svcs []string
	for i := range 10 {
		svcs = append(svcs, fmt.Sprintf(`{"name": "TZ %d", "service": "timezone", "port": %d, "txt": {"path": "/tz"}}`, i, 8080+i))
	}
	cfg := filepath.Join(t.TempDir(), "services.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"services": [`+strings.Join(svcs, ",\n")+`]}`), 0o600))
	p, _ := annStart(t, ctx, h1, "announce", "--config", cfg, "--ipv4-only")
	_, err := p.WaitForN(ctx, annAnnouncedRE, 10)
	require.NoError(t, err, "%q", p.Lines())
	time.Sleep(4 * time.Second) // the announcements are over

	const secs = 10
	rate := envInt(t, "LANSD_QFLOOD_RATE", annQFloodRate)
	t.Logf("lansd pid %d", p.Pid())
	rssBefore, cpuBefore := annVmRSS(t, p.Pid()), annCPUTicks(t, p.Pid())
	peak := rssBefore
	fl := h2.Helper(t, "announce-qflood", fmt.Sprintf("Q_SECS=%d", secs), fmt.Sprintf("Q_RATE=%d", rate), "Q_NAME=_timezone._tcp.local.", "Q_FROM="+h1.IPv4.String())
	_, err = fl.WaitFor(ctx, regexp.MustCompile(`^(READY|ERR)`))
	require.NoError(t, err)
	start := time.Now()
	for time.Since(start) < secs*time.Second {
		time.Sleep(200 * time.Millisecond)
		peak = max(peak, annVmRSS(t, p.Pid()))
	}
	cpuAfter, wall := annCPUTicks(t, p.Pid()), time.Since(start)
	line, err := fl.WaitFor(ctx, regexp.MustCompile(`^(QFLOODED|ERR)`))
	require.NoError(t, err, "%q", fl.Lines())
	rssAfter := annVmRSS(t, p.Pid())
	var sent, responses int
	_, err = fmt.Sscanf(line, "QFLOODED sent %d responses %d", &sent, &responses)
	require.NoError(t, err, line)
	cpu := float64(cpuAfter-cpuBefore) / 100 / wall.Seconds()
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("load average %s; datagrams the kernel dropped at lansd's port 5353 sockets (buffer full): %d",
		strings.TrimSpace(string(load)), udpDrops(t, p.Pid()))
	t.Logf("sent %d queries in %d s (%.0f/s); %d response packets; CPU %.1f %% of a core; VmRSS %d kB -> %d kB peak -> %d kB",
		sent, secs, float64(sent)/secs, responses, 100*cpu, rssBefore, peak, rssAfter)
	require.False(t, p.Exited(), "%q", p.Lines())
	if rate > 0 {
		assert.Greater(t, sent, rate*secs*9/10, "the flood reached its rate")
	} else {
		assert.Greater(t, sent, 20000*secs, "the flood reached a useful rate")
	}
	assert.Less(t, cpu, annQFloodCPUBound, "CPU share of a core")
	assert.Less(t, peak-rssBefore, 2*1024, "memory stays flat (kB)")
	// One response a second at most (section 6.2), each perhaps split over
	// two packets; and at least a few: it keeps answering.
	assert.LessOrEqual(t, responses, 2*(secs+2), "the rate limit holds")
	assert.GreaterOrEqual(t, responses, secs/2, "it keeps answering, once a second")
}

// mdnsGroup4 is the IPv4 mDNS group and port.
var mdnsGroup4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// groupSockets opens what the flooding helpers use on lantest.Iface: a
// listener on the IPv4 mDNS group, and a sender bound to port 5353 (with
// SO_REUSEADDR) whose multicasts leave on that interface with TTL 255 and
// do not loop back.
func groupSockets() (lis, snd *net.UDPConn, err error) {
	ifi, err := net.InterfaceByName(lantest.Iface)
	if err != nil {
		return nil, nil, err
	}
	lis, err = net.ListenMulticastUDP("udp4", ifi, mdnsGroup4)
	if err != nil {
		return nil, nil, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", ":5353")
	if err != nil {
		lis.Close()
		return nil, nil, err
	}
	snd = pc.(*net.UDPConn)
	p := ipv4.NewPacketConn(snd)
	_ = p.SetMulticastInterface(ifi)
	_ = p.SetMulticastLoopback(false)
	_ = p.SetMulticastTTL(255)
	return lis, snd, nil
}
