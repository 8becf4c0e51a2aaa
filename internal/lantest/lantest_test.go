package lantest_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
)

// Helpers run inside host namespaces (after the guard); see RegisterHelper.
func init() {
	lantest.RegisterHelper("whoami", helperWhoami)
	lantest.RegisterHelper("udp-echo", helperUDPEcho)
	lantest.RegisterHelper("udp-ping", helperUDPPing)
	lantest.RegisterHelper("dns-send", helperDNSSend)
	lantest.RegisterHelper("mcast-recv", helperMcastRecv)
}

// helperWhoami reports host name, namespace and a fresh Guard result.
func helperWhoami() int {
	hn, err := os.Hostname()
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	ns, _ := lantest.InNamespace()
	fmt.Println("HOSTNAME", hn)
	fmt.Println("NS", ns)
	fmt.Println("GUARD", lantest.Guard(ns))
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LANTEST_") {
			fmt.Println("LEAKED", kv)
		}
	}
	return 0
}

// helperUDPEcho echoes datagrams on ECHO_ADDR.
func helperUDPEcho() int {
	lantest.MustBeGuarded()
	c, err := net.ListenPacket("udp", os.Getenv("ECHO_ADDR"))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Println("READY", c.LocalAddr())
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		if _, err := c.WriteTo(buf[:n], from); err != nil {
			fmt.Println("ERR", err)
		}
	}
}

// helperUDPPing sends to PING_ADDR until an echo comes back.
func helperUDPPing() int {
	lantest.MustBeGuarded()
	to, err := net.ResolveUDPAddr("udp", os.Getenv("PING_ADDR"))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	c, err := net.ListenUDP("udp", nil)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	buf := make([]byte, 2048)
	var lastErr error
	for i := range 50 {
		msg := "ping " + strconv.Itoa(i)
		if _, err := c.WriteTo([]byte(msg), to); err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		// Read until this ping's echo or the deadline (late echoes of
		// earlier pings are skipped).
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				lastErr = err
				break
			}
			if string(buf[:n]) == msg {
				fmt.Println("PONG", netip.AddrPortFrom(from.AddrPort().Addr().Unmap(), from.AddrPort().Port()))
				return 0
			}
		}
	}
	fmt.Println("NO-ECHO", lastErr)
	return 1
}

// helperDNSSend sends one DNS query per ID in IDS (comma separated) to DST
// (host:port, zone allowed), packed by miekg/dns.
func helperDNSSend() int {
	lantest.MustBeGuarded()
	to, err := net.ResolveUDPAddr("udp", os.Getenv("DST"))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	network := "udp4"
	if to.IP.To4() == nil {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	for _, f := range strings.Split(os.Getenv("IDS"), ",") {
		id, err := strconv.Atoi(f)
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		m := new(dns.Msg)
		m.SetQuestion("lantest-"+f+".local.", dns.TypeA)
		m.Id = uint16(id)
		b, err := m.Pack()
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		if _, err := c.WriteTo(b, to); err != nil {
			fmt.Println("ERR", err)
			return 1
		}
	}
	fmt.Println("SENT", c.LocalAddr())
	return 0
}

// helperMcastRecv joins 224.0.0.251:5353 on lan0 and prints each DNS ID.
func helperMcastRecv() int {
	lantest.MustBeGuarded()
	ifi, err := net.InterfaceByName(lantest.Iface)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	c, err := net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Println("READY")
	buf := make([]byte, 9000)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			fmt.Println("BAD", from, err)
			continue
		}
		fmt.Println("RECV", m.Id, from)
	}
}

func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}

func TestLANCreatedAndRemoved(t *testing.T) {
	lantest.Require(t)
	var names []string
	t.Run("lan", func(t *testing.T) {
		lan := lantest.New(t, lantest.Hosts(3))
		require.Len(t, lan.Hosts, 3)
		names = append(names, lan.Switch)
		for k, h := range lan.Hosts {
			names = append(names, h.NS)
			assert.Equal(t, "h"+strconv.Itoa(k+1), h.Name)
			assert.Equal(t, "lan0", h.Iface)
			assert.Equal(t, netip.AddrFrom4([4]byte{198, 51, 100, byte(11 + k)}), h.IPv4)
			assert.Equal(t, netip.MustParseAddr(fmt.Sprintf("fe80::%d", k+1)), h.LinkLocal)
			assert.Same(t, h, lan.Host(k+1))
		}
		for _, n := range names {
			assert.True(t, nsExists(n), "namespace %s should exist", n)
			assert.Regexp(t, `^lansd-`+strconv.Itoa(os.Getpid())+`-[0-9]+-(sw|h[0-9])$`, n)
		}
		own, err := lantest.Namespaces()
		require.NoError(t, err)
		assert.Subset(t, own, names)

		out, err := exec.Command("ip", "-n", lan.Hosts[1].NS, "-br", "addr", "show", "dev", "lan0").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "198.51.100.12/24")
		assert.Contains(t, string(out), "fe80::2/64")
		out, err = exec.Command("ip", "-n", lan.Hosts[1].NS, "route", "show", "224.0.0.0/4").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "dev lan0")
		out, err = exec.Command("ip", "-n", lan.Switch, "-d", "link", "show", "dev", "br0").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "mcast_snooping 0")
		assert.Contains(t, string(out), "stp_state 0")
		// A process left running must not keep the namespace alive.
		lan.Hosts[0].Start(t, "sleep", "1000")
	})
	require.Len(t, names, 4)
	for _, n := range names {
		assert.False(t, nsExists(n), "namespace %s left behind", n)
	}
	own, err := lantest.Namespaces()
	require.NoError(t, err)
	for _, n := range names {
		assert.NotContains(t, own, n)
	}
}

func TestAddressFamilyOptions(t *testing.T) {
	t.Run("ipv6-only", func(t *testing.T) {
		lan := lantest.New(t, lantest.Hosts(1), lantest.IPv4(false))
		h := lan.Hosts[0]
		assert.False(t, h.IPv4.IsValid())
		assert.True(t, h.LinkLocal.IsValid())
		out, err := exec.Command("ip", "-n", h.NS, "addr", "show", "dev", "lan0").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.NotContains(t, string(out), "inet ")
		assert.Contains(t, string(out), "inet6 fe80::1/64")
	})
	t.Run("ipv4-only", func(t *testing.T) {
		lan := lantest.New(t, lantest.Hosts(1), lantest.IPv6(false))
		h := lan.Hosts[0]
		assert.True(t, h.IPv4.IsValid())
		assert.False(t, h.LinkLocal.IsValid())
		out, err := exec.Command("ip", "-n", h.NS, "addr", "show", "dev", "lan0").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "inet 198.51.100.11/24")
		assert.NotContains(t, string(out), "inet6")
	})
}

func TestGuardFailsInTestProcess(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	for _, ns := range []string{lan.Hosts[0].NS, lan.Switch} {
		err := lantest.Guard(ns)
		require.Error(t, err, "the test process is not inside %s", ns)
		assert.ErrorIs(t, err, lantest.ErrNotInNamespace)
	}
	for _, ns := range []string{"", "lansd-1-1-h9", "../../proc/self/ns/net", "default"} {
		err := lantest.Guard(ns)
		assert.ErrorIs(t, err, lantest.ErrNotInNamespace, "Guard(%q)", ns)
	}
	_, ok := lantest.InNamespace()
	assert.False(t, ok, "the test process is not a guarded child")
}

func TestHelperGuardAndHostname(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 30*time.Second)
	machine, err := os.Hostname()
	require.NoError(t, err)
	for _, h := range lan.Hosts {
		p := h.Helper(t, "whoami")
		require.NoError(t, p.Wait(ctx), "%q", p.Lines())
		lines := strings.Join(p.Lines(), "\n")
		assert.Contains(t, lines, "HOSTNAME "+h.Name)
		assert.Contains(t, lines, "NS "+h.NS)
		assert.Contains(t, lines, "GUARD <nil>")
		assert.NotContains(t, lines, "LEAKED")
	}
	after, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, machine, after, "the machine's host name must not change")
}

func TestCommandRunsGuardedProgram(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 30*time.Second)
	h := lan.Hosts[1]

	out, err := h.Command(ctx, "hostname").Output()
	require.NoError(t, err)
	assert.Equal(t, "h2", strings.TrimSpace(string(out)))

	p := h.Start(t, "ip", "-br", "link")
	require.NoError(t, p.Wait(ctx))
	links := strings.Join(p.Lines(), "\n")
	assert.Contains(t, links, "lan0@")
	assert.NotContains(t, links, "eth0")

	p = h.Start(t, "sh", "-c", "echo out; echo err >&2; exit 3")
	err = p.Wait(ctx)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 3, p.ExitCode())
	assert.ElementsMatch(t, []string{"out", "err"}, p.Lines())

	missing := h.Start(t, "lantest-no-such-program")
	assert.Error(t, missing.Wait(ctx))
	assert.Equal(t, 127, missing.ExitCode())
}

func TestUnregisteredHelperDoesNotRunTests(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	p := lan.Hosts[0].Helper(t, "no-such-helper")
	require.Error(t, p.Wait(lantest.Context(t, 30*time.Second)))
	assert.Equal(t, 2, p.ExitCode())
	assert.Contains(t, strings.Join(p.Lines(), "\n"), "lantest.helper.not.registered")
	assert.NotContains(t, strings.Join(p.Lines(), "\n"), "PASS")
}

func TestSignalAndWaitFor(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	ctx := lantest.Context(t, 30*time.Second)
	p := lan.Hosts[0].Start(t, "sh", "-c", `trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	_, err := p.WaitFor(ctx, regexp.MustCompile(`^ready$`))
	require.NoError(t, err)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	line, err := p.WaitFor(ctx, regexp.MustCompile(`^got-`))
	require.NoError(t, err)
	assert.Equal(t, "got-term", line)
	require.NoError(t, p.Wait(ctx))

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = p.WaitFor(short, regexp.MustCompile(`never`))
	assert.Error(t, err, "an exited process cannot produce the line")
}

// WaitLine sees every line once, in order, past lines first, and returns
// the first one match accepts.
func TestWaitLine(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	ctx := lantest.Context(t, 30*time.Second)
	p := lan.Hosts[0].Start(t, "sh", "-c", `echo a; echo b; read x; echo c; echo "$x"; read y`)
	var seen []string
	line, err := p.WaitLine(ctx, func(l string) bool {
		seen = append(seen, l)
		return l == "b"
	})
	require.NoError(t, err)
	assert.Equal(t, "b", line)
	assert.Equal(t, []string{"a", "b"}, seen)

	// A later line: the past ones are looked at once each, then new ones.
	seen = nil
	require.NoError(t, p.WriteLine("d"))
	line, err = p.WaitLine(ctx, func(l string) bool {
		seen = append(seen, l)
		return l == "d"
	})
	require.NoError(t, err)
	assert.Equal(t, "d", line)
	assert.Equal(t, []string{"a", "b", "c", "d"}, seen)

	// No such line: ctx ends.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = p.WaitLine(short, func(string) bool { return false })
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// The process exits without it.
	require.NoError(t, p.CloseStdin())
	_, err = p.WaitLine(ctx, func(l string) bool { return l == "never" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exited")
	assert.NoError(t, ctx.Err(), "fails at the exit, not at the deadline")
}

// Context ends at its deadline, and at the latest with the test.
func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("inner", func(t *testing.T) {
		ctx = lantest.Context(t, time.Hour)
		deadline, ok := ctx.Deadline()
		require.True(t, ok)
		assert.WithinDuration(t, time.Now().Add(time.Hour), deadline, time.Minute)
		assert.NoError(t, ctx.Err())
		short := lantest.Context(t, 10*time.Millisecond)
		<-short.Done()
		assert.ErrorIs(t, short.Err(), context.DeadlineExceeded)
	})
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "ended with its test")
}

func TestPingBetweenHosts(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 30*time.Second)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	for _, tc := range []struct{ listen, ping, want string }{
		{h2.IPv4.String() + ":7007", h2.IPv4.String() + ":7007", "PONG 198.51.100.12:7007"},
		{"[" + h2.LinkLocal.String() + "%lan0]:7008", "[" + h2.LinkLocal.String() + "%lan0]:7008", "PONG [fe80::2%lan0]:7008"},
	} {
		echo := h2.Helper(t, "udp-echo", "ECHO_ADDR="+tc.listen)
		_, err := echo.WaitFor(ctx, regexp.MustCompile(`^READY`))
		require.NoError(t, err, "%q", echo.Lines())
		ping := h1.Helper(t, "udp-ping", "PING_ADDR="+tc.ping)
		require.NoError(t, ping.Wait(ctx), "%q", ping.Lines())
		assert.Contains(t, ping.Lines(), tc.want)
	}
}

func idIs(id uint16) func(lantest.Captured) bool {
	return func(c lantest.Captured) bool { return c.Msg != nil && c.Msg.Id == id }
}

func countID(pkts []lantest.Captured, id uint16) int {
	n := 0
	for _, c := range pkts {
		if c.Msg != nil && c.Msg.Id == id {
			n++
		}
	}
	return n
}

func TestObserverSeesEachPacketOnce(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(3))
	ctx := lantest.Context(t, 30*time.Second)
	obs := lan.Observe(t)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]

	for _, tc := range []struct {
		name     string
		from     *lantest.Host
		dst      string
		id, mark uint16
		wantSrc  netip.Addr
		wantDst  netip.AddrPort
	}{
		{"ipv4-multicast", h1, "224.0.0.251:5353", 4242, 4243, h1.IPv4, netip.MustParseAddrPort("224.0.0.251:5353")},
		{"ipv6-multicast", h1, "[ff02::fb%lan0]:5353", 4252, 4253, h1.LinkLocal, netip.MustParseAddrPort("[ff02::fb]:5353")},
		{"ipv4-unicast", h2, h1.IPv4.String() + ":5353", 4262, 4263, h2.IPv4, netip.AddrPortFrom(h1.IPv4, 5353)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.from.Helper(t, "dns-send", "DST="+tc.dst, fmt.Sprintf("IDS=%d,%d", tc.id, tc.mark))
			require.NoError(t, p.Wait(ctx), "%q", p.Lines())
			_, err := obs.WaitFor(ctx, idIs(tc.mark))
			require.NoError(t, err)
			c, err := obs.WaitFor(ctx, idIs(tc.id))
			require.NoError(t, err)
			assert.Equal(t, tc.wantSrc, c.Src.Addr())
			assert.NotZero(t, c.Src.Port())
			assert.Equal(t, tc.wantDst, c.Dst)
			require.Len(t, c.Msg.Question, 1)
			assert.Equal(t, fmt.Sprintf("lantest-%d.local.", tc.id), c.Msg.Question[0].Name)
			assert.Equal(t, len(c.Payload), c.Size)
			assert.Equal(t, "br0", c.Ifname)
			// Sent once, flooded to two other ports: captured once.
			assert.Equal(t, 1, countID(obs.Packets(), tc.id))
		})
	}
	assert.Empty(t, obs.Errors())
}

func TestSetLoss(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 30*time.Second)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	obs := lan.Observe(t)
	recv := h2.Helper(t, "mcast-recv")
	_, err := recv.WaitFor(ctx, regexp.MustCompile(`^READY`))
	require.NoError(t, err, "%q", recv.Lines())

	send := func(first, n int, mark int) {
		ids := make([]string, 0, n+1)
		for i := range n {
			ids = append(ids, strconv.Itoa(first+i))
		}
		if mark > 0 {
			ids = append(ids, strconv.Itoa(mark))
		}
		p := h1.Helper(t, "dns-send", "DST=224.0.0.251:5353", "IDS="+strings.Join(ids, ","))
		require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	}
	countRecv := func(first, n int) int {
		got := 0
		for _, l := range recv.Lines() {
			var id int
			if _, err := fmt.Sscanf(l, "RECV %d", &id); err == nil && id >= first && id < first+n {
				got++
			}
		}
		return got
	}

	lan.SetLoss(100)
	send(1000, 20, 0)
	lan.SetLoss(0)
	send(2000, 0, 2999)
	_, err = recv.WaitFor(ctx, regexp.MustCompile(`^RECV 2999 `))
	require.NoError(t, err)
	assert.Equal(t, 0, countRecv(1000, 20), "100%% loss lets nothing through")
	// The observer sits before the drop.
	for i := range 20 {
		assert.Equal(t, 1, countID(obs.Packets(), uint16(1000+i)))
	}

	lan.SetLoss(50)
	send(3000, 200, 0)
	lan.SetLoss(0)
	send(4000, 0, 4999)
	_, err = recv.WaitFor(ctx, regexp.MustCompile(`^RECV 4999 `))
	require.NoError(t, err)
	got := countRecv(3000, 200)
	t.Logf("50%% loss: %d of 200 arrived", got)
	assert.Greater(t, got, 40)
	assert.Less(t, got, 160)
}

func TestCleanupSweepsThisProcessOnly(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	lan.Hosts[0].Start(t, "sleep", "1000")
	own, err := lantest.Namespaces()
	require.NoError(t, err)
	require.Contains(t, own, lan.Switch)
	require.NoError(t, lantest.Cleanup())
	assert.False(t, nsExists(lan.Switch))
	assert.False(t, nsExists(lan.Hosts[0].NS))
	own, err = lantest.Namespaces()
	require.NoError(t, err)
	assert.Empty(t, own)
	// The LAN's own cleanup then finds nothing left to do, without error.
}

// Subnet numbers a LAN's hosts in another /24 of the test range, and the
// hosts reach each other there; a subnet outside the test range is refused
// (checked by its validation, before any namespace exists).
func TestSubnet(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2), lantest.Subnet(netip.MustParsePrefix("198.18.7.0/24")))
	ctx := lantest.Context(t, 30*time.Second)
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	assert.Equal(t, "198.18.7.11", h1.IPv4.String())
	assert.Equal(t, "198.18.7.12", h2.IPv4.String())
	echo := h2.Helper(t, "udp-echo", "ECHO_ADDR=198.18.7.12:7009")
	_, err := echo.WaitFor(ctx, regexp.MustCompile(`^READY`))
	require.NoError(t, err, "%q", echo.Lines())
	ping := h1.Helper(t, "udp-ping", "PING_ADDR=198.18.7.12:7009")
	require.NoError(t, ping.Wait(ctx), "%q", ping.Lines())
	assert.Contains(t, ping.Lines(), "PONG 198.18.7.12:7009")
}
