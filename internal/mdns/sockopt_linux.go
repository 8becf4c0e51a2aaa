//go:build linux

package mdns

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// socketOptions sets the options that must precede bind. On Linux:
//
//   - SO_REUSEADDR lets every mDNS socket on the host bind port 5353 (RFC
//     6762 section 15.1); a multicast datagram is delivered to each of them
//     that joined the group on its interface. Not SO_REUSEPORT: the sockets
//     of one user that set it form a reuseport group, and Linux (6.18 here,
//     with net.ipv4.ip_early_demux on, the default) handed a multicast
//     datagram that only one member had joined for to a member picked by a
//     hash of the sender, which dropped it as from an interface it does not
//     serve: a gateway's browser (joined on one link) and responder (joined
//     on another) lost about half of the first link's hosts (e2e
//     TestGatewayProxiesAcrossLinks failed 3 runs of 3 with SO_REUSEPORT,
//     passed 3 of 3 without). Other mDNS software (Avahi, python-zeroconf,
//     mDNSResponder) sets SO_REUSEADDR too, so the port is still shared.
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
