package mdns

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"
	"unsafe"
)

// cmsg builds one control message of the given level and type.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, syscall.CmsgSpace(len(data)))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(syscall.CmsgLen(len(data)))
	copy(b[syscall.CmsgLen(0):], data)
	return b
}

func TestParsePktinfo(t *testing.T) {
	v4 := make([]byte, 12)
	binary.NativeEndian.PutUint32(v4[0:], 7)
	copy(v4[4:], []byte{198, 51, 100, 11}) // ipi_spec_dst: not the destination
	copy(v4[8:], []byte{224, 0, 0, 251})
	v6 := make([]byte, 20)
	copy(v6, netip.MustParseAddr("ff02::fb").AsSlice())
	binary.NativeEndian.PutUint32(v6[16:], 9)
	other := cmsg(syscall.SOL_SOCKET, syscall.SO_TIMESTAMP, make([]byte, 16))
	for _, tc := range []struct {
		name string
		oob  []byte
		idx  int
		dst  string
	}{
		{"IPv4", cmsg(syscall.IPPROTO_IP, syscall.IP_PKTINFO, v4), 7, "224.0.0.251"},
		{"IPv6 after another message", append(other, cmsg(syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO, v6)...), 9, "ff02::fb"},
		{"none", other, 0, "invalid IP"},
		{"empty", nil, 0, "invalid IP"},
		{"truncated", cmsg(syscall.IPPROTO_IP, syscall.IP_PKTINFO, v4)[:20], 0, "invalid IP"},
	} {
		idx, dst := parsePktinfo(tc.oob)
		if idx != tc.idx || dst.String() != tc.dst {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, idx, dst, tc.idx, tc.dst)
		}
	}
	oob := cmsg(syscall.IPPROTO_IP, syscall.IP_PKTINFO, v4)
	if n := testing.AllocsPerRun(100, func() { parsePktinfo(oob) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
