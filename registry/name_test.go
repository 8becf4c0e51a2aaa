package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"timezone", "jnx-kcsync", "a", "A1", "1a", "x-1-y", "abcdefghijklmno", "HTTP", "9p"} {
		assert.NoError(t, CheckName(ok), ok)
	}
	for _, tc := range []struct {
		name   string
		offset int
		reason string
	}{
		{"", 0, "empty"},
		{"abcdefghijklmnop", 15, "longer than 15"},
		{"contamac_icm", 8, "'_'"},
		{"Apple Remote Desktop (Net Assistant)", 5, "' '"},
		{"-abc", 0, "begins with a hyphen"},
		{"abc-", 3, "ends with a hyphen"},
		{"ab--c", 3, "two hyphens"},
		{"1234", 0, "no letter"},
		{"12-34", 0, "no letter"},
		{"caf\u00e9", 3, "non-ASCII byte 0xc3"},
		{"a.b", 1, "'.'"},
		{"abcdefghijklmn_p", 14, "'_'"}, // the earliest problem wins
	} {
		err := CheckName(tc.name)
		var ne *NameError
		require.ErrorAs(t, err, &ne, tc.name)
		assert.Equal(t, tc.name, ne.Name)
		assert.Equal(t, tc.offset, ne.Offset, tc.name)
		assert.Contains(t, ne.Reason, tc.reason, tc.name)
		assert.Contains(t, err.Error(), "registry: service name")
	}
}

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Type
		str  string
	}{
		{"_timezone._tcp", Type{Service: "timezone", Proto: "tcp"}, "_timezone._tcp"},
		{"_timezone._tcp.local.", Type{Service: "timezone", Proto: "tcp", Domain: "local"}, "_timezone._tcp.local"},
		{"_timezone._udp.local", Type{Service: "timezone", Proto: "udp", Domain: "local"}, "_timezone._udp.local"},
		{"_TimeZone._TCP.Example.COM.", Type{Service: "TimeZone", Proto: "tcp", Domain: "Example.COM"}, "_TimeZone._tcp.Example.COM"},
		{"_printer._sub._http._tcp.local.", Type{Service: "http", Proto: "tcp", Domain: "local", Subtype: "_printer"}, "_printer._sub._http._tcp.local"},
		{"color._SUB._ipp._tcp", Type{Service: "ipp", Proto: "tcp", Subtype: "color"}, "color._sub._ipp._tcp"},
		{"timezone", Type{Service: "timezone"}, "timezone"},
	} {
		got, err := ParseType(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		assert.Equal(t, tc.str, got.String(), tc.in)
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		label  string
		offset int
		reason string
	}{
		{"", "", 0, "empty"},
		{"_timezone", "_timezone", 9, "missing protocol"},
		{"_timezone._sctp", "_sctp", 10, "_tcp or _udp"},
		{"_timezone._tcp..", "", 15, "empty label"},
		{"_timezone.._tcp", "", 10, "empty label"},
		{"timezone._tcp", "timezone", 0, "must begin with '_'"},
		{"timezone.local", "timezone", 0, "must begin with '_'"},
		{"_time_zone._tcp", "_time_zone", 5, "'_'"},
		{"_-tz._tcp", "_-tz", 1, "begins with a hyphen"},
		{"_abcdefghijklmnop._tcp", "_abcdefghijklmnop", 16, "longer than 15"},
		{"tz_1", "tz_1", 2, "'_'"},
		{"_._tcp", "_", 1, "empty name"},
		{"_printer._sub", "_sub", 13, "missing service label"},
		// Labels compare with ASCII case folding only (RFC 6762 section
		// 16): "_ſub" (LATIN SMALL LETTER LONG S) is not "_sub", though
		// strings.EqualFold says it is.
		{"_printer._ſub._http._tcp", "_ſub", 9, "_tcp or _udp"},
		{"_x._tcp." + strings.Repeat("a", 64), strings.Repeat("a", 64), 8, "longer than 63"},
		{"_x._tcp." + strings.Repeat("a.", 130), "", 255, "longer than 255"},
	} {
		_, err := ParseType(tc.in)
		var te *TypeError
		require.ErrorAs(t, err, &te, tc.in)
		assert.Equal(t, tc.in, te.Input)
		assert.Equal(t, tc.label, te.Label, tc.in)
		assert.Equal(t, tc.offset, te.Offset, "%q: %v", tc.in, err)
		assert.Contains(t, te.Reason, tc.reason, tc.in)
		assert.Contains(t, err.Error(), "registry: service type")
	}
	_, err := ParseType("_time_zone._tcp")
	var ne *NameError
	assert.ErrorAs(t, err, &ne, "wraps the NameError")
}

func BenchmarkCheckName(b *testing.B) {
	for b.Loop() {
		if CheckName("jnx-kcsync") != nil {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkCheckNameBad(b *testing.B) {
	for b.Loop() {
		if CheckName("contamac_icm") == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkParseType(b *testing.B) {
	for b.Loop() {
		if _, err := ParseType("_printer._sub._http._tcp.local."); err != nil {
			b.Fatal(err)
		}
	}
}
