package wide

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
)

func TestWideDomains(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone)
	s.Nsupdate(t, `update add b._dns-sd._udp.tz.example.net. 60 PTR tz.example.net.
update add b._dns-sd._udp.tz.example.net. 60 PTR lab.tz.example.net.
update add db._dns-sd._udp.tz.example.net. 60 PTR tz.example.net.
update add lb._dns-sd._udp.tz.example.net. 60 PTR lab.tz.example.net.`)
	ctx := wideCtx(t, 20*time.Second)
	ds, err := Domains(ctx, DomainOptions{Domains: []string{wideZone}, NoSearch: true, Server: s.Addr})
	require.NoError(t, err)
	var got []string
	for _, d := range ds {
		assert.Equal(t, "tz.example.net.", d.From)
		assert.Equal(t, time.Minute, d.TTL)
		got = append(got, d.Kind+" "+d.Name)
	}
	assert.Equal(t, []string{"b lab.tz.example.net.", "b tz.example.net.", "db tz.example.net.", "lb lab.tz.example.net."}, got)
}

// RFC 6763 section 11: the browsing domains of a network are also listed
// under its reverse-mapping domain, "b._dns-sd._udp.0.100.51.198.in-addr.arpa."
// for 198.51.100.0/24.
func TestWideDomainsReverseMapping(t *testing.T) {
	s := dnstest.StartBIND(t, "100.51.198.in-addr.arpa.")
	s.Nsupdate(t, `update add b._dns-sd._udp.0.100.51.198.in-addr.arpa. 60 PTR tz.example.net.
update add lb._dns-sd._udp.0.100.51.198.in-addr.arpa. 60 PTR lab.tz.example.net.
update add b._dns-sd._udp.128.100.51.198.in-addr.arpa. 60 PTR other.example.net.`)
	ctx := wideCtx(t, 20*time.Second)
	ds, err := Domains(ctx, DomainOptions{NoSearch: true, Server: s.Addr,
		Networks: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/24")}})
	require.NoError(t, err)
	var got []string
	for _, d := range ds {
		got = append(got, d.Kind+" "+d.Name+" from "+d.From)
	}
	assert.Equal(t, []string{
		"b tz.example.net. from 0.100.51.198.in-addr.arpa.",
		"lb lab.tz.example.net. from 0.100.51.198.in-addr.arpa.",
	}, got, "the network address of the /24, not the host's or another subnet's")

	for p, want := range map[string]string{
		"198.51.100.7/24":    "0.100.51.198.in-addr.arpa.",
		"198.51.100.130/25":  "128.100.51.198.in-addr.arpa.",
		"2001:db8:1:2::5/64": "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	} {
		got, err := ReverseDomain(netip.MustParsePrefix(p))
		require.NoError(t, err)
		assert.Equal(t, want, got, p)
	}
	_, err = ReverseDomain(netip.Prefix{})
	assert.ErrorIs(t, err, ErrBadName)
}
