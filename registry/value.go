package registry

import "fmt"

// Check checks one TXT value against the rule. hasValue is false for a key
// given without '=' (RFC 6763 section 6.4: a boolean attribute).
//
//   - ValueAny accepts anything, including no value.
//   - ValueHex requires exactly k.Len hexadecimal digits (either case).
//   - ValuePath requires an absolute URI path per RFC 3986 section 3.3: a
//     non-empty path-abempty, that is "/" followed by segments of pchar
//     (unreserved / pct-encoded / sub-delims / ":" / "@") separated by "/";
//     each "%" must be followed by two hex digits.
//
// A missing or empty value fails ValueHex and ValuePath. The error is a
// [*ValueError] giving the byte offset within value.
func (k KeyRule) Check(value []byte, hasValue bool) error {
	switch k.Value {
	case ValueHex:
		return k.checkHex(value, hasValue)
	case ValuePath:
		return k.checkPath(value, hasValue)
	}
	return nil
}

func (k KeyRule) checkHex(v []byte, hasValue bool) error {
	if !hasValue || len(v) == 0 {
		return &ValueError{Key: k.Key, Offset: 0, Reason: fmt.Sprintf("missing value: want %d hex digits", k.Len)}
	}
	for i, c := range v {
		if !isHex(c) {
			n := 0
			for _, c := range v {
				if isHex(c) {
					n++
				}
			}
			return &ValueError{Key: k.Key, Offset: i, Reason: fmt.Sprintf("byte %q is not a hex digit (value has %d bytes, %d of them hex digits; want exactly %d hex digits)", c, len(v), n, k.Len)}
		}
	}
	if len(v) < k.Len {
		return &ValueError{Key: k.Key, Offset: len(v), Reason: fmt.Sprintf("found %d hex digits, want exactly %d", len(v), k.Len)}
	}
	if len(v) > k.Len {
		return &ValueError{Key: k.Key, Offset: k.Len, Reason: fmt.Sprintf("found %d hex digits, want exactly %d", len(v), k.Len)}
	}
	return nil
}

func (k KeyRule) checkPath(v []byte, hasValue bool) error {
	if !hasValue || len(v) == 0 {
		return &ValueError{Key: k.Key, Offset: 0, Reason: "missing value: want an absolute path such as \"/\""}
	}
	if v[0] != '/' {
		return &ValueError{Key: k.Key, Offset: 0, Reason: fmt.Sprintf("path must begin with '/', not %q (an absolute URI path, RFC 3986 section 3.3)", v[0])}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '/' || isPchar(c):
		case c == '%':
			// RFC 3986 section 2.1: pct-encoded = "%" HEXDIG HEXDIG.
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return &ValueError{Key: k.Key, Offset: i, Reason: "'%' must be followed by two hex digits (RFC 3986 section 2.1)"}
			}
			i += 2
		default:
			return &ValueError{Key: k.Key, Offset: i, Reason: fmt.Sprintf("byte %q is not allowed in a URI path (RFC 3986 section 3.3; percent-encode it)", c)}
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isPchar reports whether c is a pchar other than pct-encoded (RFC 3986
// section 3.3): unreserved / sub-delims / ":" / "@".
func isPchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', // sub-delims
		':', '@':
		return true
	}
	return false
}
