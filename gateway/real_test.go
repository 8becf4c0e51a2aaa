package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/regtest"
	"github.com/lansd/lansd/registry"
)

// realRegistry loads the full IANA registry CSV, ../shared/data/ next
// to the repository root (the directory holding go.mod), as the registry
// package's tests do. It skips the test when the file is absent, or
// fails it when LANSD_REQUIRE_DATA=1.
func realRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	p := regtest.FullPath(t)
	reg, err := registry.LoadFile(p)
	require.NoError(t, err)
	return reg
}

// TestRealRegistry resolves registry names against the full registry
// (ipp and http are registered for tcp and udp: the type is _tcp) and
// judges conformance by its rules (http defines u, p and path, the last
// an absolute path).
func TestRealRegistry(t *testing.T) {
	reg := realRegistry(t)
	cfg, err := Parse([]byte(`{"links": {"office": {"interfaces": ["eth0.10"]}, "guest": {"interfaces": ["eth0.20"]}, "iot": {"interfaces": ["eth0.30"]}},
	  "rules": [{"from": ["office"], "to": ["guest"], "types": ["ipp", "http"], "conformance": "conforming"},
	            {"from": ["office"], "to": ["iot"], "types": ["http"], "conformance": "strict"}]}`))
	require.NoError(t, err)
	_, err = NewPolicy(cfg, nil)
	require.EqualError(t, err, `rules[0].types[0]: service "ipp" is not in the registry; give the type as _ipp._tcp or _ipp._udp
rules[0].types[1]: service "http" is not in the registry; give the type as _http._tcp or _http._udp
rules[1].types[0]: service "http" is not in the registry; give the type as _http._tcp or _http._udp`)
	p, err := NewPolicy(cfg, reg)
	require.NoError(t, err)
	require.Equal(t, []string{"_http._tcp", "_ipp._tcp"}, p.BrowseTypes("office"))

	v4 := []string{"198.51.100.7"}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"path=/"}, []string{"guest: proxy (rules[0]) [198.51.100.7]", "iot: proxy (rules[1]) [198.51.100.7]"}},
		{[]string{"path=/", "colour=blue"}, []string{"guest: proxy (rules[0]) [198.51.100.7]",
			`iot: conformance (rules[1]): TXT record has findings (rules[1].conformance "strict"): error: key "colour" at offset 7: key not defined by the registry for http (http: Defined TXT keys: u, p, path)`}},
		{[]string{"path=index.html"}, []string{
			`guest: conformance (rules[0]): TXT record does not conform (rules[0].conformance "conforming"): error: key "path" at offset 0: value byte 0 (wire offset 6): path must begin with '/', not 'i' (an absolute URI path, RFC 3986 section 3.3) (http: path=<path to document>)`,
			`iot: conformance (rules[1]): TXT record has findings (rules[1].conformance "strict"): error: key "path" at offset 0: value byte 0 (wire offset 6): path must begin with '/', not 'i' (an absolute URI path, RFC 3986 section 3.3) (http: path=<path to document>)`}},
	} {
		var got []string
		for _, d := range p.Decide("office", officePrefixes, instance(t, "Wiki", "_http._tcp", v4, tc.args...), nil) {
			got = append(got, verdict(d))
		}
		require.Equal(t, tc.want, got, "%v", tc.args)
	}
}
