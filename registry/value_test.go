package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckHex(t *testing.T) {
	rule := KeyRule{Key: "hash", Value: ValueHex, Len: 40}
	good := "5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	require.Len(t, good, 40)
	assert.NoError(t, rule.Check([]byte(good), true))
	assert.NoError(t, rule.Check([]byte(strings.ToUpper(good)), true))

	for _, tc := range []struct {
		name     string
		value    string
		hasValue bool
		offset   int
		reason   string
	}{
		{"39 hex", good[:39], true, 39, "found 39 hex digits, want exactly 40"},
		{"41 hex", good + "a", true, 40, "found 41 hex digits, want exactly 40"},
		{"non-hex at 7", good[:7] + "g" + good[8:], true, 7, "'g' is not a hex digit"},
		{"non-hex first", "x" + good[1:], true, 0, "'x' is not a hex digit"},
		{"space", good[:20] + " " + good[21:], true, 20, "' ' is not a hex digit"},
		{"0x prefix", "0x" + good[2:], true, 1, "'x'"},
		{"empty", "", true, 0, "missing value"},
		{"no value", "", false, 0, "missing value"},
		{"boolean with bytes", good, false, 0, "missing value"},
	} {
		err := rule.Check([]byte(tc.value), tc.hasValue)
		var ve *ValueError
		require.ErrorAs(t, err, &ve, tc.name)
		assert.Equal(t, "hash", ve.Key, tc.name)
		assert.Equal(t, tc.offset, ve.Offset, "%s: %v", tc.name, err)
		assert.Contains(t, ve.Reason, tc.reason, tc.name)
		assert.Contains(t, err.Error(), `registry: TXT key "hash": value byte`)
	}
	err := rule.Check([]byte(good[:10]+"zz"+good[12:]), true)
	assert.ErrorContains(t, err, "value has 40 bytes, 38 of them hex digits")
}

func TestCheckPath(t *testing.T) {
	rule := KeyRule{Key: "path", Value: ValuePath}
	for _, ok := range []string{
		"/", "/pks/", "/tz", "/a/b/c", "//double", "/a%20b", "/%7Euser/", "/a:b@c", "/a;b=c,d", "/!$&'()*+,;=",
		"/-._~", "/%aF",
	} {
		assert.NoError(t, rule.Check([]byte(ok), true), ok)
	}
	for _, tc := range []struct {
		name     string
		value    string
		hasValue bool
		offset   int
		reason   string
	}{
		{"relative", "pks/", true, 0, "must begin with '/'"},
		{"dot relative", "./x", true, 0, "must begin with '/'"},
		{"url", "http://x/", true, 0, "must begin with '/'"},
		{"space", "/a b", true, 2, "' ' is not allowed"},
		{"query", "/a?b", true, 2, "'?'"},
		{"fragment", "/a#b", true, 2, "'#'"},
		{"bad pct short", "/a%2", true, 2, "two hex digits"},
		{"bad pct end", "/a%", true, 2, "two hex digits"},
		{"bad pct nonhex", "/a%zz", true, 2, "two hex digits"},
		{"bad pct half", "/a%2g/", true, 2, "two hex digits"},
		{"non-ASCII", "/caf\u00e9", true, 4, "not allowed"},
		{"backslash", "/a\\b", true, 2, "not allowed"},
		{"empty", "", true, 0, "missing value"},
		{"no value", "", false, 0, "missing value"},
	} {
		err := rule.Check([]byte(tc.value), tc.hasValue)
		var ve *ValueError
		require.ErrorAs(t, err, &ve, tc.name)
		assert.Equal(t, tc.offset, ve.Offset, "%s: %v", tc.name, err)
		assert.Contains(t, ve.Reason, tc.reason, tc.name)
	}
}

func TestCheckAny(t *testing.T) {
	rule := KeyRule{Key: "u", Value: ValueAny, Description: "<username>"}
	assert.NoError(t, rule.Check(nil, false))
	assert.NoError(t, rule.Check([]byte{}, true))
	assert.NoError(t, rule.Check([]byte("\x00\xff any bytes"), true))
}

// Rules parsed from real notes check real-looking values.
func TestCheckParsedRules(t *testing.T) {
	tz := ParseRules("Defined TXT keys: path=<context path> (as per Section 6 of [RFC6763]).")
	path, ok := tz.Lookup("PATH")
	require.True(t, ok, "keys are case-insensitive (RFC 6763 section 6.4)")
	assert.NoError(t, path.Check([]byte("/timezones/"), true))
	assert.Error(t, path.Check([]byte("timezones"), true))

	lsys := ParseRules("Defined TXT keys: model=value (string)\n  mac=value (12 hex digits)")
	mac, ok := lsys.Lookup("mac")
	require.True(t, ok)
	assert.NoError(t, mac.Check([]byte("0123456789ab"), true))
	assert.Error(t, mac.Check([]byte("01:23:45:67:89:ab"), true))
}

func BenchmarkCheckHex(b *testing.B) {
	rule := KeyRule{Key: "hash", Value: ValueHex, Len: 40}
	v := []byte("5e7580598c0d7064d4fc79faaeb42585e1a675f8")
	for b.Loop() {
		if rule.Check(v, true) != nil {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkCheckPath(b *testing.B) {
	rule := KeyRule{Key: "path", Value: ValuePath}
	v := []byte("/calendars/users/%7Ejohn/timezones/")
	for b.Loop() {
		if rule.Check(v, true) != nil {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkParseRules(b *testing.B) {
	note := "Defined TXT keys: hash=<40hex characters>\n      salt=<40hex characters>\n      uuid=<40hex characters>\n      Example:\n      hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	for b.Loop() {
		if ParseRules(note).Kind != RulesKeys {
			b.Fatal("not keys")
		}
	}
}
