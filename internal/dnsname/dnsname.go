// Package dnsname is lansd's one home for the rules of DNS names and
// record identity that every other package follows: name equality (RFC 6762
// section 16: case-insensitive for ASCII letters only, byte-for-byte for
// everything else), the escaping of labels (RFC 6763 section 4.3), keys of
// names, rdata and whole records, and the constants of the class field's
// top bit (RFC 6762 sections 5.4 and 10.2). Its tests are the one place
// that pins these rules.
package dnsname

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Top bit of the class fields (RFC 6762 sections 5.4 and 10.2).
const (
	// QU is the unicast-response bit of a question's class (section 5.4).
	QU = 1 << 15
	// CacheFlush is the cache-flush bit of a resource record's class
	// (section 10.2).
	CacheFlush = 1 << 15
)

// Well-known names.
const (
	// Local is the only domain Multicast DNS serves (RFC 6762 section 3).
	Local = "local."
	// ServicesType is the DNS-SD service type enumeration meta-query name
	// before the domain (RFC 6763 section 9).
	ServicesType = "_services._dns-sd._udp"
	// SubLabel marks a subtype name, "_printer._sub._http._tcp" (RFC 6763
	// section 7.1).
	SubLabel = "_sub"
)

// Wire returns the uncompressed wire form of the presentation-form name s
// with ASCII letters folded to lower case (RFC 6762 section 16: "uppercase
// and lowercase ASCII letters are treated as equivalent"; every other byte,
// UTF-8 included, compares as is). Label length bytes are at most 63 and so
// are never folded. ok is false when s does not pack as a domain name.
func Wire(s string) ([]byte, bool) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(s), buf[:], 0, nil, false)
	if err != nil {
		return nil, false
	}
	b := buf[:n:n]
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return append([]byte(nil), b...), true
}

// Key returns the key under which the presentation-form name s is
// compared: Wire(s) as a string, so that equal keys mean the same name.
// ok is false when s does not pack as a domain name.
func Key(s string) (string, bool) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(s), buf[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	b := buf[:n]
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}

// MustKey is Key for names that are expected to be valid; an invalid name
// gets its ASCII-lower-cased text behind a 0xff byte, a key no packed name
// can have, so that it still compares equal only to the same invalid name.
func MustKey(s string) string {
	if k, ok := Key(s); ok {
		return k
	}
	return "\xff" + ASCIILower(s)
}

// Equal reports whether two presentation-form names are the same name
// (RFC 6762 section 16). miekg/dns writes a space in a label as "\ ", a
// user may not: both forms are equal.
func Equal(a, b string) bool { return MustKey(a) == MustKey(b) }

// ASCIILower folds the ASCII letters of s to lower case and leaves every
// other byte alone (strings.ToLower would also fold Unicode letters, which
// RFC 6762 section 16 forbids for names).
func ASCIILower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Canonical returns s in a canonical presentation form: ASCII lower case
// and miekg/dns escapes, so that names compare equal as strings when they
// are the same name. An invalid name gives MustKey(s).
func Canonical(s string) string {
	k, ok := Key(s)
	if !ok {
		return MustKey(s)
	}
	name, _, err := dns.UnpackDomainName([]byte(k), 0)
	if err != nil {
		return k
	}
	return name
}

// Labels returns the labels of the presentation-form name s with their
// escapes (\. \\ \DDD and RFC 1035 quoted characters) resolved to raw
// bytes.
func Labels(s string) []string {
	parts := dns.SplitDomainName(s)
	for i, p := range parts {
		parts[i] = UnescapeLabel(p)
	}
	return parts
}

// UnescapeLabel resolves the presentation escapes of one label: \DDD is the
// byte with decimal value DDD, \X is X.
func UnescapeLabel(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v <= 255 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// EscapeLabel writes raw label bytes (an instance label may hold dots,
// spaces and any UTF-8, RFC 6763 section 4.1.1) in the form RFC 6763
// section 4.3 uses to show an instance name: a dot is \. and a backslash
// \\; control bytes are \DDD so that the name stays on one line. Spaces and
// UTF-8 are kept. miekg/dns packs the result back into exactly the raw
// bytes.
func EscapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%03d`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Display rewrites a name received from miekg/dns (which escapes spaces,
// quotes and more) into the form of EscapeLabel, label by label.
func Display(s string) string {
	ls := Labels(s)
	if len(ls) == 0 {
		return "."
	}
	for i, l := range ls {
		ls[i] = EscapeLabel(l)
	}
	return strings.Join(ls, ".") + "."
}

// RdataKey returns the canonical rdata of rr, for telling records of one
// RRset apart: names in PTR and SRV rdata by MustKey (case-insensitive,
// RFC 6762 section 16), addresses by their bytes (an IPv4 address the same
// however it is held), everything else by its packed rdata.
func RdataKey(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.PTR:
		return MustKey(r.Ptr)
	case *dns.SRV:
		var b [6]byte
		binary.BigEndian.PutUint16(b[0:], r.Priority)
		binary.BigEndian.PutUint16(b[2:], r.Weight)
		binary.BigEndian.PutUint16(b[4:], r.Port)
		return string(b[:]) + MustKey(r.Target)
	case *dns.A:
		return string(r.A.To4())
	case *dns.AAAA:
		return string(r.AAAA.To16())
	}
	return string(Rdata(rr))
}

// Rdata returns the uncompressed RDATA of rr as miekg/dns packs it (RFC
// 6762 section 8.2: the "raw" rdata the probe tie-break compares), or nil
// when rr does not pack.
func Rdata(rr dns.RR) []byte {
	cp := dns.Copy(rr)
	h := cp.Header()
	h.Name, h.Ttl = ".", 0
	buf := make([]byte, dns.Len(cp)+16)
	end, err := dns.PackRR(cp, buf, 0, nil, false)
	if err != nil || int(h.Rdlength) > end {
		return nil
	}
	return buf[end-int(h.Rdlength) : end]
}

// RRKey identifies a record by name, type, class (without the cache-flush
// bit) and rdata, ignoring the TTL and the case of names (also names in
// PTR, SRV and NSEC rdata). Two records with the same key are "the same
// record" for known-answer suppression (RFC 6762 section 7.1) and conflict
// detection (section 9).
func RRKey(rr dns.RR) string {
	cp := dns.Copy(rr)
	h := cp.Header()
	h.Name = Canonical(h.Name)
	h.Class &^= CacheFlush
	h.Ttl = 0
	switch v := cp.(type) {
	case *dns.PTR:
		v.Ptr = Canonical(v.Ptr)
	case *dns.SRV:
		v.Target = Canonical(v.Target)
	case *dns.NSEC:
		v.NextDomain = Canonical(v.NextDomain)
	}
	buf := make([]byte, dns.Len(cp)+16)
	off, err := dns.PackRR(cp, buf, 0, nil, false)
	if err != nil {
		return "!" + cp.String()
	}
	return string(buf[:off])
}
