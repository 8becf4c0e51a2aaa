package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DefaultRescan is the interface rescan period used when Config.Rescan is 0
// and the system gives no interface events (systems other than Linux, or
// when the rtnetlink subscription fails).
const DefaultRescan = 5 * time.Second

// DefaultEventRescan is the fallback rescan period used when Config.Rescan
// is 0 and interface events are available: the events trigger rescans, the
// period only catches what they might miss.
const DefaultEventRescan = 30 * time.Second

// eventSettle is how long the rescan waits after an interface event, so that
// a burst of events (an interface coming up with its addresses) is one
// rescan and, usually, one report.
const eventSettle = 25 * time.Millisecond

// queueLen bounds the packets waiting for ReadPacket. When it is full the
// read loop waits for the reader, and the datagrams wait in the socket's
// buffer (readBuffer), where only the kernel drops what does not fit:
// dropping here instead lost most of a 10,000-instance answer (about 1,800
// datagrams) at a browser still busy with its first packets, although the
// socket had room for all of it.
const queueLen = 256

// ErrClosed is returned by Conn methods after Close; it wraps net.ErrClosed.
var ErrClosed = fmt.Errorf("mdns: %w", net.ErrClosed)

// ErrFamilyUnavailable is returned when sending on an address family the Conn
// has no socket for.
var ErrFamilyUnavailable = errors.New("mdns: address family unavailable")

// ErrTooLarge is returned when a message packs to more than MaxPacket bytes.
var ErrTooLarge = errors.New("mdns: message larger than MaxPacket")

// Stats counts what the transport has done since Listen.
type Stats struct {
	// Received counts every datagram read from the sockets, valid or not.
	Received uint64
	// Malformed counts datagrams that do not unpack as a DNS message.
	Malformed uint64
	// Partial counts messages kept without some of their records, whose
	// data did not unpack (the message's framing was sound).
	Partial uint64
	// Oversize counts datagrams larger than MaxPacket.
	Oversize uint64
	// Foreign counts datagrams that arrived on an interface not served.
	Foreign uint64
	// Waited counts valid messages the read loop had to wait to queue
	// because the ReadPacket queue was full (see queueLen).
	Waited uint64
	// Sent counts datagrams sent (a multicast on n interfaces counts n).
	Sent uint64
	// Filtered counts datagrams that Config.Filter dropped.
	Filtered uint64
}

// Conn is an mDNS transport: one socket per address family, joined to the
// mDNS group on the served interfaces. Its methods are safe for concurrent
// use.
type Conn struct {
	cfg   Config
	log   *slog.Logger
	socks []*socket

	scanMu sync.Mutex // serialises rescans
	sel    selector   // guarded by scanMu
	state  atomic.Pointer[ifaceState]

	// events is the kernel's interface event subscription (nil without);
	// kick receives a value when it reported something, and eventsLost is
	// closed when it stopped working.
	events     eventSource
	kick       chan struct{}
	eventsLost chan struct{}

	packets   chan *Packet
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup

	received, malformed, partial, oversize, foreign, waited, sent, filtered atomic.Uint64
}

// eventSource is a subscription to the system's link and address events
// (netlink_linux.go; other systems have none yet, see sys_other.go).
type eventSource interface {
	// wait blocks until the system reports a change of a link or an
	// address (or that it dropped such reports); it fails once the source
	// is closed or broken.
	wait() error
	// close ends the subscription and unblocks wait.
	close() error
}

// socket is one family's socket and the interfaces it has joined (guarded
// by Conn.scanMu).
type socket struct {
	fc     familyConn
	joined map[int]*net.Interface
}

// Listen opens the mDNS transport. For each family in cfg.Families (default
// both) it binds a socket to port 5353, and joins the family's group on every
// up, running, multicast-capable, non-loopback interface with an
// advertisable address of that family whose name matches no cfg.Exclude glob
// (or only those in cfg.Interfaces; an unknown name is an error wrapping
// ErrUnknownInterface, a malformed glob one wrapping path.ErrBadPattern). A
// family whose socket cannot be opened is skipped; a family with no usable
// interface yet keeps its socket and picks interfaces up when they come.
// Listen fails with ErrNoInterface when no family has both. From then on,
// interfaces and addresses are tracked (see Config.Rescan) and changes
// reported to cfg.OnChange. ctx bounds the set-up only; the Conn lives until
// Close.
func Listen(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	fams := cfg.Families
	if len(fams) == 0 {
		fams = []Family{IPv4, IPv6}
	}
	exclude, err := excludeGlobs(cfg.Exclude)
	if err != nil {
		return nil, err
	}
	c := &Conn{
		cfg:        cfg,
		log:        cfg.Logger,
		packets:    make(chan *Packet, queueLen),
		done:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		eventsLost: make(chan struct{}),
	}
	c.sel = selector{names: cfg.Interfaces, exclude: exclude, temporary: cfg.TemporaryAddrs, log: c.log, logged: map[string]string{}}
	c.state.Store(&ifaceState{ifaces: map[int]Interface{}, joined: map[Family]map[int]bool{}})
	// Names are checked before any socket exists.
	if err := checkNames(cfg.Interfaces); err != nil {
		return nil, err
	}
	var errs []error
	seen := map[Family]bool{}
	for _, f := range fams {
		if f != IPv4 && f != IPv6 {
			return nil, fmt.Errorf("mdns: Config.Families: unknown family %d", int(f))
		}
		if seen[f] {
			continue
		}
		seen[f] = true
		fc, err := listenSocket(ctx, f)
		if err != nil {
			c.log.Debug("mdns: skipping family", "family", f, "err", err)
			errs = append(errs, err)
			continue
		}
		c.socks = append(c.socks, &socket{fc: fc, joined: map[int]*net.Interface{}})
	}
	// Subscribed before the first scan, so that no change after it is missed.
	if ev, err := openEventSource(); err != nil {
		c.log.Debug("mdns: no interface events", "err", err)
	} else {
		c.events = ev
	}
	c.log.Debug("mdns: interface tracking", "events", c.events != nil, "rescan", c.rescanPeriod(c.events != nil), "exclude", exclude)
	if _, err := c.rescan(); err != nil {
		c.closeSockets()
		return nil, err
	}
	if len(c.Families()) == 0 {
		c.closeSockets()
		errs = append([]error{ErrNoInterface}, errs...)
		return nil, fmt.Errorf("mdns: listen: %w", errors.Join(errs...))
	}
	for _, s := range c.socks {
		c.wg.Add(1)
		go c.readLoop(s.fc)
	}
	if c.events != nil {
		c.wg.Add(1)
		go c.eventLoop()
	}
	c.wg.Add(1)
	go c.rescanLoop()
	return c, nil
}

// closeSockets closes the sockets and the event subscription.
func (c *Conn) closeSockets() error {
	var errs []error
	for _, s := range c.socks {
		if err := s.fc.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.events != nil {
		_ = c.events.close()
	}
	return errors.Join(errs...)
}

// openEventSource subscribes to interface events; tests replace it.
var openEventSource = openEvents

// rescanPeriod returns the period of the fallback rescan.
func (c *Conn) rescanPeriod(events bool) time.Duration {
	switch {
	case c.cfg.Rescan > 0:
		return c.cfg.Rescan
	case events:
		return DefaultEventRescan
	}
	return DefaultRescan
}

// eventLoop waits for interface events and kicks the rescan loop, until
// Close or until the subscription fails.
func (c *Conn) eventLoop() {
	defer c.wg.Done()
	for {
		err := c.events.wait()
		select {
		case <-c.done:
			return
		default:
		}
		if err != nil {
			c.log.Debug("mdns: interface events lost, rescanning periodically", "err", err)
			close(c.eventsLost)
			return
		}
		select {
		case c.kick <- struct{}{}:
		default: // a rescan is already due
		}
	}
}

// rescanLoop re-enumerates interfaces eventSettle after each interface
// event, and every fallback period, until Close.
func (c *Conn) rescanLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.rescanPeriod(c.events != nil))
	defer tick.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	settling := false
	lost := c.eventsLost
	for {
		select {
		case <-c.done:
			return
		case <-lost:
			lost = nil
			tick.Reset(c.rescanPeriod(false))
			c.log.Debug("mdns: interface tracking", "events", false, "rescan", c.rescanPeriod(false))
			continue
		case <-c.kick:
			if !settling {
				settling = true
				settle.Reset(eventSettle)
			}
			continue
		case <-settle.C:
			settling = false
		case <-tick.C:
		}
		change, err := c.rescan()
		if err != nil {
			c.log.Debug("mdns: interface rescan failed", "err", err)
			continue
		}
		if change.Empty() {
			continue
		}
		c.log.Debug("mdns: interfaces changed", "added", len(change.Added), "removed", len(change.Removed), "changed", len(change.Changed))
		if c.cfg.OnChange != nil {
			c.cfg.OnChange(change)
		}
	}
}

// readBatchSize is how many datagrams one read takes at most, where the
// system reads in batches (recvmmsg on Linux).
const readBatchSize = 32

// readCoalesce is the least time between two reads of a socket while
// datagrams come faster than that: see readLoop.
const readCoalesce = time.Millisecond

// readLoop reads one socket into the packet queue with fixed buffers.
//
// Where the system reads in batches, a read takes every datagram waiting
// (up to readBatchSize, then at once again), and while datagrams come
// faster than one per readCoalesce (a read took more than one, or came
// less than readCoalesce after the previous one), the loop waits
// readCoalesce before it reads again, letting the socket's buffer
// gather them. Under a flood of tens of thousands of datagrams a second,
// the cost per datagram is then the kernel's copy and Config.Filter,
// instead of a wakeup of this goroutine (the scheduler, the poller, two
// system calls) for each; a datagram waits at most readCoalesce more, and
// only while the link is that busy. The socket's buffer (readBuffer, see
// listenSocket) holds what comes meanwhile.
func (c *Conn) readLoop(fc familyConn) {
	defer c.wg.Done()
	f := fc.family()
	// One byte over the limit, so that an oversize datagram is detected
	// rather than silently truncated.
	const size = MaxPacket + 1
	batch := 1
	if fc.batches() {
		batch = readBatchSize
	}
	bufs := make([]byte, batch*size)
	ms := make([]rxMsg, batch)
	for i := range ms {
		ms[i].buf = bufs[i*size : (i+1)*size : (i+1)*size]
	}
	var last time.Time
	for {
		got, err := fc.readBatch(ms)
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Debug("mdns: read failed", "family", f, "err", err)
			// Avoid spinning on a persistent error.
			select {
			case <-c.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		now := time.Now()
		c.received.Add(uint64(got))
		st := c.state.Load()
		for i := range got {
			c.deliver(&ms[i], f, st, now)
		}
		if got == len(ms) && batch > 1 {
			continue // more may be waiting
		}
		if batch > 1 && (got > 1 || now.Sub(last) < readCoalesce) {
			time.Sleep(readCoalesce)
		}
		last = now
	}
}

// deliver checks one datagram read at now and queues it for ReadPacket,
// unless it is dropped (and counted).
func (c *Conn) deliver(m *rxMsg, f Family, st *ifaceState, now time.Time) {
	n, ifIndex, src, dst := m.n, m.ifIndex, m.src, m.dst
	if n > MaxPacket {
		c.oversize.Add(1)
		c.log.Debug("mdns: dropped oversize packet", "src", src, "ifindex", ifIndex, "max", MaxPacket)
		return
	}
	if !st.served(f, ifIndex) {
		c.foreign.Add(1)
		c.log.Debug("mdns: dropped packet from an interface not served", "src", src, "ifindex", ifIndex)
		return
	}
	if m.scope != 0 && src.Addr().Zone() == "" {
		// An IPv6 link-local source: its zone, needed to answer it, is the
		// interface's name, as the net package gives it.
		zone := st.ifaces[int(m.scope)].Name
		if zone == "" {
			zone = strconv.Itoa(int(m.scope))
		}
		src = netip.AddrPortFrom(src.Addr().WithZone(zone), src.Port())
	}
	b := m.buf[:n]
	if c.cfg.Filter != nil && c.cfg.Filter(b, ifIndex, f, src, dst) {
		c.filtered.Add(1)
		return
	}
	msg, skipped, err := unpackMessage(b)
	if err != nil {
		c.malformed.Add(1)
		c.log.Debug("mdns: dropped malformed packet", "src", src, "ifindex", ifIndex, "size", n, "err", err)
		return
	}
	if len(skipped) > 0 {
		c.partial.Add(1)
		c.log.Debug("mdns: records left out of a packet", "src", src, "ifindex", ifIndex, "size", n, "skipped", errors.Join(skipped...))
	}
	p := &Packet{Msg: msg, Src: src, Dst: dst, IfIndex: ifIndex, Family: f, Size: n, Received: now}
	select {
	case c.packets <- p:
		return
	default:
	}
	c.waited.Add(1)
	select {
	case c.packets <- p:
	case <-c.done:
	}
}

// ReadPacket returns the next valid mDNS message received on a served
// interface. It returns ErrClosed after Close, or ctx's error.
func (c *Conn) ReadPacket(ctx context.Context) (*Packet, error) {
	select {
	case <-c.done:
		return nil, ErrClosed
	default:
	}
	select {
	case p := <-c.packets:
		return p, nil
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Conn) socket(f Family) familyConn {
	for _, s := range c.socks {
		if s.fc.family() == f {
			return s.fc
		}
	}
	return nil
}

func (c *Conn) precheck(ctx context.Context) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	return ctx.Err()
}

// SendMulticast sends m to the mDNS group of family f, out of interface
// ifIndex, or out of every interface joined for f when ifIndex is 0. It
// always sends from port 5353 (the socket's port), as RFC 6762 section 6
// requires of responses ("The source UDP port in all Multicast DNS responses
// MUST be 5353"), with TTL / hop limit 255 (section 11). m is
// packed once, with name compression; a message over MaxPacket bytes is
// refused with ErrTooLarge (use Split first). Errors from individual
// interfaces are joined; the others are still sent.
func (c *Conn) SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, f Family) error {
	if err := c.precheck(ctx); err != nil {
		return err
	}
	fc := c.socket(f)
	if fc == nil {
		return fmt.Errorf("%w: IPv%d", ErrFamilyUnavailable, int(f))
	}
	b, err := packMessage(m)
	if err != nil {
		return err
	}
	st := c.state.Load()
	var targets []int
	if ifIndex == 0 {
		for idx := range st.joined[f] {
			targets = append(targets, idx)
		}
		if len(targets) == 0 {
			return fmt.Errorf("%w for IPv%d", ErrNoInterface, int(f))
		}
	} else {
		if !st.served(f, ifIndex) {
			return fmt.Errorf("%w: index %d not joined for IPv%d", ErrNoInterface, ifIndex, int(f))
		}
		targets = []int{ifIndex}
	}
	var errs []error
	for _, idx := range targets {
		if err := fc.write(b, idx, Group(f)); err != nil {
			errs = append(errs, fmt.Errorf("mdns: multicast on %s: %w", st.ifaces[idx].Name, err))
			continue
		}
		c.sent.Add(1)
	}
	return errors.Join(errs...)
}

// SendUnicast sends m to the address to, out of interface ifIndex (0: let
// routing choose; an IPv6 link-local destination then needs a zone). The
// family follows the address; IPv4-mapped IPv6 addresses count as IPv4.
func (c *Conn) SendUnicast(ctx context.Context, m *dns.Msg, to netip.AddrPort, ifIndex int) error {
	if err := c.precheck(ctx); err != nil {
		return err
	}
	addr := to.Addr()
	f := IPv6
	if addr.Unmap().Is4() {
		f, addr = IPv4, addr.Unmap()
	}
	if !addr.IsValid() || to.Port() == 0 {
		return fmt.Errorf("mdns: SendUnicast: invalid destination %q", to)
	}
	fc := c.socket(f)
	if fc == nil {
		return fmt.Errorf("%w: IPv%d", ErrFamilyUnavailable, int(f))
	}
	if f == IPv6 && ifIndex == 0 && addr.Zone() != "" {
		ifIndex = zoneIndex(addr.Zone())
	}
	if f == IPv6 && ifIndex == 0 && addr.IsLinkLocalUnicast() {
		return fmt.Errorf("mdns: SendUnicast: link-local destination %s needs a zone or an interface index", to)
	}
	b, err := packMessage(m)
	if err != nil {
		return err
	}
	if err := fc.write(b, ifIndex, netip.AddrPortFrom(addr, to.Port())); err != nil {
		return fmt.Errorf("mdns: unicast to %s: %w", to, err)
	}
	c.sent.Add(1)
	return nil
}

// zoneIndex resolves an IPv6 zone (interface name or number) to an index, 0
// when unknown.
func zoneIndex(zone string) int {
	if n, err := strconv.Atoi(zone); err == nil {
		return n
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return ifi.Index
	}
	return 0
}

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		Received:  c.received.Load(),
		Malformed: c.malformed.Load(),
		Partial:   c.partial.Load(),
		Oversize:  c.oversize.Load(),
		Foreign:   c.foreign.Load(),
		Waited:    c.waited.Load(),
		Sent:      c.sent.Load(),
		Filtered:  c.filtered.Load(),
	}
}

// Close closes the sockets and the interface event subscription, and waits
// for every goroutine of the Conn to exit. It is idempotent: later calls
// return the first call's result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		err := c.closeSockets()
		c.wg.Wait()
		c.closeErr = err
	})
	return c.closeErr
}
