package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"fmt"
	"net/netip"

	"github.com/lansd/lansd/gateway"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// threeVLAN is the example configuration of the package documentation.
const threeVLAN = `{
  "links": {
    "office": {"interfaces": ["eth0.10"]},
    "guest": {"interfaces": ["eth0.20"]},
    "iot": {"interfaces": ["eth0.30"]}
  },
  "zones": {
    "corp": {
      "domain": "dnssd.example.net.",
      "server": "192.0.2.53:53",
      "tsig": "hmac-sha256:gateway-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",
      "ttl": 120
    }
  },
  "rules": [
    {
      "from": ["office"],
      "to": ["guest", "iot"],
      "types": ["_ipp._tcp", "_ipps._tcp", "_printer._sub._http._tcp", "timezone", "timezones"],
      "sources": ["198.51.100.0/24"],
      "conformance": "conforming"
    },
    {
      "from": ["office"],
      "to_zones": ["corp"],
      "types": ["*"],
      "conformance": "conforming"
    }
  ]
}
`

// The three-VLAN configuration of the package documentation, and what it
// decides for three instances seen on the office link.
func Example() {
	cfg, err := gateway.Parse([]byte(threeVLAN))
	if err != nil {
		fmt.Println(err)
		return
	}
	policy, err := gateway.NewPolicy(cfg, nil) // registry.Builtin()
	if err != nil {
		fmt.Println(err)
		return
	}
	office := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:10::/64")}
	record := func(args ...string) txt.Record {
		r, err := txt.ParseArgs(args)
		if err != nil {
			panic(err)
		}
		return r
	}
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	for _, in := range []sd.Instance{
		{Instance: "Office TZ", Service: "_timezone._tcp", TXT: record("path=/tz"),
			Addrs: addrs("198.51.100.7", "2001:db8:10::7", "fe80::7%eth0.10")},
		{Instance: "Wiki", Service: "_http._tcp", Addrs: addrs("198.51.100.8")},
		{Instance: "Keychain", Service: "_jnx-kcsync._tcp", TXT: record("hash=5e75"),
			Addrs: addrs("198.51.100.9")},
	} {
		fmt.Printf("%s (%s):\n", in.Instance, in.Service)
		for _, d := range policy.Decide("office", office, in, nil) {
			if d.Proxy {
				fmt.Printf("  -> %s: proxied by rules[%d] with %v\n", d.To, d.Rule, d.Addrs)
			} else {
				fmt.Printf("  -> %s: refused (%s): %s\n", d.To, d.Filter, d.Reason)
			}
		}
	}
	fmt.Println(policy.BrowseTypes("office"))
	fmt.Println(policy.SourcesFor("guest", "_ipp._tcp"))
	// Output:
	// Office TZ (_timezone._tcp):
	//   -> guest: proxied by rules[0] with [198.51.100.7 2001:db8:10::7]
	//   -> iot: proxied by rules[0] with [198.51.100.7 2001:db8:10::7]
	//   -> corp: proxied by rules[1] with [198.51.100.7 2001:db8:10::7]
	// Wiki (_http._tcp):
	//   -> guest: refused (subtype): _http._tcp not found under subtype _printer (rules[0].types)
	//   -> iot: refused (subtype): _http._tcp not found under subtype _printer (rules[0].types)
	//   -> corp: proxied by rules[1] with [198.51.100.8]
	// Keychain (_jnx-kcsync._tcp):
	//   -> guest: refused (type): type _jnx-kcsync._tcp not in rules[0].types
	//   -> iot: refused (type): type _jnx-kcsync._tcp not in rules[0].types
	//   -> corp: refused (conformance): TXT record does not conform (rules[1].conformance "conforming"): error: key "hash" at offset 0: value byte 4 (wire offset 10): found 4 hex digits, want exactly 40 (jnx-kcsync: hash=<40hex characters>)
	// [_ipp._tcp _ipps._tcp _printer._sub._http._tcp _services._dns-sd._udp _timezone._tcp _timezones._tcp]
	// [office]
}

// TestExampleIsDoc checks that Example runs the configuration the package
// documentation shows.
func TestExampleIsDoc(t *testing.T) {
	require.Equal(t, gateway.ThreeVLANDoc(t), threeVLAN)
}
