package browse

// Tests of a browser on two links (internal/mdnstest): instances per link
// (RFC 6762: Multicast DNS names are per link), interfaces that come and
// go, instances without address, addresses that change.

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/txt"
)

const sameTZ = `Same\ TZ._timezone._tcp.local.`

// The browser's host M: lanA (index 2) on link A, lanB (index 3) on link B.
var (
	ifLanA = mdns.Interface{Index: 2, Name: "lanA", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("fe80::1")}}
	ifLanB = mdns.Interface{Index: 3, Name: "lanB", MTU: 1500, Addrs: []netip.Addr{
		netip.MustParseAddr("198.18.2.1"), netip.MustParseAddr("fe80::1")}}
)

// twoLinks is host M on links A and B, with a responder host on each.
type twoLinks struct {
	a, b   *mdnstest.Link
	m      *mdnstest.Host
	ra, rb *responder
}

// newTwoLinks builds the links, M (on A, and on B unless onlyA), and a
// responder announcing "Same TZ" on each: port 8080 from ha.local.
// (198.18.1.2) on A, 9090 from hb.local. (198.18.2.2) on B.
func newTwoLinks(t *testing.T, onlyA bool) *twoLinks {
	t.Helper()
	l := &twoLinks{a: mdnstest.NewLink(), b: mdnstest.NewLink()}
	ifaces := []mdns.Interface{ifLanA}
	if !onlyA {
		ifaces = append(ifaces, ifLanB)
	}
	l.m = l.a.NewHost(browserHost, 1, ifaces[0])
	if !onlyA {
		l.m.Attach(l.b, ifLanB)
	}
	t.Cleanup(func() { assert.Zero(t, l.m.Dropped()) })
	l.ra = newResponder(l.a, "ha", 2, 8080, "198.18.1.2")
	l.rb = newResponder(l.b, "hb", 2, 9090, "198.18.2.2")
	return l
}

// responder is a minimal Multicast DNS responder on one link: it answers
// every query with its whole instance (addresses as additional records)
// over the query's family.
type responder struct {
	h    *mdnstest.Host
	mu   sync.Mutex
	msg  *dns.Msg
	host string
}

func newResponder(l *mdnstest.Link, name string, n int, port uint16, addr string) *responder {
	r := &responder{h: l.NewHost(name, n), host: name + ".local."}
	r.msg = mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", sameTZ, 4500),
		mdnstest.SRV(sameTZ, r.host, port, 120), mdnstest.TXT(sameTZ, 4500, "path=/tz"))
	r.msg.Extra = []dns.RR{mdnstest.A(r.host, addr, 120)}
	l.OnTransmit(func(p mdnstest.Packet) {
		if p.From == name || p.Msg.Response {
			return
		}
		go r.send(p.Family)
	})
	return r
}

// set replaces the records announced (extra: the additional section).
func (r *responder) set(extra ...dns.RR) {
	r.mu.Lock()
	r.msg = r.msg.Copy()
	r.msg.Extra = extra
	r.mu.Unlock()
}

// send multicasts the instance over f.
func (r *responder) send(f mdns.Family) {
	r.mu.Lock()
	m := r.msg.Copy()
	r.mu.Unlock()
	r.h.SendMulticast(context.Background(), m, 2, f)
}

// startM runs the browser on M for _timezone._tcp, fed M's interface
// changes from now on.
func startM(t *testing.T, l *twoLinks) (*Browser, *eventLog) {
	t.Helper()
	q, err := newQuerier(Options{}, nil)
	require.NoError(t, err)
	bt, err := engine.ParseType("_timezone._tcp", q.reg)
	require.NoError(t, err)
	q.wantTypes = append(q.wantTypes, bt)
	b := start(q, l.m, l.m.Changes())
	t.Cleanup(func() { b.Close() })
	return b, consume(b)
}

// byIface returns the events of the instance on iface.
func byIface(evs []Event, iface string) []Event {
	var out []Event
	for _, ev := range evs {
		if ev.Instance.Ifaces[0] == iface {
			out = append(out, ev)
		}
	}
	return out
}

// "Same TZ" on link A (8080) and link B (9090) is two instances, each
// with its own interface, port and addresses; over a minute of queries
// and answers neither ever takes the other's data. Resolve gives the first
// complete one, ResolveAll both.
func TestTwoLinksSameNameTwoInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTwoLinks(t, false)
		b, log := startM(t, l)
		time.Sleep(time.Minute)
		synctest.Wait()
		evs := log.all()
		a, bb := byIface(evs, "lanA"), byIface(evs, "lanB")
		require.NotEmpty(t, a)
		require.NotEmpty(t, bb)
		assert.Len(t, evs, len(a)+len(bb))
		assert.Equal(t, Add, a[0].Kind)
		assert.Equal(t, Add, bb[0].Kind)
		for _, ev := range a {
			assert.NotEqual(t, Remove, ev.Kind)
			assert.Equal(t, uint16(8080), ev.Instance.Port, "never flips")
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.2")}, ev.Instance.Addrs)
			assert.Equal(t, []string{"lanA"}, ev.Instance.Ifaces)
		}
		for _, ev := range bb {
			assert.NotEqual(t, Remove, ev.Kind)
			assert.Equal(t, uint16(9090), ev.Instance.Port, "never flips")
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.2.2")}, ev.Instance.Addrs)
			assert.Equal(t, []string{"lanB"}, ev.Instance.Ifaces)
		}
		ins := b.Instances()
		require.Len(t, ins, 2)
		assert.Equal(t, []string{"lanA"}, ins[0].Ifaces)
		assert.Equal(t, []string{"lanB"}, ins[1].Ifaces)
		assert.Equal(t, "Same TZ._timezone._tcp.local.", ins[0].Name)
		assert.Equal(t, ins[0].Name, ins[1].Name)

		// Resolution on the same two links.
		old := openTransport
		t.Cleanup(func() { openTransport = old })
		openTransport = func(context.Context, mdns.Config) (transport, error) {
			h := l.a.NewHost("resolver", 9, ifLanA)
			h.Attach(l.b, ifLanB)
			return h, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		all, err := ResolveAll(ctx, "Same TZ._timezone._tcp", Options{})
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, uint16(8080), all[0].Port)
		assert.Equal(t, []string{"lanA"}, all[0].Ifaces)
		assert.Equal(t, uint16(9090), all[1].Port)
		assert.Equal(t, []string{"lanB"}, all[1].Ifaces)
		assert.Less(t, time.Since(start), 300*time.Millisecond, "every interface answered: no grace period")
		one, err := Resolve(ctx, "Same TZ._timezone._tcp", Options{})
		require.NoError(t, err)
		assert.Contains(t, []uint16{8080, 9090}, one.Port)
	})
}

// ResolveAll returns the links that answered, the grace period (2 s) after the
// first, when another link of the host has no such instance.
func TestResolveAllGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTwoLinks(t, false)
		l.b.OnTransmit(nil) // nobody answers on B
		old := openTransport
		t.Cleanup(func() { openTransport = old })
		openTransport = func(context.Context, mdns.Config) (transport, error) { return l.m, nil }
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		all, err := ResolveAll(ctx, "Same TZ._timezone._tcp", Options{})
		require.NoError(t, err)
		require.Len(t, all, 1)
		assert.Equal(t, []string{"lanA"}, all[0].Ifaces)
		assert.Equal(t, resolveGrace, time.Since(start).Truncate(100*time.Millisecond), "the grace period")
	})
}

// An interface that goes away takes its instances with it, at once, with
// a Remove event; the other link's instance is left as it was. An
// interface that comes back is asked on after 20-120 ms (RFC 6762 section
// 5.2: a trigger other hosts may share).
func TestInterfaceRemovedAndAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTwoLinks(t, false)
		b, log := startM(t, l)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Len(t, b.Instances(), 2)
		before := b.Instances()[0]
		n := len(log.all())

		l.m.Detach(ifLanB.Index)
		synctest.Wait()
		evs := log.all()[n:]
		require.Len(t, evs, 1, "at once")
		assert.Equal(t, Remove, evs[0].Kind)
		assert.Equal(t, []string{"lanB"}, evs[0].Instance.Ifaces)
		assert.Equal(t, uint16(9090), evs[0].Instance.Port, "the last state")
		require.Len(t, b.Instances(), 1)
		assert.Equal(t, before, b.Instances()[0], "link A's instance unaffected")
		// A packet of the gone interface still in a queue brings nothing
		// back.
		ignored := b.Stats().Ignored
		l.b.Inject(l.m, ifLanB.Index, mdns.IPv4, netip.MustParseAddrPort("198.18.2.2:5353"), mdns.Group(mdns.IPv4).Addr(), l.rb.msg)
		synctest.Wait()
		assert.Len(t, log.all(), n+1)
		assert.Equal(t, ignored+1, b.Stats().Ignored)

		// Back on link B.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n = len(log.all())
		l.b.Reset()
		at := time.Now()
		l.m.Attach(l.b, ifLanB)
		time.Sleep(time.Second)
		synctest.Wait()
		qs := l.b.Packets(mdnstest.From(browserHost), mdnstest.Asks("_timezone._tcp.local.", dns.TypePTR))
		require.NotEmpty(t, qs)
		d := qs[0].At.Sub(at)
		assert.GreaterOrEqual(t, d, 20*time.Millisecond)
		assert.LessOrEqual(t, d, 120*time.Millisecond)
		evs = log.all()[n:]
		require.NotEmpty(t, evs)
		assert.Equal(t, Add, evs[0].Kind)
		assert.Equal(t, []string{"lanB"}, evs[0].Instance.Ifaces)
		assert.Len(t, b.Instances(), 2)
	})
}

// An instance whose host has no address is reported after the resolution
// window (its A and AAAA asked three times), with host, port, no address
// and a warning naming the host; the address arriving later is an update.
func TestInstanceWithoutAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTwoLinks(t, true)
		l.ra.set() // no address records
		l.ra.msg.Answer[1] = mdnstest.SRV(sameTZ, "h9.local.", 8080, 120)
		b, log := startM(t, l)
		start := time.Now()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		assert.Empty(t, log.all(), "held back during the window")
		time.Sleep(time.Second)
		synctest.Wait()
		evs := log.all()
		require.Len(t, evs, 1)
		ev := evs[0]
		assert.Equal(t, Add, ev.Kind)
		took := ev.Time.Sub(start)
		assert.GreaterOrEqual(t, took, addressWait)
		assert.Less(t, took, addressWait+200*time.Millisecond)
		assert.Equal(t, "h9.local.", ev.Instance.Host)
		assert.Equal(t, uint16(8080), ev.Instance.Port)
		assert.Empty(t, ev.Instance.Addrs)
		require.NotEmpty(t, ev.Instance.Report.Findings)
		assert.Equal(t, txt.Warning, ev.Instance.Report.Findings[0].Severity)
		assert.Equal(t, `no address for host "h9.local."`, ev.Instance.Report.Findings[0].Reason)
		asked := l.a.Packets(mdnstest.From(browserHost), mdnstest.Asks("h9.local.", dns.TypeA), mdnstest.Family(mdns.IPv4))
		require.GreaterOrEqual(t, len(asked), 3, "the address was asked three times")
		assert.Less(t, asked[2].At.Sub(start), ev.Time.Sub(start))
		require.Len(t, b.Instances(), 1)

		// The host gets an address: one update.
		l.ra.h.SendMulticast(context.Background(), mdnstest.Response(mdnstest.A("h9.local.", "198.18.1.9", 120)), 2, mdns.IPv4)
		synctest.Wait()
		evs = log.all()
		require.Len(t, evs, 2)
		assert.Equal(t, Update, evs[1].Kind)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.9")}, evs[1].Instance.Addrs)
		assert.Empty(t, evs[1].Instance.Report.Findings)
	})
}

// Quiet waits for an instance held back for want of an address.
func TestQuietWaitsForAddressWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTwoLinks(t, true)
		l.ra.set()
		b, log := startM(t, l)
		time.Sleep(2 * time.Second)
		// The instance appears late, when the browse questions are nearly
		// done: quiet comes only once it is reported.
		l.ra.send(mdns.IPv4)
		<-b.Quiet()
		require.Len(t, log.all(), 1)
		assert.Empty(t, log.all()[0].Instance.Addrs)
	})
}

// A host whose address changes (the new one announced with the cache-flush
// bit, the old one said goodbye to) is one update with the new address.
func TestAddressChangeOneUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newTwoLinks(t, true)
		_, log := startM(t, l)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		n := len(log.all()) // add, and update for IPv6 (Seen)
		gb := mdnstest.Goodbye(mdnstest.Response(mdnstest.A("ha.local.", "198.18.1.2", 120)))
		nw := mdnstest.A("ha.local.", "198.18.1.22", 120)
		l.ra.set(nw)
		m := mdnstest.Response(nw)
		m.Answer = append(m.Answer, gb.Answer...)
		l.ra.h.SendMulticast(context.Background(), m, 2, mdns.IPv4)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		evs := log.all()[n:]
		require.Len(t, evs, 1, "one update")
		assert.Equal(t, Update, evs[0].Kind)
		assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.18.1.22")}, evs[0].Instance.Addrs)
	})
}
