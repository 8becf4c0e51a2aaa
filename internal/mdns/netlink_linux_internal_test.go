//go:build linux

package mdns

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// rtattr encodes one route attribute, padded.
func rtattr(typ uint16, val []byte) []byte {
	b := make([]byte, nlAlign(unix.SizeofRtAttr+len(val)))
	binary.NativeEndian.PutUint16(b[0:2], uint16(unix.SizeofRtAttr+len(val)))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], val)
	return b
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// ifaddrmsg encodes an RTM_NEWADDR body.
func ifaddrmsg(family, flags uint8, index uint32, attrs ...[]byte) []byte {
	b := []byte{family, 64, flags, 0}
	b = binary.NativeEndian.AppendUint32(b, index)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

// nlmsg encodes a netlink message, padded.
func nlmsg(typ uint16, seq uint32, data []byte) []byte {
	n := unix.NLMSG_HDRLEN + len(data)
	b := make([]byte, nlAlign(n))
	binary.NativeEndian.PutUint32(b[0:4], uint32(n))
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	copy(b[unix.NLMSG_HDRLEN:], data)
	return b
}

func TestParseAddrMsg(t *testing.T) {
	ll := netip.MustParseAddr("fe80::7").As16()
	v4 := []byte{198, 51, 100, 7}
	peer := []byte{198, 51, 100, 1}
	for _, tc := range []struct {
		name  string
		data  []byte
		idx   int
		addr  string
		flags addrFlags
	}{
		{"ipv4", ifaddrmsg(unix.AF_INET, 0, 3, rtattr(unix.IFA_ADDRESS, v4), rtattr(unix.IFA_LOCAL, v4)), 3, "198.51.100.7", 0},
		// Point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours.
		{"ipv4 ptp", ifaddrmsg(unix.AF_INET, 0, 4, rtattr(unix.IFA_ADDRESS, peer), rtattr(unix.IFA_LOCAL, v4)), 4, "198.51.100.7", 0},
		// IFA_F_SECONDARY is the bit of IFA_F_TEMPORARY: not temporary.
		{"ipv4 secondary", ifaddrmsg(unix.AF_INET, unix.IFA_F_SECONDARY, 3, rtattr(unix.IFA_LOCAL, v4)), 3, "198.51.100.7", 0},
		{"ipv4 deprecated", ifaddrmsg(unix.AF_INET, 0, 3, rtattr(unix.IFA_LOCAL, v4), rtattr(unix.IFA_FLAGS, u32(unix.IFA_F_DEPRECATED|unix.IFA_F_PERMANENT))), 3, "198.51.100.7", addrDeprecated},
		{"ipv6", ifaddrmsg(unix.AF_INET6, unix.IFA_F_PERMANENT, 2, rtattr(unix.IFA_ADDRESS, ll[:])), 2, "fe80::7", 0},
		{"ipv6 tentative (8-bit flags)", ifaddrmsg(unix.AF_INET6, unix.IFA_F_TENTATIVE, 2, rtattr(unix.IFA_ADDRESS, ll[:])), 2, "fe80::7", addrTentative},
		// IFA_FLAGS supersedes the 8-bit field.
		{"ipv6 IFA_FLAGS", ifaddrmsg(unix.AF_INET6, unix.IFA_F_TENTATIVE, 2, rtattr(unix.IFA_ADDRESS, ll[:]), rtattr(unix.IFA_FLAGS, u32(unix.IFA_F_NOPREFIXROUTE))), 2, "fe80::7", 0},
		{"ipv6 temporary deprecated", ifaddrmsg(unix.AF_INET6, 0, 2, rtattr(unix.IFA_FLAGS, u32(unix.IFA_F_TEMPORARY|unix.IFA_F_DEPRECATED)), rtattr(unix.IFA_ADDRESS, ll[:])), 2, "fe80::7", addrTemporary | addrDeprecated},
		{"ipv6 dad failed", ifaddrmsg(unix.AF_INET6, 0, 2, rtattr(unix.IFA_ADDRESS, ll[:]), rtattr(unix.IFA_FLAGS, u32(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED))), 2, "fe80::7", addrTentative | addrDADFailed},
	} {
		idx, a, ok := parseAddrMsg(tc.data)
		require.True(t, ok, tc.name)
		assert.Equal(t, tc.idx, idx, tc.name)
		assert.Equal(t, tc.addr, a.addr.String(), tc.name)
		assert.Equal(t, tc.flags, a.flags, tc.name)
	}
	for name, data := range map[string][]byte{
		"short":        {unix.AF_INET, 24},
		"no address":   ifaddrmsg(unix.AF_INET, 0, 3),
		"wrong length": ifaddrmsg(unix.AF_INET6, 0, 3, rtattr(unix.IFA_ADDRESS, v4)),
		"other family": ifaddrmsg(unix.AF_PACKET, 0, 3, rtattr(unix.IFA_ADDRESS, v4)),
		"bad attr":     append(ifaddrmsg(unix.AF_INET, 0, 3), 0xff, 0x00, 0x02, 0x00),
	} {
		_, _, ok := parseAddrMsg(data)
		assert.False(t, ok, name)
	}
}

func TestParseNetlink(t *testing.T) {
	a := nlmsg(unix.RTM_NEWADDR, 7, ifaddrmsg(unix.AF_INET, 0, 3, rtattr(unix.IFA_LOCAL, []byte{198, 51, 100, 7})))
	b := nlmsg(unix.NLMSG_DONE, 7, u32(0))
	msgs, err := parseNetlink(append(a, b...))
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	assert.Equal(t, uint16(unix.RTM_NEWADDR), msgs[0].typ)
	assert.Equal(t, uint32(7), msgs[0].seq)
	idx, addr, ok := parseAddrMsg(msgs[0].data)
	assert.True(t, ok)
	assert.Equal(t, 3, idx)
	assert.Equal(t, "198.51.100.7", addr.addr.String())
	assert.Equal(t, uint16(unix.NLMSG_DONE), msgs[1].typ)

	bad := append([]byte(nil), a...)
	binary.NativeEndian.PutUint32(bad[0:4], uint32(len(bad)+1))
	_, err = parseNetlink(bad)
	assert.ErrorIs(t, err, errNetlink)
	binary.NativeEndian.PutUint32(bad[0:4], 3)
	_, err = parseNetlink(bad)
	assert.ErrorIs(t, err, errNetlink)
}
