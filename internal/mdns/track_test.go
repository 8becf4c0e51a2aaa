package mdns_test

// Network tests of interface and address tracking: every change is made
// with `ip -n NS` on a namespace of the test's own virtual LAN, and the node
// runs with a fallback rescan of an hour (RESCAN=1h), so that only kernel
// events can explain a report.

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/internal/mdns"
)

// eventBound is how soon after an `ip` command its report must arrive: far
// below any periodic rescan (5 s without events, 30 s with).
const eventBound = 200 * time.Millisecond

// noFallback makes rescans event-driven only.
const noFallback = "RESCAN=1h"

var nsNameRE = regexp.MustCompile(`^lansd-[0-9]+-[0-9]+-h[0-9]+$`)

// ipIn runs `ip -n NS -batch -` with cmds in h's namespace (one made by
// lantest for this test, never the machine's) and returns the time just
// before it started.
func ipIn(t *testing.T, h *lantest.Host, cmds ...string) time.Time {
	t.Helper()
	require.Regexp(t, nsNameRE, h.NS, "only namespaces made by lantest")
	cmd := exec.Command("ip", "-n", h.NS, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ip -n %s %q: %s", h.NS, cmds, out)
	return t0
}

// changeSet merges the reports received after a change was made.
type changeSet struct {
	reports []changeInfo
	added   map[string][]string // interface name -> its addresses when added
	removed []string
	addrAdd map[string][]string // interface name -> addresses added (Changed)
	addrDel map[string][]string
	last    time.Time // time of the last report
}

func newChangeSet() *changeSet {
	return &changeSet{added: map[string][]string{}, addrAdd: map[string][]string{}, addrDel: map[string][]string{}}
}

func (s *changeSet) add(c changeInfo) {
	s.reports = append(s.reports, c)
	s.last = time.Unix(0, c.At)
	for _, i := range c.Added {
		s.added[i.Name] = i.Addrs
	}
	for _, i := range c.Removed {
		s.removed = append(s.removed, i.Name)
	}
	for _, a := range c.Changed {
		s.addrAdd[a.Iface.Name] = append(s.addrAdd[a.Iface.Name], a.Added...)
		s.addrDel[a.Iface.Name] = append(s.addrDel[a.Iface.Name], a.Removed...)
	}
}

// has reports whether the merged reports show addrs on name: in an Added
// report or added by a Changed one.
func (s *changeSet) has(name string, addrs ...string) bool {
	for _, a := range addrs {
		if !slices.Contains(s.added[name], a) && !slices.Contains(s.addrAdd[name], a) {
			return false
		}
	}
	return true
}

func decodeChange(t *testing.T, line string) (changeInfo, bool) {
	rest, ok := strings.CutPrefix(line, "CHANGE ")
	if !ok {
		return changeInfo{}, false
	}
	var c changeInfo
	require.NoError(t, json.Unmarshal([]byte(rest), &c), line)
	return c, true
}

// waitChange waits until the reports made at or after t0, merged, satisfy
// done, and returns them; it fails the test after 10 s.
func (n *node) waitChange(t0 time.Time, what string, done func(*changeSet) bool) *changeSet {
	n.t.Helper()
	s := newChangeSet()
	ctx := lantest.Context(n.t, 10*time.Second)
	_, err := n.p.WaitLine(ctx, func(line string) bool {
		c, ok := decodeChange(n.t, line)
		if !ok || c.At < t0.UnixNano() {
			return false
		}
		s.add(c)
		return done(s)
	})
	require.NoError(n.t, err, "%s; reports so far %+v; output %q", what, s.reports, n.p.Lines())
	return s
}

// reportsSince returns the reports made at or after t0.
func (n *node) reportsSince(t0 time.Time) []changeInfo {
	var out []changeInfo
	for _, l := range n.p.Lines() {
		if c, ok := decodeChange(n.t, l); ok && c.At >= t0.UnixNano() {
			out = append(out, c)
		}
	}
	return out
}

// record logs and checks the time from t0 to the last report of s.
func record(t *testing.T, what string, t0 time.Time, s *changeSet) time.Duration {
	t.Helper()
	d := s.last.Sub(t0)
	t.Logf("%s: reported %v after `ip` started", what, d.Round(100*time.Microsecond))
	assert.Less(t, d, eventBound, "%s: reported after %v (%d reports)", what, d, len(s.reports))
	return d
}

func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

func addrsOf(ifs []ifaceInfo, name string) []string {
	for _, i := range ifs {
		if i.Name == name {
			return i.Addrs
		}
	}
	return nil
}

func TestAddressChangesAreReportedAtOnce(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	h := lan.Hosts[0]
	n := startNode(t, h, noFallback)
	orig := []string{h.IPv4.String(), h.LinkLocal.String()}
	require.ElementsMatch(t, orig, addrsOf(n.ready.Ifaces, "lan0"))

	var ds []time.Duration
	for i := range 5 {
		a1, a2 := fmt.Sprintf("198.18.1.%d", 10+2*i), fmt.Sprintf("198.18.1.%d", 11+2*i)

		// Added.
		t0 := ipIn(t, h, "addr add "+a1+"/24 dev lan0")
		s := n.waitChange(t0, "address "+a1+" added", func(s *changeSet) bool { return s.has("lan0", a1) })
		ds = append(ds, record(t, "add", t0, s))
		assert.Empty(t, s.added)
		assert.Empty(t, s.removed)
		assert.Empty(t, s.addrDel["lan0"])
		require.Len(t, s.reports[0].Changed, 1)
		assert.ElementsMatch(t, append(slices.Clone(orig), a1), s.reports[0].Changed[0].Iface.Addrs, "the new state")

		// Replaced (as a DHCP renewal with a new address does).
		t0 = ipIn(t, h, "addr del "+a1+"/24 dev lan0", "addr add "+a2+"/24 dev lan0")
		s = n.waitChange(t0, a1+" replaced by "+a2, func(s *changeSet) bool {
			return s.has("lan0", a2) && slices.Contains(s.addrDel["lan0"], a1)
		})
		ds = append(ds, record(t, "replace", t0, s))
		assert.Equal(t, []string{a2}, s.addrAdd["lan0"])
		assert.Equal(t, []string{a1}, s.addrDel["lan0"])
		assert.ElementsMatch(t, append(slices.Clone(orig), a2), addrsOf(n.ifaces(), "lan0"))

		// Removed.
		t0 = ipIn(t, h, "addr del "+a2+"/24 dev lan0")
		s = n.waitChange(t0, "address "+a2+" removed", func(s *changeSet) bool { return slices.Contains(s.addrDel["lan0"], a2) })
		ds = append(ds, record(t, "remove", t0, s))
		assert.Empty(t, s.addrAdd["lan0"])
		assert.ElementsMatch(t, orig, addrsOf(n.ifaces(), "lan0"))
	}
	t.Logf("ip addr -> OnChange: median %v, max %v over %d changes", median(ds).Round(100*time.Microsecond), slices.Max(ds).Round(100*time.Microsecond), len(ds))

	// IPv6 too; and removing the last IPv4 address keeps the interface
	// (served for IPv6): a Changed report, not a Removed one.
	t0 := ipIn(t, h, "addr add fe80::1:5/64 dev lan0 nodad", "addr del "+h.IPv4.String()+"/24 dev lan0")
	s := n.waitChange(t0, "IPv6 added, IPv4 removed", func(s *changeSet) bool {
		return s.has("lan0", "fe80::1:5") && slices.Contains(s.addrDel["lan0"], h.IPv4.String())
	})
	record(t, "ipv6 add, ipv4 del", t0, s)
	assert.Empty(t, s.removed)
	assert.ElementsMatch(t, []string{h.LinkLocal.String(), "fe80::1:5"}, addrsOf(n.ifaces(), "lan0"))
}

func TestInterfacePluggedAndUnplugged(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	h := lan.Hosts[0]
	n := startNode(t, h, noFallback)
	require.Equal(t, []string{"lan0"}, names(n.ready.Ifaces))

	t0 := time.Now()
	lk := lan.Connect(t, h, "lan1")
	s := n.waitChange(t0, "lan1 added", func(s *changeSet) bool { return s.has("lan1", lk.IPv4.String(), lk.LinkLocal.String()) })
	record(t, "plug", t0, s)
	assert.Contains(t, s.added, "lan1")
	assert.Empty(t, s.removed)
	assert.Equal(t, []string{"lan0", "lan1"}, names(n.ifaces()))

	// Link down: forgotten.
	t0 = ipIn(t, h, "link set lan1 down")
	s = n.waitChange(t0, "lan1 removed", func(s *changeSet) bool { return slices.Contains(s.removed, "lan1") })
	record(t, "link down", t0, s)
	assert.Empty(t, s.added)
	assert.Equal(t, []string{"lan0"}, names(n.ifaces()))

	// Up again: joined again, with the addresses it kept (Linux drops the
	// IPv6 ones on link down).
	t0 = ipIn(t, h, "link set lan1 up")
	s = n.waitChange(t0, "lan1 added again", func(s *changeSet) bool { return s.has("lan1", lk.IPv4.String()) })
	record(t, "link up", t0, s)
	assert.Equal(t, []string{lk.IPv4.String()}, s.added["lan1"])

	// Carrier lost (the switch side goes down): forgotten too.
	t0 = time.Now()
	require.NoError(t, exec.Command("ip", "-n", lan.Switch, "link", "set", lk.Port, "down").Run())
	s = n.waitChange(t0, "lan1 removed on carrier loss", func(s *changeSet) bool { return slices.Contains(s.removed, "lan1") })
	record(t, "carrier lost", t0, s)

	// Unplugged.
	require.NoError(t, exec.Command("ip", "-n", lan.Switch, "link", "set", lk.Port, "up").Run())
	n.waitChange(t0, "lan1 back", func(s *changeSet) bool { return len(s.added["lan1"]) > 0 })
	t0 = time.Now()
	lan.Disconnect(t, h, lk)
	s = n.waitChange(t0, "lan1 removed on unplug", func(s *changeSet) bool { return slices.Contains(s.removed, "lan1") })
	record(t, "unplug", t0, s)
	assert.Equal(t, []string{"lan0"}, names(n.ifaces()))
}

func TestTentativeDeprecatedTemporaryAreNotAdvertised(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	h := lan.Hosts[0]
	n := startNode(t, h, noFallback, "DEBUG=1")
	withTemp := startNode(t, h, noFallback, "TEMPADDRS=1")
	ctx := lantest.Context(t, 30*time.Second)

	// fe80::1:99 goes through duplicate address detection (about a
	// second); fe80::1:98 and 198.18.2.2 are deprecated from the start.
	t0 := ipIn(t, h,
		"addr add fe80::1:99/64 dev lan0",
		"addr add fe80::1:98/64 dev lan0 nodad preferred_lft 0",
		"addr add 198.18.2.2/24 dev lan0 preferred_lft 0",
	)
	for _, re := range []string{
		`msg="mdns: address not advertised" ifname=lan0 addr=fe80::1:99 reason="tentative \(duplicate address detection not done\)"`,
		`msg="mdns: address not advertised" ifname=lan0 addr=fe80::1:98 reason=deprecated`,
		`msg="mdns: address not advertised" ifname=lan0 addr=198.18.2.2 reason=deprecated`,
	} {
		_, err := n.p.WaitFor(ctx, regexp.MustCompile(re))
		require.NoError(t, err, "%q", n.p.Lines())
	}
	addrs := addrsOf(n.ifaces(), "lan0")
	assert.NotContains(t, addrs, "fe80::1:99")
	assert.NotContains(t, addrs, "fe80::1:98")
	assert.NotContains(t, addrs, "198.18.2.2")

	// DAD completes: fe80::1:99 is advertised, reported as a Changed
	// address (and nothing else ever was).
	s := n.waitChange(t0, "fe80::1:99 after DAD", func(s *changeSet) bool { return s.has("lan0", "fe80::1:99") })
	tentative := s.last.Sub(t0)
	t.Logf("tentative address reported %v after it was added (DAD)", tentative)
	assert.Greater(t, tentative, 500*time.Millisecond, "not while tentative")
	assert.Less(t, tentative, 5*time.Second)
	assert.Len(t, s.reports, 1, "%+v", s.reports)
	assert.Equal(t, []string{"fe80::1:99"}, s.addrAdd["lan0"])
	assert.ElementsMatch(t, []string{h.IPv4.String(), h.LinkLocal.String(), "fe80::1:99"}, addrsOf(n.ifaces(), "lan0"))

	// Temporary (privacy) addresses: the kernel makes one from a
	// mngtmpaddr address when use_tempaddr is on. Not advertised, unless
	// TemporaryAddrs.
	out, err := exec.Command("ip", "netns", "exec", h.NS, "sh", "-c", "echo 2 > /proc/sys/net/ipv6/conf/lan0/use_tempaddr").CombinedOutput()
	require.NoError(t, err, "%s", out)
	t0 = ipIn(t, h, "addr add fe80::1:97/64 dev lan0 nodad mngtmpaddr")
	s = withTemp.waitChange(t0, "temporary address after DAD", func(s *changeSet) bool { return len(s.addrAdd["lan0"]) >= 2 })
	var temp string
	for _, a := range s.addrAdd["lan0"] {
		if a != "fe80::1:97" {
			temp = a
		}
	}
	require.NotEmpty(t, temp, "%+v", s.reports)
	_, err = n.p.WaitFor(ctx, regexp.MustCompile(`msg="mdns: address not advertised" ifname=lan0 addr=`+regexp.QuoteMeta(temp)+` reason="temporary \(privacy address\)"`))
	require.NoError(t, err, "%q", n.p.Lines())
	assert.NotContains(t, addrsOf(n.ifaces(), "lan0"), temp)
	assert.Contains(t, addrsOf(n.ifaces(), "lan0"), "fe80::1:97")
	for _, c := range n.reportsSince(t0) {
		for _, a := range c.Changed {
			assert.NotContains(t, a.Added, temp)
		}
	}
}

// dockerLike adds to h what a Docker host has: the docker0 bridge with an
// address and one veth of a container plugged into it (the container end
// stays in h, with an address), and a user-defined network's br- bridge.
func dockerLike(t *testing.T, h *lantest.Host) time.Time {
	t.Helper()
	return ipIn(t, h,
		"link add docker0 type bridge",
		"link set docker0 addrgenmode none",
		"addr add 198.18.7.1/24 dev docker0",
		"link add veth0a1b2c3 type veth peer name vethc0ffee",
		"link set veth0a1b2c3 addrgenmode none",
		"link set vethc0ffee addrgenmode none",
		"link set veth0a1b2c3 master docker0",
		"addr add 198.18.7.2/24 dev vethc0ffee",
		"link add br-0123456789ab type bridge",
		"link set br-0123456789ab addrgenmode none",
		"addr add 198.18.8.1/24 dev br-0123456789ab",
		"link set veth0a1b2c3 up",
		"link set vethc0ffee up",
		"link set docker0 up",
		"link set br-0123456789ab up",
	)
}

func TestContainerPlumbingIsExcludedByDefault(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	h := lan.Hosts[0]
	n := startNode(t, h, noFallback, "DEBUG=1")
	ctx := lantest.Context(t, 30*time.Second)

	// Appearing while the node runs: judged at once, and not reported.
	t0 := dockerLike(t, h)
	for _, re := range []string{
		`msg="mdns: interface skipped" ifname=docker0 ifindex=[0-9]+ reason="excluded by glob docker0"`,
		`msg="mdns: interface skipped" ifname=vethc0ffee ifindex=[0-9]+ reason="excluded by glob veth\*"`,
		`msg="mdns: interface skipped" ifname=veth0a1b2c3 ifindex=[0-9]+ reason="excluded by glob veth\*"`,
		`msg="mdns: interface skipped" ifname=br-0123456789ab ifindex=[0-9]+ reason="excluded by glob br-\[0-9a-f\]`,
	} {
		_, err := n.p.WaitFor(ctx, regexp.MustCompile(re))
		require.NoError(t, err, "%q", n.p.Lines())
	}
	// Events arrive well within this; a report would have come by now.
	time.Sleep(3 * eventBound)
	assert.Empty(t, n.reportsSince(t0))
	assert.Equal(t, []string{"lan0"}, names(n.ifaces()))
	lines := strings.Join(n.p.Lines(), "\n")
	assert.Contains(t, lines, `msg="mdns: interface skipped" ifname=lo ifindex=1 reason=loopback`)

	// A fresh node, by default: the same.
	assert.Equal(t, []string{"lan0"}, names(startNode(t, h).ready.Ifaces))
	// Named: used despite the exclude list, and only those.
	named := startNode(t, h, "IFACES=docker0,vethc0ffee")
	assert.Equal(t, []string{"docker0", "vethc0ffee"}, names(named.ready.Ifaces))
	assert.Equal(t, []string{"198.18.7.1"}, addrsOf(named.ready.Ifaces, "docker0"))
	// Exclude none: everything with an address.
	all := startNode(t, h, "EXCLUDE=none", "DEBUG=1")
	assert.ElementsMatch(t, []string{"lan0", "docker0", "vethc0ffee", "br-0123456789ab"}, names(all.ready.Ifaces))
	_, err := all.p.WaitFor(ctx, regexp.MustCompile(`msg="mdns: interface skipped" ifname=veth0a1b2c3 ifindex=[0-9]+ family=IPv4 reason="no address of family"`))
	assert.NoError(t, err)
	// An empty list too; and a list replaces the default.
	assert.ElementsMatch(t, []string{"lan0", "docker0", "vethc0ffee", "br-0123456789ab"}, names(startNode(t, h, "EXCLUDE=").ready.Ifaces))
	assert.ElementsMatch(t, []string{"lan0", "docker0", "br-0123456789ab"}, names(startNode(t, h, "EXCLUDE=veth*").ready.Ifaces))

	// A packet on docker0 reaches the node that names it, not the default
	// one (which never joined the group there).
	id := newID()
	all.mustSend(sendReq{ID: id, Family: 4, IfName: "docker0"})
	got := named.packets(id, 1)[0]
	assert.Equal(t, "docker0", got.IfName)
	assert.True(t, got.Served)
	all.packets(id, 1) // its own copy, looped back
	assert.Zero(t, n.count(id))
}

// TestFallbackRescan: without events (other systems, or a failed
// subscription) the default period is DefaultRescan, and address changes are
// still reported; with events it is DefaultEventRescan.
func TestFallbackRescan(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	h := lan.Hosts[0]
	ctx := lantest.Context(t, 30*time.Second)
	ev := startNode(t, h, "DEBUG=1")
	_, err := ev.p.WaitFor(ctx, regexp.MustCompile(`msg="mdns: interface tracking" events=true rescan=30s exclude="\[veth\* docker0 br-`))
	require.NoError(t, err, "%q", ev.p.Lines())
	n := startNode(t, h, "DEBUG=1", "NOEVENTS=1")
	_, err = n.p.WaitFor(ctx, regexp.MustCompile(`msg="mdns: interface tracking" events=false rescan=5s`))
	require.NoError(t, err, "%q", n.p.Lines())
	t0 := ipIn(t, h, "addr add 198.18.1.20/24 dev lan0")
	s := n.waitChange(t0, "address added, seen by the periodic rescan", func(s *changeSet) bool { return s.has("lan0", "198.18.1.20") })
	d := s.last.Sub(t0)
	t.Logf("periodic rescan reported the address after %v", d)
	assert.Less(t, d, mdns.DefaultRescan+time.Second)
}

// TestListenBadExcludeGlob: a malformed glob fails Listen.
func TestListenBadExcludeGlob(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	r := listenResult(t, lan.Hosts[0], "EXCLUDE=veth*,br-[0-9")
	assert.Contains(t, r["err"], `glob "br-[0-9"`)
	assert.Contains(t, r["err"], "syntax error in pattern")
}
