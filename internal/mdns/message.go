package mdns

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// ErrMalformed is wrapped by the errors for received datagrams that are not
// a well-formed DNS message.
var ErrMalformed = errors.New("mdns: malformed message")

// headerLen is the size of the fixed DNS header (RFC 1035 section 4.1.1).
const headerLen = 12

// sectionNames name the four sections in header order.
var sectionNames = [4]string{"question", "answer", "authority", "additional"}

// unpackMessage unpacks a received datagram with miekg/dns, and rejects what
// it would let through: section counts in the header that the message does
// not hold (miekg/dns stops quietly at the end of the data). It never
// panics.
func unpackMessage(b []byte) (m *dns.Msg, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: unpack panicked: %v", ErrMalformed, r)
		}
	}()
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), headerLen)
	}
	m = new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// The four counts at offsets 4..11 of the header (RFC 1035 section
	// 4.1.1) are read only to compare them with what was unpacked.
	got := [4]int{len(m.Question), len(m.Answer), len(m.Ns), len(m.Extra)}
	for i := range got {
		off := 4 + 2*i
		if want := int(binary.BigEndian.Uint16(b[off:])); want != got[i] {
			return nil, fmt.Errorf("%w: header (offset %d) announces %d %s records, message holds %d",
				ErrMalformed, off, want, sectionNames[i], got[i])
		}
	}
	return m, nil
}

// packMessage packs m with name compression, refusing more than MaxPacket
// bytes. m itself is not modified (beyond the RR header lengths that
// miekg/dns always fills in).
func packMessage(m *dns.Msg) ([]byte, error) {
	if m == nil {
		return nil, errors.New("mdns: nil message")
	}
	mm := *m
	mm.Compress = true
	b, err := mm.Pack()
	if err != nil {
		return nil, fmt.Errorf("mdns: packing message: %w", err)
	}
	if len(b) > MaxPacket {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(b), MaxPacket)
	}
	return b, nil
}
