//go:build linux

package mdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// On Linux each family's socket is a plain blocking file descriptor read
// and written with system calls, outside the Go runtime's network poller.
// The poller watches its sockets edge-triggered, and whenever the process is
// idle one of its threads waits in epoll_wait: each datagram arriving would
// wake that thread, even while the read loop deliberately lets a flood
// gather in the socket's buffer to read it in one batch (Conn.readLoop). A
// socket of our own is read by recvmmsg(2) blocking in the read loop's
// thread, which only the first datagram after a read wakes.

// openSocket opens family f's socket (see listenSocket).
func openSocket(_ context.Context, f Family) (familyConn, error) {
	network := "udp4"
	if f == IPv6 {
		network = "udp6"
	}
	c, err := openSys(f)
	if err != nil {
		return nil, fmt.Errorf("mdns: listen %s port %d: %w", network, Port, err)
	}
	return c, nil
}

// sysConn is one family's socket on Linux (see openSocket).
type sysConn struct {
	f  Family
	fd int
	// mu keeps fd open while a system call uses it: read and write hold
	// it shared, close exclusively (after shutdown has woken a blocked
	// read), so that the number is never reused under a call.
	mu     sync.RWMutex
	closed atomic.Bool

	// The batch read's buffers, for the one read loop of the socket.
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	oob   []byte                  // oobSize per message
}

// openSys opens, configures and binds the socket of family f: the options
// of socketOptions, packet info control messages (IP_PKTINFO,
// IPV6_RECVPKTINFO), TTL / hop limit 255 for unicast and multicast (RFC
// 6762 section 11), multicast loopback, and a receive buffer of readBuffer
// bytes (best effort: net.core.rmem_max caps it).
func openSys(f Family) (*sysConn, error) { return openSysPort(f, Port) }

// openSysPort is openSys binding port instead of Port (tests bind 0).
func openSysPort(f Family, port int) (*sysConn, error) {
	domain := unix.AF_INET
	if f == IPv6 {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := socketOptions(uintptr(fd), f); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// SO_RCVBUFFORCE exceeds net.core.rmem_max for a process allowed to
	// (CAP_NET_ADMIN); otherwise SO_RCVBUF, capped at rmem_max.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, readBuffer) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, readBuffer)
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{Port: port}
	opts := [][3]int{
		{unix.IPPROTO_IP, unix.IP_PKTINFO, 1},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 255},
		{unix.IPPROTO_IP, unix.IP_TTL, 255},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 1},
	}
	if f == IPv6 {
		sa = &unix.SockaddrInet6{Port: port}
		opts = [][3]int{
			{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
			{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255},
			{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 255},
			{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 1},
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	var errs []error
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			errs = append(errs, fmt.Errorf("setsockopt %d/%d: %w", o[0], o[1], err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := &sysConn{
		f:     f,
		fd:    fd,
		hdrs:  make([]unix.Mmsghdr, readBatchSize),
		iovs:  make([]unix.Iovec, readBatchSize),
		names: make([]unix.RawSockaddrInet6, readBatchSize),
		oob:   make([]byte, readBatchSize*oobSize),
	}
	for i := range c.hdrs {
		h := &c.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&c.names[i]))
		h.Iov = &c.iovs[i]
		h.SetIovlen(1)
		h.Control = &c.oob[i*oobSize]
	}
	return c, nil
}

func (c *sysConn) family() Family { return c.f }

func (c *sysConn) batches() bool { return true }

// readBatch blocks in recvmmsg(2) until a datagram arrives, and takes it
// with those already waiting, up to len(ms) (at most readBatchSize), each
// with its packet info control message parsed in place: arrival interface
// and destination address. It allocates nothing. A source carries no zone:
// an IPv6 source's scope is in rxMsg.scope.
func (c *sysConn) readBatch(ms []rxMsg) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ms = ms[:min(len(ms), len(c.hdrs))]
	for i := range ms {
		c.iovs[i].Base = unsafe.SliceData(ms[i].buf)
		c.iovs[i].SetLen(len(ms[i].buf))
		h := &c.hdrs[i].Hdr
		h.Namelen = uint32(unsafe.Sizeof(c.names[i]))
		h.SetControllen(oobSize)
		h.Flags = 0
		c.hdrs[i].Len = 0
	}
	for {
		if c.closed.Load() {
			return 0, ErrClosed
		}
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(ms)), unix.MSG_WAITFORONE, 0, 0)
		if e == unix.EINTR || e == unix.EAGAIN {
			continue
		}
		if c.closed.Load() {
			return 0, ErrClosed
		}
		if e != 0 {
			return 0, fmt.Errorf("mdns: %w", os.NewSyscallError("recvmmsg", e))
		}
		got := int(n)
		for i := range got {
			m, h := &ms[i], &c.hdrs[i]
			m.n = int(h.Len)
			m.src, m.scope = sockaddrPort(&c.names[i], h.Hdr.Namelen)
			m.ifIndex, m.dst = parsePktinfo(c.oob[i*oobSize : i*oobSize+int(h.Hdr.Controllen)])
		}
		return got, nil
	}
}

// write sends b to dst out of interface ifIndex (0: let routing choose),
// which the packet info control message names.
func (c *sysConn) write(b []byte, ifIndex int, dst netip.AddrPort) error {
	var oob []byte
	var sa unix.Sockaddr
	if c.f == IPv6 {
		if ifIndex != 0 {
			oob = (&ipv6.ControlMessage{IfIndex: ifIndex}).Marshal()
		}
		sa6 := &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
		switch {
		case dst.Addr().Zone() != "":
			sa6.ZoneId = uint32(zoneIndex(dst.Addr().Zone()))
		case ifIndex != 0 && (dst.Addr().IsLinkLocalUnicast() || dst.Addr().IsLinkLocalMulticast()):
			sa6.ZoneId = uint32(ifIndex) // scope of a link-local destination
		}
		sa = sa6
	} else {
		if ifIndex != 0 {
			oob = (&ipv4.ControlMessage{IfIndex: ifIndex}).Marshal()
		}
		sa = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().Unmap().As4()}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return ErrClosed
	}
	for {
		_, err := unix.SendmsgN(c.fd, b, oob, sa, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &net.OpError{Op: "write", Net: c.network(), Addr: net.UDPAddrFromAddrPort(dst), Err: os.NewSyscallError("sendmsg", err)}
		}
		return nil
	}
}

func (c *sysConn) network() string {
	if c.f == IPv6 {
		return "udp6"
	}
	return "udp4"
}

// join and leave change the socket's membership of the family's group on
// ifi.
func (c *sysConn) join(ifi *net.Interface) error  { return c.membership(ifi, true) }
func (c *sysConn) leave(ifi *net.Interface) error { return c.membership(ifi, false) }

func (c *sysConn) membership(ifi *net.Interface, join bool) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return ErrClosed
	}
	var err error
	name := "IP_ADD_MEMBERSHIP"
	if c.f == IPv6 {
		opt := unix.IPV6_JOIN_GROUP
		if !join {
			opt, name = unix.IPV6_LEAVE_GROUP, "IPV6_LEAVE_GROUP"
		} else {
			name = "IPV6_JOIN_GROUP"
		}
		err = unix.SetsockoptIPv6Mreq(c.fd, unix.IPPROTO_IPV6, opt, &unix.IPv6Mreq{Multiaddr: GroupV6.As16(), Interface: uint32(ifi.Index)})
	} else {
		opt := unix.IP_ADD_MEMBERSHIP
		if !join {
			opt, name = unix.IP_DROP_MEMBERSHIP, "IP_DROP_MEMBERSHIP"
		}
		err = unix.SetsockoptIPMreqn(c.fd, unix.IPPROTO_IP, opt, &unix.IPMreqn{Multiaddr: GroupV4.As4(), Ifindex: int32(ifi.Index)})
	}
	if err != nil {
		return fmt.Errorf("%s on %s (index %s): %w", name, ifi.Name, strconv.Itoa(ifi.Index), os.NewSyscallError("setsockopt", err))
	}
	return nil
}

// close shuts the socket down, which wakes a read blocked in recvmmsg,
// waits for the calls using it to return, and closes it. Later calls
// return ErrClosed.
func (c *sysConn) close() error {
	if c.closed.Swap(true) {
		return nil
	}
	// An unconnected UDP socket reports ENOTCONN but is shut down all the
	// same, and its blocked readers return.
	_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
	c.mu.Lock()
	defer c.mu.Unlock()
	return os.NewSyscallError("close", unix.Close(c.fd))
}
