package txt

import "fmt"

// Severity says whether a finding breaks conformance.
type Severity int

const (
	// Warning: allowed, but worth fixing (long key, large record, key the
	// registry does not define). --strict turns warnings into errors.
	Warning Severity = iota
	// Fatal: the record does not conform.
	Fatal
)

// String returns "warning" or "error".
func (s Severity) String() string {
	if s == Fatal {
		return "error"
	}
	return "warning"
}

// Error is one finding about a TXT record: what is wrong, with which key,
// where in the wire form, and under which rule. It implements error.
type Error struct {
	Severity Severity
	Key      string // the key concerned, "" for record-level findings
	Offset   int    // byte offset of the string's length byte in the wire form, -1 if none
	Rule     string // the rule broken, e.g. "RFC 6763 section 6.4" or "jnx-kcsync: hash=<40hex characters>"
	Reason   string // a human-readable reason
}

// Error formats the finding as "severity: key "k" at offset N: reason (rule)".
func (e *Error) Error() string {
	s := e.Severity.String()
	if e.Key != "" {
		s += fmt.Sprintf(": key %q", e.Key)
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	s += ": " + e.Reason
	if e.Rule != "" {
		s += " (" + e.Rule + ")"
	}
	return s
}

// Item is one string of a TXT record, split at its first '='.
type Item struct {
	Key      string // raw key bytes (may hold bytes a valid key may not)
	Value    []byte // value bytes; nil for a boolean attribute
	HasValue bool   // true for "key=value" and "key=", false for "key"
	Offset   int    // offset of the string's length byte in the wire form
}

// Record is a decoded TXT record: its strings in wire order, duplicates included.
//
// The zero Record holds no strings; it stands for "no data" and encodes as
// the single empty string (one 0x00 byte), the form RFC 6763 section 6.1
// prescribes for a service without TXT data.
type Record struct {
	Items []Item
	// ZeroLength is set by Decode when the wire form was zero bytes long: a
	// record with no strings at all, which RFC 6763 section 6.1 forbids
	// implementations to emit (clients accept it as the empty record).
	// Check reports it; Encode writes the legal single 0x00 instead.
	ZeroLength bool
}
