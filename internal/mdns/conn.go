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

// DefaultRescan is the interface rescan period used when Config.Rescan is 0.
const DefaultRescan = 5 * time.Second

// queueLen bounds the packets waiting for ReadPacket; more are dropped.
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
	// Oversize counts datagrams larger than MaxPacket.
	Oversize uint64
	// Foreign counts datagrams that arrived on an interface not served.
	Foreign uint64
	// Dropped counts valid messages discarded because the ReadPacket queue
	// was full.
	Dropped uint64
	// Sent counts datagrams sent (a multicast on n interfaces counts n).
	Sent uint64
}

// Conn is an mDNS transport: one socket per address family, joined to the
// mDNS group on the served interfaces. Its methods are safe for concurrent
// use.
type Conn struct {
	cfg   Config
	log   *slog.Logger
	socks []*socket

	scanMu  sync.Mutex // serialises rescans
	started bool       // set once Listen has finished its first scan
	state   atomic.Pointer[ifaceState]

	packets   chan *Packet
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup

	received, malformed, oversize, foreign, dropped, sent atomic.Uint64
}

// socket is one family's socket and the interfaces it has joined (guarded
// by Conn.scanMu).
type socket struct {
	fc     familyConn
	joined map[int]*net.Interface
}

// Listen opens the mDNS transport. For each family in cfg.Families (default
// both) it binds a socket to port 5353, and joins the family's group on every
// up, multicast-capable, non-loopback interface with an address of that
// family (or only those in cfg.Interfaces; an unknown name is an error
// wrapping ErrUnknownInterface). A family whose socket cannot be opened is
// skipped; a family with no usable interface yet keeps its socket and picks
// interfaces up at the next rescan. Listen fails with ErrNoInterface when no
// family has both. ctx bounds the set-up only; the Conn lives until Close.
func Listen(ctx context.Context, cfg Config) (*Conn, error) {
	if cfg.Rescan <= 0 {
		cfg.Rescan = DefaultRescan
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	fams := cfg.Families
	if len(fams) == 0 {
		fams = []Family{IPv4, IPv6}
	}
	c := &Conn{
		cfg:     cfg,
		log:     cfg.Logger,
		packets: make(chan *Packet, queueLen),
		done:    make(chan struct{}),
	}
	c.state.Store(&ifaceState{ifaces: map[int]Interface{}, joined: map[Family]map[int]bool{}})
	// Names are checked before any socket exists.
	if _, err := enumerate(cfg.Interfaces); err != nil {
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
	if _, _, err := c.rescan(); err != nil {
		c.closeSockets()
		return nil, err
	}
	if len(c.Families()) == 0 {
		c.closeSockets()
		errs = append([]error{ErrNoInterface}, errs...)
		return nil, fmt.Errorf("mdns: listen: %w", errors.Join(errs...))
	}
	c.started = true
	for _, s := range c.socks {
		c.wg.Add(1)
		go c.readLoop(s.fc)
	}
	c.wg.Add(1)
	go c.rescanLoop()
	return c, nil
}

func (c *Conn) closeSockets() {
	for _, s := range c.socks {
		_ = s.fc.close()
	}
}

// rescanLoop re-enumerates interfaces every cfg.Rescan until Close.
func (c *Conn) rescanLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(c.cfg.Rescan)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		added, removed, err := c.rescan()
		if err != nil {
			c.log.Debug("mdns: interface rescan failed", "err", err)
			continue
		}
		if len(added)+len(removed) > 0 {
			c.log.Debug("mdns: interfaces changed", "added", len(added), "removed", len(removed))
			if c.cfg.OnChange != nil {
				c.cfg.OnChange(added, removed)
			}
		}
	}
}

// readLoop reads one socket into the packet queue with a fixed buffer.
func (c *Conn) readLoop(fc familyConn) {
	defer c.wg.Done()
	f := fc.family()
	// One byte over the limit, so that an oversize datagram is detected
	// rather than silently truncated.
	buf := make([]byte, MaxPacket+1)
	for {
		n, ifIndex, src, dst, err := fc.read(buf)
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
		c.received.Add(1)
		if n > MaxPacket {
			c.oversize.Add(1)
			c.log.Debug("mdns: dropped oversize packet", "src", src, "ifindex", ifIndex, "max", MaxPacket)
			continue
		}
		if !c.state.Load().served(f, ifIndex) {
			c.foreign.Add(1)
			c.log.Debug("mdns: dropped packet from an interface not served", "src", src, "ifindex", ifIndex)
			continue
		}
		m, err := unpackMessage(buf[:n])
		if err != nil {
			c.malformed.Add(1)
			c.log.Debug("mdns: dropped malformed packet", "src", src, "ifindex", ifIndex, "size", n, "err", err)
			continue
		}
		p := &Packet{Msg: m, Src: src, Dst: dst, IfIndex: ifIndex, Family: f, Size: n, Received: now}
		select {
		case c.packets <- p:
		default:
			c.dropped.Add(1)
			c.log.Debug("mdns: receive queue full, dropped packet", "src", src)
		}
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
		Oversize:  c.oversize.Load(),
		Foreign:   c.foreign.Load(),
		Dropped:   c.dropped.Load(),
		Sent:      c.sent.Load(),
	}
}

// Close closes the sockets and waits for every goroutine of the Conn to
// exit. It is idempotent: later calls return the first call's result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		var errs []error
		for _, s := range c.socks {
			if err := s.fc.close(); err != nil {
				errs = append(errs, err)
			}
		}
		c.wg.Wait()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}
