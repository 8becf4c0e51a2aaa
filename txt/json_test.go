package txt

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseJSONObject(t *testing.T) {
	rec, err := ParseJSON([]byte(`{"z": "last?", "path": "/tz", "empty": "", "flag": true, "txtvers": 1, "f": -1.5e3, "path": "/dup", "u": "\u00fc\u0001"}`))
	require.NoError(t, err)
	want := []Item{
		{Key: "z", Value: []byte("last?"), HasValue: true, Offset: 0},
		{Key: "path", Value: []byte("/tz"), HasValue: true, Offset: 8},
		{Key: "empty", Value: []byte{}, HasValue: true, Offset: 17},
		{Key: "flag", Offset: 24},
		{Key: "txtvers", Value: []byte("1"), HasValue: true, Offset: 29},
		{Key: "f", Value: []byte("-1.5e3"), HasValue: true, Offset: 39},
		{Key: "path", Value: []byte("/dup"), HasValue: true, Offset: 48},
		{Key: "u", Value: []byte{0xc3, 0xbc, 0x01}, HasValue: true, Offset: 58},
	}
	assert.Equal(t, want, rec.Items, "member order and duplicates kept")

	wire, err := rec.Encode()
	require.NoError(t, err)
	dec, err := Decode(wire)
	require.NoError(t, err)
	assert.Equal(t, want, dec.Items, "offsets are those of the wire form")

	// Check reports the duplicate.
	fs := Check(rec)
	require.Len(t, fs, 1)
	assert.Equal(t, "path", fs[0].Key)
	assert.Equal(t, 48, fs[0].Offset)
}

func TestParseJSONArray(t *testing.T) {
	rec, err := ParseJSON([]byte(` ["path=/tz", "flag", "e=", "a=b=c", ""] `))
	require.NoError(t, err)
	want := []Item{
		{Key: "path", Value: []byte("/tz"), HasValue: true, Offset: 0},
		{Key: "flag", Offset: 9},
		{Key: "e", Value: []byte{}, HasValue: true, Offset: 14},
		{Key: "a", Value: []byte("b=c"), HasValue: true, Offset: 17},
		{Key: "", Offset: 23},
	}
	assert.Equal(t, want, rec.Items)
}

func TestParseJSONEmpty(t *testing.T) {
	for _, in := range []string{`{}`, `[]`, " { } \n"} {
		rec, err := ParseJSON([]byte(in))
		require.NoError(t, err, in)
		assert.Empty(t, rec.Items)
		assert.Empty(t, Check(rec))
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		in     string
		key    string
		index  int
		reason string
		offset int64
		isJSON bool // the underlying error is an encoding/json syntax error
	}{
		{in: `{"a": "1", "path": {"nested": 1}}`, key: "path", index: -1, reason: "an object is not a TXT value", offset: 20},
		{in: `{"list": [1]}`, key: "list", index: -1, reason: "an array is not a TXT value", offset: 10},
		{in: `{"off": false}`, key: "off", index: -1, reason: "false is not a TXT value"},
		{in: `{"nil": null}`, key: "nil", index: -1, reason: "null is not a TXT value"},
		{in: `{"a=b": "c"}`, key: "a=b", index: -1, reason: "keys may not contain '='"},
		{in: `"path=/tz"`, index: -1, reason: "want a JSON object or array, not a string"},
		{in: `42`, index: -1, reason: "not a number"},
		{in: ``, index: -1, reason: "no JSON value"},
		{in: `   `, index: -1, reason: "no JSON value"},
		{in: `{"a": "1"} {}`, index: -1, reason: "data after the JSON value"},
		{in: `{"a": "1"} x`, index: -1, reason: "data after the JSON value"},
		{in: `{"a": "1",}`, index: -1, reason: "reading a member name", isJSON: true},
		{in: `{"a" "1"}`, key: "a", index: -1, reason: "reading the value", isJSON: true},
		{in: `{"a": "1"`, index: -1, reason: "reading the end of the object"},
		{in: `["ok", 1]`, index: 1, reason: "a number is not a TXT string"},
		{in: `["ok", {"a": 1}]`, index: 1, reason: "an object is not a TXT string"},
		{in: `["ok", "x"`, index: -1, reason: "reading the end of the array"},
	}
	for _, tt := range tests {
		_, err := ParseJSON([]byte(tt.in))
		require.Error(t, err, tt.in)
		var je *JSONError
		require.True(t, errors.As(err, &je), "%T", err)
		assert.Equal(t, tt.key, je.Key, tt.in)
		assert.Equal(t, tt.index, je.Index, tt.in)
		assert.Contains(t, je.Reason, tt.reason, tt.in)
		if tt.offset != 0 {
			assert.Equal(t, tt.offset, je.Offset, tt.in)
		}
		if tt.key != "" {
			assert.Contains(t, err.Error(), `key "`+tt.key+`"`)
		}
		if tt.isJSON {
			var se *json.SyntaxError
			assert.True(t, errors.As(err, &se), "%s: %v", tt.in, err)
		}
	}
}

func jItem(k, v string, hasValue bool) Item {
	return Item{Key: k, Value: []byte(v), HasValue: hasValue}
}

// TestFormatJSON pins the bytes lansd browse --json prints for a TXT
// record (they were those of cmd/lansd's jsonTXT before FormatJSON).
func TestFormatJSON(t *testing.T) {
	for _, c := range []struct {
		name  string
		items []Item
		want  string
	}{
		{"zero record", nil, `{}`},
		{"only an empty key", []Item{jItem("", "x", true)}, `{}`},
		{"as a client sees it",
			[]Item{jItem("path", "/tz", true), jItem("color", "", false), jItem("note", "", true),
				jItem("PATH", "/dup", true), jItem("", "", false), jItem("", "novalue", true), jItem("Color", "x", true)},
			`{"path":"/tz","color":true,"note":""}`},
		{"binary values",
			[]Item{jItem("bin", "\xff\x00a\\", true), jItem("nul", "\x00", true), jItem("bs", `a\x41`, true)},
			`{"bin":"\\xff\\x00a\\\\","nul":"\u0000","bs":"a\\x41"}`},
		{"control characters, no HTML escapes",
			[]Item{jItem("ctl", "a\x01\n\t\b\f\r\x7f\u2028\u2029<>&\"\\", true)},
			"{\"ctl\":\"a\\u0001\\n\\t\\b\\f\\r\x7f\\u2028\\u2029<>&\\\"\\\\\"}"},
		{"keys", []Item{jItem("k\xff", "v", true), jItem("<a&b>", "<script>&amp;</script>", true)},
			`{"k\ufffd":"v","<a&b>":"<script>&amp;</script>"}`},
		{"UTF-8", []Item{jItem("name", "Büro ☕ 東京", true), jItem("c1", "\u0085\u009b", true)},
			"{\"name\":\"Büro ☕ 東京\",\"c1\":\"\u0085\u009b\"}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := FormatJSON(Record{Items: c.items})
			assert.Equal(t, c.want, string(got))
			assert.True(t, json.Valid(got), "%s", got)
		})
	}
}

// clientItems returns the items of r a client sees (RFC 6763 section
// 6.4), without offsets.
func clientItems(r Record) []Item {
	var out []Item
	for _, k := range r.Keys() {
		v, hasValue, _ := r.Get(k)
		it := Item{Key: k, HasValue: hasValue}
		if hasValue {
			it.Value = append([]byte{}, v...)
		}
		out = append(out, it)
	}
	return out
}

func withoutOffsets(items []Item) []Item {
	var out []Item
	for _, it := range items {
		it.Offset = 0
		if it.HasValue && it.Value == nil {
			it.Value = []byte{}
		}
		out = append(out, it)
	}
	return out
}

func TestFormatJSONRoundTrip(t *testing.T) {
	for _, items := range [][]Item{
		nil,
		{jItem("path", "/tz", true)},
		{jItem("color", "", false), jItem("note", "", true), jItem("empty", "", true)},
		{jItem("a", "1", true), jItem("A", "2", true), jItem("b", "", false), jItem("B", "x", true), jItem("", "lost", true), jItem("", "", false)},
		{jItem("u", "Büro ☕ \u2028 \x00\x01\x1f\x7f", true), jItem("esc", `"quoted" \ \x41 \\`, true)},
		{jItem("html", "<a href=\"x\">&amp;</a>", true), jItem("<k&>", "v", true)},
		{jItem("eq", "a=b==c=", true), jItem("txtvers", "1", true)},
	} {
		r := Record{Items: items}
		back, err := ParseJSON(FormatJSON(r))
		require.NoError(t, err, "%s", FormatJSON(r))
		assert.Equal(t, withoutOffsets(clientItems(r)), withoutOffsets(back.Items), "%s", FormatJSON(r))
	}

	// A binary value comes back as its escaped text, which ParseArgs reads
	// as the bytes.
	r := Record{Items: []Item{jItem("bin", "\xff\x41\x5c", true)}}
	back, err := ParseJSON(FormatJSON(r))
	require.NoError(t, err)
	require.Len(t, back.Items, 1)
	assert.Equal(t, `\xffA\\`, string(back.Items[0].Value))
	args, err := ParseArgs([]string{"bin=" + string(back.Items[0].Value)})
	require.NoError(t, err)
	assert.Equal(t, []byte("\xff\x41\x5c"), args.Items[0].Value)
}

// FuzzFormatJSON formats arbitrary decoded records: the output is always
// valid JSON that ParseJSON accepts, with one member per key a client
// sees, and items with valid UTF-8 come back byte for byte.
func FuzzFormatJSON(f *testing.F) {
	f.Add([]byte("\x08path=/tz\x05color\x05note=\x08PATH=/x"))
	f.Add([]byte("\x04b=\xff\\\x03\xffk="))
	f.Fuzz(func(t *testing.T, wire []byte) {
		r, err := Decode(wire)
		if err != nil {
			return
		}
		out := FormatJSON(r)
		require.True(t, json.Valid(out), "%q", out)
		back, err := ParseJSON(out)
		require.NoError(t, err, "%q", out)
		want := clientItems(r)
		require.Len(t, back.Items, len(want), "%q", out)
		for i, w := range want {
			got := back.Items[i]
			require.Equal(t, w.HasValue, got.HasValue)
			if utf8.ValidString(w.Key) {
				require.Equal(t, w.Key, got.Key)
			}
			if w.HasValue && utf8.Valid(w.Value) {
				require.Equal(t, string(w.Value), string(got.Value))
			}
		}
	})
}

// FuzzParseJSON reads arbitrary JSON TXT input: errors are *JSONError with
// an offset inside the input and a reason; a record it accepts that
// encodes decodes back to the same items, and its FormatJSON form parses
// back to the same items when they are valid UTF-8.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"path": "/tz", "color": true, "note": ""}`, `["path=/tz", "color", "note="]`,
		`{"bin": "\\xff\\x00"}`, `{}`, `[]`, `{"a": 1, "A": 2}`, `[""]`, `{"path": null}`, `["=x"]`, `{"k": {"x": 1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseJSON(data)
		if err != nil {
			var je *JSONError
			require.True(t, errors.As(err, &je), "%T %v", err, err)
			require.NotEmpty(t, je.Reason)
			require.True(t, je.Offset >= 0 && je.Offset <= int64(len(data)), "offset %d of %d", je.Offset, len(data))
			return
		}
		wire, err := r.Encode()
		if err != nil {
			return // too long for a TXT record, or a string over 255 bytes
		}
		back, err := Decode(wire)
		require.NoError(t, err)
		if len(r.Items) > 0 {
			require.Len(t, back.Items, len(r.Items))
			for i, it := range r.Items {
				require.Equal(t, it.Key, back.Items[i].Key)
				require.Equal(t, it.HasValue, back.Items[i].HasValue)
				require.Equal(t, string(it.Value), string(back.Items[i].Value))
			}
		}
		again, err := ParseJSON(FormatJSON(r))
		require.NoError(t, err)
		_ = again
	})
}
