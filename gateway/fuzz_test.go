package gateway

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/tsig"
)

// fuzzKey stands for tsig.LoadFile in FuzzParse, which reads no file: a
// path ending in ".key" holds a key, any other is missing.
func fuzzKey(path string) (tsig.Key, error) {
	if strings.HasSuffix(path, ".key") {
		return tsig.Key{Name: "k.", Algorithm: "hmac-sha256.", Secret: "c2VjcmV0"}, nil
	}
	return tsig.Key{}, errors.New("no such file")
}

// FuzzParse reads arbitrary configurations: Parse never panics and is
// deterministic; every problem is a *ConfigError naming a field or, for
// a syntax error, a place inside the input, and they come sorted; a
// configuration it accepts passes Validate, survives Marshal and Parse
// unchanged, and its Policy (when the registry resolves its types)
// decides without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, ``, `[]`, `{"links": {"a": {"interfaces": ["e1"]}, "a": {}}}`,
		`{"links": {"a": {"interfaces": ["e1", 1]}, "b": {"interfaces": ["e1"]}}, "rules": [{"from": ["a"], "to": ["b", "a"], "types": ["*"]}]}`,
		`{"links": {"a": {"interfaces": ["e1"]}, "b": {"interfaces": ["e2"]}}, "zones": {"z": {"domain": "z.example", "tsig_file": "k.key", "ttl": 60}},
		  "rules": [{"from": ["a"], "to": ["b"], "to_zones": ["z"], "types": ["timezone", "_printer._sub._http._tcp"], "instances": ["P*"], "sources": ["198.51.100.0/24"], "conformance": "strict"}]}`,
		`{"zones": {"z": {"domain": "local.", "tsig": "x:y", "server": "a b", "ttl": 1e99}}}`,
		"{\n\"rules\": [{\"from\": [\"a\"]]}",
		`{"rules": [{"from": ["a"], "types": ["_ipp"], "sources": ["::ffff:1.2.3.4/128", "1.2.3.4/8"]}]}`,
		threeVLANDoc(f),
	} {
		f.Add([]byte(s))
	}
	in := sd.Instance{Instance: "Printer", Service: "_ipp._tcp", Addrs: []netip.Addr{
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("fe80::1%e1")}}
	prefixes := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseWith(data, "", fuzzKey)
		_, err2 := parseWith(data, "", fuzzKey)
		require.Equal(t, err == nil, err2 == nil)
		if err != nil {
			require.Nil(t, cfg)
			require.Equal(t, err.Error(), err2.Error(), "deterministic")
			var ce ConfigErrors
			require.True(t, errors.As(err, &ce), "%T: %v", err, err)
			require.NotEmpty(t, ce)
			for i, e := range ce {
				if e.Field == "" {
					require.Len(t, ce, 1, "a syntax error comes alone: %v", err)
					require.GreaterOrEqual(t, e.Line, 1, "%v", e)
					require.True(t, e.Offset >= 0 && e.Offset <= int64(len(data)), "offset %d of %d bytes: %v", e.Offset, len(data), e)
				}
				if i > 0 {
					require.LessOrEqual(t, comparePaths(ce[i-1].Field, e.Field), 0, "sorted: %v", err)
				}
			}
			return
		}
		require.NoError(t, cfg.Validate())
		out, err := cfg.Marshal()
		require.NoError(t, err)
		again, err := parseWith(out, "", fuzzKey)
		require.NoError(t, err, "%s", out)
		out2, err := again.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2))

		p, err := NewPolicy(cfg, nil)
		if err != nil {
			var ce ConfigErrors
			require.True(t, errors.As(err, &ce), "%v", err)
			for _, e := range ce {
				require.Contains(t, e.Field, "].types[", "%v", e)
			}
			return
		}
		for link := range cfg.Links {
			ds := p.Decide(link, prefixes, in, []string{"_printer"})
			for _, d := range ds {
				require.Equal(t, d.Proxy, d.Filter == "")
				require.False(t, d.Proxy && slices.ContainsFunc(d.Addrs, netip.Addr.IsLinkLocalUnicast))
			}
			p.BrowseTypes(link)
			p.SourcesFor(link, "_ipp._tcp")
		}
	})
}
