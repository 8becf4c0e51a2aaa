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
// not hold (miekg/dns stops quietly at the end of the data). A message whose
// framing is sound but where miekg/dns refuses the data of some records is
// kept without those records, each reported in skipped (see
// unpackLenient). It never panics.
func unpackMessage(b []byte) (m *dns.Msg, skipped []error, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, skipped, err = nil, nil, fmt.Errorf("%w: unpack panicked: %v", ErrMalformed, r)
		}
	}()
	if len(b) < headerLen {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), headerLen)
	}
	m = new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		lm, skipped, lerr := unpackLenient(b)
		if lerr != nil || len(skipped) == 0 {
			return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		return lm, skipped, nil
	}
	// The four counts at offsets 4..11 of the header (RFC 1035 section
	// 4.1.1) are read only to compare them with what was unpacked.
	got := [4]int{len(m.Question), len(m.Answer), len(m.Ns), len(m.Extra)}
	for i := range got {
		off := 4 + 2*i
		if want := int(binary.BigEndian.Uint16(b[off:])); want != got[i] {
			return nil, nil, fmt.Errorf("%w: header (offset %d) announces %d %s records, message holds %d",
				ErrMalformed, off, want, sectionNames[i], got[i])
		}
	}
	return m, nil, nil
}

// unpackLenient unpacks b record by record and leaves out the records whose
// data miekg/dns refuses, reporting each (section, byte offset, reason) in
// skipped. Seen from a real peer: python-zeroconf 0.47 writes the type
// bitmap of the NSEC record it adds to a defence of a host name with one
// address family as an empty block, which miekg/dns refuses, and the whole
// defence was lost: a gateway's probe heard no one and took the name (RFC
// 6762 section 8.1 asks a prober to hear exactly these answers). The
// framing must still be sound: the header, every question, and every
// record's owner name, type, class, TTL and data length, its data inside
// the message; anything else fails the whole message.
func unpackLenient(b []byte) (m *dns.Msg, skipped []error, err error) {
	hq := append([]byte(nil), b...)
	clear(hq[6:headerLen]) // the header and the questions only
	m = new(dns.Msg)
	if err := m.Unpack(hq); err != nil {
		return nil, nil, err
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	if len(m.Question) != qd {
		return nil, nil, fmt.Errorf("header (offset 4) announces %d questions, message holds %d", qd, len(m.Question))
	}
	off := headerLen
	for range m.Question {
		if _, off, err = dns.UnpackDomainName(b, off); err != nil {
			return nil, nil, err
		}
		off += 4
	}
	secs := [3]*[]dns.RR{&m.Answer, &m.Ns, &m.Extra}
	for i, sec := range secs {
		n := int(binary.BigEndian.Uint16(b[6+2*i:]))
		for range n {
			_, fixed, err := dns.UnpackDomainName(b, off)
			if err != nil {
				return nil, nil, fmt.Errorf("%s record at offset %d: %w", sectionNames[i+1], off, err)
			}
			if fixed+10 > len(b) {
				return nil, nil, fmt.Errorf("%s record at offset %d: truncated", sectionNames[i+1], off)
			}
			end := fixed + 10 + int(binary.BigEndian.Uint16(b[fixed+8:]))
			if end > len(b) {
				return nil, nil, fmt.Errorf("%s record at offset %d: data past the end", sectionNames[i+1], off)
			}
			rr, _, err := dns.UnpackRR(b, off)
			switch {
			case err != nil:
				skipped = append(skipped, fmt.Errorf("%s record at offset %d (type %d) left out: %w", sectionNames[i+1], off, binary.BigEndian.Uint16(b[fixed:]), err))
			case rr != nil:
				*sec = append(*sec, rr)
			}
			off = end
		}
	}
	if off != len(b) {
		return nil, nil, fmt.Errorf("%d bytes after the last record (offset %d)", len(b)-off, off)
	}
	return m, skipped, nil
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
