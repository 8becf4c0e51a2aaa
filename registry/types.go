package registry

import (
	"fmt"
	"strings"

	"github.com/lansd/lansd/internal/dnsname"
)

// Record is one row of the IANA "Service Name and Transport Protocol Port
// Number Registry" CSV, exactly as it appears in the file.
type Record struct {
	Name            string // Service Name (may be empty for port-only rows)
	Port            string // Port Number: "", "80" or a range "6000-6063"
	Protocol        string // Transport Protocol: tcp, udp, sctp, dccp or ""
	Description     string
	Assignee        string
	Contact         string
	Registered      string // Registration Date
	Modified        string // Modification Date
	Reference       string
	ServiceCode     string
	UnauthorizedUse string
	Notes           string // Assignment Notes
	Line            int    // 1-based line of the record's first line in the file
}

// PortRange is an inclusive range of port numbers; a single port has Low == High.
type PortRange struct {
	Protocol  string
	Low, High uint16
}

// Service is everything the registry says about one service name, merged
// over all records that carry that name (case-insensitively).
type Service struct {
	Name        string      // as first registered
	Protocols   []string    // lower-case transport protocols, in file order, no duplicates
	Ports       []PortRange // assigned ports, if any
	Description string
	References  []string // e.g. "[RFC7808]"
	Notes       string   // Assignment Notes of the first record that has any
	Records     []Record
	// TXT holds the rules parsed from the "Defined TXT keys" note.
	TXT Rules
	// SyntaxErr is nil when Name satisfies RFC 6335 section 5.1 and the
	// service can be used as a DNS-SD service type; otherwise it says why not.
	SyntaxErr error
}

// Usable reports whether the service name satisfies RFC 6335 section 5.1
// syntax and so can be used as a DNS-SD service type.
func (s *Service) Usable() bool { return s.SyntaxErr == nil }

// Type returns the DNS-SD service type for s: "_name._tcp" when the service
// is registered for TCP, "_name._udp" otherwise (RFC 6763 section 7).
func (s *Service) Type() string {
	for _, p := range s.Protocols {
		if p == "tcp" {
			return "_" + dnsname.ASCIILower(s.Name) + "._tcp"
		}
	}
	return "_" + dnsname.ASCIILower(s.Name) + "._udp"
}

// RuleKind says what a registry record's Assignment Notes tell about TXT keys.
type RuleKind int

const (
	// RulesAbsent: the notes do not mention "Defined TXT keys".
	RulesAbsent RuleKind = iota
	// RulesNone: "Defined TXT keys: None"; the service defines no keys.
	RulesNone
	// RulesKeys: the keys are listed and were parsed into KeyRules.
	RulesKeys
	// RulesUnknown: the keys are not knowable from the note (Proprietary,
	// TBD, a reference to another document, or prose the parser could not
	// understand); no key-level checks are made.
	RulesUnknown
)

// String returns a short lower-case name for k.
func (k RuleKind) String() string {
	switch k {
	case RulesAbsent:
		return "absent"
	case RulesNone:
		return "none"
	case RulesKeys:
		return "keys"
	case RulesUnknown:
		return "unknown"
	}
	return fmt.Sprintf("RuleKind(%d)", int(k))
}

// Rules are the TXT-key rules of one service.
type Rules struct {
	Kind RuleKind
	// Keys are the defined keys, for Kind == RulesKeys.
	Keys []KeyRule
	// Open is true when the note permits keys beyond Keys (for example
	// "txtvers and proprietary keys"); undefined keys are then not flagged.
	Open bool
	// Text is the note's text after "Defined TXT keys:", trimmed.
	Text string
	// Reason says, for RulesUnknown, why the keys are not knowable
	// ("proprietary", "to be defined", "reference", "unparsed: ...").
	Reason string
}

// Lookup returns the rule for key, compared case-insensitively (RFC 6763 section 6.4).
func (r *Rules) Lookup(key string) (KeyRule, bool) {
	for _, k := range r.Keys {
		if strings.EqualFold(k.Key, key) {
			return k, true
		}
	}
	return KeyRule{}, false
}

// ValueKind is the kind of value check a key rule makes.
type ValueKind int

const (
	// ValueAny accepts any value, or none (free text, <username>, <password>, ...).
	ValueAny ValueKind = iota
	// ValueHex requires exactly KeyRule.Len hexadecimal digits (<40hex characters>).
	ValueHex
	// ValuePath requires an absolute URI path per RFC 3986 section 3.3
	// (<context path>, <path>, <path to ...>).
	ValuePath
)

// String returns a short lower-case name for v.
func (v ValueKind) String() string {
	switch v {
	case ValueAny:
		return "any"
	case ValueHex:
		return "hex"
	case ValuePath:
		return "path"
	}
	return fmt.Sprintf("ValueKind(%d)", int(v))
}

// KeyRule is one defined TXT key and the check its value must pass.
type KeyRule struct {
	Key         string    // the key as written in the registry
	Description string    // the value description, e.g. "<40hex characters>", or ""
	Value       ValueKind // the check made on the value
	Len         int       // for ValueHex: the exact number of hex digits
}
