//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package mdns

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// socketOptions sets the options that must precede bind. On macOS and the
// BSDs:
//
//   - SO_REUSEADDR and SO_REUSEPORT let every mDNS socket on the host bind
//     port 5353 (RFC 6762 section 15.1); mDNSResponder on macOS holds the
//     port with both, so a socket without SO_REUSEPORT cannot bind at all. A
//     multicast datagram is delivered to each socket sharing the port.
//   - IPV6_V6ONLY keeps the IPv6 socket to IPv6, so IPv4 arrives only on the
//     IPv4 socket.
//   - No IP_MULTICAST_ALL: it does not exist here and is not needed. The BSD
//     stack hands a socket only the groups it joined, on the interfaces it
//     joined them on (the per-socket membership filter in udp_input), which
//     is what Linux gives with IP_MULTICAST_ALL = 0.
//
// The arrival interface and destination address come from IP_RECVPKTINFO
// (macOS) or IP_RECVDSTADDR + IP_RECVIF (BSDs) and IPV6_RECVPKTINFO, which
// golang.org/x/net sets for ipv4.FlagInterface|FlagDst and the IPv6 flags.
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
	}
	return nil
}

// checkPlatform returns an error when the transport cannot run on this
// system. Here it can: received packets carry their arrival interface and
// destination address (see socketOptions).
func checkPlatform() error { return nil }
