package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

func TestParseType(t *testing.T) {
	reg := registry.Builtin()
	for in, want := range map[string]Type{
		"timezone":                      {Query: "_timezone._tcp.local.", Service: "_timezone._tcp"},
		"TimeZone":                      {Query: "_timezone._tcp.local.", Service: "_timezone._tcp"},
		"jnx-kcsync":                    {Query: "_jnx-kcsync._tcp.local.", Service: "_jnx-kcsync._tcp"},
		"_timezone._tcp":                {Query: "_timezone._tcp.local.", Service: "_timezone._tcp"},
		"_timezone._tcp.local.":         {Query: "_timezone._tcp.local.", Service: "_timezone._tcp"},
		"_Http._TCP":                    {Query: "_http._tcp.local.", Service: "_http._tcp"},
		"_printer._sub._http._tcp":      {Query: "_printer._sub._http._tcp.local.", Service: "_http._tcp"},
		"_services._dns-sd._udp":        {Query: ServicesName, Service: sd.ServicesType},
		"_services._dns-sd._udp.local.": {Query: ServicesName, Service: sd.ServicesType},
		"_unregistered._udp":            {Query: "_unregistered._udp.local.", Service: "_unregistered._udp"},
	} {
		got, err := ParseType(in, reg)
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
		_, err := ParseType(in, reg)
		require.Error(t, err, in)
		assert.ErrorIs(t, err, sd.ErrBadName, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

func TestNameRulesTheEngineReliesOn(t *testing.T) {
	assert.Equal(t, dnsname.MustKey("Office TZ._timezone._tcp.local."), dnsname.MustKey(`office\ tz._TIMEZONE._tcp.local`))
	assert.NotEqual(t, dnsname.MustKey("café.local."), dnsname.MustKey("CAFÉ.local."), "only ASCII folds (RFC 6762 section 16)")
	assert.Equal(t, "Office TZ._timezone._tcp.local.", dnsname.Display(`Office\ TZ._timezone._tcp.local.`))
	assert.Equal(t, `a\.b\\c\009._http._tcp.local.`, dnsname.Display(`a\.b\\c\009._http._tcp.local.`))
	assert.Equal(t, []string{"a.b", "c d", "local"}, dnsname.Labels(`a\.b.c\032d.local.`))
	inst, svc, dom, ok := SplitInstance(`My\.Box._http._tcp.local.`)
	require.True(t, ok)
	assert.Equal(t, []string{"My.Box", "_http._tcp", "local."}, []string{inst, svc, dom})
	_, _, _, ok = SplitInstance("_http._tcp.local.")
	assert.False(t, ok)
}
