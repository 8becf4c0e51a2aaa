package txt

import (
	"fmt"

	"github.com/miekg/dns"
)

// FromRR returns the record carried by a miekg/dns TXT resource record.
// The strings of rr.Txt are in the escaped form miekg/dns uses (\DDD,
// \", \\); they are packed by miekg/dns into RDATA, which is then decoded
// with Decode, so offsets are those of the RDATA. A TXT record with no
// strings packs as zero bytes and gives a Record with ZeroLength set.
func FromRR(rr *dns.TXT) (Record, error) {
	// Pack a copy with the root name so that rr itself is not changed
	// (PackRR sets Rdlength) and the header has a known length.
	cp := &dns.TXT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: rr.Txt}
	buf := make([]byte, dns.Len(cp)+1)
	end, err := dns.PackRR(cp, buf, 0, nil, false)
	if err != nil {
		return Record{}, fmt.Errorf("txt: packing TXT record: %w", err)
	}
	rdata := buf[end-int(cp.Hdr.Rdlength) : end]
	return Decode(rdata)
}

// RR returns r as a miekg/dns TXT resource record with header hdr (its
// Rrtype and Rdlength are set here). The record is encoded with Encode and
// unpacked by miekg/dns, so rr.Txt holds the strings in the escaped form
// miekg/dns packs back into exactly the same RDATA. Errors are those of
// Encode.
func (r Record) RR(hdr dns.RR_Header) (*dns.TXT, error) {
	rdata, err := r.Encode()
	if err != nil {
		return nil, err
	}
	hdr.Rrtype = dns.TypeTXT
	hdr.Rdlength = uint16(len(rdata))
	rr, _, err := dns.UnpackRRWithHeader(hdr, rdata, 0)
	if err != nil {
		return nil, fmt.Errorf("txt: unpacking TXT record: %w", err)
	}
	txt, ok := rr.(*dns.TXT)
	if !ok {
		return nil, fmt.Errorf("txt: unpacking TXT record gave %T", rr)
	}
	return txt, nil
}
