package txt

import (
	"fmt"
	"slices"
)

// Limits applied by Check.
const (
	// MaxKeyLen is the longest key RFC 6763 section 6.4 recommends: "The
	// key SHOULD be no more than nine characters long". Longer keys are a
	// Warning.
	MaxKeyLen = 9

	// MaxRecommendedSize is the largest record RFC 6763 section 6.2
	// recommends: "Using TXT records larger than 1300 bytes is NOT
	// RECOMMENDED", so that the record fits in one 1500-byte Ethernet
	// packet. Larger records are a Warning.
	MaxRecommendedSize = 1300

	// MaxSize is the largest record Check accepts at all. RFC 6763
	// section 6.1 notes that the 9000-byte Multicast DNS packet limit
	// (RFC 6762 section 17, IP and UDP headers included) "imposes an upper
	// limit on the size of TXT records of about 8900 bytes". The
	// derivation: 9000 bytes - 40 (IPv6 header, the larger of the two) - 8
	// (UDP header) - 12 (DNS message header) - 10 (TYPE, CLASS, TTL and
	// RDLENGTH of the resource record) = 8930 bytes for the record's owner
	// name and RDATA. The owner name is the first name in such a response
	// and so cannot be compressed; 8900 leaves it 30 bytes, which a short
	// instance name such as "a._ipp._tcp.local." (19 bytes) fits in. A
	// record over 8900 bytes therefore cannot be announced with any
	// realistic name and is Fatal; one at or under it may still not fit
	// with a long instance name, which the announcer finds when it packs
	// the message.
	MaxSize = 8900
)

// Check reports whether r follows the syntax rules of RFC 6763 section 6
// for a record that is to be published. Findings are sorted by offset,
// record-level findings (Offset -1) first. Offsets are those of the
// encoded wire form; findings about one byte name its wire offset in the
// reason. The rules, with the severity chosen where the RFC leaves room:
//
//   - A record with no strings at all (a zero-byte wire form, see
//     Record.ZeroLength) is Fatal: "DNS-SD implementations MUST NOT emit
//     empty TXT records" (section 6.1). The zero Record is not such a
//     record: it encodes as a single empty string.
//   - A string longer than 255 bytes is Fatal (section 6.1: a string is a
//     length byte and 0-255 bytes). Decode never produces one; ParseArgs
//     and ParseJSON can.
//   - A key must be at least one character (section 6.4, MUST): a string
//     starting with '=' is Fatal. A zero-length string is allowed only as
//     the single string of the empty record (section 6.1: a record for a
//     service without data holds "a single zero byte"); in a record with
//     other strings it is a key/value string (section 6.3) without a key,
//     and so Fatal too.
//   - Key characters must be printable US-ASCII 0x20-0x7E other than '='
//     (section 6.4, MUST): Fatal, naming the first bad byte.
//   - A key longer than nine characters is a Warning (section 6.4, SHOULD).
//   - A key that appears more than once, compared ignoring ASCII case, is
//     a Warning on every later occurrence. Section 6.4 says a key "SHOULD
//     NOT appear more than once" and that clients "MUST silently ignore
//     all but the first occurrence": publishing a duplicate is pointless
//     but not forbidden, so it is a Warning like the other SHOULDs
//     (Options.Strict makes it Fatal). Get, Keys and Map use the first.
//   - A record larger than MaxSize (8900) bytes is Fatal (section 6.1, see
//     MaxSize); one larger than MaxRecommendedSize (1300) bytes is a
//     Warning (section 6.2, NOT RECOMMENDED).
//
// Values are opaque binary data (section 6.5) and are not checked.
func Check(r Record) []*Error {
	var out []*Error
	add := func(sev Severity, key string, off int, rule, format string, args ...any) {
		out = append(out, &Error{Severity: sev, Key: key, Offset: off, Rule: rule, Reason: fmt.Sprintf(format, args...)})
	}
	const (
		rule61 = "RFC 6763 section 6.1"
		rule62 = "RFC 6763 section 6.2"
		rule64 = "RFC 6763 section 6.4"
	)

	if len(r.Items) == 0 && r.ZeroLength {
		// RFC 6763 section 6.1: DNS-SD implementations MUST NOT emit empty TXT records.
		add(Fatal, "", -1, rule61,
			"the record has no strings (zero bytes); a TXT record must hold at least one string, a single empty string (0x00) when there is no data")
	}

	seen := make(map[string]int, len(r.Items)) // folded key -> offset of its first string
	off := 0
	for _, it := range r.Items {
		l := it.stringLen()
		here := off
		off += 1 + l
		if l > MaxStringLen {
			// RFC 6763 section 6.1: a length byte followed by 0-255 bytes.
			add(Fatal, it.Key, here, rule61, "string of %d bytes is longer than %d bytes", l, MaxStringLen)
		}
		switch {
		case l == 0:
			if len(r.Items) > 1 {
				// RFC 6763 section 6.4: the key MUST be at least one character.
				add(Fatal, "", here, rule64,
					"zero-length string in a record of %d strings has no key; only the single string of an empty record may be empty (RFC 6763 section 6.1)",
					len(r.Items))
			}
			continue
		case it.Key == "":
			// RFC 6763 section 6.4: the key MUST be at least one character;
			// strings beginning with '=' MUST be silently ignored by clients.
			add(Fatal, "", here, rule64, "string starts with '=': the key is missing, and clients ignore the string")
			continue
		}
		for i := 0; i < len(it.Key); i++ {
			if c := it.Key[i]; c < 0x20 || c > 0x7e || c == '=' {
				// RFC 6763 section 6.4: the characters of a key MUST be
				// printable US-ASCII values (0x20-0x7E), excluding '='.
				add(Fatal, it.Key, here, rule64,
					"key byte %d (wire offset %d) is 0x%02x; a key may hold only printable US-ASCII 0x20-0x7E other than '='",
					i, here+1+i, c)
				break
			}
		}
		if len(it.Key) > MaxKeyLen {
			add(Warning, it.Key, here, rule64, "key is %d characters long; it should be no more than %d", len(it.Key), MaxKeyLen)
		}
		k := foldKey(it.Key)
		if first, dup := seen[k]; dup {
			add(Warning, it.Key, here, rule64,
				"key appears more than once (first at offset %d, compared ignoring case); clients use only the first occurrence", first)
		} else {
			seen[k] = here
		}
	}

	switch size := r.WireLen(); {
	case size > MaxSize:
		add(Fatal, "", -1, rule61,
			"record is %d bytes; more than %d bytes cannot fit in a 9000-byte Multicast DNS packet with its headers and name (RFC 6762 section 17)",
			size, MaxSize)
	case size > MaxRecommendedSize:
		add(Warning, "", -1, rule62,
			"record is %d bytes; more than %d bytes is NOT RECOMMENDED (it may not fit in one 1500-byte Ethernet packet)",
			size, MaxRecommendedSize)
	}
	sortFindings(out)
	return out
}

// sortFindings sorts findings by offset, keeping the order of equal ones.
func sortFindings(fs []*Error) {
	slices.SortStableFunc(fs, func(a, b *Error) int { return a.Offset - b.Offset })
}
