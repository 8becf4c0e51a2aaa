package registry

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuiltinServices(t *testing.T) {
	reg := Builtin()
	require.NotNil(t, reg)
	assert.Same(t, reg, Builtin(), "Builtin is parsed once and shared")
	assert.Equal(t, 3, reg.Records())

	var names []string
	for _, s := range reg.Services() {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"jnx-kcsync", "timezone", "timezones"}, names)

	jnx, ok := reg.Lookup("jnx-kcsync")
	require.True(t, ok)
	assert.Equal(t, []string{"tcp"}, jnx.Protocols)
	assert.Empty(t, jnx.Ports)
	assert.Equal(t, "jollys keychain cloud sync protocol", jnx.Description)
	assert.Equal(t, "_jnx-kcsync._tcp", jnx.Type())
	assert.True(t, jnx.Usable())
	assert.Equal(t, "registered", jnx.Status())
	assert.True(t, jnx.DefinesKeys())
	assert.Equal(t, RulesKeys, jnx.TXT.Kind)
	assert.False(t, jnx.TXT.Open)
	hex40 := func(k string) KeyRule {
		return KeyRule{Key: k, Description: "<40hex characters>", Value: ValueHex, Len: 40}
	}
	assert.Equal(t, []KeyRule{hex40("hash"), hex40("salt"), hex40("uuid")}, jnx.TXT.Keys)
	require.Len(t, jnx.Records, 1)
	assert.Equal(t, 2, jnx.Records[0].Line)
	assert.Equal(t, "[Patrick_Stein]", jnx.Records[0].Assignee)
	assert.Equal(t, "2011-10-24", jnx.Records[0].Registered)

	for _, name := range []string{"timezone", "timezones"} {
		tz, ok := reg.Lookup(name)
		require.True(t, ok, name)
		assert.Equal(t, name, tz.Name)
		assert.Equal(t, []string{"tcp"}, tz.Protocols)
		assert.Equal(t, []string{"[RFC7808]"}, tz.References)
		assert.Equal(t, "_"+name+"._tcp", tz.Type())
		assert.Equal(t, RulesKeys, tz.TXT.Kind, name)
		assert.Equal(t, []KeyRule{{
			Key:         "path",
			Description: "<context path> (as per Section 6 of [RFC6763])",
			Value:       ValuePath,
		}}, tz.TXT.Keys, name)
		assert.Equal(t, "path=<context path> (as per Section 6 of [RFC6763]).", tz.TXT.Text)
	}
	tz, _ := reg.Lookup("timezone")
	assert.Equal(t, "Time Zone Data Distribution Service - non-TLS", tz.Description)
	tzs, _ := reg.Lookup("timezones")
	assert.Equal(t, "Time Zone Data Distribution Service - over TLS", tzs.Description)
}

func TestBuiltinLookup(t *testing.T) {
	reg := Builtin()
	for _, tc := range []struct {
		in   string
		want string // "" = not found
	}{
		{"timezone", "timezone"},
		{"TimeZone", "timezone"},
		{"TIMEZONES", "timezones"},
		{"JNX-KCSYNC", "jnx-kcsync"},
		{"jnx-\u212Acsync", ""}, // KELVIN SIGN is not k: ASCII case folding only
		{"_timezone._tcp", "timezone"},
		{"_timezone._tcp.local.", "timezone"},
		{"_timezone._tcp.local", "timezone"},
		{"_TimeZone._TCP.example.com.", "timezone"},
		{"_timezones._tcp.dns-sd.example.", "timezones"},
		{"_jnx-kcsync._tcp", "jnx-kcsync"},
		{"_sub1._sub._timezone._tcp.local.", "timezone"},
		{"_timezone._udp", ""}, // registered for tcp only
		{"_timezone._udp.local.", ""},
		{"_timezone", ""},
		{"_timezone._sctp", ""},
		{"_timezone._tcp..", ""},
		{"timezone.local", ""},
		{"http", ""},
		{"_http._tcp", ""},
		{"", ""},
	} {
		s, ok := reg.Lookup(tc.in)
		if tc.want == "" {
			assert.False(t, ok, "Lookup(%q) found %v", tc.in, s)
			assert.Nil(t, s, tc.in)
			continue
		}
		if assert.True(t, ok, "Lookup(%q)", tc.in) {
			assert.Equal(t, tc.want, s.Name, tc.in)
		}
	}
}

// The note's own example values pass the rules parsed from it.
func TestBuiltinExampleValuesPass(t *testing.T) {
	jnx, ok := Builtin().Lookup("_jnx-kcsync._tcp")
	require.True(t, ok)
	for key, val := range map[string]string{
		"hash": "5e7580598c0d7064d4fc79faaeb42585e1a675f8",
		"salt": "f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9",
		"uuid": "db61dc092922252e45bbb264f59147138c7fd5fa",
	} {
		rule, ok := jnx.TXT.Lookup(key)
		require.True(t, ok, key)
		assert.NoError(t, rule.Check([]byte(val), true), key)
		assert.Error(t, rule.Check([]byte(val[1:]), true), key)
	}
	_, ok = jnx.TXT.Lookup("Example")
	assert.False(t, ok, "the Example section defines no key")
}

// builtin.csv holds the three records exactly as the real file has them.
func TestBuiltinMatchesRealFile(t *testing.T) {
	real := realRegistry(t)
	for _, b := range Builtin().Services() {
		r, ok := real.Lookup(b.Name)
		require.True(t, ok, b.Name)
		require.Len(t, r.Records, 1, b.Name)
		require.Len(t, b.Records, 1, b.Name)
		want, got := r.Records[0], b.Records[0]
		want.Line, got.Line = 0, 0
		assert.Equal(t, want, got, b.Name)
		assert.Equal(t, r.TXT, b.TXT, b.Name)
	}
}

func TestBuiltinSummary(t *testing.T) {
	s := Builtin().Summary()
	assert.Equal(t, 3, s.Records)
	assert.Equal(t, 3, s.Names)
	assert.Equal(t, 3, s.TXTRecords)
	assert.Equal(t, map[RuleKind]int{RulesKeys: 3}, s.Rules)
	assert.Equal(t, map[ValueKind]int{ValueHex: 3, ValuePath: 2}, s.ValueKinds)
	assert.Empty(t, s.Unusable)
	assert.Empty(t, s.Unparsed)
}
