package registry

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by [*ParseError] and other errors of this package;
// test for them with errors.Is.
var (
	// ErrHeader: the first line is not the 12-column IANA header.
	ErrHeader = errors.New("bad header")
	// ErrFieldCount: a record does not have exactly 12 fields.
	ErrFieldCount = errors.New("wrong number of fields")
	// ErrPort: the Port Number field is not "", "N" or "N-M" with 0 <= N <= M <= 65535.
	ErrPort = errors.New("bad port number")
	// ErrProtocol: the Transport Protocol field is not "", tcp, udp, sctp or dccp.
	ErrProtocol = errors.New("bad transport protocol")
	// ErrTooLarge: the input is larger than [MaxFileSize].
	ErrTooLarge = errors.New("registry file too large")
)

// ParseError reports a malformed registry file: the line and 1-based byte
// column where the problem is, and the name of the CSV column (field) it is
// in. For a bad field value the position is the start of the field; for a
// quoting error it is where encoding/csv found it; for a record with too
// few fields it is the start of the last field present, and Field names the
// first missing column; for too many fields, Field is "extra field 13".
// Err is the underlying error (one of the sentinels above, or an
// encoding/csv error such as csv.ErrQuote or csv.ErrBareQuote).
type ParseError struct {
	Line   int    // 1-based line in the file
	Column int    // 1-based byte column within the line
	Field  string // column name from the header, e.g. "Port Number"
	Err    error
}

// Error returns "registry: line L, column C (Field): reason".
func (e *ParseError) Error() string {
	return fmt.Sprintf("registry: line %d, column %d (%s): %v", e.Line, e.Column, e.Field, e.Err)
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

// NameError reports a service name that does not satisfy the syntax of
// RFC 6335 section 5.1. Offset is the 0-based byte offset in Name of the
// offending byte (for a name that is too long, the first byte past the
// 15th; for a name without letters, 0).
type NameError struct {
	Name   string
	Offset int
	Reason string
}

// Error returns `registry: service name "x": byte N: reason`.
func (e *NameError) Error() string {
	return fmt.Sprintf("registry: service name %q: byte %d: %s", e.Name, e.Offset, e.Reason)
}

// TypeError reports a DNS-SD service type that [ParseType] cannot accept:
// the label at fault, and the 0-based byte offset in Input of the problem.
// Err is the underlying error (a [*NameError] for a bad service name), or nil.
type TypeError struct {
	Input  string
	Label  string
	Offset int
	Reason string
	Err    error
}

// Error returns `registry: service type "s": label "l" at byte N: reason`.
func (e *TypeError) Error() string {
	return fmt.Sprintf("registry: service type %q: label %q at byte %d: %s", e.Input, e.Label, e.Offset, e.Reason)
}

// Unwrap returns e.Err.
func (e *TypeError) Unwrap() error { return e.Err }

// ValueError reports a TXT value that fails a [KeyRule] check. Offset is the
// 0-based byte offset within the value where the problem is (for a value of
// the wrong length, the offset where a digit is missing or the first excess
// byte).
type ValueError struct {
	Key    string // the TXT key whose value was checked
	Offset int
	Reason string
}

// Error returns `registry: TXT key "k": value byte N: reason`.
func (e *ValueError) Error() string {
	return fmt.Sprintf("registry: TXT key %q: value byte %d: %s", e.Key, e.Offset, e.Reason)
}
