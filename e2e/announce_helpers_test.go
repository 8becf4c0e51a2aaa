package e2e

// Helpers of the announce end-to-end tests: processes registered with
// lantest.RegisterHelper (they run inside a host namespace, after the
// guard), and functions that read what the observer captured.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/txt"
)

func init() {
	lantest.RegisterHelper("announce-query", helperAnnounceQuery)
	lantest.RegisterHelper("announce-flood", helperAnnounceFlood)
	lantest.RegisterHelper("announce-inproc", helperAnnounceInproc)
}

// helperAnnounceQuery sends the DNS messages in Q_HEX (comma-separated hex,
// packed by the test with miekg/dns) from a UDP socket bound to port
// Q_SRC_PORT (0: an ephemeral port) to Q_DST, Q_GAP apart, and prints every
// datagram that comes back within Q_WAIT as "REPLY src hex".
func helperAnnounceQuery() int {
	lantest.MustBeGuarded()
	dst, err := net.ResolveUDPAddr("udp", os.Getenv("Q_DST"))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	network := "udp4"
	if dst.IP.To4() == nil {
		network = "udp6"
	}
	port, _ := strconv.Atoi(os.Getenv("Q_SRC_PORT"))
	c, err := net.ListenUDP(network, &net.UDPAddr{Port: port})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	defer c.Close()
	wait, err := time.ParseDuration(os.Getenv("Q_WAIT"))
	if err != nil {
		wait = 2 * time.Second
	}
	gap, _ := time.ParseDuration(os.Getenv("Q_GAP"))
	var msgs [][]byte
	for _, h := range strings.Split(os.Getenv("Q_HEX"), ",") {
		b, err := hex.DecodeString(h)
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		msgs = append(msgs, b)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 9000)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			src := netip.AddrPortFrom(from.Addr().Unmap().WithZone(""), from.Port())
			fmt.Println("REPLY", src, hex.EncodeToString(buf[:n]))
		}
	}()
	for i, b := range msgs {
		if i > 0 && gap > 0 {
			time.Sleep(gap)
		}
		if _, err := c.WriteToUDP(b, dst); err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		fmt.Println("SENT", i, c.LocalAddr())
	}
	time.Sleep(wait)
	c.Close()
	<-done
	fmt.Println("DONE")
	return 0
}

// Categories of packets the flood helper sends.
const (
	annFloodRandom    = iota // random bytes of random length
	annFloodShort            // shorter than the 12-byte header, or a header alone with counts
	annFloodLoop             // a name that is a compression pointer loop
	annFloodCounts           // a valid message whose header counts run past its end
	annFloodTruncated        // a valid message cut short
	annFloodHostile          // valid queries that make the responder work: many questions, known answers, TC
	annFloodKinds
)

// helperAnnounceFlood sends F_COUNT packets to F_DST (host:port), cycling
// through the categories above, from an ephemeral port and from port 5353,
// pausing a little every few packets so that the receiver's socket buffer
// is not simply overrun. It prints "FLOODED n malformed m valid".
func helperAnnounceFlood() int {
	lantest.MustBeGuarded()
	dst, err := net.ResolveUDPAddr("udp4", os.Getenv("F_DST"))
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	count, err := strconv.Atoi(os.Getenv("F_COUNT"))
	if err != nil || count <= 0 {
		fmt.Println("ERR bad F_COUNT", os.Getenv("F_COUNT"))
		return 1
	}
	eph, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	mdnsPort, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 5353})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	// Drain whatever comes back so the helper's buffers stay small.
	for _, c := range []*net.UDPConn{eph, mdnsPort} {
		go func() {
			buf := make([]byte, 9000)
			for {
				if _, _, err := c.ReadFromUDP(buf); err != nil {
					return
				}
			}
		}()
	}
	target := os.Getenv("F_NAME") // a name of the responder's, for the hostile queries
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 42))
	malformed, valid := 0, 0
	for i := range count {
		kind := i % annFloodKinds
		b := annFloodPacket(rng, kind, target)
		// Every kind is sent from both ports: port 5353 (mDNS queries and
		// responses) and an ephemeral one (legacy queries, RFC 6762
		// section 6.7).
		c := eph
		if (i/annFloodKinds)%2 == 1 {
			c = mdnsPort
		}
		if _, err := c.WriteToUDP(b, dst); err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		if kind == annFloodHostile {
			valid++
		} else {
			malformed++
		}
		if i%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Println("FLOODED", malformed, "malformed", valid, "valid")
	return 0
}

// annFloodPacket returns one packet of the given kind. Malformed packets start
// from a message packed by miekg/dns and are then damaged on purpose.
func annFloodPacket(rng *rand.Rand, kind int, target string) []byte {
	base := func() []byte {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(fmt.Sprintf("x%d.local.", rng.IntN(1000))), dns.TypeA)
		m.Id = uint16(rng.IntN(65536))
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "k.local.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 120}, A: net.IPv4(198, 51, 100, 99)})
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		return b
	}
	switch kind {
	case annFloodRandom:
		b := make([]byte, rng.IntN(600))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	case annFloodShort:
		b := base()
		if rng.IntN(2) == 0 {
			return b[:rng.IntN(12)]
		}
		h := b[:12]
		h[5], h[7], h[9], h[11] = 0xff, 0xff, 0xff, 0xff // counts with no records
		return h
	case annFloodLoop:
		b := base()
		// The question name (offset 12) becomes a pointer to itself, or two
		// pointers to each other.
		if rng.IntN(2) == 0 {
			b[12], b[13] = 0xc0, 12
		} else {
			b[12], b[13], b[14], b[15] = 0xc0, 14, 0xc0, 12
		}
		return b
	case annFloodCounts:
		b := base()
		b[4], b[5] = 0xff, byte(rng.IntN(256)) // QDCOUNT far past the end
		b[6], b[7] = 0x7f, 0xff                // ANCOUNT
		return b
	case annFloodTruncated:
		b := base()
		return b[:12+rng.IntN(len(b)-12)]
	default:
		m := new(dns.Msg)
		m.Id = 0
		switch rng.IntN(4) {
		case 0: // many questions, most for names that do not exist
			for j := range 100 {
				name := fmt.Sprintf("q%d-%d.local.", j, rng.IntN(1<<20))
				if j%10 == 0 && target != "" {
					name = target
				}
				m.Question = append(m.Question, dns.Question{Name: name, Qtype: dns.TypeANY, Qclass: dns.ClassINET})
			}
		case 1: // a truncated query with known answers: the responder waits for more
			m.SetQuestion("_timezone._tcp.local.", dns.TypePTR)
			m.Truncated = true
			for j := range 50 {
				m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: "_timezone._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500},
					Ptr: fmt.Sprintf("i%d-%d._timezone._tcp.local.", j, rng.IntN(1<<20))})
			}
		case 2: // a response full of records for other names, and goodbyes
			m.Response = true
			m.Authoritative = true
			for j := range 60 {
				ttl := uint32(120)
				if j%3 == 0 {
					ttl = 0
				}
				m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: "_timezone._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl},
					Ptr: fmt.Sprintf("r%d-%d._timezone._tcp.local.", j, rng.IntN(1<<20))})
			}
		default: // a probe for a random name
			name := fmt.Sprintf("p%d.local.", rng.IntN(1<<20))
			m.Question = []dns.Question{{Name: name, Qtype: dns.TypeANY, Qclass: dns.ClassINET | 1<<15}}
			m.Ns = append(m.Ns, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 120}, A: net.IPv4(198, 51, 100, byte(rng.IntN(256)))})
		}
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		return b
	}
}

// helperAnnounceInproc runs the responder in-process (announce.New) on lan0
// with two services, Alpha and Beta, prints "READY {json names}", then
// obeys commands on stdin: "UPDATE key=value ..." (Alpha's TXT),
// "REMOVE" (Alpha), "CLOSE".
func helperAnnounceInproc() int {
	lantest.MustBeGuarded()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := announce.New(ctx, announce.Options{Interfaces: []string{lantest.Iface}})
	if err != nil {
		fmt.Println("FATAL", err)
		return 1
	}
	defer r.Close()
	add := func(name, path string) *announce.Handle {
		rec, err := txt.ParseArgs([]string{"path=" + path})
		if err != nil {
			fmt.Println("FATAL", err)
			os.Exit(1)
		}
		h, err := r.Add(ctx, announce.Service{Instance: name, Type: "_timezone._tcp", Port: 8080, TXT: rec})
		if err != nil {
			fmt.Println("FATAL", err)
			os.Exit(1)
		}
		return h
	}
	alpha, beta := add("Alpha", "/a"), add("Beta", "/b")
	ready, _ := json.Marshal(map[string]string{"alpha": alpha.Name(), "beta": beta.Name(), "host": r.HostName()})
	fmt.Println("READY", string(ready))
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, rest, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "UPDATE":
			rec, err := txt.ParseArgs(strings.Fields(rest))
			if err == nil {
				err = alpha.UpdateTXT(ctx, rec)
			}
			fmt.Println("UPDATED", err)
		case "REMOVE":
			fmt.Println("REMOVED", alpha.Remove(ctx))
		case "CLOSE":
			fmt.Println("CLOSED", r.Close())
			return 0
		}
	}
	return 0
}

// Default service of the tests.
const (
	annName     = "Office TZ"
	annType     = "_timezone._tcp.local."
	annInstance = annName + "." + annType
)

// annArgs are the lansd arguments announcing annName.
func annArgs(extra ...string) []string {
	return append([]string{"announce", "--service", "timezone", "--name", annName, "--port", "8080", "--txt", "path=/tz"}, extra...)
}

var annAnnouncedRE = regexp.MustCompile(`^announced "`)

// annStart starts lansd announce in h and waits for its announced
// line, which it returns.
func annStart(t *testing.T, ctx context.Context, h *lantest.Host, args ...string) (*lantest.Proc, string) {
	t.Helper()
	p := clitest.Start(t, h, args...)
	annCapture(t, p)
	line, err := p.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", p.Lines())
	return p, line
}

// annOutput returns what lansd announce printed on p's stdout, without
// the log lines (slog's "time=...") that share the captured output.
func annOutput(p *lantest.Proc) []string {
	var out []string
	for _, l := range p.Lines() {
		if !strings.HasPrefix(l, "time=") {
			out = append(out, l)
		}
	}
	return out
}

// annCapture writes p's output to $LANSD_E2E_CAPTURE/<test name>-<pid>.txt at
// the end of the test, when that variable names a directory: real output
// for the README.
func annCapture(t *testing.T, p *lantest.Proc) {
	dir := os.Getenv("LANSD_E2E_CAPTURE")
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.txt", name, p.Pid()))
		if err := os.WriteFile(path, []byte(strings.Join(p.Lines(), "\n")+"\n"), 0o644); err != nil {
			t.Logf("capture: %v", err)
		}
	})
}

// annFromHost reports whether c was sent by h (either of its addresses).
func annFromHost(c lantest.Captured, h *lantest.Host) bool {
	a := c.Src.Addr()
	return (h.IPv4.IsValid() && a == h.IPv4) || (h.LinkLocal.IsValid() && a == h.LinkLocal)
}

// annIsV4 reports whether c travelled over IPv4.
func annIsV4(c lantest.Captured) bool { return c.Src.Addr().Is4() }

// annIsProbe reports whether c is a probe (a query with an Authority section)
// asking type ANY for name.
func annIsProbe(c lantest.Captured, name string) bool {
	if c.Msg == nil || c.Msg.Response || len(c.Msg.Ns) == 0 {
		return false
	}
	for _, q := range c.Msg.Question {
		if q.Qtype == dns.TypeANY && dnsname.Equal(q.Name, name) {
			return true
		}
	}
	return false
}

// annRecords returns the Answer and Additional records of a captured message.
func annRecords(c lantest.Captured) []dns.RR {
	if c.Msg == nil {
		return nil
	}
	return append(append([]dns.RR(nil), c.Msg.Answer...), c.Msg.Extra...)
}

// annHasAnswer reports whether c is a response whose Answer section holds a
// record of type t for name (t 0: any type).
func annHasAnswer(c lantest.Captured, name string, t uint16) bool {
	if c.Msg == nil || !c.Msg.Response {
		return false
	}
	for _, rr := range c.Msg.Answer {
		if dnsname.Equal(rr.Header().Name, name) && (t == 0 || rr.Header().Rrtype == t) {
			return true
		}
	}
	return false
}

// annAnswerRR returns the first Answer record of type t for name, or nil.
func annAnswerRR(c lantest.Captured, name string, t uint16) dns.RR {
	if c.Msg == nil {
		return nil
	}
	for _, rr := range c.Msg.Answer {
		if dnsname.Equal(rr.Header().Name, name) && rr.Header().Rrtype == t {
			return rr
		}
	}
	return nil
}

// annHasPTR reports whether c carries (in any section) a PTR record for
// owner pointing to target.
func annHasPTR(c lantest.Captured, owner, target string) bool {
	for _, rr := range annRecords(c) {
		if p, ok := rr.(*dns.PTR); ok && dnsname.Equal(p.Hdr.Name, owner) && dnsname.Equal(p.Ptr, target) {
			return true
		}
	}
	return false
}

// annFilter returns the captured packets for which all match.
func annFilter(pkts []lantest.Captured, match ...func(lantest.Captured) bool) []lantest.Captured {
	var out []lantest.Captured
next:
	for _, c := range pkts {
		for _, m := range match {
			if !m(c) {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

// annPackHex packs m with miekg/dns and returns it as hex for a helper.
func annPackHex(t *testing.T, m *dns.Msg) string {
	t.Helper()
	b, err := m.Pack()
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// annReply is one datagram a query helper received.
type annReply struct {
	From netip.AddrPort
	Msg  *dns.Msg
}

// annRunQuery runs the query helper in h and returns what came back.
func annRunQuery(t *testing.T, ctx context.Context, h *lantest.Host, dst string, srcPort int, wait time.Duration, msgs ...*dns.Msg) []annReply {
	t.Helper()
	var hexes []string
	for _, m := range msgs {
		hexes = append(hexes, annPackHex(t, m))
	}
	p := h.Helper(t, "announce-query", "Q_DST="+dst, "Q_SRC_PORT="+strconv.Itoa(srcPort),
		"Q_WAIT="+wait.String(), "Q_HEX="+strings.Join(hexes, ","))
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	var out []annReply
	for _, l := range p.Lines() {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "REPLY" {
			continue
		}
		from, err := netip.ParseAddrPort(f[1])
		require.NoError(t, err)
		b, err := hex.DecodeString(f[2])
		require.NoError(t, err)
		m := new(dns.Msg)
		require.NoError(t, m.Unpack(b), "reply from %s", from)
		out = append(out, annReply{From: from, Msg: m})
	}
	return out
}

// annQuery returns an mDNS query (ID 0) with one question, with the
// unicast-response bit when qu (RFC 6762 section 5.4).
func annQuery(name string, qtype uint16, qu bool) *dns.Msg {
	m := new(dns.Msg)
	m.Id = 0
	cls := uint16(dns.ClassINET)
	if qu {
		cls |= 1 << 15
	}
	m.Question = []dns.Question{{Name: dns.Fqdn(name), Qtype: qtype, Qclass: cls}}
	return m
}

// annVmRSS reads the resident set size of pid in kB from /proc.
func annVmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest)
			require.NotEmpty(t, f)
			kb, err := strconv.Atoi(f[0])
			require.NoError(t, err)
			return kb
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// annComm returns the command name of pid.
func annComm(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// annCPUTicks returns pid's user and system CPU time in clock ticks
// (/proc/PID/stat fields 14 and 15; 100 a second on Linux).
func annCPUTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // field 3 onwards
	ut, err := strconv.Atoi(f[11])
	require.NoError(t, err)
	st, err := strconv.Atoi(f[12])
	require.NoError(t, err)
	return ut + st
}

// envInt returns the integer in the environment variable name, or def when
// it is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// udpDrops sums the drop counters of the UDP sockets bound to port 5353 in
// pid's network namespace (/proc/PID/net/udp, the last field), whoever owns
// them.
func udpDrops(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid))
	require.NoError(t, err)
	drops := 0
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 13 || !strings.HasSuffix(f[1], ":14E9") {
			continue
		}
		n, err := strconv.Atoi(f[len(f)-1])
		require.NoError(t, err, l)
		drops += n
	}
	return drops
}
