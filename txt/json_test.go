package txt

import (
	"encoding/json"
	"errors"
	"testing"

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
