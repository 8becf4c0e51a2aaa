package txt

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// asciiEqualFold reports whether a and b are equal under ASCII case folding.
// Keys are printable US-ASCII and "case is ignored when interpreting a key"
// (RFC 6763 section 6.4); Unicode folding (the Kelvin sign matching 'k')
// would be wrong here.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldKey returns key with ASCII letters in lower case.
func foldKey(key string) string {
	for i := 0; i < len(key); i++ {
		if c := key[i]; 'A' <= c && c <= 'Z' {
			b := []byte(key)
			for j := i; j < len(b); j++ {
				b[j] = asciiLower(b[j])
			}
			return string(b)
		}
	}
	return key
}

// Get returns the value of key, compared ignoring ASCII case, as a client
// sees it: the first occurrence wins and later ones are ignored (RFC 6763
// section 6.4: a client "MUST silently ignore all but the first
// occurrence"). hasValue is false for a boolean attribute; ok is false when
// the key is absent. Strings with an empty key are never found (section
// 6.4: they "MUST be silently ignored"). The value shares memory with r.
func (r Record) Get(key string) (value []byte, hasValue bool, ok bool) {
	if key == "" {
		return nil, false, false
	}
	for _, it := range r.Items {
		if asciiEqualFold(it.Key, key) {
			return it.Value, it.HasValue, true
		}
	}
	return nil, false, false
}

// Keys returns the keys of r in wire order as a client sees them: the
// first spelling of each key (compared ignoring ASCII case), without later
// duplicates and without empty keys (RFC 6763 section 6.4).
func (r Record) Keys() []string {
	keys := make([]string, 0, len(r.Items))
	seen := make(map[string]bool, len(r.Items))
	for _, it := range r.Items {
		if k := foldKey(it.Key); it.Key != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, it.Key)
		}
	}
	return keys
}

// Map returns the items of r keyed by their key in ASCII lower case, as a
// client builds its dictionary (RFC 6763 section 6.4): the first occurrence
// of a key wins and strings with an empty key are left out.
func (r Record) Map() map[string]Item {
	m := make(map[string]Item, len(r.Items))
	for _, it := range r.Items {
		if it.Key == "" {
			continue
		}
		k := foldKey(it.Key)
		if _, dup := m[k]; !dup {
			m[k] = it
		}
	}
	return m
}

// String returns r in a human-readable form: every string in double
// quotes, separated by single spaces, like a TXT record in DNS
// presentation format. Inside the quotes a backslash is written \\, a
// double quote \" and a byte that is not printable (control bytes, DEL,
// bytes that are not part of valid printable UTF-8, and any non-ASCII byte
// of a key) \xHH. A zero-length string shows as "". A record with no
// strings (see Record.ZeroLength) is the empty string.
func (r Record) String() string {
	var b strings.Builder
	for i, it := range r.Items {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		writeEscaped(&b, it.Key, true, true)
		if it.HasValue {
			b.WriteByte('=')
			writeEscaped(&b, string(it.Value), false, true)
		}
		b.WriteByte('"')
	}
	return b.String()
}

const hexDigits = "0123456789abcdef"

// writeEscaped writes s with the escapes of FormatArg: \\ for a backslash
// and \xHH for bytes that are not printable. In a key every byte outside
// printable US-ASCII and '=' is escaped (keys are ASCII, RFC 6763 section
// 6.4); in a value valid printable UTF-8 is written as is. quote also
// escapes '"' as \".
func writeEscaped(b *strings.Builder, s string, key, quote bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"' && quote:
			b.WriteString(`\"`)
		case c == '=' && key:
			writeHex(b, c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		case c >= utf8.RuneSelf && !key:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError || !unicode.IsPrint(r) {
				writeHex(b, c)
				break
			}
			b.WriteString(s[i : i+n])
			i += n
			continue
		default:
			writeHex(b, c)
		}
		i++
	}
}

func writeHex(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}
