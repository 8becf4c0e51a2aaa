//go:build !linux

package mdns

import (
	"net"
	"net/netip"
)

// oobSize is unused: only Linux has the fast read path.
const oobSize = 0

// readMsg has no fast path here (ok false): x/net's ReadFrom is used.
func readMsg(uc *net.UDPConn, b, oob []byte) (n, ifIndex int, src netip.AddrPort, dst netip.Addr, ok bool, err error) {
	return 0, 0, netip.AddrPort{}, netip.Addr{}, false, nil
}
