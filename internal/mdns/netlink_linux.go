//go:build linux

package mdns

// Interface tracking on Linux, over rtnetlink (NETLINK_ROUTE) with
// golang.org/x/sys/unix: an RTM_GETADDR dump lists the addresses with their
// flags (net.Interface.Addrs drops them), and a socket subscribed to the
// link and address multicast groups wakes the rescan when anything changes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nlBufSize is the receive buffer of netlink reads: the kernel sizes its
// dump messages to the largest read it has seen, capped at 32 KiB.
const nlBufSize = 64 << 10

// nlDumpTimeout bounds each read of an address dump.
const nlDumpTimeout = 5 * time.Second

// nlSeq numbers dump requests.
var nlSeq atomic.Uint32

// nlMsg is one netlink message.
type nlMsg struct {
	typ   uint16
	flags uint16
	seq   uint32
	pid   uint32
	data  []byte
}

// errNetlink reports a malformed netlink message.
var errNetlink = errors.New("mdns: malformed netlink message")

// parseNetlink splits a datagram into netlink messages (nlmsghdr, 4-byte
// aligned).
func parseNetlink(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return out, fmt.Errorf("%w: length %d of %d", errNetlink, n, len(b))
		}
		out = append(out, nlMsg{
			typ:   binary.NativeEndian.Uint16(b[4:6]),
			flags: binary.NativeEndian.Uint16(b[6:8]),
			seq:   binary.NativeEndian.Uint32(b[8:12]),
			pid:   binary.NativeEndian.Uint32(b[12:16]),
			data:  b[unix.NLMSG_HDRLEN:n],
		})
		b = b[min(nlAlign(n), len(b)):]
	}
	return out, nil
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// parseAttrs returns the route attributes (rtattr) in b by type; a repeated
// type keeps its first value.
func parseAttrs(b []byte) map[uint16][]byte {
	out := map[uint16][]byte{}
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < unix.SizeofRtAttr || n > len(b) {
			break
		}
		typ := binary.NativeEndian.Uint16(b[2:4])
		if _, dup := out[typ]; !dup {
			out[typ] = b[unix.SizeofRtAttr:n]
		}
		b = b[min(nlAlign(n), len(b)):]
	}
	return out
}

// parseAddrMsg decodes an RTM_NEWADDR message: the interface index and the
// address with its flags (IFA_FLAGS, 32 bits, when present, else the 8-bit
// ifa_flags). ok is false for anything else than an IPv4 or IPv6 address.
func parseAddrMsg(data []byte) (ifIndex int, a sysAddr, ok bool) {
	if len(data) < unix.SizeofIfAddrmsg {
		return 0, sysAddr{}, false
	}
	family := data[0]
	flags := uint32(data[2])
	ifIndex = int(binary.NativeEndian.Uint32(data[4:8]))
	attrs := parseAttrs(data[nlAlign(unix.SizeofIfAddrmsg):])
	if f, has := attrs[unix.IFA_FLAGS]; has && len(f) >= 4 {
		flags = binary.NativeEndian.Uint32(f)
	}
	// IFA_LOCAL is the local address; IFA_ADDRESS is the peer's on a
	// point-to-point link, and the local one otherwise (IPv6 sends only it).
	raw, has := attrs[unix.IFA_LOCAL]
	if !has {
		raw = attrs[unix.IFA_ADDRESS]
	}
	switch {
	case family == unix.AF_INET && len(raw) == 4:
		a.addr = netip.AddrFrom4([4]byte(raw))
	case family == unix.AF_INET6 && len(raw) == 16:
		a.addr = netip.AddrFrom16([16]byte(raw)).Unmap()
	default:
		return 0, sysAddr{}, false
	}
	if flags&unix.IFA_F_TENTATIVE != 0 {
		a.flags |= addrTentative
	}
	if flags&unix.IFA_F_DADFAILED != 0 {
		a.flags |= addrDADFailed
	}
	if flags&unix.IFA_F_DEPRECATED != 0 {
		a.flags |= addrDeprecated
	}
	// For IPv4 the same bit is IFA_F_SECONDARY, which says nothing about
	// whether to advertise the address.
	if family == unix.AF_INET6 && flags&unix.IFA_F_TEMPORARY != 0 {
		a.flags |= addrTemporary
	}
	return ifIndex, a, true
}

// systemAddrs lists every address of the system with its flags, by
// interface index, from an RTM_GETADDR dump.
func systemAddrs([]net.Interface) (map[int][]sysAddr, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	tv := unix.NsecToTimeval(nlDumpTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("netlink SO_RCVTIMEO: %w", err)
	}
	seq := nlSeq.Add(1)
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofRtGenmsg)
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], unix.RTM_GETADDR)
	binary.NativeEndian.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:12], seq)
	req[unix.NLMSG_HDRLEN] = unix.AF_UNSPEC
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink RTM_GETADDR: %w", err)
	}
	out := map[int][]sysAddr{}
	buf := make([]byte, nlBufSize)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("netlink RTM_GETADDR reply: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.seq != seq {
				continue
			}
			switch m.typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.data[0:4])); errno != 0 {
						return nil, fmt.Errorf("netlink RTM_GETADDR: %w", syscall.Errno(-errno))
					}
				}
				return nil, fmt.Errorf("netlink RTM_GETADDR: %w: error message", errNetlink)
			case unix.RTM_NEWADDR:
				if idx, a, ok := parseAddrMsg(m.data); ok {
					out[idx] = append(out[idx], a)
				}
			}
		}
	}
}

// nlEvents is the rtnetlink subscription to link and address changes. The
// socket is non-blocking and read through the runtime's poller, so that
// close unblocks wait.
type nlEvents struct {
	f   *os.File
	rc  syscall.RawConn
	buf []byte
}

// openEvents subscribes to RTMGRP_LINK, RTMGRP_IPV4_IFADDR and
// RTMGRP_IPV6_IFADDR in the calling process's network namespace.
func openEvents() (eventSource, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("mdns: netlink socket: %w", err)
	}
	// Room for bursts (many interfaces at once); best effort, as overflow
	// only costs a full rescan (ENOBUFS).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mdns: netlink bind: %w", err)
	}
	f := os.NewFile(uintptr(fd), "rtnetlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mdns: netlink: %w", err)
	}
	return &nlEvents{f: f, rc: rc, buf: make([]byte, nlBufSize)}, nil
}

func (e *nlEvents) wait() error {
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := e.rc.Read(func(fd uintptr) bool {
			for {
				n, from, rerr = unix.Recvfrom(int(fd), e.buf, 0)
				if !errors.Is(rerr, unix.EINTR) {
					break
				}
			}
			return !errors.Is(rerr, unix.EAGAIN) // else wait until readable
		})
		switch {
		case err != nil:
			return fmt.Errorf("mdns: netlink: %w", err)
		case errors.Is(rerr, unix.ENOBUFS):
			return nil // events were dropped: rescan
		case rerr != nil:
			return fmt.Errorf("mdns: netlink receive: %w", rerr)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel reports changes
		}
		msgs, _ := parseNetlink(e.buf[:n])
		for _, m := range msgs {
			switch m.typ {
			case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_NEWADDR, unix.RTM_DELADDR:
				return nil
			}
		}
	}
}

func (e *nlEvents) close() error { return e.f.Close() }
