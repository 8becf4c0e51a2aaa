package txt

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxStringLen is the largest number of bytes one string of a TXT record
// can hold: its length is a single byte (RFC 6763 section 6.1, RFC 1035
// section 3.3).
const MaxStringLen = 255

// MaxRDataLen is the largest number of bytes a TXT record can hold: its
// length is the 16-bit RDLENGTH of the resource record (RFC 6763 section
// 6.1, RFC 1035 section 3.2.1).
const MaxRDataLen = 65535

// Decode parses the RDATA of a DNS TXT record: a sequence of strings, each
// a length byte followed by that many bytes (RFC 6763 section 6.1). Every
// string becomes one Item, split at its first '=' (RFC 6763 sections 6.3
// to 6.5): "key=value" and "key=" have HasValue set, "key" is a boolean
// attribute, and a zero-length string is an Item with an empty Key (Check
// decides whether it is allowed). Item.Offset is the offset of the string's
// length byte in wire.
//
// A length byte that runs past the end of wire is a framing error: a Fatal
// *Error whose Offset is that length byte. A zero-byte wire is accepted as
// the record with no strings (Record.ZeroLength is set) because clients
// must treat it as the empty record, but Check reports it: a record must
// hold at least one string (RFC 6763 section 6.1).
//
// The returned Record does not share memory with wire.
func Decode(wire []byte) (Record, error) {
	if len(wire) == 0 {
		return Record{ZeroLength: true}, nil
	}
	// Count the strings first so that Items is allocated once; every string
	// takes at least one byte, so the count is bounded by len(wire).
	n := 0
	for off := 0; off < len(wire); off += 1 + int(wire[off]) {
		if l := int(wire[off]); off+1+l > len(wire) {
			return Record{}, &Error{
				Severity: Fatal,
				Offset:   off,
				Rule:     "RFC 6763 section 6.1",
				Reason: fmt.Sprintf("string of %d bytes at offset %d runs past the end of the record (%d bytes)",
					l, off, len(wire)),
			}
		}
		n++
	}
	// One copy of the wire form backs every Value.
	buf := bytes.Clone(wire)
	items := make([]Item, 0, n)
	for off := 0; off < len(buf); {
		l := int(buf[off])
		s := buf[off+1 : off+1+l : off+1+l]
		items = append(items, splitString(s, off))
		off += 1 + l
	}
	return Record{Items: items}, nil
}

// splitString splits one string of a TXT record at its first '='
// (RFC 6763 section 6.3: "Everything up to the first '=' character is the
// key"; section 6.4: no '=' means a boolean attribute). The Value aliases s.
func splitString(s []byte, off int) Item {
	i := bytes.IndexByte(s, '=')
	if i < 0 {
		return Item{Key: string(s), Offset: off}
	}
	return Item{Key: string(s[:i]), Value: s[i+1 : len(s) : len(s)], HasValue: true, Offset: off}
}

// stringLen returns the length of the string it is encoded as.
func (it Item) stringLen() int {
	if it.HasValue {
		return len(it.Key) + 1 + len(it.Value)
	}
	return len(it.Key)
}

// WireLen returns the number of bytes Encode produces for r: one length
// byte plus the string for every item, or 1 for a record with no items.
func (r Record) WireLen() int {
	if len(r.Items) == 0 {
		return 1
	}
	n := 0
	for _, it := range r.Items {
		n += 1 + it.stringLen()
	}
	return n
}

// Encode returns the RDATA of r: every item as one string, "key=value",
// "key=" or "key" (RFC 6763 section 6.3), in order; Item.Offset is not
// used. A record with no items encodes as a single zero-length string, the
// byte 0x00 (RFC 6763 section 6.1: an empty TXT record is not allowed and
// the record of a service without data holds one empty string). The Value
// of an item without HasValue is ignored.
//
// A string longer than 255 bytes cannot be encoded (its length is one
// byte, RFC 6763 section 6.1), nor can a key holding '=', which would
// decode as a different key (RFC 6763 section 6.4); both are a Fatal
// *Error naming the key and the offset the string would have. Nor can a
// record longer than 65535 bytes (MaxRDataLen).
func (r Record) Encode() ([]byte, error) {
	if len(r.Items) == 0 {
		return []byte{0}, nil
	}
	off := 0
	for _, it := range r.Items {
		if l := it.stringLen(); l > MaxStringLen {
			return nil, &Error{
				Severity: Fatal,
				Key:      it.Key,
				Offset:   off,
				Rule:     "RFC 6763 section 6.1",
				Reason:   fmt.Sprintf("string of %d bytes is longer than %d bytes", l, MaxStringLen),
			}
		}
		if i := strings.IndexByte(it.Key, '='); i >= 0 {
			return nil, &Error{
				Severity: Fatal,
				Key:      it.Key,
				Offset:   off,
				Rule:     "RFC 6763 section 6.4",
				Reason:   fmt.Sprintf("key holds '=' at byte %d; it would decode as key %q", i, it.Key[:i]),
			}
		}
		off += 1 + it.stringLen()
	}
	if off > MaxRDataLen {
		// RFC 6763 section 6.1: "A DNS TXT record can be up to 65535 (0xFFFF) bytes long."
		return nil, &Error{
			Severity: Fatal,
			Offset:   -1,
			Rule:     "RFC 6763 section 6.1",
			Reason:   fmt.Sprintf("record of %d bytes is longer than %d bytes", off, MaxRDataLen),
		}
	}
	out := make([]byte, 0, off)
	for _, it := range r.Items {
		out = append(out, byte(it.stringLen()))
		out = append(out, it.Key...)
		if it.HasValue {
			out = append(out, '=')
			out = append(out, it.Value...)
		}
	}
	return out, nil
}

// layout sets the Offset of every item to where Encode places its string.
func layout(items []Item) {
	off := 0
	for i := range items {
		items[i].Offset = off
		off += 1 + items[i].stringLen()
	}
}
