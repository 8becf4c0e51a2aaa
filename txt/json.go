package txt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// JSONError reports JSON input ParseJSON cannot read.
type JSONError struct {
	Key    string // the object member (or, for an array, the element's key) concerned; "" if none
	Index  int    // for the array form, the index of the element concerned; -1 otherwise
	Offset int64  // byte offset in the input where reading stopped
	Reason string
	Err    error // the encoding/json error, if any
}

// Error formats the error as `txt: JSON offset N: key "k": reason: err`.
func (e *JSONError) Error() string {
	s := fmt.Sprintf("txt: JSON offset %d", e.Offset)
	if e.Index >= 0 {
		s += fmt.Sprintf(": element %d", e.Index)
	}
	if e.Key != "" {
		s += fmt.Sprintf(": key %q", e.Key)
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying encoding/json error, if any.
func (e *JSONError) Unwrap() error { return e.Err }

// ParseJSON builds a record from JSON in one of two forms.
//
// An object maps keys to values, one string per member, in the order of
// the members (duplicate members are kept; Check reports them):
//
//	{"path": "/tz"}       a string is the value: path=/tz
//	{"note": ""}          an empty string gives an empty value: note=
//	{"color": true}       true gives a boolean attribute: color
//	{"txtvers": 1}        a number gives its literal text as value: txtvers=1
//
// false and null are errors, because "the key is absent" and "the key is
// present without a value" are both easy to mean and the record would
// silently say one of them; leave the member out or write true instead.
// Nested objects and arrays are errors naming the key, as are keys holding
// '=' (RFC 6763 section 6.4).
//
// An array holds the strings themselves: ["path=/tz", "color", "note="],
// each split at its first '=' as in the wire form (RFC 6763 section 6.3).
//
// JSON strings are Unicode text and are stored as UTF-8 ("\u00ff" is the two
// bytes C3 BF, not the byte FF); a value holding arbitrary binary bytes is
// written with the \xHH escapes of ParseArgs or in wire form. Item offsets
// are those of the encoded wire form. {} and [] give the zero Record, which
// encodes as the empty record (a single 0x00 byte). Errors are *JSONError.
func ParseJSON(data []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	fail := func(key string, index int, reason string, err error) error {
		if errors.Is(err, io.EOF) { // inside a value the end of input is unexpected
			err = io.ErrUnexpectedEOF
		}
		return &JSONError{Key: key, Index: index, Offset: dec.InputOffset(), Reason: reason, Err: err}
	}
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return Record{}, fail("", -1, "no JSON value: want an object or an array", nil)
	}
	if err != nil {
		return Record{}, fail("", -1, "reading JSON", err)
	}
	var items []Item
	switch tok {
	case json.Delim('{'):
		items, err = jsonObject(dec, fail)
	case json.Delim('['):
		items, err = jsonArray(dec, fail)
	default:
		return Record{}, fail("", -1, fmt.Sprintf("want a JSON object or array, not %s", jsonKind(tok)), nil)
	}
	if err != nil {
		return Record{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, fail("", -1, "data after the JSON value", nil)
	}
	if len(items) == 0 {
		return Record{}, nil
	}
	layout(items)
	return Record{Items: items}, nil
}

type jsonFail func(key string, index int, reason string, err error) error

// jsonObject reads the members of an object whose '{' has been read.
func jsonObject(dec *json.Decoder, fail jsonFail) ([]Item, error) {
	var items []Item
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail("", -1, "reading a member name", err)
		}
		key, ok := tok.(string)
		if !ok { // encoding/json reports this itself; kept for safety
			return nil, fail("", -1, fmt.Sprintf("want a member name, not %s", jsonKind(tok)), nil)
		}
		if i := strings.IndexByte(key, '='); i >= 0 {
			return nil, fail(key, -1, fmt.Sprintf("key holds '=' at byte %d; keys may not contain '=' (RFC 6763 section 6.4)", i), nil)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fail(key, -1, "reading the value", err)
		}
		switch v := tok.(type) {
		case string:
			items = append(items, Item{Key: key, Value: []byte(v), HasValue: true})
		case json.Number:
			items = append(items, Item{Key: key, Value: []byte(v.String()), HasValue: true})
		case bool:
			if !v {
				return nil, fail(key, -1, `false is not a TXT value: leave the member out, or write true for a boolean attribute`, nil)
			}
			items = append(items, Item{Key: key})
		case nil:
			return nil, fail(key, -1, `null is not a TXT value: write true for a boolean attribute or "" for an empty value`, nil)
		default:
			return nil, fail(key, -1, fmt.Sprintf("%s is not a TXT value: want a string, a number or true", jsonKind(tok)), nil)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fail("", -1, "reading the end of the object", err)
	}
	return items, nil
}

// jsonArray reads the elements of an array whose '[' has been read.
func jsonArray(dec *json.Decoder, fail jsonFail) ([]Item, error) {
	var items []Item
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail("", i, "reading an element", err)
		}
		s, ok := tok.(string)
		if !ok {
			return nil, fail("", i, fmt.Sprintf(`%s is not a TXT string: want "key=value", "key=" or "key"`, jsonKind(tok)), nil)
		}
		items = append(items, splitString([]byte(s), 0))
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, fail("", -1, "reading the end of the array", err)
	}
	return items, nil
}

// FormatJSON returns r as the JSON object ParseJSON reads, as a client sees
// the record (RFC 6763 section 6.4): one member per key in wire order, the
// first occurrence of a key (compared ignoring ASCII case) winning, later
// ones and strings with an empty key left out, as Keys and Get see them. A
// value is a string ("" for an empty value), a boolean attribute is true:
//
//	path=/tz color note=   →   {"path":"/tz","color":true,"note":""}
//
// What JSON requires is escaped (a backslash as \\, a double quote as \",
// control characters as \n or \u0001, and U+2028 and U+2029), nothing else:
// <, > and & stay as they are, the output is for people as much as for
// programs. A byte of a key that is not valid UTF-8 becomes U+FFFD (keys
// are printable US-ASCII in a record that passes Check).
//
// ParseJSON(FormatJSON(r)) gives back, key, value and HasValue byte for
// byte, the items of r that a client sees, provided their keys and values
// are valid UTF-8 (and no key holds '=', which no decoded or parsed
// record's does). A value that is not valid UTF-8 (binary bytes) cannot be
// a JSON string: it is written as FormatArg writes a value, with \xHH
// escapes and a backslash doubled (the bytes FF 41 5C give "\\xffA\\\\" in
// JSON), which ParseArgs reads back as the bytes but ParseJSON keeps as
// that text.
func FormatJSON(r Record) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// Encoding a string into a bytes.Buffer cannot fail; Encode adds a
	// newline, which is dropped.
	str := func(s string) {
		_ = enc.Encode(s)
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('{')
	seen := make(map[string]bool, len(r.Items))
	for _, it := range r.Items {
		k := foldKey(it.Key)
		if it.Key == "" || seen[k] {
			continue
		}
		if len(seen) > 0 {
			b.WriteByte(',')
		}
		seen[k] = true
		str(it.Key)
		b.WriteByte(':')
		switch {
		case !it.HasValue:
			b.WriteString("true")
		case utf8.Valid(it.Value):
			str(string(it.Value))
		default:
			str(FormatArg(Item{Value: it.Value, HasValue: true})[1:])
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// jsonKind names the kind of a JSON token for error messages.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		if v == '[' {
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}
