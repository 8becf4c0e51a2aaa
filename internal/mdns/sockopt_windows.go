//go:build windows

package mdns

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// socketOptions sets the options that must precede bind. On Windows:
//
//   - SO_REUSEADDR alone lets several sockets bind port 5353 (RFC 6762
//     section 15.1; Windows has no SO_REUSEPORT, and its SO_REUSEADDR is the
//     BSD pair in one option); a multicast datagram is delivered to each
//     socket that joined the group.
//   - IPV6_V6ONLY keeps the IPv6 socket to IPv6 (the Windows default, set
//     anyway).
//   - No IP_MULTICAST_ALL: it does not exist; Winsock hands a socket only the
//     groups it joined.
func socketOptions(fd uintptr, f Family) error {
	s := windows.Handle(fd)
	if err := windows.SetsockoptInt(s, windows.SOL_SOCKET, windows.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if f == IPv6 {
		if err := windows.SetsockoptInt(s, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
	}
	return nil
}

// errNoPacketInfo explains why the transport cannot run on Windows yet.
var errNoPacketInfo = fmt.Errorf("%w on windows: golang.org/x/net does not report the arrival interface of received packets (IP_PKTINFO), which the transport needs to tell links apart", errors.ErrUnsupported)

// checkPlatform returns an error when the transport cannot run on this
// system. The transport needs the arrival interface and destination address
// of every received packet; on Windows golang.org/x/net implements
// no control messages (ipv4.PacketConn.SetControlMessage returns "not
// implemented"), so every packet would look as if from no interface and be
// dropped: listenSocket refuses with an error wrapping errors.ErrUnsupported
// instead. The package builds and vets for Windows; running there needs
// either WSARecvMsg packet info or one socket per interface.
func checkPlatform() error { return errNoPacketInfo }
