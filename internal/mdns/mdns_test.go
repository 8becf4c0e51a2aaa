package mdns_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/internal/mdns"
)

func TestInterfaceHasFamily(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	for _, tc := range []struct {
		addrs      []netip.Addr
		ipv4, ipv6 bool
	}{
		{nil, false, false},
		{addrs("198.51.100.7"), true, false},
		{addrs("fe80::1%lan0"), false, true},
		{addrs("198.51.100.7", "2001:db8::7"), true, true},
		// An IPv4-mapped IPv6 address is IPv4 (sd.FamilyOf); the two copies
		// of hasFamily this replaces disagreed on it.
		{addrs("::ffff:198.51.100.7"), true, false},
		{addrs("::ffff:198.51.100.7", "fe80::1"), true, true},
	} {
		ifc := mdns.Interface{Name: "lan0", Addrs: tc.addrs}
		assert.Equal(t, tc.ipv4, ifc.HasFamily(mdns.IPv4), "%v has IPv4", tc.addrs)
		assert.Equal(t, tc.ipv6, ifc.HasFamily(mdns.IPv6), "%v has IPv6", tc.addrs)
	}
}
