package gateway

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/tsig"
)

// base is a valid configuration that the error tests extend: links a,
// b and c, zone z.
const base = `"links": {"a": {"interfaces": ["eth0.10"]}, "b": {"interfaces": ["eth0.20"]}, "c": {"interfaces": ["eth0.30", "eth1"]}},
 "zones": {"z": {"domain": "dnssd.example.net"}}`

// withRules returns base with rules.
func withRules(rules string) string { return "{" + base + `, "rules": [` + rules + "]}" }

// fieldErrors returns the errors of Parse(data), checking that each is a
// *ConfigError and that the list is sorted ConfigErrors.
func parseErrors(t *testing.T, data string) []string {
	t.Helper()
	_, err := Parse([]byte(data))
	require.Error(t, err)
	var ce ConfigErrors
	require.True(t, errors.As(err, &ce), "%T", err)
	var out []string
	for _, e := range ce {
		out = append(out, e.Error())
		var one *ConfigError
		require.True(t, errors.As(error(e), &one))
	}
	require.Equal(t, strings.Join(out, "\n"), err.Error())
	return out
}

func TestParseValid(t *testing.T) {
	cfg, err := Parse([]byte(withRules(`{"from": ["a"], "to": ["b", "c"], "to_zones": ["z"], "types": ["_ipp._tcp", "timezone", "_printer._sub._http._tcp"],
	  "instances": ["Printer*"], "sources": ["198.51.100.0/24", "2001:db8::/32"], "conformance": "strict"},
	 {"from": ["b", "c"], "to": ["a"], "types": ["*"]}`)))
	require.NoError(t, err)
	require.Equal(t, map[string]Link{"a": {Interfaces: []string{"eth0.10"}}, "b": {Interfaces: []string{"eth0.20"}}, "c": {Interfaces: []string{"eth0.30", "eth1"}}}, cfg.Links)
	require.Equal(t, map[string]Zone{"z": {Domain: "dnssd.example.net."}}, cfg.Zones)
	require.Equal(t, []Rule{{
		From: []string{"a"}, To: []string{"b", "c"}, ToZones: []string{"z"},
		Types:       []string{"_ipp._tcp", "timezone", "_printer._sub._http._tcp"},
		Instances:   []string{"Printer*"},
		Sources:     []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		Conformance: Strict,
	}, {From: []string{"b", "c"}, To: []string{"a"}, Types: []string{"*"}}}, cfg.Rules)

	empty, err := Parse([]byte(` {} `))
	require.NoError(t, err)
	require.Empty(t, empty.Rules)
}

func TestParseZone(t *testing.T) {
	secret := "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	cfg, err := Parse([]byte(`{"zones": {"corp": {"domain": "DNSSD.example.net.", "server": "[2001:db8::53]:5353", "tsig": "hmac-sha512:Gateway-Key:` + secret + `", "ttl": 60}}}`))
	require.NoError(t, err)
	require.Equal(t, Zone{Domain: "DNSSD.example.net.", Server: "[2001:db8::53]:5353",
		TSIG: tsig.Key{Name: "gateway-key.", Algorithm: "hmac-sha512.", Secret: secret}, TTL: 60 * time.Second}, cfg.Zones["corp"])

	// A key file, relative to the configuration file in Load.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k.key"), []byte("key \"gw\" {\n\talgorithm hmac-sha256;\n\tsecret \""+secret+"\";\n};\n"), 0o600))
	file := filepath.Join(dir, "gateway.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"zones": {"corp": {"domain": "dnssd.example.net.", "tsig_file": "k.key"}}}`), 0o600))
	cfg, err = Load(file)
	require.NoError(t, err)
	require.Equal(t, Zone{Domain: "dnssd.example.net.", TSIGFile: filepath.Join(dir, "k.key"),
		TSIG: tsig.Key{Name: "gw.", Algorithm: "hmac-sha256.", Secret: secret}}, cfg.Zones["corp"])

	// Load names the file in its errors.
	require.NoError(t, os.WriteFile(file, []byte(`{"zones": {"corp": {"domain": "dnssd.example.net.", "tsig_file": "missing.key"}}}`), 0o600))
	_, err = Load(file)
	require.ErrorContains(t, err, file+`: zones.corp.tsig_file: tsig: key file: open `+filepath.Join(dir, "missing.key"))
	_, err = Load(filepath.Join(dir, "nothing.json"))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		// Syntax: one error with the place.
		{"empty", ``, []string{"line 1, column 1 (byte 0): empty input; want a JSON object"}},
		{"syntax", "{\n  \"links\": {,}\n}", []string{"line 2, column 13 (byte 14): invalid character ',' looking for beginning of object key string"}},
		{"truncated", `{"links": {`, []string{"line 1, column 12 (byte 11): unexpected end of JSON input"}},
		{"trailing", `{} {}`, []string{"line 1, column 4 (byte 3): invalid character '{' after top-level value"}},
		{"deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), []string{"line 1, column 33 (byte 32): nested more than 32 levels deep"}},
		// The top level.
		{"not object", `[]`, []string{"(top level): must be an object, not an array"}},
		{"unknown", `{"link": {}, "Rules": []}`, []string{
			"Rules: unknown member (want links, zones, rules)",
			"link: unknown member (want links, zones, rules)"}},
		{"duplicate", `{"links": {}, "links": {}}`, []string{"links: member given twice"}},
		{"duplicate inside", `{"links": {"a": {"interfaces": ["e1"], "interfaces": ["e2"]}, "a": {"interfaces": ["e3"]}}}`, []string{
			"links.a: member given twice",
			"links.a.interfaces: member given twice"}},
		{"escaped names", `{"links": {"a\u002eb\n": {"interfaces": ["e1"]}}, "r\u0075les": 1}`, []string{
			`links."a.b\n": link name "a.b\n": only a-z, 0-9 and '-' (byte 1)`,
			"rules: must be an array of objects, not a number"}},
		{"kinds", `{"links": [], "zones": 1, "rules": {}}`, []string{
			"links: must be an object, not an array",
			"rules: must be an array of objects, not an object",
			"zones: must be an object, not a number"}},
		// Links.
		{"link names", `{"links": {"Office": {"interfaces": ["e1"]}, "a.b": {"interfaces": ["e2"]}, "": {"interfaces": ["e3"]}}}`, []string{
			`links."": link name must be 1 to 63 characters`,
			`links."a.b": link name "a.b": only a-z, 0-9 and '-' (byte 1)`,
			`links.Office: link name "Office": only a-z, 0-9 and '-' (byte 0)`}},
		{"link shape", `{"links": {"a": {"interfaces": []}, "b": {}, "c": {"interfaces": "eth0"}, "d": {"interfaces": ["eth0"], "vlan": 3}, "e": {"interfaces": [1]}}}`, []string{
			"links.a.interfaces: a link needs at least one interface",
			"links.b.interfaces: a link needs at least one interface",
			"links.c.interfaces: must be an array of strings, not a string",
			"links.d.vlan: unknown member (want interfaces)",
			"links.e.interfaces[0]: must be a string, not a number"}},
		{"interfaces", `{"links": {"a": {"interfaces": ["eth0", "eth0", "bad name", "", "0123456789abcdef"]}, "b": {"interfaces": ["eth1", "eth0"]}}}`, []string{
			`links.a.interfaces[1]: interface "eth0" listed twice`,
			`links.a.interfaces[2]: interface name "bad name": holds '/', ':', white space or a control character`,
			`links.a.interfaces[3]: interface name "": empty`,
			`links.a.interfaces[4]: interface name "0123456789abcdef": longer than 15 bytes`,
			`links.b.interfaces[1]: interface "eth0" is also in link "a" (an interface belongs to one link)`}},
		// Zones.
		{"zone fields", `{"links": {"z": {"interfaces": ["e"]}}, "zones": {"z": {"domain": "local."}, "y": {}, "x": {"domain": "a..b"}, "w": {"domain": "dnssd.example.net", "server": "bad host", "ttl": 0, "tls": true},
		   "v": {"domain": "DNSSD.example.net.", "server": "ns:99999", "ttl": 1.5}, "u": {"domain": 7, "ttl": "60"}}}`, []string{
			`zones.u.domain: must be a string, not a number`,
			`zones.u.ttl: must be a number of seconds, not a string`,
			`zones.v.server: "ns:99999": port must be 1 to 65535`,
			`zones.v.ttl: 1.5 is not a whole number of seconds`,
			`zones.w.domain: "dnssd.example.net." is also zone "v"'s domain`,
			`zones.w.server: "bad host": want host or host:port`,
			`zones.w.tls: unknown member (want domain, server, tsig, tsig_file, ttl)`,
			`zones.w.ttl: 0 is outside 1 to 2147483647 seconds`,
			`zones.x.domain: "a..b.": not a domain name`,
			`zones.y.domain: missing: the zone's domain, e.g. dnssd.example.net.`,
			`zones.z: zone name "z" is also a link's name`,
			`zones.z.domain: "local.": local. is the Multicast DNS domain (RFC 6762 section 3), not a zone`}},
		{"zone keys", `{"zones": {"a": {"domain": "a.example.", "tsig": "hmac-md5:k:c2VjcmV0"}, "b": {"domain": "b.example.", "tsig": "k:c2VjcmV0", "tsig_file": "/k"},
		   "c": {"domain": "c.example.", "tsig": "nokey"}, "d": {"domain": "d.example.", "tsig_file": ""}}}`, []string{
			`zones.a.tsig: TSIG algorithm "hmac-md5": hmac-md5 is not supported (weak, and dropped by miekg/dns); use hmac-sha256`,
			`zones.b.tsig_file: give "tsig" or "tsig_file", not both`,
			`zones.c.tsig: TSIG key: want [ALG:]NAME:SECRET (as nsupdate -y), got 1 colon-separated fields`,
			`zones.d.tsig_file: empty path`}},
		// Rules.
		{"rule shape", withRules(`[], {"from": "a", "to": ["b"], "types": ["*"], "conformance": 1, "comment": "x"}, {}`), []string{
			`rules[0]: must be an object, not an array`,
			`rules[1].comment: unknown member (want from, to, to_zones, types, instances, sources, conformance)`,
			`rules[1].conformance: must be a string, not a number`,
			`rules[1].from: must be an array of strings, not a string`,
			`rules[2].from: missing: a rule needs at least one source link`,
			`rules[2].to: missing: a rule needs "to" (links) or "to_zones" (zones), or both`,
			`rules[2].types: no service types; give ["*"] for every type`}},
		{"rule names", withRules(`{"from": ["a", "guest", "a"], "to": ["b", "a", "b", "iot"], "to_zones": ["z", "corp"], "types": ["*"]}`), []string{
			`rules[0].from[1]: unknown link "guest"`,
			`rules[0].from[2]: link "a" listed twice`,
			`rules[0].to[1]: link "a" is also in from (a rule never sends a link's instances back to it)`,
			`rules[0].to[2]: link "b" listed twice`,
			`rules[0].to[3]: unknown link "iot"`,
			`rules[0].to_zones[1]: unknown zone "corp"`}},
		{"zones are not links", withRules(`{"from": ["z"], "to": ["z"], "to_zones": ["a"], "types": ["*"]}`), []string{
			`rules[0].from[0]: unknown link "z"`,
			`rules[0].to[0]: unknown link "z"`,
			`rules[0].to_zones[0]: unknown zone "a"`}},
		{"types", withRules(`{"from": ["a"], "to": ["b"], "types": []}, {"from": ["a"], "to": ["b"], "types": ["*", "_ipp._tcp", "_ipp._TCP", "_ipp", "_ipp._tcp.example.net.", "_services._dns-sd._udp", "a_b", ""]}`), []string{
			`rules[0].types: no service types; give ["*"] for every type`,
			`rules[1].types[0]: "*" (every type) must be the only type`,
			`rules[1].types[2]: type "_ipp._TCP" is types[1] again`,
			`rules[1].types[3]: registry: service type "_ipp": label "_ipp" at byte 4: missing protocol label _tcp or _udp`,
			`rules[1].types[4]: type "_ipp._tcp.example.net." names a domain (example.net); give the type alone`,
			`rules[1].types[5]: "_services._dns-sd._udp" is the type enumeration, not a service type; give "*" for every type`,
			`rules[1].types[6]: registry: service type "a_b": label "a_b" at byte 1: service name: character '_' is not allowed (only A-Z, a-z, 0-9 and '-') (RFC 6335 section 5.1)`,
			`rules[1].types[7]: registry: service type "": label "" at byte 0: empty service type`}},
		{"filters", withRules(`{"from": ["a"], "to": ["b"], "types": ["*"], "instances": ["[a-", "", "ok*"], "sources": ["198.51.100.7/24", "10.0.0.0/33", "::ffff:10.0.0.0/104", "fe80::/10", "x"], "conformance": "CONFORMING"},
		   {"from": ["a"], "to": ["b"], "types": ["*"], "conformance": ""}`), []string{
			`rules[0].conformance: "CONFORMING": want "any", "conforming" or "strict"`,
			`rules[0].instances[0]: pattern "[a-": syntax error in pattern (path.Match syntax)`,
			`rules[0].instances[1]: empty pattern`,
			`rules[0].sources[0]: 198.51.100.7/24 has bits set after the prefix length (did you mean 198.51.100.0/24?)`,
			`rules[0].sources[1]: not an address prefix (198.51.100.0/24, 2001:db8::/32): netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`,
			`rules[0].sources[2]: ::ffff:10.0.0.0/104 is an IPv4-mapped IPv6 prefix; write it as IPv4`,
			`rules[0].sources[4]: not an address prefix (198.51.100.0/24, 2001:db8::/32): netip.ParsePrefix("x"): no '/'`,
			`rules[1].conformance: empty; want "any", "conforming" or "strict"`}},
		{"sorted numerically", withRules(strings.Repeat(`{"from": ["a"], "to": ["b"], "types": ["*"]}, `, 10) + `{"from": ["x"], "to": ["b"], "types": ["*"]}, {"from": ["y"], "to": ["b"], "types": ["*"]}`), []string{
			`rules[10].from[0]: unknown link "x"`,
			`rules[11].from[0]: unknown link "y"`}},
		{"decode errors hide what follows", `{"links": {"a": [], "b": {"interfaces": ["eth0"]}}, "rules": [{"from": ["a"], "to": 5, "types": ["*"]}]}`, []string{
			`links.a: must be an object, not an array`,
			`rules[0].to: must be an array of strings, not a number`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, parseErrors(t, tc.in))
		})
	}
}

func TestLinkOf(t *testing.T) {
	cfg, err := Parse([]byte("{" + base + "}"))
	require.NoError(t, err)
	for ifc, want := range map[string]string{"eth0.10": "a", "eth1": "c", "eth0.30": "c", "eth9": ""} {
		l, ok := cfg.LinkOf(ifc)
		require.Equal(t, want, l)
		require.Equal(t, want != "", ok)
	}
}

func TestSyntaxErrorPlace(t *testing.T) {
	in := "{\n  \"rules\": [\n    {\"from\": [\"a\"]]\n}"
	_, err := Parse([]byte(in))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Empty(t, ce.Field)
	require.Equal(t, byte(']'), in[ce.Offset], "%v", err)
	require.Equal(t, 3, ce.Line)
	require.Equal(t, 19, ce.Column)
}

func TestValidateProgrammatic(t *testing.T) {
	cfg := &Config{
		Links: map[string]Link{"a": {Interfaces: []string{"eth0"}}, "b": {Interfaces: []string{"eth1"}}},
		Zones: map[string]Zone{"z": {Domain: "z.example.", TTL: 1500 * time.Millisecond, TSIG: tsig.Key{Name: "k", Algorithm: "hmac-sha256", Secret: "!"}}},
		Rules: []Rule{{From: []string{"a"}, To: []string{"b"}, Types: []string{"*"}, Sources: []netip.Prefix{{}}, Conformance: "lax"}},
	}
	err := cfg.Validate()
	require.EqualError(t, err, `rules[0].conformance: "lax": want "any", "conforming" or "strict"
rules[0].sources[0]: not a valid prefix
zones.z.tsig: TSIG secret: not base64: bad data at byte 0
zones.z.ttl: 1.5s is not a whole number of seconds`)
}

func TestMarshalRoundTrip(t *testing.T) {
	cfg, err := Parse([]byte(threeVLANDoc(t)))
	require.NoError(t, err)
	out, err := cfg.Marshal()
	require.NoError(t, err)
	again, err := Parse(out)
	require.NoError(t, err, "%s", out)
	require.Equal(t, cfg, again)
	out2, err := again.Marshal()
	require.NoError(t, err)
	require.Equal(t, string(out), string(out2))
}
