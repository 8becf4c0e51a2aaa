package gateway

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// officePrefixes are the subnets of the link "office" in the tests.
var officePrefixes = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:10::/64")}

// policy parses a configuration of links office, guest and iot, zone
// corp, and rules, and returns its Policy with the built-in registry.
func policy(t *testing.T, rules string) *Policy {
	t.Helper()
	cfg, err := Parse([]byte(`{"links": {"office": {"interfaces": ["eth0.10"]}, "guest": {"interfaces": ["eth0.20"]}, "iot": {"interfaces": ["eth0.30"]}},
	  "zones": {"corp": {"domain": "dnssd.example.net."}}, "rules": [` + rules + `]}`))
	require.NoError(t, err)
	p, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	return p
}

// instance returns an instance of typ on the office link, with TXT
// strings args.
func instance(t *testing.T, name, typ string, addrs []string, args ...string) sd.Instance {
	t.Helper()
	rec, err := txt.ParseArgs(args)
	require.NoError(t, err)
	in := sd.Instance{Instance: name, Service: typ, Domain: "local.", TXT: rec}
	for _, a := range addrs {
		in.Addrs = append(in.Addrs, netip.MustParseAddr(a))
	}
	return in
}

// kcsync's TXT strings: conforming, and with a hash one digit short.
const (
	goodHash = "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	badHash  = "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f"
	salt     = "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
)

// verdict is a Decision in short: "guest: proxy" or "guest: type: reason".
func verdict(d Decision) string {
	to := d.To
	if d.Zone {
		to = "zone " + to
	}
	if d.Proxy {
		return fmt.Sprintf("%s: proxy (rules[%d]) %v", to, d.Rule, d.Addrs)
	}
	return fmt.Sprintf("%s: %s (rules[%d]): %s", to, d.Filter, d.Rule, d.Reason)
}

func TestDecide(t *testing.T) {
	v4 := []string{"198.51.100.7"}
	for _, tc := range []struct {
		name     string
		rules    string
		in       sd.Instance
		subtypes []string
		want     []string
	}{{
		name:  "type",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["_ipp._tcp"]}`,
		in:    instance(t, "Wiki", "_http._tcp", v4),
		want:  []string{"guest: type (rules[0]): type _http._tcp not in rules[0].types"},
	}, {
		name:  "type matches, ASCII case folded",
		rules: `{"from": ["office"], "to": ["guest", "iot"], "types": ["_IPP._tcp"]}`,
		in:    instance(t, "Printer", "_ipp._TCP", v4),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7]", "iot: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "registry name",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["timezone"]}`,
		in:    instance(t, "TZ", "_timezone._tcp", v4, "path=/tz"),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "every type",
		rules: `{"from": ["office"], "to_zones": ["corp"], "types": ["*"]}`,
		in:    instance(t, "Anything", "_x-y._udp", v4),
		want:  []string{"zone corp: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "not a service type",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"]}`,
		in:    instance(t, "Odd", "_http", v4),
		want:  []string{`guest: type (rules[0]): type "_http" is not a service type`},
	}, {
		name:  "subtype missing",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["_printer._sub._http._tcp", "_scanner._sub._http._tcp"]}`,
		in:    instance(t, "Wiki", "_http._tcp", v4),
		want:  []string{"guest: subtype (rules[0]): _http._tcp not found under subtype _printer or _scanner (rules[0].types)"},
	}, {
		name:     "subtype present",
		rules:    `{"from": ["office"], "to": ["guest"], "types": ["_printer._sub._http._tcp"]}`,
		in:       instance(t, "Printer", "_http._tcp", v4),
		subtypes: []string{"_PRINTER"},
		want:     []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:     "base type with a subtype rule beside it",
		rules:    `{"from": ["office"], "to": ["guest"], "types": ["_printer._sub._http._tcp", "_http._tcp"]}`,
		in:       instance(t, "Wiki", "_http._tcp", v4),
		subtypes: []string{"_other"},
		want:     []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "instance glob",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"], "instances": ["Printer*", "Lobby ?"]}`,
		in:    instance(t, "Scanner", "_ipp._tcp", v4),
		want:  []string{`guest: instances (rules[0]): instance "Scanner" matches no pattern of rules[0].instances`},
	}, {
		name:  "instance glob matches '/' and dots",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"], "instances": ["Printer*"]}`,
		in:    instance(t, "Printer 2/3rd floor. East", "_ipp._tcp", v4),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "sources: outside",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"], "sources": ["198.51.100.128/25"]}`,
		in:    instance(t, "P", "_ipp._tcp", []string{"198.51.100.7", "2001:db8:10::7"}),
		want:  []string{"guest: sources (rules[0]): no address of the instance (198.51.100.7, 2001:db8:10::7) inside rules[0].sources"},
	}, {
		name:  "sources: one address inside is enough",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"], "sources": ["198.51.100.0/25"]}`,
		in:    instance(t, "P", "_ipp._tcp", []string{"198.51.100.7", "2001:db8:10::7"}),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7 2001:db8:10::7]"},
	}, {
		name:  "loop: an address not on the link",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"]}`,
		in:    instance(t, "Proxied", "_ipp._tcp", []string{"198.51.100.7", "203.0.113.9"}),
		want:  []string{"guest: loop (rules[0]): address 203.0.113.9 not on link office (loop prevention)"},
	}, {
		name:  "link-local addresses never cross",
		rules: `{"from": ["office"], "to": ["guest"], "to_zones": ["corp"], "types": ["*"]}`,
		in:    instance(t, "P", "_ipp._tcp", []string{"169.254.3.4", "198.51.100.7", "::ffff:198.51.100.8", "2001:db8:10::7", "fe80::7%eth0.10"}),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7 198.51.100.8 2001:db8:10::7]", "zone corp: proxy (rules[0]) [198.51.100.7 198.51.100.8 2001:db8:10::7]"},
	}, {
		name:  "only link-local addresses",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"]}`,
		in:    instance(t, "P", "_ipp._tcp", []string{"169.254.3.4", "fe80::7%eth0.10"}),
		want:  []string{"guest: address (rules[0]): no routable address (link-local addresses never cross a link)"},
	}, {
		name:  "no address",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"]}`,
		in:    instance(t, "P", "_ipp._tcp", nil),
		want:  []string{"guest: address (rules[0]): no routable address (link-local addresses never cross a link)"},
	}, {
		name:  "conforming: kcsync with a bad hash",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["jnx-kcsync"], "conformance": "conforming"}`,
		in:    instance(t, "Keys", "_jnx-kcsync._tcp", v4, badHash, salt),
		want: []string{`guest: conformance (rules[0]): TXT record does not conform (rules[0].conformance "conforming"): ` +
			`error: key "hash" at offset 0: value byte 39 (wire offset 45): found 39 hex digits, want exactly 40 (jnx-kcsync: hash=<40hex characters>)`},
	}, {
		name:  "conforming: kcsync conforming",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["jnx-kcsync"], "conformance": "conforming"}`,
		in:    instance(t, "Keys", "_jnx-kcsync._tcp", v4, goodHash, salt),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "any: kcsync with a bad hash crosses",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["jnx-kcsync"]}`,
		in:    instance(t, "Keys", "_jnx-kcsync._tcp", v4, badHash),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "conforming: a warning is allowed",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["timezone"], "conformance": "conforming"}`,
		in:    instance(t, "TZ", "_timezone._tcp", v4, "path=/tz", "colour=blue"),
		want:  []string{"guest: proxy (rules[0]) [198.51.100.7]"},
	}, {
		name:  "strict: a warning is not",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["timezone"], "conformance": "strict"}`,
		in:    instance(t, "TZ", "_timezone._tcp", v4, "path=/tz", "colour=blue"),
		want: []string{`guest: conformance (rules[0]): TXT record has findings (rules[0].conformance "strict"): ` +
			`error: key "colour" at offset 9: key not defined by the registry for timezone (timezone: Defined TXT keys: path)`},
	}, {
		name:  "strict: a type the registry does not know gets the syntax checks",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["*"], "conformance": "strict"}`,
		in:    instance(t, "P", "_ipp._tcp", v4, "averylongkey=1"),
		want: []string{`guest: conformance (rules[0]): TXT record has findings (rules[0].conformance "strict"): ` +
			`error: key "averylongkey" at offset 0: key is 12 characters long; it should be no more than 9 (RFC 6763 section 6.4)`},
	}, {
		name: "several rules to one destination: the first that proxies",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["_http._tcp"]},
		        {"from": ["office"], "to": ["iot", "guest"], "types": ["_ipp._tcp"]},
		        {"from": ["office"], "to": ["guest"], "types": ["*"]}`,
		in:   instance(t, "P", "_ipp._tcp", v4),
		want: []string{"guest: proxy (rules[1]) [198.51.100.7]", "iot: proxy (rules[1]) [198.51.100.7]"},
	}, {
		name: "several rules, none proxies: the first refusal of a rule of the type",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["_http._tcp"]},
		        {"from": ["office"], "to": ["guest"], "types": ["*"], "instances": ["X*"]},
		        {"from": ["office"], "to": ["guest"], "types": ["_ipp._tcp"], "sources": ["203.0.113.0/24"]}`,
		in:   instance(t, "P", "_ipp._tcp", v4),
		want: []string{`guest: instances (rules[1]): instance "P" matches no pattern of rules[1].instances`},
	}, {
		name: "several rules, none of the type: the first refusal",
		rules: `{"from": ["office"], "to": ["guest"], "types": ["_http._tcp"]},
		        {"from": ["office"], "to": ["guest"], "types": ["_hap._tcp"]}`,
		in:   instance(t, "P", "_ipp._tcp", v4),
		want: []string{"guest: type (rules[0]): type _ipp._tcp not in rules[0].types"},
	}, {
		name: "only the rules from the link",
		rules: `{"from": ["guest"], "to": ["office"], "types": ["*"]},
		        {"from": ["iot", "office"], "to": ["guest"], "types": ["*"]}`,
		in:   instance(t, "P", "_ipp._tcp", v4),
		want: []string{"guest: proxy (rules[1]) [198.51.100.7]"},
	}, {
		name:  "no rule from the link: nothing",
		rules: `{"from": ["guest"], "to": ["office"], "types": ["*"]}`,
		in:    instance(t, "P", "_ipp._tcp", v4),
		want:  nil,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := policy(t, tc.rules)
			var got []string
			for _, d := range p.Decide("office", officePrefixes, tc.in, tc.subtypes) {
				require.Equal(t, d.Proxy, d.Filter == "" && d.Reason == "")
				require.Equal(t, d.Proxy, d.Addrs != nil)
				got = append(got, verdict(d))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecideAddrsAreCopies(t *testing.T) {
	p := policy(t, `{"from": ["office"], "to": ["guest", "iot"], "types": ["*"]}`)
	ds := p.Decide("office", officePrefixes, instance(t, "P", "_ipp._tcp", []string{"198.51.100.7"}), nil)
	require.Len(t, ds, 2)
	ds[0].Addrs[0] = netip.MustParseAddr("192.0.2.1")
	require.Equal(t, "198.51.100.7", ds[1].Addrs[0].String())
}

func TestNewPolicyErrors(t *testing.T) {
	cfg, err := Parse([]byte(`{"links": {"a": {"interfaces": ["e1"]}, "b": {"interfaces": ["e2"]}},
	  "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone", "ipp", "_ipp._tcp"]}]}`))
	require.NoError(t, err)
	_, err = NewPolicy(cfg, nil)
	require.EqualError(t, err, `rules[0].types[1]: service "ipp" is not in the registry; give the type as _ipp._tcp or _ipp._udp`)

	// A registry that knows ipp.
	reg, err := registry.Load(stringsReader("Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\n" +
		"ipp,631,tcp,IPP,,,,,,,,\n" + "timezone,,tcp,TZ,,,,,,,,\n"))
	require.NoError(t, err)
	p, err := NewPolicy(cfg, reg)
	require.NoError(t, err)
	require.Equal(t, []string{"_ipp._tcp", "_timezone._tcp"}, p.BrowseTypes("a"))

	// NewPolicy checks the configuration whole.
	cfg.Rules[0].To = []string{"c"}
	_, err = NewPolicy(cfg, nil)
	require.EqualError(t, err, `rules[0].to[0]: unknown link "c"`)
}

func TestPolicyKeepsCopies(t *testing.T) {
	cfg, err := Parse([]byte(`{"links": {"a": {"interfaces": ["e1"]}, "b": {"interfaces": ["e2"]}},
	  "rules": [{"from": ["a"], "to": ["b"], "types": ["_ipp._tcp"], "sources": ["198.51.100.0/24"]}]}`))
	require.NoError(t, err)
	p, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	cfg.Rules[0].To[0] = "c"
	cfg.Rules[0].Types[0] = "_http._tcp"
	cfg.Rules[0].Sources[0] = netip.MustParsePrefix("10.0.0.0/8")
	ds := p.Decide("a", officePrefixes, instance(t, "P", "_ipp._tcp", []string{"198.51.100.7"}), nil)
	require.Equal(t, []string{"b: proxy (rules[0]) [198.51.100.7]"}, []string{verdict(ds[0])})
}

func TestBrowseTypesAndSourcesFor(t *testing.T) {
	p := policy(t, `{"from": ["office"], "to": ["guest"], "types": ["timezone", "_printer._sub._http._tcp", "_ipp._tcp"]},
	  {"from": ["office", "iot"], "to": ["guest"], "types": ["_Printer._sub._http._tcp"]},
	  {"from": ["guest"], "to_zones": ["corp"], "types": ["*"]},
	  {"from": ["iot"], "to": ["office"], "types": ["_hap._tcp"]}`)
	require.Equal(t, []string{"_ipp._tcp", "_printer._sub._http._tcp", "_timezone._tcp"}, p.BrowseTypes("office"))
	require.Equal(t, []string{"_Printer._sub._http._tcp", "_hap._tcp"}, p.BrowseTypes("iot"), "as the first rule spells it")
	require.Equal(t, []string{sd.ServicesType}, p.BrowseTypes("guest"))
	require.Empty(t, p.BrowseTypes("nowhere"))

	require.Equal(t, []string{"office"}, p.SourcesFor("guest", "_timezone._tcp"))
	require.Equal(t, []string{"iot", "office"}, p.SourcesFor("guest", "_http._tcp"))
	require.Equal(t, []string{"iot", "office"}, p.SourcesFor("guest", "_printer._sub._http._tcp"))
	require.Nil(t, p.SourcesFor("guest", "_scanner._sub._http._tcp"))
	require.Equal(t, []string{"iot", "office"}, p.SourcesFor("guest", sd.ServicesType))
	require.Equal(t, []string{"iot"}, p.SourcesFor("office", "_HAP._tcp"))
	require.Nil(t, p.SourcesFor("office", "_ipp._tcp"))
	require.Nil(t, p.SourcesFor("guest", "not a type"))
	require.Nil(t, p.SourcesFor("corp", "_ipp._tcp"), "zones are not links")
}
