package registry

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRealFileCounts(t *testing.T) {
	reg := realRegistry(t)
	s := reg.Summary()
	assert.Equal(t, 14447, s.Records)
	assert.Equal(t, 14447, reg.Records())
	assert.Equal(t, 7281, s.Names, "distinct names, case-insensitively")
	assert.Len(t, reg.Services(), 7281)

	// "Defined TXT keys" literally, as the data README counts it: 986.
	// ParseRules also finds "Defined TXT Keys" (4 records) and "Defined\n
	// TXT keys" (timezone, timezones): 992.
	literal := 0
	for _, rec := range reg.Rows() {
		if strings.Contains(rec.Notes, "Defined TXT keys") {
			literal++
		}
	}
	assert.Equal(t, 986, literal)
	assert.Equal(t, 992, s.TXTRecords)

	// 99 distinct names do not satisfy RFC 6335 section 5.1; they are
	// carried by 189 records (most are registered for both tcp and udp).
	assert.Len(t, s.Unusable, 99)
	records := 0
	for _, svc := range reg.Services() {
		if !svc.Usable() {
			records += len(svc.Records)
		}
	}
	assert.Equal(t, 189, records)
	assert.Contains(t, s.Unusable, "contamac_icm")
	assert.Contains(t, s.Unusable, "Apple Remote Desktop (Net Assistant)")
	assert.Contains(t, s.Unusable, "z39.50")
	assert.Contains(t, s.Unusable, "whois++")
	for _, name := range s.Unusable {
		assert.Error(t, CheckName(name), name)
	}
	assert.Equal(t, "914c/g", s.Unusable[0], "sorted by lower-case name")
}

func TestRealFileServices(t *testing.T) {
	reg := realRegistry(t)
	svcs := reg.Services()
	for i := 1; i < len(svcs); i++ {
		require.Less(t, strings.ToLower(svcs[i-1].Name), strings.ToLower(svcs[i].Name))
	}
	n := 0
	for _, svc := range svcs {
		n += len(svc.Records)
	}
	nameless := 0
	for _, rec := range reg.Rows() {
		if rec.Name == "" {
			nameless++
		}
	}
	assert.Equal(t, reg.Records(), n+nameless, "every record is in one service or nameless")
	assert.Equal(t, 1692, nameless)

	http, ok := reg.Lookup("HTTP")
	require.True(t, ok)
	assert.Equal(t, []string{"tcp", "udp", "sctp"}, http.Protocols)
	assert.Equal(t, []PortRange{{"tcp", 80, 80}, {"udp", 80, 80}, {"sctp", 80, 80}}, http.Ports)
	assert.Equal(t, []string{"[RFC9110]", "[RFC9260]"}, http.References)
	assert.Equal(t, RulesKeys, http.TXT.Kind)
	assert.Equal(t, "_http._tcp", http.Type())

	x11, ok := reg.Lookup("x11")
	require.True(t, ok)
	assert.Equal(t, PortRange{"tcp", 6000, 6063}, x11.Ports[0])
}

func TestRealFileLegacyNames(t *testing.T) {
	reg := realRegistry(t)
	for _, tc := range []struct{ name, status string }{
		{"contamac_icm", "registered, but not usable as a DNS-SD service type: character '_' is not allowed (only A-Z, a-z, 0-9 and '-') (byte 8)"},
		{"Apple Remote Desktop (Net Assistant)", "registered, but not usable as a DNS-SD service type: character ' ' is not allowed (only A-Z, a-z, 0-9 and '-') (byte 5)"},
		{"z39.50", "registered, but not usable as a DNS-SD service type: character '.' is not allowed (only A-Z, a-z, 0-9 and '-') (byte 3)"},
		{"rmonitor_secure", "registered, but not usable as a DNS-SD service type: character '_' is not allowed (only A-Z, a-z, 0-9 and '-') (byte 8)"},
	} {
		s, ok := reg.Lookup(tc.name)
		require.True(t, ok, "legacy names are kept: %s", tc.name)
		assert.False(t, s.Usable(), tc.name)
		var ne *NameError
		require.ErrorAs(t, s.SyntaxErr, &ne, tc.name)
		assert.Equal(t, tc.name, ne.Name)
		assert.Equal(t, tc.status, s.Status())
		_, ok = reg.Lookup(strings.ToUpper(tc.name))
		assert.True(t, ok, "case-insensitive: %s", tc.name)
	}
	_, ok := reg.Lookup("_contamac_icm._tcp")
	assert.False(t, ok, "a legacy name is never a DNS-SD type")
	s, _ := reg.Lookup("ssh")
	assert.Equal(t, "registered", s.Status())
}

func TestRealFileLookupByType(t *testing.T) {
	reg := realRegistry(t)
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"_http._tcp", "http"},
		{"_http._udp.local.", "http"},
		{"_printer._sub._http._tcp.local.", "http"},
		{"_asap-sctp._udp", "asap-sctp"}, // sctp only: "_udp" (RFC 6763 section 7)
		{"_asap-sctp._tcp", ""},
		{"_dccp-ping._udp", "dccp-ping"},
		{"_gist._udp", "gist"},
		{"_gist._tcp", ""},                   // udp only
		{"_tinavigator._tcp", "tinavigator"}, // no protocol registered: either
		{"_tinavigator._udp", "tinavigator"},
		{"_nosuchservice._tcp", ""},
	} {
		s, ok := reg.Lookup(tc.in)
		if tc.want == "" {
			assert.False(t, ok, tc.in)
			continue
		}
		if assert.True(t, ok, tc.in) {
			assert.Equal(t, tc.want, s.Name, tc.in)
		}
	}
}

func BenchmarkLoadFull(b *testing.B) {
	data, err := os.ReadFile(realFilePath(b))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		reg, err := Load(strings.NewReader(string(data)))
		if err != nil || reg.Records() != 14447 {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupName(b *testing.B) {
	reg := realRegistry(b)
	for b.Loop() {
		if _, ok := reg.Lookup("TimeZone"); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkLookupType(b *testing.B) {
	reg := realRegistry(b)
	for b.Loop() {
		if _, ok := reg.Lookup("_timezone._tcp.local."); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkSummary(b *testing.B) {
	reg := realRegistry(b)
	for b.Loop() {
		_ = reg.Summary()
	}
}
