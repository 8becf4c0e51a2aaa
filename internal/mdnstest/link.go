// Package mdnstest is an in-memory Multicast DNS link for unit tests: the
// responder (package announce) and the querier (package browse) run over it
// instead of sockets, so no packet ever touches a network.
//
// A Link is one layer-2 segment. A Host attaches to links through its
// interfaces (a host may be on several links, each interface on one). A
// multicast goes to every interface on the segment, the sender's own
// included (as IP_MULTICAST_LOOP does on a real socket); a unicast goes to
// the interface holding the destination address, if its host listens on
// the destination port. Every message is packed to wire form (with name
// compression, as internal/mdns does) and unpacked again for each receiver,
// so that a receiver sees what a peer would, and every transmission is
// recorded (Link.Packets). Link.Inject delivers a packet to one host as if
// it came from anywhere, on or off the link.
//
// Delivery is buffered: a host's inbox holds InboxSize packets, and a packet
// arriving at a full inbox is dropped (Host.Dropped counts them), as a
// socket's receive buffer would. A send never waits for a receiver, so a
// host hearing its own multicast, or a peer the test reads only now and then
// (Host.Drain), cannot block the sender. Inside a testing/synctest bubble it
// is still deterministic: synctest.Wait returns only once every reader has
// taken what it can, and time stands still until then.
//
// The package also holds what the tests of both packages build messages
// with (PTR, SRV, TXT, A, AAAA, Response, Query, QM, QU, Goodbye), and the
// filters and finders over recorded packets (From, IsProbe, IsResponse,
// Family, Since, HasAnswer, Asks; FindRR, FindAll). Names are compared as
// DNS names (internal/dnsname, RFC 6762 section 16).
package mdnstest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/sd"
)

// InboxSize is how many received packets a host holds before it drops.
const InboxSize = 512

// Link is one segment. Its methods are safe for concurrent use.
type Link struct {
	mu    sync.Mutex
	ports []*port
	sent  []Packet
	onTx  func(Packet)
}

// NewLink returns an empty segment.
func NewLink() *Link { return &Link{} }

// Packet is one recorded transmission.
type Packet struct {
	At      time.Time
	From    string // the sending host's name
	Src     netip.AddrPort
	Dst     netip.AddrPort // the group and port 5353, or a unicast destination
	IfIndex int            // the sender's interface
	Family  sd.Family
	Msg     *dns.Msg // as unpacked from the wire; shared, do not modify
	Size    int      // bytes on the wire
}

// Multicast reports whether the packet went to the group.
func (p Packet) Multicast() bool { return p.Dst.Addr().IsMulticast() }

// Packets returns the recorded transmissions that match every filter, in
// the order they were sent.
func (l *Link) Packets(filters ...func(Packet) bool) []Packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Packet
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

// Reset forgets the recorded transmissions.
func (l *Link) Reset() {
	l.mu.Lock()
	l.sent = nil
	l.mu.Unlock()
}

// OnTransmit sets f to be called with every later transmission on l, once
// it has been recorded and delivered, from the sender's goroutine and
// without any lock held (f may send or inject; nil removes it). f must not
// block for long: the sender waits for it.
func (l *Link) OnTransmit(f func(Packet)) {
	l.mu.Lock()
	l.onTx = f
	l.mu.Unlock()
}

// Inject delivers m to host to, on its interface ifIndex, as received from
// src over fam and addressed to dst (the group, or a unicast address). Any
// source can be given: a host that is not on the link, one off the link's
// subnet, a port other than 5353. The packet goes through the wire form like
// any other, but it is not a transmission on l: it is neither recorded nor
// seen by OnTransmit. It panics if m does not pack.
func (l *Link) Inject(to *Host, ifIndex int, fam sd.Family, src netip.AddrPort, dst netip.Addr, m *dns.Msg) {
	b, err := pack(m)
	if err != nil {
		panic(fmt.Sprintf("mdnstest: Inject: %v", err))
	}
	to.deliver(&mdns.Packet{Msg: mustUnpack(b), Src: src, Dst: dst, IfIndex: ifIndex, Family: fam, Size: len(b), Received: time.Now()})
}

// InjectWire delivers the datagram b to host to, as Inject does, but
// exactly as received: b is unpacked once with miekg/dns and the message
// goes to the host as it came out, never packed again (so a message that
// would not pack, or would pack differently, still arrives). What the
// transport drops never arrives, and InjectWire returns why: more than
// mdns.MaxPacket bytes, or bytes that do not unpack (wrapping
// mdns.ErrMalformed). internal/mdns also drops messages whose header
// counts disagree with what unpacked; InjectWire delivers those, which
// only widens what a fuzz target reaches.
func (l *Link) InjectWire(to *Host, ifIndex int, fam sd.Family, src netip.AddrPort, dst netip.Addr, b []byte) (err error) {
	if len(b) > mdns.MaxPacket {
		return fmt.Errorf("mdnstest: InjectWire: %w: %d bytes > %d", mdns.ErrTooLarge, len(b), mdns.MaxPacket)
	}
	m := new(dns.Msg)
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: unpack panicked: %v", mdns.ErrMalformed, r)
			}
		}()
		if uerr := m.Unpack(b); uerr != nil {
			err = fmt.Errorf("%w: %w", mdns.ErrMalformed, uerr)
		}
	}()
	if err != nil {
		return err
	}
	to.deliver(&mdns.Packet{Msg: m, Src: src, Dst: dst, IfIndex: ifIndex, Family: fam, Size: len(b), Received: time.Now()})
	return nil
}

// transmit records a packet sent from port from and delivers it to every
// port of l it reaches.
func (l *Link) transmit(from *port, src, dst netip.AddrPort, f sd.Family, b []byte) {
	rec := Packet{At: time.Now(), From: from.host.name, Src: src, Dst: dst, IfIndex: from.index, Family: f, Msg: mustUnpack(b), Size: len(b)}
	l.mu.Lock()
	l.sent = append(l.sent, rec)
	ports := slices.Clone(l.ports)
	hook := l.onTx
	l.mu.Unlock()
	for _, p := range ports {
		if !dst.Addr().IsMulticast() && !p.host.listens(p, f, dst) {
			continue
		}
		p.host.deliver(&mdns.Packet{Msg: mustUnpack(b), Src: src, Dst: dst.Addr(), IfIndex: p.index, Family: f, Size: len(b), Received: time.Now()})
	}
	if hook != nil {
		hook(rec)
	}
}

func (l *Link) add(p *port) {
	l.mu.Lock()
	l.ports = append(l.ports, p)
	l.mu.Unlock()
}

func (l *Link) remove(p *port) {
	l.mu.Lock()
	l.ports = slices.DeleteFunc(l.ports, func(x *port) bool { return x == p })
	l.mu.Unlock()
}

// pack packs m as internal/mdns does (with name compression, m itself
// unchanged), refusing nothing.
func pack(m *dns.Msg) ([]byte, error) {
	mm := *m
	mm.Compress = true
	return mm.Pack()
}

func mustUnpack(b []byte) *dns.Msg {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		panic(fmt.Sprintf("mdnstest: a packed message does not unpack: %v", err))
	}
	return m
}

// port is an interface of a host, attached to a link.
type port struct {
	host  *Host
	link  *Link
	index int // ifc.Index, fixed
	ifc   mdns.Interface
}

// Host is a host on one or more links, through its interfaces. It
// implements the transports of package announce and package browse
// (ReadPacket, SendMulticast, SendUnicast, Interfaces, Interface, Families,
// Close). Its methods are safe for concurrent use.
type Host struct {
	name  string
	inbox chan *mdns.Packet
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	ports    []*port // ifc guarded by mu too
	srcPort  uint16
	fams     []sd.Family
	changes  chan mdns.InterfaceChange // nil until Changes
	rejected int
	dropped  int
}

// NewHost returns a host named name, attached to l through ifaces, or, with
// none given, through one interface lan0 (index 2, MTU 1500) with the
// addresses 198.51.100.(10+n) and fe80::n. It sends from and listens on
// port 5353, and serves both families.
func (l *Link) NewHost(name string, n int, ifaces ...mdns.Interface) *Host {
	h := &Host{
		name:    name,
		inbox:   make(chan *mdns.Packet, InboxSize),
		done:    make(chan struct{}),
		srcPort: mdns.Port,
		fams:    []sd.Family{sd.IPv4, sd.IPv6},
	}
	if len(ifaces) == 0 {
		ifaces = []mdns.Interface{{Index: 2, Name: "lan0", MTU: 1500, Addrs: []netip.Addr{
			netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + n)}),
			netip.MustParseAddr(fmt.Sprintf("fe80::%x", n)),
		}}}
	}
	for _, ifc := range ifaces {
		h.Attach(l, ifc)
	}
	return h
}

// Name returns the host's name (Packet.From of what it sends).
func (h *Host) Name() string { return h.name }

// Attach adds interface ifc, on link l. Once Changes has been called, the
// change is reported there, as internal/mdns reports an interface it
// joined at a rescan. It panics if h already has an interface of that index.
func (h *Host) Attach(l *Link, ifc mdns.Interface) {
	ifc.Addrs = slices.Clone(ifc.Addrs)
	p := &port{host: h, link: l, index: ifc.Index, ifc: ifc}
	h.mu.Lock()
	for _, x := range h.ports {
		if x.index == ifc.Index {
			h.mu.Unlock()
			panic(fmt.Sprintf("mdnstest: host %s already has interface %d", h.name, ifc.Index))
		}
	}
	h.ports = append(h.ports, p)
	h.report(mdns.InterfaceChange{Added: []mdns.Interface{cloneIfc(ifc)}})
	h.mu.Unlock()
	l.add(p)
}

// Detach removes interface ifIndex from h and from its link; the change is
// reported as Attach's is. It does nothing if h has no such interface.
func (h *Host) Detach(ifIndex int) {
	h.mu.Lock()
	i := slices.IndexFunc(h.ports, func(p *port) bool { return p.index == ifIndex })
	if i < 0 {
		h.mu.Unlock()
		return
	}
	p := h.ports[i]
	h.ports = slices.Delete(h.ports, i, i+1)
	h.report(mdns.InterfaceChange{Removed: []mdns.Interface{cloneIfc(p.ifc)}})
	h.mu.Unlock()
	p.link.remove(p)
}

// Changes returns the channel on which h reports the interfaces that
// Attach and Detach add and remove, and the address changes SetAddrs makes,
// from now on (not those attached before the first call: they are the ones
// a transport starts with). A report that
// does not fit in its 16 places is dropped, as the transports' OnChange
// does. Pass it where the responder or the querier takes interface changes.
func (h *Host) Changes() chan mdns.InterfaceChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changes == nil {
		h.changes = make(chan mdns.InterfaceChange, 16)
	}
	return h.changes
}

// report queues c on the changes channel, if any. h.mu is held.
func (h *Host) report(c mdns.InterfaceChange) {
	if h.changes == nil {
		return
	}
	select {
	case h.changes <- c:
	default:
	}
}

// SetAddrs replaces the addresses of interface ifIndex. Once Changes has
// been called, a change of the set is reported there as an
// mdns.AddrChange (the interface's new state, the addresses added and
// removed), as internal/mdns reports the address changes of an interface
// it keeps serving; setting the same set again reports nothing. It panics
// if h has no such interface.
func (h *Host) SetAddrs(ifIndex int, addrs ...netip.Addr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.ports {
		if p.index == ifIndex {
			old := p.ifc.Addrs
			p.ifc.Addrs = slices.Clone(addrs)
			ac := mdns.AddrChange{Interface: cloneIfc(p.ifc), Added: missing(addrs, old), Removed: missing(old, addrs)}
			if len(ac.Added) > 0 || len(ac.Removed) > 0 {
				h.report(mdns.InterfaceChange{Changed: []mdns.AddrChange{ac}})
			}
			return
		}
	}
	panic(fmt.Sprintf("mdnstest: host %s has no interface %d", h.name, ifIndex))
}

// missing returns the addresses of a that are not in b, once each.
func missing(a, b []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, x := range a {
		if !slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// SetSourcePort sets the port h sends from and receives unicast on (5353
// unless set: another port makes h a legacy or one-shot querier, RFC 6762
// sections 5.1 and 6.7).
func (h *Host) SetSourcePort(p uint16) {
	h.mu.Lock()
	h.srcPort = p
	h.mu.Unlock()
}

// SetFamilies sets what Families returns (both unless set).
func (h *Host) SetFamilies(fams ...sd.Family) {
	h.mu.Lock()
	h.fams = slices.Clone(fams)
	h.mu.Unlock()
}

// ReadPacket returns the next packet delivered to h. It returns
// mdns.ErrClosed after Close, or ctx's error.
func (h *Host) ReadPacket(ctx context.Context) (*mdns.Packet, error) {
	select {
	case <-h.done:
		return nil, mdns.ErrClosed
	default:
	}
	select {
	case p := <-h.inbox:
		return p, nil
	case <-h.done:
		return nil, mdns.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SendMulticast sends m to the group of family f, out of interface ifIndex
// or, when ifIndex is 0, out of every interface with an address of family f.
// A message packing to more than mdns.MaxPacket bytes is refused with
// mdns.ErrTooLarge (and counted by Rejected); no interface to send from is
// mdns.ErrNoInterface; after Close, mdns.ErrClosed.
func (h *Host) SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, f sd.Family) error {
	b, err := h.precheck(m)
	if err != nil {
		return err
	}
	type out struct {
		p   *port
		src netip.Addr
	}
	var outs []out
	h.mu.Lock()
	sport := h.srcPort
	for _, p := range h.ports {
		if ifIndex != 0 && p.index != ifIndex {
			continue
		}
		if a, ok := addrOf(p.ifc, f); ok {
			outs = append(outs, out{p, a})
		}
	}
	h.mu.Unlock()
	if len(outs) == 0 {
		return fmt.Errorf("mdnstest: host %s: %w: index %d for IPv%d", h.name, mdns.ErrNoInterface, ifIndex, int(f))
	}
	for _, o := range outs {
		o.p.link.transmit(o.p, netip.AddrPortFrom(o.src, sport), mdns.Group(f), f, b)
	}
	return nil
}

// SendUnicast sends m to to, out of interface ifIndex or, when ifIndex is
// 0, out of the first interface with an address of to's family. It refuses
// what SendMulticast refuses.
func (h *Host) SendUnicast(ctx context.Context, m *dns.Msg, to netip.AddrPort, ifIndex int) error {
	b, err := h.precheck(m)
	if err != nil {
		return err
	}
	f := sd.FamilyOf(to.Addr())
	h.mu.Lock()
	sport := h.srcPort
	var from *port
	var src netip.Addr
	for _, p := range h.ports {
		if ifIndex != 0 && p.index != ifIndex {
			continue
		}
		if a, ok := addrOf(p.ifc, f); ok {
			from, src = p, a
			break
		}
	}
	h.mu.Unlock()
	if from == nil {
		return fmt.Errorf("mdnstest: host %s: %w: index %d for %s", h.name, mdns.ErrNoInterface, ifIndex, to)
	}
	from.link.transmit(from, netip.AddrPortFrom(src, sport), to, f, b)
	return nil
}

// precheck refuses a send after Close or of a message too large, and
// returns the wire form of m.
func (h *Host) precheck(m *dns.Msg) ([]byte, error) {
	if h.Closed() {
		return nil, mdns.ErrClosed
	}
	b, err := pack(m)
	if err != nil {
		return nil, fmt.Errorf("mdnstest: packing message: %w", err)
	}
	if len(b) > mdns.MaxPacket {
		h.mu.Lock()
		h.rejected++
		h.mu.Unlock()
		return nil, fmt.Errorf("mdnstest: host %s: %w: %d bytes > %d", h.name, mdns.ErrTooLarge, len(b), mdns.MaxPacket)
	}
	return b, nil
}

// Interfaces returns h's interfaces, in the order they were attached.
func (h *Host) Interfaces() []mdns.Interface {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]mdns.Interface, 0, len(h.ports))
	for _, p := range h.ports {
		out = append(out, cloneIfc(p.ifc))
	}
	return out
}

// Interface returns interface index of h.
func (h *Host) Interface(index int) (mdns.Interface, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.ports {
		if p.index == index {
			return cloneIfc(p.ifc), true
		}
	}
	return mdns.Interface{}, false
}

// Families returns the families h serves.
func (h *Host) Families() []sd.Family {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.fams)
}

// Close stops h: it receives nothing more, and ReadPacket and the sends
// return mdns.ErrClosed. It is idempotent.
func (h *Host) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

// Closed reports whether Close was called.
func (h *Host) Closed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// Rejected returns how many sends were refused as too large.
func (h *Host) Rejected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rejected
}

// Dropped returns how many packets arrived at a full inbox and were lost.
func (h *Host) Dropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// Drain returns the packets waiting in h's inbox now, and empties it.
func (h *Host) Drain() []*mdns.Packet {
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

// Send transmits m from h, as a peer of the host under test: to the IPv4
// group on every interface, or by unicast to to[0] when given. It fails
// tb if the send fails.
func (h *Host) Send(tb testing.TB, m *dns.Msg, to ...netip.AddrPort) {
	tb.Helper()
	var err error
	if len(to) > 0 {
		err = h.SendUnicast(context.Background(), m, to[0], 0)
	} else {
		err = h.SendMulticast(context.Background(), m, 0, sd.IPv4)
	}
	if err != nil {
		tb.Fatalf("mdnstest: %s sending: %v", h.name, err)
	}
}

// Addr4 returns the IPv4 address of h's first interface (the zero Addr if
// it has none).
func (h *Host) Addr4() netip.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ports) == 0 {
		return netip.Addr{}
	}
	a, _ := addrOf(h.ports[0].ifc, sd.IPv4)
	return a
}

// listens reports whether h, through its port p, receives a unicast to dst
// of family f: p holds the address and h listens on the port.
func (h *Host) listens(p *port, f sd.Family, dst netip.AddrPort) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := addrOf(p.ifc, f)
	return ok && a == dst.Addr() && h.srcPort == dst.Port()
}

// deliver puts pkt in h's inbox, unless h is closed; at a full inbox it is
// dropped.
func (h *Host) deliver(pkt *mdns.Packet) {
	if h.Closed() {
		return
	}
	select {
	case h.inbox <- pkt:
	default:
		h.mu.Lock()
		h.dropped++
		h.mu.Unlock()
	}
}

// addrOf returns ifc's first address of family f.
func addrOf(ifc mdns.Interface, f sd.Family) (netip.Addr, bool) {
	for _, a := range ifc.Addrs {
		if sd.FamilyOf(a) == f {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func cloneIfc(ifc mdns.Interface) mdns.Interface {
	ifc.Addrs = slices.Clone(ifc.Addrs)
	return ifc
}
