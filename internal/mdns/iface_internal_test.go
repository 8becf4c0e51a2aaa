package mdns

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultExcludeGlobs(t *testing.T) {
	for name, want := range map[string]string{
		"veth0a1b2c3":      "veth*",
		"veth":             "veth*",
		"docker0":          "docker0",
		"br-0123456789ab":  "br-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]",
		"br-fedcba987654":  "br-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]",
		"cni0":             "cni*",
		"cni-podman0":      "cni*",
		"flannel.1":        "flannel*",
		"eth0":             "",
		"wlan0":            "",
		"lan0":             "",
		"docker1":          "", // only the default bridge
		"mydocker0":        "",
		"br0":              "", // an ordinary bridge is a real link
		"br-lan":           "",
		"br-0123456789a":   "", // 11 digits
		"br-0123456789abc": "", // 13 digits
		"br-0123456789AB":  "", // Docker names are lower case
		"br-0123456789ag":  "",
		"virbr0":           "", // libvirt's NAT network is a real LAN for its guests
		"tailscale0":       "",
		"enp0s31f6":        "",
	} {
		got, ok := excludedBy(name, DefaultExclude)
		assert.Equal(t, want != "", ok, name)
		assert.Equal(t, want, got, name)
	}
}

func TestExcludeGlobs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, DefaultExclude},
		{[]string{}, []string{}},
		{[]string{"none"}, []string{}},
		{[]string{"none", "wlan*"}, []string{"wlan*"}},
		{[]string{"wlan*", "eth[12]"}, []string{"wlan*", "eth[12]"}},
	} {
		got, err := excludeGlobs(tc.in)
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
	_, err := excludeGlobs([]string{"eth*", "br-[0-9"})
	require.ErrorIs(t, err, path.ErrBadPattern)
	assert.Contains(t, err.Error(), `"br-[0-9"`)
	// A malformed glob fails whatever the name: Listen refuses it up front.
	_, err = excludeGlobs([]string{"x["})
	require.ErrorIs(t, err, path.ErrBadPattern)
}

const usable = net.FlagUp | net.FlagRunning | net.FlagMulticast

func cand(idx int, name string, flags net.Flags, addrs ...sysAddr) candidate {
	return candidate{ifi: net.Interface{Index: idx, Name: name, MTU: 1500, Flags: flags}, addrs: addrs}
}

func sa(s string, fl addrFlags) sysAddr { return sysAddr{addr: netip.MustParseAddr(s), flags: fl} }

func ips(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// newTestSelector returns a selector logging to the returned buffer.
func newTestSelector(names, exclude []string, temporary bool) (*selector, *bytes.Buffer) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	globs, err := excludeGlobs(exclude)
	if err != nil {
		panic(err)
	}
	return &selector{names: names, exclude: globs, temporary: temporary, log: log, logged: map[string]string{}}, &buf
}

// hostCands is a host with a LAN interface, Wi-Fi, container plumbing and
// interfaces that cannot be used.
func hostCands() map[int]candidate {
	cs := []candidate{
		cand(1, "lo", net.FlagUp|net.FlagRunning|net.FlagLoopback, sa("127.0.0.1", 0), sa("::1", 0)),
		cand(2, "eth0", usable,
			sa("198.51.100.7", 0),
			sa("fe80::7", 0),
			sa("fe80::8", addrTentative),
			sa("fe80::9", addrDeprecated),
			sa("fe80::a", addrTemporary),
			sa("fe80::b", addrTentative|addrDADFailed),
			sa("ff02::1", 0), // multicast: never an interface address
		),
		cand(3, "wlan0", usable, sa("198.18.0.5", addrTemporary)), // IPv4 has no temporary addresses: the flag (IFA_F_SECONDARY) is ignored
		cand(4, "docker0", usable, sa("198.18.7.1", 0)),
		cand(5, "veth1234", usable, sa("fe80::c", 0)),
		cand(6, "br-0123456789ab", usable, sa("198.18.8.1", 0)),
		cand(7, "eth1", net.FlagMulticast|net.FlagRunning, sa("198.51.100.9", 0)),
		cand(8, "eth2", net.FlagUp|net.FlagMulticast, sa("198.51.100.10", 0)),
		cand(9, "tun0", net.FlagUp|net.FlagRunning|net.FlagPointToPoint, sa("198.51.100.11", 0)),
		cand(10, "eth3", usable, sa("fe80::d", addrTentative)),
		cand(11, "eth4", usable, sa("fe80::e", 0)),
	}
	m := map[int]candidate{}
	for _, c := range cs {
		m[c.ifi.Index] = c
	}
	return m
}

func served(picks map[int]pick) map[int]Interface {
	out := map[int]Interface{}
	for idx, p := range picks {
		out[idx] = p.iface
	}
	return out
}

func TestSelectorDefault(t *testing.T) {
	s, logs := newTestSelector(nil, nil, false)
	picks := s.pick(hostCands(), []Family{IPv4, IPv6})
	assert.Equal(t, []int{2, 3, 11}, sortedKeys(picks))
	assert.Equal(t, ips("198.51.100.7", "fe80::7"), picks[2].iface.Addrs)
	assert.Equal(t, map[Family]bool{IPv4: true, IPv6: true}, picks[2].usable)
	assert.Equal(t, Interface{Index: 2, Name: "eth0", MTU: 1500, Addrs: ips("198.51.100.7", "fe80::7")}, picks[2].iface)
	assert.Equal(t, ips("198.18.0.5"), picks[3].iface.Addrs)
	assert.Equal(t, map[Family]bool{IPv4: true}, picks[3].usable)
	assert.Equal(t, map[Family]bool{IPv6: true}, picks[11].usable)

	out := logs.String()
	for _, want := range []string{
		`msg="mdns: interface skipped" ifname=lo ifindex=1 reason=loopback`,
		`msg="mdns: interface skipped" ifname=docker0 ifindex=4 reason="excluded by glob docker0"`,
		`msg="mdns: interface skipped" ifname=veth1234 ifindex=5 reason="excluded by glob veth*"`,
		`msg="mdns: interface skipped" ifname=br-0123456789ab ifindex=6 reason="excluded by glob br-[0-9a-f]`,
		`msg="mdns: interface skipped" ifname=eth1 ifindex=7 reason="not up"`,
		`msg="mdns: interface skipped" ifname=eth2 ifindex=8 reason="not running (no carrier)"`,
		`msg="mdns: interface skipped" ifname=tun0 ifindex=9 reason="no multicast"`,
		`msg="mdns: interface skipped" ifname=eth3 ifindex=10 family=IPv6 reason="no address of family"`,
		`msg="mdns: interface skipped" ifname=eth3 ifindex=10 family=IPv4 reason="no address of family"`,
		`msg="mdns: interface skipped" ifname=wlan0 ifindex=3 family=IPv6 reason="no address of family"`,
		`msg="mdns: address not advertised" ifname=eth0 addr=fe80::8 reason="tentative (duplicate address detection not done)"`,
		`msg="mdns: address not advertised" ifname=eth0 addr=fe80::9 reason=deprecated`,
		`msg="mdns: address not advertised" ifname=eth0 addr=fe80::a reason="temporary (privacy address)"`,
		`msg="mdns: address not advertised" ifname=eth0 addr=fe80::b reason="duplicate address detection failed"`,
		`msg="mdns: address not advertised" ifname=eth3 addr=fe80::d reason="tentative (duplicate address detection not done)"`,
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "ff02::1")
	assert.NotContains(t, out, "127.0.0.1", "addresses of skipped interfaces are not judged")

	// Decisions are logged once, not at every rescan.
	logs.Reset()
	s.pick(hostCands(), []Family{IPv4, IPv6})
	assert.Empty(t, logs.String())

	// A changed decision is logged again: DAD completed on eth3's address,
	// and eth1 came up.
	cs := hostCands()
	cs[10].addrs[0].flags = 0
	c7 := cs[7]
	c7.ifi.Flags |= net.FlagUp
	cs[7] = c7
	picks = s.pick(cs, []Family{IPv4, IPv6})
	assert.Equal(t, []int{2, 3, 7, 10, 11}, sortedKeys(picks))
	// What becomes used is logged by the join; eth1 has no IPv6 address.
	assert.Equal(t, `level=DEBUG msg="mdns: interface skipped" ifname=eth1 ifindex=7 family=IPv6 reason="no address of family"`+"\n", logs.String())
	cs[10].addrs[0].flags = addrDeprecated
	s.pick(cs, []Family{IPv4, IPv6})
	assert.Contains(t, logs.String(), `ifname=eth3 addr=fe80::d reason=deprecated`)

	// An interface that goes and comes back is judged again.
	logs.Reset()
	delete(cs, 4)
	s.pick(cs, []Family{IPv4, IPv6})
	s.pick(hostCands(), []Family{IPv4, IPv6})
	assert.Equal(t, 1, strings.Count(logs.String(), "ifname=docker0"), logs.String())
}

func TestSelectorFamilies(t *testing.T) {
	s, logs := newTestSelector(nil, nil, false)
	picks := s.pick(hostCands(), []Family{IPv4})
	assert.Equal(t, []int{2, 3}, sortedKeys(picks), "eth4 has IPv6 only")
	// The addresses are all the advertisable ones, whatever the sockets.
	assert.Equal(t, ips("198.51.100.7", "fe80::7"), picks[2].iface.Addrs)
	assert.NotContains(t, logs.String(), "family=IPv6")
}

func TestSelectorNamedAndExclude(t *testing.T) {
	// A name in Interfaces is used even though it matches an exclude glob;
	// the others are not considered.
	s, logs := newTestSelector([]string{"docker0", "veth1234", "eth1"}, nil, false)
	picks := s.pick(hostCands(), []Family{IPv4, IPv6})
	assert.Equal(t, []int{4, 5}, sortedKeys(picks))
	assert.Contains(t, logs.String(), `ifname=eth0 ifindex=2 reason="not among the interfaces asked for"`)
	assert.Contains(t, logs.String(), `ifname=eth1 ifindex=7 reason="not up"`)
	assert.NotContains(t, logs.String(), "excluded")

	// "none" excludes nothing.
	s, _ = newTestSelector(nil, []string{"none"}, false)
	assert.Equal(t, []int{2, 3, 4, 5, 6, 11}, sortedKeys(s.pick(hostCands(), []Family{IPv4, IPv6})))
	s, _ = newTestSelector(nil, []string{}, false)
	assert.Equal(t, []int{2, 3, 4, 5, 6, 11}, sortedKeys(s.pick(hostCands(), []Family{IPv4, IPv6})))

	// A list replaces the default.
	s, logs = newTestSelector(nil, []string{"wlan*", "eth[34]"}, false)
	assert.Equal(t, []int{2, 4, 5, 6}, sortedKeys(s.pick(hostCands(), []Family{IPv4, IPv6})))
	assert.Contains(t, logs.String(), `ifname=wlan0 ifindex=3 reason="excluded by glob wlan*"`)
	assert.Contains(t, logs.String(), `ifname=eth4 ifindex=11 reason="excluded by glob eth[34]"`)
}

func TestSelectorTemporaryAddrs(t *testing.T) {
	s, logs := newTestSelector(nil, nil, true)
	picks := s.pick(hostCands(), []Family{IPv4, IPv6})
	assert.Equal(t, ips("198.51.100.7", "fe80::7", "fe80::a"), picks[2].iface.Addrs)
	assert.NotContains(t, logs.String(), "temporary")
}

func TestDiffInterfaces(t *testing.T) {
	ifc := func(idx int, name string, addrs ...string) Interface {
		return Interface{Index: idx, Name: name, MTU: 1500, Addrs: ips(addrs...)}
	}
	prev := map[int]Interface{
		2: ifc(2, "eth0", "198.51.100.7", "fe80::7"),
		3: ifc(3, "wlan0", "198.18.0.5"),
		4: ifc(4, "eth1", "198.51.100.9"),
		5: ifc(5, "eth2", "198.51.100.10"),
	}
	next := map[int]Interface{
		2: ifc(2, "eth0", "fe80::7", "198.51.100.17", "fe80::70"), // replaced and added
		3: ifc(3, "wlan0", "198.18.0.5"),                          // unchanged
		5: ifc(5, "lan5", "198.51.100.10"),                        // renamed
		6: ifc(6, "eth3", "198.18.1.1"),                           // new
	}
	next[3].Addrs[0] = netip.MustParseAddr("198.18.0.5") // same set, new slice
	c := diffInterfaces(prev, next)
	assert.Equal(t, []Interface{next[5], next[6]}, c.Added)
	assert.Equal(t, []Interface{prev[4], prev[5]}, c.Removed)
	assert.Equal(t, []AddrChange{{Interface: next[2], Added: ips("198.51.100.17", "fe80::70"), Removed: ips("198.51.100.7")}}, c.Changed)
	assert.False(t, c.Empty())

	assert.True(t, diffInterfaces(prev, prev).Empty())
	// Order does not matter, only the set.
	same := map[int]Interface{2: ifc(2, "eth0", "fe80::7", "198.51.100.7"), 3: prev[3], 4: prev[4], 5: prev[5]}
	assert.True(t, diffInterfaces(prev, same).Empty())
	// Losing every address of one family keeps the interface (still served
	// for the other): a Changed report.
	v6only := map[int]Interface{2: ifc(2, "eth0", "fe80::7"), 3: prev[3], 4: prev[4], 5: prev[5]}
	assert.Equal(t, InterfaceChange{Changed: []AddrChange{{Interface: v6only[2], Removed: ips("198.51.100.7")}}}, diffInterfaces(prev, v6only))
	// From nothing, everything is added.
	assert.Equal(t, InterfaceChange{Added: []Interface{prev[2], prev[3], prev[4], prev[5]}}, diffInterfaces(nil, prev))
}

// TestChangeFromCandidates runs selection and change computation on
// successive synthetic enumerations, as rescan does.
func TestChangeFromCandidates(t *testing.T) {
	s, _ := newTestSelector(nil, nil, false)
	fams := []Family{IPv4, IPv6}
	step := func(prev map[int]Interface, cs map[int]candidate) (map[int]Interface, InterfaceChange) {
		next := served(s.pick(cs, fams))
		return next, diffInterfaces(prev, next)
	}
	cs := map[int]candidate{
		2: cand(2, "eth0", usable, sa("198.51.100.7", 0), sa("fe80::7", addrTentative)),
	}
	state, c := step(nil, cs)
	assert.Equal(t, InterfaceChange{Added: []Interface{{Index: 2, Name: "eth0", MTU: 1500, Addrs: ips("198.51.100.7")}}}, c)

	// DAD completes: the link-local address appears.
	cs[2] = cand(2, "eth0", usable, sa("198.51.100.7", 0), sa("fe80::7", 0))
	state, c = step(state, cs)
	require.Len(t, c.Changed, 1)
	assert.Empty(t, c.Added)
	assert.Empty(t, c.Removed)
	assert.Equal(t, ips("fe80::7"), c.Changed[0].Added)
	assert.Empty(t, c.Changed[0].Removed)
	assert.Equal(t, ips("198.51.100.7", "fe80::7"), c.Changed[0].Interface.Addrs)

	// DHCP gives a new address; the old one is deprecated first.
	cs[2] = cand(2, "eth0", usable, sa("198.51.100.7", addrDeprecated), sa("198.51.100.8", 0), sa("fe80::7", 0))
	state, c = step(state, cs)
	assert.Equal(t, []AddrChange{{Interface: Interface{Index: 2, Name: "eth0", MTU: 1500, Addrs: ips("198.51.100.8", "fe80::7")},
		Added: ips("198.51.100.8"), Removed: ips("198.51.100.7")}}, c.Changed)

	// A docker bridge comes: excluded, no report. A second NIC comes.
	cs[3] = cand(3, "docker0", usable, sa("198.18.7.1", 0))
	cs[4] = cand(4, "eth1", usable, sa("198.18.1.1", 0))
	state, c = step(state, cs)
	assert.Equal(t, InterfaceChange{Added: []Interface{{Index: 4, Name: "eth1", MTU: 1500, Addrs: ips("198.18.1.1")}}}, c)

	// eth1 loses its carrier, then eth0 goes down.
	cs[4] = cand(4, "eth1", net.FlagUp|net.FlagMulticast, sa("198.18.1.1", 0))
	state, c = step(state, cs)
	assert.Equal(t, InterfaceChange{Removed: []Interface{{Index: 4, Name: "eth1", MTU: 1500, Addrs: ips("198.18.1.1")}}}, c)
	last := state[2]
	cs[2] = cand(2, "eth0", net.FlagMulticast, sa("198.51.100.8", 0))
	_, c = step(state, cs)
	assert.Equal(t, InterfaceChange{Removed: []Interface{last}}, c)
}
