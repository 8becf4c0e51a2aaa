package mdns_test

// Network tests: every Conn here lives in a helper process inside a lantest
// namespace; the test process itself never opens an mDNS socket.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/internal/mdns"
)

// node is a helper process running a Conn.
type node struct {
	t     *testing.T
	ctx   context.Context
	p     *lantest.Proc
	ready readyInfo
}

var seq atomic.Uint64

func startNode(t *testing.T, h *lantest.Host, env ...string) *node {
	t.Helper()
	ctx := lantest.Context(t, 60*time.Second)
	n := &node{t: t, ctx: ctx, p: h.Helper(t, "mdns-node", env...)}
	line, err := n.p.WaitFor(ctx, regexp.MustCompile(`^(READY|FATAL) `))
	require.NoError(t, err, "%q", n.p.Lines())
	require.True(t, strings.HasPrefix(line, "READY "), line)
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "READY ")), &n.ready))
	return n
}

// send asks the node to send and returns the error text ("" on success).
func (n *node) send(r sendReq) string {
	n.t.Helper()
	b, err := json.Marshal(r)
	require.NoError(n.t, err)
	require.NoError(n.t, n.p.WriteLine("SEND "+string(b)))
	line, err := n.p.WaitFor(n.ctx, regexp.MustCompile(`^SENT \{"id":`+strconv.Itoa(int(r.ID))+`,`))
	require.NoError(n.t, err, "%q", n.p.Lines())
	var res sendResult
	require.NoError(n.t, json.Unmarshal([]byte(strings.TrimPrefix(line, "SENT ")), &res))
	return res.Err
}

func (n *node) mustSend(r sendReq) {
	n.t.Helper()
	require.Empty(n.t, n.send(r), "send %+v", r)
}

func pktRE(id uint16) *regexp.Regexp {
	return regexp.MustCompile(`^PKT \{"id":` + strconv.Itoa(int(id)) + `,`)
}

func decodePkt(t *testing.T, line string) pktInfo {
	t.Helper()
	var pi pktInfo
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "PKT ")), &pi))
	return pi
}

// packets waits for n packets with the given ID.
func (n *node) packets(id uint16, count int) []pktInfo {
	n.t.Helper()
	lines, err := n.p.WaitForN(n.ctx, pktRE(id), count)
	require.NoError(n.t, err, "%q", n.p.Lines())
	out := make([]pktInfo, 0, len(lines))
	for _, l := range lines {
		out = append(out, decodePkt(n.t, l))
	}
	return out
}

func (n *node) count(id uint16) int {
	c := 0
	for _, l := range n.p.Lines() {
		if pktRE(id).MatchString(l) {
			c++
		}
	}
	return c
}

func (n *node) stats() mdns.Stats {
	n.t.Helper()
	s := strconv.FormatUint(seq.Add(1), 10)
	require.NoError(n.t, n.p.WriteLine("STATS "+s))
	line, err := n.p.WaitFor(n.ctx, regexp.MustCompile(`^STATS \{"seq":"`+s+`"`))
	require.NoError(n.t, err)
	var r statsReply
	require.NoError(n.t, json.Unmarshal([]byte(strings.TrimPrefix(line, "STATS ")), &r))
	return r.Stats
}

func (n *node) ifaces() []ifaceInfo {
	n.t.Helper()
	s := strconv.FormatUint(seq.Add(1), 10)
	require.NoError(n.t, n.p.WriteLine("IFACES "+s))
	line, err := n.p.WaitFor(n.ctx, regexp.MustCompile(`^IFACES \{"ifaces":.*"seq":"`+s+`"`))
	require.NoError(n.t, err, "%q", n.p.Lines())
	var r struct{ Ifaces []ifaceInfo }
	require.NoError(n.t, json.Unmarshal([]byte(strings.TrimPrefix(line, "IFACES ")), &r))
	return r.Ifaces
}

func names(ifs []ifaceInfo) []string {
	var out []string
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out
}

var nextID atomic.Uint32

func newID() uint16 { return uint16(1000 + nextID.Add(1)) }

func TestMulticastBetweenHosts(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	a, b := startNode(t, h1), startNode(t, h2)
	assert.Equal(t, []mdns.Family{mdns.IPv4, mdns.IPv6}, b.ready.Families)
	require.Equal(t, []string{"lan0"}, names(b.ready.Ifaces))
	assert.ElementsMatch(t, []string{h2.IPv4.String(), h2.LinkLocal.String()}, b.ready.Ifaces[0].Addrs)
	assert.Equal(t, 1500, b.ready.Ifaces[0].MTU)

	for _, tc := range []struct {
		fam      mdns.Family
		src, dst string
	}{
		{mdns.IPv4, h1.IPv4.String() + ":5353", "224.0.0.251"},
		{mdns.IPv6, "[" + h1.LinkLocal.String() + "%lan0]:5353", "ff02::fb"},
	} {
		t.Run(fmt.Sprintf("IPv%d", tc.fam), func(t *testing.T) {
			a.t, b.t = t, t
			id := newID()
			a.mustSend(sendReq{ID: id, Family: int(tc.fam)})
			got := b.packets(id, 1)[0]
			assert.Equal(t, int(tc.fam), got.Family)
			assert.Equal(t, b.ready.Index["lan0"], got.IfIndex)
			assert.Equal(t, "lan0", got.IfName)
			assert.True(t, got.Served)
			assert.Equal(t, tc.src, got.Src)
			assert.Equal(t, tc.dst, got.Dst)
			assert.True(t, got.Multicast)
			assert.Equal(t, fmt.Sprintf("n-%d.local.", id), got.QName)
			assert.Positive(t, got.Size)
			// Multicast loopback is on: the sender hears itself too.
			self := a.packets(id, 1)[0]
			assert.Equal(t, tc.src, self.Src)
			assert.Equal(t, a.ready.Index["lan0"], self.IfIndex)
		})
	}
	a.t, b.t = t, t
	assert.Equal(t, uint64(2), a.stats().Sent)
}

func TestTwoConnsInOneNamespaceBothReceive(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	a := startNode(t, h1)
	b1, b2 := startNode(t, h2), startNode(t, h2)
	for _, fam := range []mdns.Family{mdns.IPv4, mdns.IPv6} {
		id := newID()
		a.mustSend(sendReq{ID: id, Family: int(fam)})
		for _, b := range []*node{b1, b2} {
			got := b.packets(id, 1)[0]
			assert.Equal(t, int(fam), got.Family)
			assert.Equal(t, "lan0", got.IfName)
		}
	}
}

func TestUnicast(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	a, b := startNode(t, h1), startNode(t, h2)
	for _, tc := range []struct {
		name, to, ifname string
		fam              mdns.Family
		src, dst         string
	}{
		{"ipv4", h2.IPv4.String() + ":5353", "", mdns.IPv4, h1.IPv4.String() + ":5353", h2.IPv4.String()},
		{"ipv6-zone", "[" + h2.LinkLocal.String() + "%lan0]:5353", "", mdns.IPv6, "[" + h1.LinkLocal.String() + "%lan0]:5353", h2.LinkLocal.String()},
		{"ipv6-ifindex", "[" + h2.LinkLocal.String() + "]:5353", "lan0", mdns.IPv6, "[" + h1.LinkLocal.String() + "%lan0]:5353", h2.LinkLocal.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.t, b.t = t, t
			id := newID()
			a.mustSend(sendReq{ID: id, To: tc.to, IfName: tc.ifname})
			got := b.packets(id, 1)[0]
			assert.Equal(t, int(tc.fam), got.Family)
			assert.Equal(t, tc.src, got.Src)
			assert.Equal(t, tc.dst, got.Dst)
			assert.False(t, got.Multicast)
			assert.Equal(t, b.ready.Index["lan0"], got.IfIndex)
		})
	}
	a.t, b.t = t, t
	// A link-local destination without zone or interface is refused.
	assert.Contains(t, a.send(sendReq{ID: newID(), To: "[fe80::2]:5353"}), "needs a zone")
	assert.Contains(t, a.send(sendReq{ID: newID(), To: "0.0.0.0:0"}), "invalid destination")
}

// malformedPayloads are datagrams that must be counted as Malformed.
func malformedPayloads(t *testing.T) map[string][]byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("loop.local.", dns.TypeA)
	q.Id = 0x1234
	valid, err := q.Pack()
	require.NoError(t, err)
	rnd := make([]byte, 300)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.UintN(256))
	}
	// Question name replaced by a compression pointer to itself (offset 12).
	loop := append(append([]byte(nil), valid[:12]...), 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01)
	// Header announcing 3 answers that are not there.
	counts := append([]byte(nil), valid...)
	counts[7] = 3
	return map[string][]byte{
		"random":           rnd,
		"truncated header": valid[:5],
		"compression loop": loop,
		"counts past end":  counts,
	}
}

func TestMalformedAndOversizeAreCounted(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	b := startNode(t, h2)
	ctx := lantest.Context(t, 60*time.Second)

	var hexes []string
	bad := malformedPayloads(t)
	for _, p := range bad {
		hexes = append(hexes, hex.EncodeToString(p))
	}
	big := make([]byte, mdns.MaxPacket+1)
	hexes = append(hexes, hex.EncodeToString(big))
	// Last, a valid message marks the end (one path, so order is kept).
	markID := newID()
	mark, err := queryMsg(markID, 0).Pack()
	require.NoError(t, err)
	hexes = append(hexes, hex.EncodeToString(mark))
	for _, dst := range []string{"224.0.0.251:5353", "[ff02::fb%lan0]:5353"} {
		p := h1.Helper(t, "raw-send", "DST="+dst, "HEX="+strings.Join(hexes, ","))
		require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	}
	b.packets(markID, 2)
	st := b.stats()
	assert.Equal(t, uint64(2*len(bad)), st.Malformed, "%+v", st)
	assert.Equal(t, uint64(2), st.Oversize, "%+v", st)
	assert.Equal(t, uint64(2*(len(bad)+2)), st.Received, "%+v", st)
	assert.Zero(t, st.Foreign)
	assert.Zero(t, st.Waited)
	assert.False(t, b.p.Exited(), "the node survived")
	// And it still works.
	id := newID()
	startNode(t, h1).mustSend(sendReq{ID: id, Family: 4})
	b.packets(id, 1)
}

func TestForeignInterfaceIsCounted(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	lk := lan.Connect(t, h1, "lan1")
	b := startNode(t, h1, "IFACES=lan0")
	require.Equal(t, []string{"lan0"}, names(b.ready.Ifaces))
	ctx := lantest.Context(t, 60*time.Second)
	msg, err := queryMsg(newID(), 0).Pack()
	require.NoError(t, err)
	// Unicast to h1's lan1 address arrives on lan1, which b does not serve.
	p := h2.Helper(t, "raw-send", "DST=["+lk.LinkLocal.String()+"%lan0]:5353", "HEX="+hex.EncodeToString(msg))
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	require.Eventually(t, func() bool { return b.stats().Foreign == 1 }, 20*time.Second, 20*time.Millisecond)
	st := b.stats()
	assert.Equal(t, uint64(1), st.Received)
	assert.Zero(t, st.Malformed)
}

// TestInterfaceAddedAndRemovedOnRescan runs without interface events, as on
// systems other than Linux: the periodic rescan does the tracking (see
// track_test.go for the event-driven one).
func TestInterfaceAddedAndRemovedOnRescan(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	a := startNode(t, h1, "RESCAN=100ms", "FAMILIES=4", "NOEVENTS=1")
	require.Equal(t, []string{"lan0"}, names(a.ready.Ifaces))
	sender := startNode(t, h2)

	lk := lan.Connect(t, h1, "lan1")
	line, err := a.p.WaitFor(a.ctx, regexp.MustCompile(`^CHANGE .*"added":\[\{[^]]*"name":"lan1"`))
	require.NoError(t, err, "%q", a.p.Lines())
	assert.Contains(t, line, `"removed":[]`)
	assert.Equal(t, []string{"lan0", "lan1"}, names(a.ifaces()))

	// A multicast from h2 now arrives on both interfaces.
	id := newID()
	sender.mustSend(sendReq{ID: id, Family: 4})
	got := a.packets(id, 2)
	var ifnames []string
	for _, g := range got {
		ifnames = append(ifnames, g.IfName)
		assert.True(t, g.Served)
	}
	assert.ElementsMatch(t, []string{"lan0", "lan1"}, ifnames)

	// And it sends on both: h2 hears one copy from each of h1's addresses.
	sentBefore := a.stats().Sent
	id = newID()
	a.mustSend(sendReq{ID: id, Family: 4})
	var srcs []string
	for _, g := range sender.packets(id, 2) {
		srcs = append(srcs, g.Src)
	}
	assert.ElementsMatch(t, []string{h1.IPv4.String() + ":5353", lk.IPv4.String() + ":5353"}, srcs)
	assert.Equal(t, sentBefore+2, a.stats().Sent)

	lan.Disconnect(t, h1, lk)
	_, err = a.p.WaitFor(a.ctx, regexp.MustCompile(`^CHANGE .*"removed":\[\{[^]]*"name":"lan1"`))
	require.NoError(t, err, "%q", a.p.Lines())
	assert.Equal(t, []string{"lan0"}, names(a.ifaces()))
}

func TestCloseStopsEverything(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	ctx := lantest.Context(t, 60*time.Second)
	p := lan.Hosts[0].Helper(t, "mdns-close")
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	line, err := p.WaitFor(ctx, regexp.MustCompile(`^CLOSE `))
	require.NoError(t, err)
	var r struct {
		Before, During, After                        int
		Close1, Close2, ReadErr                      string
		ReadErrClosed, AfterErrClosed, SendErrClosed bool
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "CLOSE ")), &r))
	assert.Greater(t, r.During, r.Before, "Listen starts goroutines")
	assert.Equal(t, r.Before, r.After, "every goroutine exited")
	assert.Equal(t, "<nil>", r.Close1)
	assert.Equal(t, "<nil>", r.Close2)
	assert.True(t, r.ReadErrClosed, r.ReadErr)
	assert.True(t, r.AfterErrClosed)
	assert.True(t, r.SendErrClosed)
}

func listenResult(t *testing.T, h *lantest.Host, env ...string) map[string]any {
	t.Helper()
	ctx := lantest.Context(t, 60*time.Second)
	p := h.Helper(t, "mdns-listen-err", env...)
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	line, err := p.WaitFor(ctx, regexp.MustCompile(`^LISTEN `))
	require.NoError(t, err)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "LISTEN ")), &r))
	return r
}

func TestListenErrorsAndFamilies(t *testing.T) {
	t.Run("unknown interface", func(t *testing.T) {
		lan := lantest.New(t, lantest.Hosts(1))
		r := listenResult(t, lan.Hosts[0], "IFACES=lan0,nosuch7")
		assert.Equal(t, true, r["unknownIface"])
		assert.Contains(t, r["err"], `"nosuch7"`)
	})
	t.Run("ipv6-only LAN", func(t *testing.T) {
		lan := lantest.New(t, lantest.Hosts(2), lantest.IPv4(false))
		r := listenResult(t, lan.Hosts[0], "FAMILIES=4")
		assert.Equal(t, true, r["noIface"], r["err"])
		r = listenResult(t, lan.Hosts[0])
		assert.Equal(t, "<nil>", r["err"])
		assert.Equal(t, []any{float64(6)}, r["families"])
		a, b := startNode(t, lan.Hosts[0]), startNode(t, lan.Hosts[1])
		id := newID()
		a.mustSend(sendReq{ID: id, Family: 6})
		assert.Equal(t, 6, b.packets(id, 1)[0].Family)
		assert.Contains(t, a.send(sendReq{ID: newID(), Family: 4}), "no usable interface")
	})
	t.Run("ipv4-only LAN", func(t *testing.T) {
		lan := lantest.New(t, lantest.Hosts(2), lantest.IPv6(false))
		a, b := startNode(t, lan.Hosts[0]), startNode(t, lan.Hosts[1])
		assert.Equal(t, []mdns.Family{mdns.IPv4}, a.ready.Families)
		id := newID()
		a.mustSend(sendReq{ID: id, Family: 4})
		assert.Equal(t, 4, b.packets(id, 1)[0].Family)
		assert.Contains(t, a.send(sendReq{ID: newID(), Family: 6}), "no usable interface")
		// Too big to send, and not sent.
		before := a.stats().Sent
		assert.Contains(t, a.send(sendReq{ID: newID(), Family: 4, Pad: mdns.MaxPacket}), "larger than MaxPacket")
		assert.Equal(t, before, a.stats().Sent)
	})
}

// A reader that falls behind loses nothing the socket's buffer can hold:
// the read loop waits for it instead of dropping what the ReadPacket queue
// (256 packets) cannot take. Before, 1,000 datagrams sent while the reader
// was busy arrived as the first 256 and a few more.
func TestSlowReaderLosesNothing(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(2), lantest.IPv6(false))
	a := startNode(t, lan.Hosts[0], "FAMILIES=4")
	b := startNode(t, lan.Hosts[1], "FAMILIES=4", "READ_DELAY=4s")
	const n = 1000
	first := uint16(1000 + nextID.Add(n) - n + 1)
	for i := range n {
		a.mustSend(sendReq{ID: first + uint16(i), Family: 4, Pad: 1000})
	}
	lines, err := b.p.WaitForN(b.ctx, regexp.MustCompile(`^PKT `), n)
	require.NoError(t, err, "%d of %d delivered", len(lines), n)
	got := map[uint16]bool{}
	for _, l := range lines {
		got[decodePkt(t, l).ID] = true
	}
	assert.Len(t, got, n, "every datagram delivered")
	assert.Positive(t, b.stats().Waited, "the read loop waited for the reader")
}
