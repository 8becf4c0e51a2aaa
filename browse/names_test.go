package browse

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
)

func TestParseBrowseType(t *testing.T) {
	reg := registry.Builtin()
	for in, want := range map[string]browseType{
		"timezone":                      {query: "_timezone._tcp.local.", service: "_timezone._tcp"},
		"TimeZone":                      {query: "_timezone._tcp.local.", service: "_timezone._tcp"},
		"jnx-kcsync":                    {query: "_jnx-kcsync._tcp.local.", service: "_jnx-kcsync._tcp"},
		"_timezone._tcp":                {query: "_timezone._tcp.local.", service: "_timezone._tcp"},
		"_timezone._tcp.local.":         {query: "_timezone._tcp.local.", service: "_timezone._tcp"},
		"_Http._TCP":                    {query: "_http._tcp.local.", service: "_http._tcp"},
		"_printer._sub._http._tcp":      {query: "_printer._sub._http._tcp.local.", service: "_http._tcp"},
		"_services._dns-sd._udp":        {query: servicesName, service: ServicesType},
		"_services._dns-sd._udp.local.": {query: servicesName, service: ServicesType},
		"_unregistered._udp":            {query: "_unregistered._udp.local.", service: "_unregistered._udp"},
	} {
		got, err := parseBrowseType(in, reg)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{
		"nosuchservice":            "not in the registry",
		"_timezone._xyz":           "_tcp or _udp",
		"_timezone._tcp.example.":  "only the local. domain",
		"":                         "empty",
		"bad_name":                 "service type",
		"_unregistered-thing._udp": "longer than 15",
	} {
		_, err := parseBrowseType(in, reg)
		require.Error(t, err, in)
		assert.ErrorIs(t, err, ErrBadName, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

func TestParseInstanceName(t *testing.T) {
	for in, want := range map[string][3]string{
		"Office TZ._timezone._tcp.local.":   {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		"Office TZ._timezone._tcp":          {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		"Office TZ._TimeZone._TCP.LOCAL":    {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		`Dr\. Who\\._http._tcp.local.`:      {`Dr\. Who\\._http._tcp.local.`, `Dr. Who\`, "_http._tcp"},
		`Office\032TZ._timezone._tcp.local`: {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		"Café ☕._http._tcp":                 {"Café ☕._http._tcp.local.", "Café ☕", "_http._tcp"},
	} {
		name, inst, svc, err := ParseInstanceName(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, [3]string{name, inst, svc}, in)
	}
	for in, msg := range map[string]string{
		"":                          "empty",
		"_timezone._tcp":            "want Instance._service._tcp.local.",
		"Dr. Who._http._tcp.local.": `\.`,
		"X._http._xyz.local.":       "_tcp or _udp",
		"X._http._tcp.example.com.": `\.`,
	} {
		_, _, _, err := ParseInstanceName(in)
		require.Error(t, err, in)
		assert.ErrorIs(t, err, ErrBadName, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

func TestNameHelpers(t *testing.T) {
	assert.Equal(t, mustKey("Office TZ._timezone._tcp.local."), mustKey(`office\ tz._TIMEZONE._tcp.local`))
	assert.NotEqual(t, mustKey("café.local."), mustKey("CAFÉ.local."), "only ASCII folds (RFC 6762 section 16)")
	assert.Equal(t, "Office TZ._timezone._tcp.local.", displayName(`Office\ TZ._timezone._tcp.local.`))
	assert.Equal(t, `a\.b\\c\009._http._tcp.local.`, displayName(`a\.b\\c\009._http._tcp.local.`))
	assert.Equal(t, []string{"a.b", "c d", "local"}, labels(`a\.b.c\032d.local.`))
	inst, svc, dom, ok := splitInstance(`My\.Box._http._tcp.local.`)
	require.True(t, ok)
	assert.Equal(t, []string{"My.Box", "_http._tcp", "local."}, []string{inst, svc, dom})
	_, _, _, ok = splitInstance("_http._tcp.local.")
	assert.False(t, ok)
}
