package mdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// familyConn is the thin per-family layer over a socket: the system's own
// on Linux (sysConn, socket_linux.go), x/net's ipv4.PacketConn and
// ipv6.PacketConn elsewhere (v4Conn, v6Conn); everything above it is shared
// by both families.
type familyConn interface {
	family() Family
	// readBatch reads into ms[0] the next datagram with its arrival
	// interface and destination address (zero values when the kernel gave
	// none), blocking until one arrives; where the system can (batches
	// reports it), it also reads into the rest of ms as many more as
	// are already waiting, in the same system call. It returns how many
	// it read.
	readBatch(ms []rxMsg) (int, error)
	// batches reports whether readBatch takes every waiting datagram (up
	// to len(ms)) rather than one.
	batches() bool
	// write sends b to dst out of interface ifIndex (0: let routing choose).
	write(b []byte, ifIndex int, dst netip.AddrPort) error
	join(ifi *net.Interface) error
	leave(ifi *net.Interface) error
	close() error
}

// readBuffer is the receive buffer size asked of each socket: room for
// the datagrams of a flood that arrive while the read loop waits to read
// them in a batch (Conn.readLoop), and for a whole multi-packet response
// that arrives while the process is busy elsewhere: one answer to a query
// for a type of 10,000 instances is about 900 datagrams of 1,400 bytes,
// each taking some 3.6 KB of buffer in the kernel (TestBrowseBurstWhileBusy:
// at the kernel's default of 212,992 bytes, 59 datagrams fitted, and the
// rest of the burst waited for the next query, seconds later). The buffer
// costs nothing while empty.
const readBuffer = 4 << 20

// listenSocket opens the mDNS socket of family f: UDP bound to the wildcard
// address on Port with the operating system's port sharing options (so other
// responders on the host can share the port, RFC 6762 section 15.1; see
// socketOptions in sockopt_*.go for what each system gets), IPV6_V6ONLY for
// IPv6, packet info control messages on, multicast loopback on, and TTL / hop
// limit 255 for unicast and multicast (RFC 6762 section 11), and a receive
// buffer of readBuffer bytes where the system allows it. On Linux the socket
// is the system's own (socket_linux.go); elsewhere it is the net package's,
// with x/net (listenNet).
func listenSocket(ctx context.Context, f Family) (familyConn, error) {
	if err := checkPlatform(); err != nil {
		network, addr := "udp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(Port))
		if f == IPv6 {
			network, addr = "udp6", net.JoinHostPort("::", strconv.Itoa(Port))
		}
		return nil, fmt.Errorf("mdns: listen %s %s: %w", network, addr, err)
	}
	return openSocket(ctx, f)
}

// listenNet is listenSocket with the net package and x/net.
func listenNet(ctx context.Context, f Family) (familyConn, error) {
	network, addr := "udp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(Port))
	if f == IPv6 {
		network, addr = "udp6", net.JoinHostPort("::", strconv.Itoa(Port))
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = socketOptions(fd, f) })
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("mdns: listen %s %s: %w", network, addr, err)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		// Best effort: the system may cap it (net.core.rmem_max on Linux).
		_ = uc.SetReadBuffer(readBuffer)
	}
	fc, err := wrap(pc, f)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("mdns: %s socket options: %w", network, err)
	}
	return fc, nil
}

func wrap(pc net.PacketConn, f Family) (familyConn, error) {
	if f == IPv6 {
		p := ipv6.NewPacketConn(pc)
		err := errors.Join(
			p.SetControlMessage(ipv6.FlagInterface|ipv6.FlagDst, true),
			p.SetMulticastHopLimit(255),
			p.SetHopLimit(255),
			p.SetMulticastLoopback(true),
		)
		return &v6Conn{p: p}, err
	}
	p := ipv4.NewPacketConn(pc)
	err := errors.Join(
		p.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true),
		p.SetMulticastTTL(255),
		p.SetTTL(255),
		p.SetMulticastLoopback(true),
	)
	return &v4Conn{p: p}, err
}

// rxMsg is one datagram read by familyConn.readBatch into buf (set by the
// caller).
type rxMsg struct {
	buf     []byte
	n       int            // length of the datagram (up to len(buf))
	ifIndex int            // arrival interface (0: unknown)
	src     netip.AddrPort // sender; an IPv6 link-local one with its zone, or its scope in scope
	scope   uint32         // the IPv6 scope (interface index) of src when src has no zone yet
	dst     netip.Addr     // destination address (zero: unknown)
}

// readOne is readBatch without batches: one datagram through x/net's
// ReadFrom, whose control message gives the interface and destination.
func readOne(ms []rxMsg, readFrom func(b []byte) (int, int, net.IP, net.Addr, error)) (int, error) {
	m := &ms[0]
	n, ifIndex, dst, src, err := readFrom(m.buf)
	if err != nil {
		return 0, err
	}
	m.n, m.ifIndex, m.src, m.scope, m.dst = n, ifIndex, fromNetAddr(src), 0, fromIP(dst)
	return 1, nil
}

// fromNetAddr converts a received source address, keeping the zone of IPv6
// link-local sources (needed to answer them).
func fromNetAddr(a net.Addr) netip.AddrPort {
	ua, ok := a.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return netip.AddrPort{}
	}
	ip = ip.Unmap()
	if ua.Zone != "" && ip.Is6() {
		ip = ip.WithZone(ua.Zone)
	}
	return netip.AddrPortFrom(ip, uint16(ua.Port))
}

func fromIP(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// v4Conn and v6Conn are listenNet's sockets: they read one datagram at a
// time, through x/net.
type v4Conn struct {
	p *ipv4.PacketConn
}

func (c *v4Conn) family() Family { return IPv4 }

func (c *v4Conn) batches() bool { return false }

func (c *v4Conn) readBatch(ms []rxMsg) (int, error) {
	return readOne(ms, func(b []byte) (int, int, net.IP, net.Addr, error) {
		n, cm, src, err := c.p.ReadFrom(b)
		if err != nil || cm == nil {
			return n, 0, nil, src, err
		}
		return n, cm.IfIndex, cm.Dst, src, nil
	})
}

func (c *v4Conn) write(b []byte, ifIndex int, dst netip.AddrPort) error {
	var cm *ipv4.ControlMessage
	if ifIndex != 0 {
		cm = &ipv4.ControlMessage{IfIndex: ifIndex}
	}
	_, err := c.p.WriteTo(b, cm, net.UDPAddrFromAddrPort(dst))
	return err
}

func (c *v4Conn) join(ifi *net.Interface) error {
	return c.p.JoinGroup(ifi, &net.UDPAddr{IP: GroupV4.AsSlice()})
}

func (c *v4Conn) leave(ifi *net.Interface) error {
	return c.p.LeaveGroup(ifi, &net.UDPAddr{IP: GroupV4.AsSlice()})
}

func (c *v4Conn) close() error { return c.p.Close() }

type v6Conn struct {
	p *ipv6.PacketConn
}

func (c *v6Conn) family() Family { return IPv6 }

func (c *v6Conn) batches() bool { return false }

func (c *v6Conn) readBatch(ms []rxMsg) (int, error) {
	return readOne(ms, func(b []byte) (int, int, net.IP, net.Addr, error) {
		n, cm, src, err := c.p.ReadFrom(b)
		if err != nil || cm == nil {
			return n, 0, nil, src, err
		}
		return n, cm.IfIndex, cm.Dst, src, nil
	})
}

func (c *v6Conn) write(b []byte, ifIndex int, dst netip.AddrPort) error {
	var cm *ipv6.ControlMessage
	ua := net.UDPAddrFromAddrPort(dst)
	if ifIndex != 0 {
		cm = &ipv6.ControlMessage{IfIndex: ifIndex}
		if ua.Zone == "" && (dst.Addr().IsLinkLocalUnicast() || dst.Addr().IsLinkLocalMulticast()) {
			ua.Zone = strconv.Itoa(ifIndex) // scope of a link-local destination
		}
	}
	_, err := c.p.WriteTo(b, cm, ua)
	return err
}

func (c *v6Conn) join(ifi *net.Interface) error {
	return c.p.JoinGroup(ifi, &net.UDPAddr{IP: GroupV6.AsSlice()})
}

func (c *v6Conn) leave(ifi *net.Interface) error {
	return c.p.LeaveGroup(ifi, &net.UDPAddr{IP: GroupV6.AsSlice()})
}

func (c *v6Conn) close() error { return c.p.Close() }
