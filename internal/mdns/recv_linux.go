package mdns

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize holds one IP_PKTINFO or IPV6_PKTINFO control message.
const oobSize = 64

// sockaddrPort decodes a received sockaddr_in or sockaddr_in6: address
// (IPv4-mapped unmapped), port, and an IPv6 scope id.
func sockaddrPort(sa *unix.RawSockaddrInet6, l uint32) (netip.AddrPort, uint32) {
	switch {
	case sa.Family == unix.AF_INET && l >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port)), 0
	case sa.Family == unix.AF_INET6 && l >= unix.SizeofSockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port)), sa.Scope_id
	}
	return netip.AddrPort{}, 0
}

// ntohs converts a port from network byte order as stored in a sockaddr.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return binary.BigEndian.Uint16(b[:])
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
