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

// familyConn is the thin per-family layer over x/net's ipv4.PacketConn and
// ipv6.PacketConn; everything above it is shared by both families.
type familyConn interface {
	family() Family
	// read returns the next datagram with its arrival interface and
	// destination address (zero values when the kernel gave none).
	read(b []byte) (n, ifIndex int, src netip.AddrPort, dst netip.Addr, err error)
	// write sends b to dst out of interface ifIndex (0: let routing choose).
	write(b []byte, ifIndex int, dst netip.AddrPort) error
	join(ifi *net.Interface) error
	leave(ifi *net.Interface) error
	close() error
}

// listenSocket opens the mDNS socket of family f: UDP bound to the wildcard
// address on Port with the operating system's port sharing options (so other
// responders on the host can share the port, RFC 6762 section 15.1; see
// socketOptions in sockopt_*.go for what each system gets), IPV6_V6ONLY for
// IPv6, packet info control messages on, multicast loopback on, and TTL / hop
// limit 255 for unicast and multicast (RFC 6762 section 11).
func listenSocket(ctx context.Context, f Family) (familyConn, error) {
	network, addr := "udp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(Port))
	if f == IPv6 {
		network, addr = "udp6", net.JoinHostPort("::", strconv.Itoa(Port))
	}
	if err := checkPlatform(); err != nil {
		return nil, fmt.Errorf("mdns: listen %s %s: %w", network, addr, err)
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
		return &v6Conn{p: p, uc: udpConn(pc), oob: make([]byte, oobSize)}, err
	}
	p := ipv4.NewPacketConn(pc)
	err := errors.Join(
		p.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true),
		p.SetMulticastTTL(255),
		p.SetTTL(255),
		p.SetMulticastLoopback(true),
	)
	return &v4Conn{p: p, uc: udpConn(pc), oob: make([]byte, oobSize)}, err
}

// udpConn returns pc as a *net.UDPConn for readMsg, or nil.
func udpConn(pc net.PacketConn) *net.UDPConn {
	uc, _ := pc.(*net.UDPConn)
	return uc
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

// v4Conn and v6Conn read through readMsg where the system has it (uc set;
// oob is the control message buffer of the one read loop of the family),
// and through x/net otherwise.
type v4Conn struct {
	p   *ipv4.PacketConn
	uc  *net.UDPConn
	oob []byte
}

func (c *v4Conn) family() Family { return IPv4 }

func (c *v4Conn) read(b []byte) (int, int, netip.AddrPort, netip.Addr, error) {
	if c.uc != nil {
		if n, idx, src, dst, ok, err := readMsg(c.uc, b, c.oob); ok {
			return n, idx, src, dst, err
		}
	}
	n, cm, src, err := c.p.ReadFrom(b)
	if err != nil {
		return 0, 0, netip.AddrPort{}, netip.Addr{}, err
	}
	if cm == nil {
		return n, 0, fromNetAddr(src), netip.Addr{}, nil
	}
	return n, cm.IfIndex, fromNetAddr(src), fromIP(cm.Dst), nil
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
	p   *ipv6.PacketConn
	uc  *net.UDPConn
	oob []byte
}

func (c *v6Conn) family() Family { return IPv6 }

func (c *v6Conn) read(b []byte) (int, int, netip.AddrPort, netip.Addr, error) {
	if c.uc != nil {
		if n, idx, src, dst, ok, err := readMsg(c.uc, b, c.oob); ok {
			return n, idx, src, dst, err
		}
	}
	n, cm, src, err := c.p.ReadFrom(b)
	if err != nil {
		return 0, 0, netip.AddrPort{}, netip.Addr{}, err
	}
	if cm == nil {
		return n, 0, fromNetAddr(src), netip.Addr{}, nil
	}
	return n, cm.IfIndex, fromNetAddr(src), fromIP(cm.Dst), nil
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
