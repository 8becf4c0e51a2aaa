package mdns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// oobSize holds one IP_PKTINFO or IPV6_PKTINFO control message.
const oobSize = 64

// readMsg reads one datagram from uc into b with its packet info control
// message (IP_PKTINFO, IPV6_PKTINFO, enabled by wrap) parsed in place:
// arrival interface and destination address, without the allocations of
// x/net's ReadFrom (a control message, addresses and slices per datagram),
// which a flood of tens of thousands of datagrams a second makes matter.
// ok is true: Linux has this fast path.
func readMsg(uc *net.UDPConn, b, oob []byte) (n, ifIndex int, src netip.AddrPort, dst netip.Addr, ok bool, err error) {
	n, oobn, _, src, err := uc.ReadMsgUDPAddrPort(b, oob)
	if err != nil {
		return 0, 0, netip.AddrPortFrom(netip.Addr{}, 0), netip.Addr{}, true, err
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	ifIndex, dst = parsePktinfo(oob[:oobn])
	return n, ifIndex, src, dst, true, nil
}

// parsePktinfo returns the arrival interface and destination address of
// the first packet info message in oob (zero values when there is none).
func parsePktinfo(oob []byte) (ifIndex int, dst netip.Addr) {
	const align = int(unsafe.Sizeof(uintptr(0)))
	alignUp := func(l int) int { return (l + align - 1) &^ (align - 1) }
	hdr := alignUp(syscall.SizeofCmsghdr)
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return ifIndex, dst
		}
		data := oob[hdr:l]
		switch {
		case h.Level == syscall.IPPROTO_IP && h.Type == syscall.IP_PKTINFO && len(data) >= 12:
			// struct in_pktinfo { int ipi_ifindex; struct in_addr
			// ipi_spec_dst; struct in_addr ipi_addr; }: ipi_addr is the
			// header's destination.
			return int(int32(binary.NativeEndian.Uint32(data[0:4]))), netip.AddrFrom4([4]byte(data[8:12]))
		case h.Level == syscall.IPPROTO_IPV6 && h.Type == syscall.IPV6_PKTINFO && len(data) >= 20:
			// struct in6_pktinfo { struct in6_addr ipi6_addr; int
			// ipi6_ifindex; }
			return int(int32(binary.NativeEndian.Uint32(data[16:20]))), netip.AddrFrom16([16]byte(data[0:16])).Unmap()
		}
		if alignUp(l) >= len(oob) {
			break
		}
		oob = oob[alignUp(l):]
	}
	return ifIndex, dst
}
