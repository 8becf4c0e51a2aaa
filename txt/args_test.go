package txt

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseArgs(t *testing.T) {
	rec, err := ParseArgs([]string{"path=/tz", "flag", "empty=", "eq=a=b", "", `bin=\x00\xFF\\`, `back\\slash`})
	require.NoError(t, err)
	want := []Item{
		{Key: "path", Value: []byte("/tz"), HasValue: true, Offset: 0},
		{Key: "flag", Offset: 9},
		{Key: "empty", Value: []byte{}, HasValue: true, Offset: 14},
		{Key: "eq", Value: []byte("a=b"), HasValue: true, Offset: 21},
		{Key: "", Offset: 28},
		{Key: "bin", Value: []byte{0, 0xff, '\\'}, HasValue: true, Offset: 29},
		{Key: `back\slash`, Offset: 37},
	}
	assert.Equal(t, want, rec.Items)

	// The offsets are those of the encoded wire form.
	wire, err := rec.Encode()
	require.NoError(t, err)
	dec, err := Decode(wire)
	require.NoError(t, err)
	assert.Equal(t, want, dec.Items)
}

func TestParseArgsNone(t *testing.T) {
	for _, args := range [][]string{nil, {}} {
		rec, err := ParseArgs(args)
		require.NoError(t, err)
		assert.Empty(t, rec.Items)
		assert.False(t, rec.ZeroLength)
		assert.Empty(t, Check(rec), "no arguments is the legal empty record")
		wire, err := rec.Encode()
		require.NoError(t, err)
		assert.Equal(t, []byte{0}, wire)
	}
}

func TestParseArgsKeepsWhatCheckJudges(t *testing.T) {
	// ParseArgs reads these; Check reports them; Encode refuses the long one.
	long := "k=" + strings.Repeat("v", 300)
	rec, err := ParseArgs([]string{"=v", `k\x01=1`, long})
	require.NoError(t, err)
	require.Len(t, rec.Items, 3)
	assert.Equal(t, "", rec.Items[0].Key)
	assert.Equal(t, "k\x01", rec.Items[1].Key)
	assert.Equal(t, 302, rec.Items[2].stringLen())
	fs := Check(rec)
	require.Len(t, fs, 3)
	for _, f := range fs {
		assert.Equal(t, Fatal, f.Severity, f.Error())
	}
	_, err = rec.Encode()
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "k", e.Key)
	assert.Equal(t, rec.Items[2].Offset, e.Offset)
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args   []string
		index  int
		key    string
		offset int
		reason string
	}{
		{[]string{"ok=1", `k=\xZZ`}, 1, "k", 2, `\x must be followed by two hex digits`},
		{[]string{`k=\x4`}, 0, "k", 2, `\x must be followed by two hex digits`},
		{[]string{`k=ab\`}, 0, "k", 4, "backslash at the end"},
		{[]string{`k=\n`}, 0, "k", 2, `the only escapes are \xHH and \\`},
		{[]string{`a\=b=1`}, 0, `a\`, 1, "keys may not contain '='"},
		{[]string{`a\x3db=1`}, 0, `a\x3db`, 1, "keys may not contain '='"},
		{[]string{`a\x3Db`}, 0, `a\x3Db`, 1, "keys may not contain '='"},
		{[]string{"x", "y", `k=a\=b`}, 2, "k", 3, "a value takes '=' as is"},
		{[]string{`\q`}, 0, `\q`, 0, `bad escape "\q"`},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.args)
		require.Error(t, err, "%q", tt.args)
		var ae *ArgError
		require.True(t, errors.As(err, &ae), "%T", err)
		assert.Equal(t, tt.index, ae.Index, "%q", tt.args)
		assert.Equal(t, tt.args[tt.index], ae.Arg)
		assert.Equal(t, tt.key, ae.Key, "%q", tt.args)
		assert.Equal(t, tt.offset, ae.Offset, "%q", tt.args)
		assert.Contains(t, ae.Reason, tt.reason)
		assert.Contains(t, err.Error(), "args[")
		assert.Contains(t, err.Error(), "offset")
	}
}

func TestParseArgsEscapedEqualsInValue(t *testing.T) {
	rec, err := ParseArgs([]string{`k=a\x3db`})
	require.NoError(t, err)
	assert.Equal(t, []byte("a=b"), rec.Items[0].Value)
}

func TestFormatArgRoundTrip(t *testing.T) {
	items := []Item{
		{Key: "path", Value: []byte("/tz"), HasValue: true},
		{Key: "flag"},
		{Key: "e", Value: []byte{}, HasValue: true},
		{},
		{Key: "", Value: []byte("v"), HasValue: true},
		{Key: `back\slash`, Value: []byte(`a\b`), HasValue: true},
		{Key: "bin", Value: []byte{0, 1, 0x7f, 0x80, 0xff, '=', ' ', '"'}, HasValue: true},
		{Key: "k\x01\xff", Value: []byte("x")},
		{Key: "utf8", Value: []byte("Zürich \u00a0 \xc3"), HasValue: true},
	}
	wantArgs := []string{
		"path=/tz", "flag", "e=", "", "=v", `back\\slash=a\\b`, `bin=\x00\x01\x7f\x80\xff= "`, `k\x01\xff`,
		`utf8=Zürich \xc2\xa0 \xc3`,
	}
	for i, it := range items {
		arg := FormatArg(it)
		assert.Equal(t, wantArgs[i], arg)
		rec, err := ParseArgs([]string{arg})
		require.NoError(t, err, arg)
		got := rec.Items[0]
		assert.Equal(t, it.Key, got.Key, arg)
		assert.Equal(t, it.HasValue, got.HasValue, arg)
		if it.HasValue {
			assert.Equal(t, string(it.Value), string(got.Value), arg)
		}
	}

	// A key holding '=' cannot be written as an argument.
	arg := FormatArg(Item{Key: "a=b"})
	assert.Equal(t, `a\x3db`, arg)
	_, err := ParseArgs([]string{arg})
	assert.Error(t, err)
}

func TestArgErrorFormat(t *testing.T) {
	_, err := ParseArgs([]string{"ok", `k=\xZZ`})
	assert.EqualError(t, err, `txt: args[1] "k=\xZZ": key "k": offset 2: bad escape "\xZZ": \x must be followed by two hex digits`)

	_, err = ParseArgs([]string{"k=\x01\\q"})
	assert.EqualError(t, err, `txt: args[0] "k=\x01\\q": key "k": offset 3: bad escape "\q": the only escapes are \xHH and \\`)
}
