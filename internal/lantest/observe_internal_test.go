package lantest

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func udpFrame(v6 bool, frag bool, payload []byte) []byte {
	be := binary.BigEndian
	udp := make([]byte, 8+len(payload))
	be.PutUint16(udp[0:], 40000)
	be.PutUint16(udp[2:], 5353)
	be.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], payload)
	eth := make([]byte, 14)
	if !v6 {
		be.PutUint16(eth[12:], 0x0800)
		ip := make([]byte, 20)
		ip[0] = 0x45
		be.PutUint16(ip[2:], uint16(20+len(udp)))
		if frag {
			be.PutUint16(ip[6:], 0x2000)
		}
		ip[9] = 17
		copy(ip[12:], []byte{198, 51, 100, 11})
		copy(ip[16:], []byte{224, 0, 0, 251})
		return append(append(eth, ip...), udp...)
	}
	be.PutUint16(eth[12:], 0x86dd)
	ip := make([]byte, 40)
	ip[0] = 0x60
	src, dst := netip.MustParseAddr("fe80::1").As16(), netip.MustParseAddr("ff02::fb").As16()
	copy(ip[8:], src[:])
	copy(ip[24:], dst[:])
	body := udp
	ip[6] = 17
	if frag {
		ip[6] = 44
		body = append(make([]byte, 8), udp...)
		body[0] = 17
	}
	be.PutUint16(ip[4:], uint16(len(body)))
	return append(append(eth, ip...), body...)
}

func TestParseFrame(t *testing.T) {
	payload := []byte("hello")
	src, dst, got, ok := parseFrame(udpFrame(false, false, payload))
	assert.True(t, ok)
	assert.Equal(t, netip.MustParseAddrPort("198.51.100.11:40000"), src)
	assert.Equal(t, netip.MustParseAddrPort("224.0.0.251:5353"), dst)
	assert.Equal(t, payload, got)

	src, dst, got, ok = parseFrame(udpFrame(true, false, payload))
	assert.True(t, ok)
	assert.Equal(t, netip.MustParseAddrPort("[fe80::1]:40000"), src)
	assert.Equal(t, netip.MustParseAddrPort("[ff02::fb]:5353"), dst)
	assert.Equal(t, payload, got)

	for _, v6 := range []bool{false, true} {
		_, _, _, ok = parseFrame(udpFrame(v6, true, payload))
		assert.False(t, ok, "fragments are skipped (v6=%v)", v6)
		f := udpFrame(v6, false, payload)
		for n := range len(f) - 1 {
			_, _, _, ok = parseFrame(f[:n])
			assert.False(t, ok, "truncated to %d bytes (v6=%v)", n, v6)
		}
	}
}
