package announce

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/sd"
)

// This file is an in-memory link: no socket is ever opened. A link is one
// layer-2 segment; hosts attach to links through ports (interfaces). A
// multicast goes to every port on the segment (the sender's own included,
// like IP_MULTICAST_LOOP), a unicast to the port holding the destination
// address. Every message is packed to wire format and unpacked again for
// each receiver, and every transmission is recorded.

// link is one segment.
type link struct {
	mu    sync.Mutex
	ports []*port
	sent  []sentPacket
}

// sentPacket is one recorded transmission.
type sentPacket struct {
	At      time.Time
	From    string // sending host's name
	Src     netip.AddrPort
	Dst     netip.AddrPort
	IfIndex int
	Family  mdns.Family
	Msg     *dns.Msg
	Size    int
}

// Multicast reports whether the packet went to the group.
func (s sentPacket) Multicast() bool { return s.Dst.Addr().IsMulticast() }

// port attaches a host to a link.
type port struct {
	host *fakeHost
	link *link
	ifc  mdns.Interface
}

// fakeHost implements transport over links.
type fakeHost struct {
	name     string
	srcPort  uint16
	mu       sync.Mutex
	ports    []*port
	inbox    chan *mdns.Packet
	done     chan struct{}
	once     sync.Once
	rejected int // sends refused (too large)
}

func newLink() *link { return &link{} }

// newHost creates a host with one interface (index 2, "lan0") on l with
// 198.51.100.(10+n) and fe80::n.
func (l *link) newHost(name string, n int) *fakeHost {
	h := &fakeHost{name: name, srcPort: mdns.Port, inbox: make(chan *mdns.Packet, 512), done: make(chan struct{})}
	h.attach(l, mdns.Interface{Index: 2, Name: "lan0", MTU: 1500, Addrs: []netip.Addr{
		netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + n)}),
		netip.MustParseAddr(fmt.Sprintf("fe80::%x", n)),
	}})
	return h
}

// attach adds an interface on l.
func (h *fakeHost) attach(l *link, ifc mdns.Interface) {
	p := &port{host: h, link: l, ifc: ifc}
	h.mu.Lock()
	h.ports = append(h.ports, p)
	h.mu.Unlock()
	l.mu.Lock()
	l.ports = append(l.ports, p)
	l.mu.Unlock()
}

func (h *fakeHost) ReadPacket(ctx context.Context) (*mdns.Packet, error) {
	select {
	case p := <-h.inbox:
		return p, nil
	case <-h.done:
		return nil, mdns.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *fakeHost) closed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

func (p *port) addr(f mdns.Family) (netip.Addr, bool) {
	for _, a := range p.ifc.Addrs {
		if sd.FamilyOf(a) == f {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (h *fakeHost) SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, f mdns.Family) error {
	if h.closed() {
		return mdns.ErrClosed
	}
	b, err := m.Pack()
	if err != nil {
		return err
	}
	if len(b) > mdns.MaxPacket {
		h.mu.Lock()
		h.rejected++
		h.mu.Unlock()
		return fmt.Errorf("fake: message of %d bytes", len(b))
	}
	h.mu.Lock()
	ports := slices.Clone(h.ports)
	h.mu.Unlock()
	n := 0
	for _, p := range ports {
		if ifIndex != 0 && p.ifc.Index != ifIndex {
			continue
		}
		src, ok := p.addr(f)
		if !ok {
			continue
		}
		n++
		p.link.transmit(p, netip.AddrPortFrom(src, h.srcPort), mdns.Group(f), f, b)
	}
	if n == 0 {
		return fmt.Errorf("fake: no interface %d for IPv%d", ifIndex, f)
	}
	return nil
}

func (h *fakeHost) SendUnicast(ctx context.Context, m *dns.Msg, to netip.AddrPort, ifIndex int) error {
	if h.closed() {
		return mdns.ErrClosed
	}
	b, err := m.Pack()
	if err != nil {
		return err
	}
	f := sd.FamilyOf(to.Addr())
	h.mu.Lock()
	ports := slices.Clone(h.ports)
	h.mu.Unlock()
	for _, p := range ports {
		if ifIndex != 0 && p.ifc.Index != ifIndex {
			continue
		}
		src, ok := p.addr(f)
		if !ok {
			continue
		}
		p.link.transmit(p, netip.AddrPortFrom(src, h.srcPort), to, f, b)
		return nil
	}
	return fmt.Errorf("fake: no interface %d for %s", ifIndex, to)
}

func (h *fakeHost) Interfaces() []mdns.Interface {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []mdns.Interface
	for _, p := range h.ports {
		ifc := p.ifc
		ifc.Addrs = slices.Clone(ifc.Addrs)
		out = append(out, ifc)
	}
	return out
}

func (h *fakeHost) Interface(index int) (mdns.Interface, bool) {
	for _, ifc := range h.Interfaces() {
		if ifc.Index == index {
			return ifc, true
		}
	}
	return mdns.Interface{}, false
}

func (h *fakeHost) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

// transmit records a packet sent from port from and delivers it.
func (l *link) transmit(from *port, src, dst netip.AddrPort, f mdns.Family, b []byte) {
	rec, err := unpack(b)
	if err != nil {
		panic(fmt.Sprintf("fake link: sent message does not unpack: %v", err))
	}
	l.mu.Lock()
	l.sent = append(l.sent, sentPacket{At: time.Now(), From: from.host.name, Src: src, Dst: dst, IfIndex: from.ifc.Index, Family: f, Msg: rec, Size: len(b)})
	ports := slices.Clone(l.ports)
	l.mu.Unlock()
	for _, p := range ports {
		if p.host.closed() {
			continue
		}
		if !dst.Addr().IsMulticast() {
			a, ok := p.addr(f)
			if !ok || a != dst.Addr() || p.host.srcPort != dst.Port() {
				continue
			}
		}
		msg, _ := unpack(b)
		pkt := &mdns.Packet{Msg: msg, Src: src, Dst: dst.Addr(), IfIndex: p.ifc.Index, Family: f, Size: len(b), Received: time.Now()}
		select {
		case p.host.inbox <- pkt:
		default:
		}
	}
}

func unpack(b []byte) (*dns.Msg, error) {
	m := new(dns.Msg)
	return m, m.Unpack(b)
}

// packets returns the recorded packets that match all filters.
func (l *link) packets(filters ...func(sentPacket) bool) []sentPacket {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []sentPacket
next:
	for _, p := range l.sent {
		for _, f := range filters {
			if !f(p) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// reset forgets the recorded packets.
func (l *link) reset() {
	l.mu.Lock()
	l.sent = nil
	l.mu.Unlock()
}

// Filters for link.packets.
func from(name string) func(sentPacket) bool {
	return func(p sentPacket) bool { return p.From == name }
}

func isProbe(p sentPacket) bool { return !p.Msg.Response && len(p.Msg.Ns) > 0 }

func isResponse(p sentPacket) bool { return p.Msg.Response }

func family(f mdns.Family) func(sentPacket) bool {
	return func(p sentPacket) bool { return p.Family == f }
}

func since(t time.Time) func(sentPacket) bool {
	return func(p sentPacket) bool { return !p.At.Before(t) }
}

// hasAnswer reports whether a packet carries an answer named name of type t.
func hasAnswer(name string, t uint16) func(sentPacket) bool {
	return func(p sentPacket) bool { return findRR(p.Msg.Answer, name, t) != nil }
}

// findRR returns the first record named name of type t.
func findRR(rrs []dns.RR, name string, t uint16) dns.RR {
	for _, rr := range rrs {
		if dnsname.Equal(rr.Header().Name, name) && rr.Header().Rrtype == t {
			return rr
		}
	}
	return nil
}

// findAll returns every record named name of type t.
func findAll(rrs []dns.RR, name string, t uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if dnsname.Equal(rr.Header().Name, name) && rr.Header().Rrtype == t {
			out = append(out, rr)
		}
	}
	return out
}

// drain returns everything in h's inbox now.
func (h *fakeHost) drain() []*mdns.Packet {
	var out []*mdns.Packet
	for {
		select {
		case p := <-h.inbox:
			out = append(out, p)
		default:
			return out
		}
	}
}

// send transmits m from the peer h: multicast on IPv4 unless to is given.
func (h *fakeHost) send(t testing.TB, m *dns.Msg, to ...netip.AddrPort) {
	t.Helper()
	var err error
	if len(to) > 0 {
		err = h.SendUnicast(context.Background(), m, to[0], 0)
	} else {
		err = h.SendMulticast(context.Background(), m, 0, mdns.IPv4)
	}
	require.NoError(t, err)
}

// addr4 returns h's IPv4 address on its first interface.
func (h *fakeHost) addr4() netip.Addr {
	a, _ := h.ports[0].addr(mdns.IPv4)
	return a
}

// query builds an mDNS query.
func query(qs ...dns.Question) *dns.Msg {
	m := new(dns.Msg)
	m.Question = qs
	return m
}

// q builds a QM question (class IN).
func q(name string, t uint16) dns.Question {
	return dns.Question{Name: name, Qtype: t, Qclass: dns.ClassINET}
}

// qu builds a QU question.
func qu(name string, t uint16) dns.Question {
	return dns.Question{Name: name, Qtype: t, Qclass: dns.ClassINET | dnsname.QU}
}

// logRecorder is a slog handler that keeps every record, so that tests can
// check that nothing was logged at error level.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// errors returns the messages logged at error level.
func (l *logRecorder) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= slog.LevelError {
			var b strings.Builder
			b.WriteString(r.Message)
			r.Attrs(func(a slog.Attr) bool {
				fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
				return true
			})
			out = append(out, b.String())
		}
	}
	return out
}

// startOn starts a responder named hostName over h. It must run inside a
// synctest bubble (or with real time). The responder is closed, and its
// error log checked to be empty, at the end of the test.
func startOn(t *testing.T, h *fakeHost, opts Options) *Responder {
	t.Helper()
	logs := &logRecorder{}
	if opts.Logger == nil {
		opts.Logger = slog.New(logs)
	}
	r, err := start(context.Background(), opts, h, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, r.Close())
		require.Empty(t, logs.errors(), "errors were logged")
	})
	return r
}

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// assertName checks that got is the name want (DNS comparison: escapes
// and ASCII case do not matter).
func assertName(t testing.TB, want, got string) {
	t.Helper()
	assert.True(t, dnsname.Equal(want, got), "name: want %q, got %q", want, got)
}
