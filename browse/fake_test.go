package browse

// An in-memory transport for the querier's unit tests: packets are injected
// by the test, sent messages are recorded. Nothing touches a network.

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
)

// sentMsg is one message the browser sent.
type sentMsg struct {
	Msg     *dns.Msg
	IfIndex int
	Family  mdns.Family
	Size    int
	Time    time.Time
}

type fakeTransport struct {
	t      testing.TB
	in     chan *mdns.Packet
	closed chan struct{}
	once   sync.Once
	ifaces []mdns.Interface
	fams   []mdns.Family

	mu   sync.Mutex
	sent []sentMsg
	// onSend, when set, sees every sent message (called without the lock).
	onSend func(sentMsg)
}

// Interfaces of the fake: eth0 (index 2, IPv4 and IPv6) and, with two,
// eth1 (index 3, IPv6 only).
var (
	fakeEth0 = mdns.Interface{Index: 2, Name: "eth0", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("fe80::1")}}
	fakeEth1 = mdns.Interface{Index: 3, Name: "eth1", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("fe80::1")}}
)

func newFake(t testing.TB, ifaces ...mdns.Interface) *fakeTransport {
	if len(ifaces) == 0 {
		ifaces = []mdns.Interface{fakeEth0}
	}
	return &fakeTransport{
		t:      t,
		in:     make(chan *mdns.Packet),
		closed: make(chan struct{}),
		ifaces: ifaces,
		fams:   []mdns.Family{mdns.IPv4, mdns.IPv6},
	}
}

func (f *fakeTransport) ReadPacket(ctx context.Context) (*mdns.Packet, error) {
	select {
	case p := <-f.in:
		return p, nil
	case <-f.closed:
		return nil, mdns.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fakeTransport) SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, fam mdns.Family) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	cp := new(dns.Msg)
	if err := cp.Unpack(b); err != nil {
		return err
	}
	s := sentMsg{Msg: cp, IfIndex: ifIndex, Family: fam, Size: len(b), Time: time.Now()}
	f.mu.Lock()
	f.sent = append(f.sent, s)
	hook := f.onSend
	f.mu.Unlock()
	if hook != nil {
		hook(s)
	}
	return nil
}

func (f *fakeTransport) Interfaces() []mdns.Interface { return f.ifaces }

func (f *fakeTransport) Interface(index int) (mdns.Interface, bool) {
	for _, ifc := range f.ifaces {
		if ifc.Index == index {
			return ifc, true
		}
	}
	return mdns.Interface{}, false
}

func (f *fakeTransport) Families() []mdns.Family { return f.fams }

func (f *fakeTransport) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// Sent returns the messages sent so far.
func (f *fakeTransport) Sent() []sentMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMsg(nil), f.sent...)
}

// queries returns the sent messages asking name/qtype.
func (f *fakeTransport) queries(name string, qtype uint16) []sentMsg {
	var out []sentMsg
	k := dnsname.MustKey(name)
	for _, s := range f.Sent() {
		for _, q := range s.Msg.Question {
			if q.Qtype == qtype && dnsname.MustKey(q.Name) == k {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// inject delivers a response from src (port 5353, multicast) on ifc.
func (f *fakeTransport) inject(ifc mdns.Interface, fam mdns.Family, m *dns.Msg) {
	src := netip.MustParseAddrPort("198.51.100.12:5353")
	dst := mdns.GroupV4
	if fam == mdns.IPv6 {
		src = netip.MustParseAddrPort("[fe80::2]:5353")
		dst = mdns.GroupV6
	}
	f.injectFrom(ifc, fam, src, dst, m)
}

func (f *fakeTransport) injectFrom(ifc mdns.Interface, fam mdns.Family, src netip.AddrPort, dst netip.Addr, m *dns.Msg) {
	// Round-trip through the wire form, as the real transport does.
	b, err := m.Pack()
	require.NoError(f.t, err)
	cp := new(dns.Msg)
	require.NoError(f.t, cp.Unpack(b))
	select {
	case f.in <- &mdns.Packet{Msg: cp, Src: src, Dst: dst, IfIndex: ifc.Index, Family: fam, Size: len(b), Received: time.Now()}:
	case <-f.closed: // the browser has gone: the packet is lost, as on a wire
	}
}

// startFake runs a browser over a fake transport, until Close.
func startFake(t testing.TB, types []string, opts Options, tr *fakeTransport) *Browser {
	t.Helper()
	q, err := newQuerier(opts, nil)
	require.NoError(t, err)
	for _, ty := range types {
		bt, err := engine.ParseType(ty, q.reg)
		require.NoError(t, err)
		q.wantTypes = append(q.wantTypes, bt)
	}
	return start(q, tr, nil)
}

// Record builders.

func hdr(name string, rrtype uint16, ttl uint32, flush bool) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if flush {
		class |= dnsname.CacheFlush
	}
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: class, Ttl: ttl}
}

func ptrRR(owner, target string, ttl uint32) *dns.PTR {
	return &dns.PTR{Hdr: hdr(owner, dns.TypePTR, ttl, false), Ptr: target}
}

func srvRR(name, target string, port uint16, ttl uint32) *dns.SRV {
	return &dns.SRV{Hdr: hdr(name, dns.TypeSRV, ttl, true), Target: target, Port: port}
}

func txtRR(name string, ttl uint32, strs ...string) *dns.TXT {
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT, ttl, true), Txt: strs}
}

func aRR(name, addr string, ttl uint32) *dns.A {
	return &dns.A{Hdr: hdr(name, dns.TypeA, ttl, true), A: net.ParseIP(addr).To4()}
}

func aaaaRR(name, addr string, ttl uint32) *dns.AAAA {
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl, true), AAAA: net.ParseIP(addr)}
}

// response builds an mDNS response with answers and additional records.
func response(answers []dns.RR, extra ...dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	m.Answer = answers
	m.Extra = extra
	return m
}

// tzInstance returns a complete announcement of "Office TZ" on h2.local.
func tzInstance(ttl uint32, txts ...string) *dns.Msg {
	name := `Office\ TZ._timezone._tcp.local.`
	if len(txts) == 0 {
		txts = []string{"path=/tz"}
	}
	return response(
		[]dns.RR{ptrRR("_timezone._tcp.local.", name, ttl), srvRR(name, "h2.local.", 8080, ttl), txtRR(name, ttl, txts...)},
		aRR("h2.local.", "198.51.100.12", ttl), aaaaRR("h2.local.", "fe80::2", ttl),
	)
}

// goodbye returns m with every TTL set to 0.
func goodbye(m *dns.Msg) *dns.Msg {
	cp := m.Copy()
	for _, sec := range [][]dns.RR{cp.Answer, cp.Extra} {
		for _, rr := range sec {
			rr.Header().Ttl = 0
		}
	}
	return cp
}

// collectEvents receives the browser's events into a slice, safely.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.evs...)
}

func (l *eventLog) kinds() []EventKind {
	var out []EventKind
	for _, ev := range l.all() {
		out = append(out, ev.Kind)
	}
	return out
}

// consume receives b's events into a log until the channel closes.
func consume(b *Browser) *eventLog {
	l := &eventLog{}
	go func() {
		for ev := range b.Events() {
			l.add(ev)
		}
	}()
	return l
}

func netip4(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// onlyV4 keeps the messages sent over IPv4.
func onlyV4(ms []sentMsg) []sentMsg {
	var out []sentMsg
	for _, m := range ms {
		if m.Family == mdns.IPv4 {
			out = append(out, m)
		}
	}
	return out
}

// countGoroutines returns runtime.NumGoroutine.
func countGoroutines() int { return runtime.NumGoroutine() }
