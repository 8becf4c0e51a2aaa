package browse

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
)

// The querier's unit tests run over the in-memory link of
// internal/mdnstest: the browser is a host on a link, and the tests inject
// what other hosts would send. Nothing touches a network.
var _ transport = (*mdnstest.Host)(nil)

// fake is the browser's host on its link.
type fake struct {
	l *mdnstest.Link
	h *mdnstest.Host
}

// browserHost is the name of the browser's host (mdnstest.Packet.From).
const browserHost = "browser"

// Interfaces of the browser: eth0 (index 2, IPv4 and IPv6) and, with two,
// eth1 (index 3, IPv6 only).
var (
	fakeEth0 = mdns.Interface{Index: 2, Name: "eth0", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("fe80::1")}}
	fakeEth1 = mdns.Interface{Index: 3, Name: "eth1", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("fe80::1")}}
)

// newFake returns the browser's host on a new link, with ifaces (eth0 if
// none). At the end of the test, no packet must have been lost at its full
// inbox: the tests are deterministic only if none is.
func newFake(t testing.TB, ifaces ...mdns.Interface) *fake {
	if len(ifaces) == 0 {
		ifaces = []mdns.Interface{fakeEth0}
	}
	l := mdnstest.NewLink()
	f := &fake{l: l, h: l.NewHost(browserHost, 1, ifaces...)}
	t.Cleanup(func() { assert.Zero(t, f.h.Dropped(), "packets lost at the browser's full inbox") })
	return f
}

// sent returns the messages the browser sent that match filters.
func (f *fake) sent(filters ...func(mdnstest.Packet) bool) []mdnstest.Packet {
	return f.l.Packets(append([]func(mdnstest.Packet) bool{mdnstest.From(browserHost)}, filters...)...)
}

// queries returns the messages the browser sent asking name/qtype that
// match filters.
func (f *fake) queries(name string, qtype uint16, filters ...func(mdnstest.Packet) bool) []mdnstest.Packet {
	return f.sent(append([]func(mdnstest.Packet) bool{mdnstest.Asks(name, qtype)}, filters...)...)
}

// inject delivers a response from a responder on the link (198.51.100.12 or
// fe80::2, port 5353, multicast) on ifc.
func (f *fake) inject(ifc mdns.Interface, fam mdns.Family, m *dns.Msg) {
	src := netip.MustParseAddrPort("198.51.100.12:5353")
	if fam == mdns.IPv6 {
		src = netip.MustParseAddrPort("[fe80::2]:5353")
	}
	f.injectFrom(ifc, fam, src, mdns.Group(fam).Addr(), m)
}

// injectFrom delivers m on ifc from src to dst.
func (f *fake) injectFrom(ifc mdns.Interface, fam mdns.Family, src netip.AddrPort, dst netip.Addr, m *dns.Msg) {
	f.l.Inject(f.h, ifc.Index, fam, src, dst, m)
}

// startFake runs a browser over a fake transport, until Close.
func startFake(t testing.TB, types []string, opts Options, tr *fake) *Browser {
	t.Helper()
	q, err := newQuerier(opts, nil)
	require.NoError(t, err)
	for _, ty := range types {
		bt, err := engine.ParseType(ty, q.reg)
		require.NoError(t, err)
		q.wantTypes = append(q.wantTypes, bt)
	}
	return start(q, tr.h, nil)
}

// tzInstance returns a complete announcement of "Office TZ" on h2.local.
func tzInstance(ttl uint32, txts ...string) *dns.Msg {
	name := `Office\ TZ._timezone._tcp.local.`
	if len(txts) == 0 {
		txts = []string{"path=/tz"}
	}
	m := mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", name, ttl), mdnstest.SRV(name, "h2.local.", 8080, ttl), mdnstest.TXT(name, ttl, txts...))
	m.Extra = []dns.RR{mdnstest.A("h2.local.", "198.51.100.12", ttl), mdnstest.AAAA("h2.local.", "fe80::2", ttl)}
	return m
}

// eventLog collects the browser's events, safely.
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

// countGoroutines returns runtime.NumGoroutine.
func countGoroutines() int { return runtime.NumGoroutine() }
