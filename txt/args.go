package txt

import (
	"fmt"
	"strings"
)

// ArgError reports an argument ParseArgs cannot read.
type ArgError struct {
	Index  int    // index of the argument in the slice given to ParseArgs, from 0
	Arg    string // the argument as given
	Key    string // the key as written in the argument (the text before its first '=')
	Offset int    // byte offset within Arg of the problem
	Reason string
}

// Error formats the error as `txt: args[I] "arg": key "k": offset N: reason`.
// The argument and key are shown as typed when they are printable ASCII
// without '"', so that the offset can be counted in them; otherwise they
// are Go-quoted.
func (e *ArgError) Error() string {
	return fmt.Sprintf("txt: args[%d] %s: key %s: offset %d: %s", e.Index, showArg(e.Arg), showArg(e.Key), e.Offset, e.Reason)
}

// showArg quotes s for an error message, without escaping when possible.
func showArg(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' {
			return fmt.Sprintf("%q", s)
		}
	}
	return `"` + s + `"`
}

// ParseArgs builds a record from command-line arguments, one string per
// argument, in order:
//
//	key=value   a key with a value (everything after the first '=', RFC 6763 section 6.3)
//	key=        a key with an empty value
//	key         a boolean attribute (RFC 6763 section 6.4)
//
// A byte that cannot be typed is written \xHH (exactly two hex digits, either
// case) and a backslash is written \\; no other escape exists. Keys may not
// contain '=' (RFC 6763 section 6.4), so neither \= nor \x3d is accepted in
// a key; a value takes '=' as is and \= there is an error too. A bad escape
// is an *ArgError naming the argument's index, its key and the offset of the
// backslash in the argument.
//
// ParseArgs does not judge keys or sizes: an empty argument becomes a
// zero-length string, "=v" an item with an empty key, and a string longer
// than 255 bytes is kept; Check reports them and Encode refuses the last.
// Item offsets are those of the encoded wire form. No arguments give the
// zero Record, which encodes as the empty record (a single 0x00 byte).
func ParseArgs(args []string) (Record, error) {
	if len(args) == 0 {
		return Record{}, nil
	}
	items := make([]Item, 0, len(args))
	for i, arg := range args {
		it, err := parseArg(i, arg)
		if err != nil {
			return Record{}, err
		}
		items = append(items, it)
	}
	layout(items)
	return Record{Items: items}, nil
}

// parseArg reads one argument of ParseArgs.
func parseArg(index int, arg string) (Item, error) {
	fail := func(off int, reason string) error {
		key := arg
		if i := strings.IndexByte(arg, '='); i >= 0 {
			key = arg[:i]
		}
		return &ArgError{Index: index, Arg: arg, Key: key, Offset: off, Reason: reason}
	}
	var (
		key      = make([]byte, 0, len(arg))
		value    []byte
		hasValue bool
		j        int
	)
	// The key runs up to the first '=' that is not part of an escape.
	for j < len(arg) && !hasValue {
		switch c := arg[j]; c {
		case '=':
			hasValue = true
			j++
		case '\\':
			b, n, reason := unescape(arg, j, true)
			if reason != "" {
				return Item{}, fail(j, reason)
			}
			if b == '=' {
				return Item{}, fail(j, `\x3d would put '=' in the key; keys may not contain '=' (RFC 6763 section 6.4)`)
			}
			key = append(key, b)
			j += n
		default:
			key = append(key, c)
			j++
		}
	}
	if hasValue {
		value = make([]byte, 0, len(arg)-j)
		for j < len(arg) {
			c := arg[j]
			if c != '\\' {
				value = append(value, c)
				j++
				continue
			}
			b, n, reason := unescape(arg, j, false)
			if reason != "" {
				return Item{}, fail(j, reason)
			}
			value = append(value, b)
			j += n
		}
	}
	return Item{Key: string(key), Value: value, HasValue: hasValue}, nil
}

// unescape reads the escape at s[i] == '\\' and returns the byte it stands
// for and its length, or a reason why it is not an escape.
func unescape(s string, i int, inKey bool) (b byte, n int, reason string) {
	if i+1 >= len(s) {
		return 0, 0, `backslash at the end of the argument; write \\ for a backslash`
	}
	switch s[i+1] {
	case '\\':
		return '\\', 2, ""
	case 'x':
		if i+4 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) {
			end := min(i+4, len(s))
			return 0, 0, fmt.Sprintf(`bad escape %s: \x must be followed by two hex digits`, showArg(s[i:end]))
		}
		return unhex(s[i+2])<<4 | unhex(s[i+3]), 4, ""
	case '=':
		if inKey {
			return 0, 0, `\= is not an escape: keys may not contain '=' (RFC 6763 section 6.4)`
		}
		return 0, 0, `\= is not an escape: a value takes '=' as is`
	}
	return 0, 0, fmt.Sprintf(`bad escape %s: the only escapes are \xHH and \\`, showArg(s[i:i+2]))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// FormatArg returns it in the argument form ParseArgs reads: "key=value",
// "key=" or "key", with a backslash written \\ and every byte that is not
// printable written \xHH (in a key every byte outside printable US-ASCII;
// in a value valid printable UTF-8 is kept). ParseArgs(FormatArg(it))
// gives back its key, value and HasValue, except for a key holding '=':
// that '=' is written \x3d, which ParseArgs rejects, because no argument
// can stand for such a key.
func FormatArg(it Item) string {
	var b strings.Builder
	b.Grow(it.stringLen() + 8)
	writeEscaped(&b, it.Key, true, false)
	if it.HasValue {
		b.WriteByte('=')
		writeEscaped(&b, string(it.Value), false, false)
	}
	return b.String()
}
