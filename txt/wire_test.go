package txt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wireOf builds a wire form from its strings, for tests.
func wireOf(strs ...string) []byte {
	var b []byte
	for _, s := range strs {
		if len(s) > 255 {
			panic("wireOf: string too long")
		}
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want []Item
	}{
		{"single empty string", []byte{0}, []Item{{Key: "", Offset: 0}}},
		{"key=value", []byte("\x08path=/tz"), []Item{{Key: "path", Value: []byte("/tz"), HasValue: true, Offset: 0}}},
		{"all forms with offsets", wireOf("a=b", "c", "d=", "", "key=v"), []Item{
			{Key: "a", Value: []byte("b"), HasValue: true, Offset: 0},
			{Key: "c", Offset: 4},
			{Key: "d", Value: []byte{}, HasValue: true, Offset: 6},
			{Key: "", Offset: 9},
			{Key: "key", Value: []byte("v"), HasValue: true, Offset: 10},
		}},
		{"splits at the first '='", wireOf("a=b=c"), []Item{{Key: "a", Value: []byte("b=c"), HasValue: true}}},
		{"missing key", wireOf("==x"), []Item{{Key: "", Value: []byte("=x"), HasValue: true}}},
		{"lone '='", wireOf("="), []Item{{Key: "", Value: []byte{}, HasValue: true}}},
		{"binary value", wireOf("k=\x00\xff\n"), []Item{{Key: "k", Value: []byte{0, 0xff, '\n'}, HasValue: true}}},
		{"bad key bytes kept raw", wireOf("k\x01y=1"), []Item{{Key: "k\x01y", Value: []byte("1"), HasValue: true}}},
		{"255-byte string", wireOf("k=" + strings.Repeat("v", 253)), []Item{{Key: "k", Value: []byte(strings.Repeat("v", 253)), HasValue: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Decode(tt.wire)
			require.NoError(t, err)
			assert.False(t, rec.ZeroLength)
			assert.Equal(t, tt.want, rec.Items)
			// Every decoded record encodes back to the same bytes.
			got, err := rec.Encode()
			require.NoError(t, err)
			assert.Equal(t, tt.wire, got)
			assert.Equal(t, len(tt.wire), rec.WireLen())
		})
	}
}

func TestDecodeZeroLengthWire(t *testing.T) {
	for _, wire := range [][]byte{nil, {}} {
		rec, err := Decode(wire)
		require.NoError(t, err)
		assert.True(t, rec.ZeroLength)
		assert.Empty(t, rec.Items)

		// Check reports it (RFC 6763 section 6.1) ...
		fs := Check(rec)
		require.Len(t, fs, 1)
		assert.Equal(t, Fatal, fs[0].Severity)
		assert.Equal(t, -1, fs[0].Offset)
		assert.Equal(t, "RFC 6763 section 6.1", fs[0].Rule)
		assert.Contains(t, fs[0].Reason, "no strings")

		// ... and Encode writes the legal equivalent, one empty string.
		got, err := rec.Encode()
		require.NoError(t, err)
		assert.Equal(t, []byte{0}, got)
	}
}

func TestDecodeFramingError(t *testing.T) {
	tests := []struct {
		wire   []byte
		offset int
		reason string
	}{
		{[]byte("\x09path"), 0, "string of 9 bytes at offset 0 runs past the end of the record (5 bytes)"},
		{[]byte("\x01a\x05ab"), 2, "string of 5 bytes at offset 2 runs past the end of the record (5 bytes)"},
		{[]byte("\x00\xff"), 1, "string of 255 bytes at offset 1 runs past the end of the record (2 bytes)"},
		{[]byte("\x03abc\x01"), 4, "string of 1 bytes at offset 4 runs past the end of the record (5 bytes)"},
	}
	for _, tt := range tests {
		rec, err := Decode(tt.wire)
		require.Error(t, err, "% x", tt.wire)
		assert.Empty(t, rec.Items, "nothing half-decoded")
		var e *Error
		require.True(t, errors.As(err, &e), "%T", err)
		assert.Equal(t, Fatal, e.Severity)
		assert.Equal(t, tt.offset, e.Offset)
		assert.Equal(t, tt.reason, e.Reason)
		assert.Equal(t, "RFC 6763 section 6.1", e.Rule)
		assert.Contains(t, err.Error(), "at offset")
	}
}

func TestDecodeDoesNotShareMemory(t *testing.T) {
	wire := wireOf("k=value")
	rec, err := Decode(wire)
	require.NoError(t, err)
	copy(wire, bytes.Repeat([]byte{'X'}, len(wire)))
	assert.Equal(t, []byte("value"), rec.Items[0].Value)

	// Appending to one value must not overwrite the next string.
	rec, err = Decode(wireOf("a=1", "b=2"))
	require.NoError(t, err)
	_ = append(rec.Items[0].Value, 'Z')
	assert.Equal(t, "b", rec.Items[1].Key)
	assert.Equal(t, []byte("2"), rec.Items[1].Value)
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want []byte
	}{
		{"zero record is one empty string", Record{}, []byte{0}},
		{"single empty string", Record{Items: []Item{{}}}, []byte{0}},
		{"forms", Record{Items: []Item{
			{Key: "a", Value: []byte("b"), HasValue: true},
			{Key: "flag"},
			{Key: "e", HasValue: true},
		}}, wireOf("a=b", "flag", "e=")},
		{"offset is ignored", Record{Items: []Item{{Key: "k", Offset: 99}}}, wireOf("k")},
		{"value of a boolean is ignored", Record{Items: []Item{{Key: "k", Value: []byte("x")}}}, wireOf("k")},
		{"255 bytes is fine", Record{Items: []Item{{Key: strings.Repeat("k", 255)}}}, wireOf(strings.Repeat("k", 255))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rec.Encode()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(tt.want), tt.rec.WireLen())
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	long := Record{Items: []Item{
		{Key: "ok"},
		{Key: "big", Value: bytes.Repeat([]byte("v"), 252), HasValue: true}, // 3+1+252 = 256 bytes
	}}
	_, err := long.Encode()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, Fatal, e.Severity)
	assert.Equal(t, "big", e.Key)
	assert.Equal(t, 3, e.Offset)
	assert.Equal(t, "string of 256 bytes is longer than 255 bytes", e.Reason)
	assert.Contains(t, err.Error(), `key "big"`)

	_, err = Record{Items: []Item{{Key: "a=b", Value: []byte("c"), HasValue: true}}}.Encode()
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "a=b", e.Key)
	assert.Contains(t, e.Reason, `would decode as key "a"`)

	// More than 65535 bytes in all: 258 strings of 256 bytes.
	var huge Record
	for range 258 {
		huge.Items = append(huge.Items, Item{Key: "k", Value: bytes.Repeat([]byte("v"), 253), HasValue: true})
	}
	_, err = huge.Encode()
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "record of 66048 bytes is longer than 65535 bytes", e.Reason)
}
