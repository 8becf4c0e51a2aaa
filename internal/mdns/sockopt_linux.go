//go:build linux

package mdns

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// socketOptions sets the options that must precede bind. On Linux:
//
//   - SO_REUSEADDR and SO_REUSEPORT let every mDNS socket on the host bind
//     port 5353 (RFC 6762 section 15.1); a multicast datagram is delivered to
//     each of them.
//   - IPV6_V6ONLY keeps the IPv6 socket to IPv6, so IPv4 arrives only on the
//     IPv4 socket.
//   - IP_MULTICAST_ALL / IPV6_MULTICAST_ALL = 0: without them Linux hands a
//     socket bound to the wildcard address the datagrams of every group any
//     socket of the host joined, on any interface. At 0 a socket gets only the
//     groups it joined, on the interfaces it joined them on: the BSD and
//     Windows behaviour. Best effort: IPv4 since Linux 2.6.31, IPv6 since
//     4.20; an older kernel leaves the default, and packets from interfaces
//     not joined are then dropped by the interface check in Conn.
func socketOptions(fd uintptr, f Family) error {
	s := int(fd)
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fmt.Errorf("SO_REUSEPORT: %w", err)
	}
	if f == IPv6 {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
		return nil
	}
	_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
	return nil
}

// checkPlatform returns an error when the transport cannot run on this
// system. On Linux it can: received packets carry their arrival interface and
// destination address (IP_PKTINFO, IPV6_RECVPKTINFO).
func checkPlatform() error { return nil }
