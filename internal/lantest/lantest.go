// Package lantest builds virtual LANs out of Linux network namespaces for
// tests that send multicast (mDNS) traffic, and runs programs inside them
// only after proving they are there.
//
// A LAN is one switch namespace holding a bridge (br0, STP off, forward delay
// 0, multicast snooping off) and N host namespaces, each with one veth named
// lan0 plugged into the bridge. Host K (1-based) has IPv4 198.51.100.(10+K)/24
// (or the (10+K)th address of the /24 given with [Subnet])
// with a route for 224.0.0.0/4 on lan0, and the IPv6 link-local address
// fe80::K/64 (added with nodad, so it is usable at once). Nothing is created in
// the machine's own namespace, and everything is torn down in t.Cleanup.
//
// Every process the harness starts in a namespace is the test binary itself,
// re-executed as a guard: this package's init function sees LANTEST_GUARD,
// calls [Guard] to prove the process is inside that namespace (and that no
// eth0 is visible), sets the host name in a private UTS namespace, and only
// then execs the requested program or runs a registered Go helper. When any
// check fails it prints the reason and exits with status 97 without running
// anything.
//
// Usage from a test package:
//
//	func init() {
//		// Runs in the helper process (inside a namespace) and exits there;
//		// a plain no-op in the normal test process.
//		lantest.RegisterHelper("echo", func() int { ...; return 0 })
//	}
//
//	func TestSomething(t *testing.T) {
//		lan := lantest.New(t, lantest.Hosts(2))
//		h1, h2 := lan.Hosts[0], lan.Hosts[1]
//		srv := h2.Helper(t, "echo", "ECHO_ADDR="+h2.IPv4.String()+":7")
//		_, err := srv.WaitFor(ctx, regexp.MustCompile(`^READY`))
//		...
//	}
//
// Tests are skipped with a clear message when the process is not root or
// ip/unshare are missing, or the system is not Linux (the package compiles
// everywhere so that test files importing it do, but runs nothing there: the
// guard refuses); with LANSD_REQUIRE_NETNS=1 they fail instead.
package lantest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Iface is the name of every host's LAN interface.
const Iface = "lan0"

// Bridge is the name of the bridge device in the switch namespace.
const Bridge = "br0"

// netnsDir is where `ip netns` keeps its namespace handles.
const netnsDir = "/run/netns"

// RequireEnv is the environment variable that turns a missing capability
// (not root, no ip/unshare/nft) from a skip into a test failure.
const RequireEnv = "LANSD_REQUIRE_NETNS"

// nsPrefix starts the name of every namespace this process creates.
var nsPrefix = fmt.Sprintf("lansd-%d-", os.Getpid())

// lanCounter makes namespace names unique within this process.
var lanCounter atomic.Uint64

// validNS matches the namespace names this package creates.
var validNS = regexp.MustCompile(`^lansd-[0-9]+-[0-9]+-(sw|h[0-9]+)$`)

// LAN is a virtual Ethernet segment made of network namespaces.
type LAN struct {
	// Switch is the name of the namespace holding the bridge.
	Switch string
	// Hosts are the host namespaces, Hosts[0] being h1.
	Hosts []*Host

	t       testing.TB
	cfg     config
	created []string // namespaces created so far, in creation order

	mu    sync.Mutex
	links int // extra links made by Connect
}

// Host is one machine on a LAN: a network namespace with one interface.
type Host struct {
	// Name is the short host name ("h1", "h2", ...), also its UTS host name.
	Name string
	// NS is the network namespace name (under /run/netns).
	NS string
	// Index is K in hK, starting at 1.
	Index int
	// Iface is the LAN interface name inside the namespace (always "lan0").
	Iface string
	// IPv4 is 198.51.100.(10+K), or the (10+K)th address of the LAN's
	// Subnet; the zero Addr when IPv4 is off.
	IPv4 netip.Addr
	// LinkLocal is fe80::K (without zone); the zero Addr when IPv6 is off.
	LinkLocal netip.Addr

	lan *LAN
}

type config struct {
	hosts  int
	ipv4   bool
	ipv6   bool
	subnet netip.Prefix
}

// Option configures New.
type Option func(*config)

// Hosts sets the number of host namespaces (default 2, at most 200).
func Hosts(n int) Option { return func(c *config) { c.hosts = n } }

// IPv4 turns IPv4 addressing on (default) or off. IPv4(false) gives an
// IPv6-only LAN.
func IPv4(on bool) Option { return func(c *config) { c.ipv4 = on } }

// IPv6 turns IPv6 on (default) or off. IPv6(false) disables IPv6 on lan0.
func IPv6(on bool) Option { return func(c *config) { c.ipv6 = on } }

// Subnet numbers the LAN's hosts in p, a /24 inside 198.18.0.0/15 (default
// 198.51.100.0/24): host K gets p's (10+K)th address. LANs that a test
// joins together (a router, a gateway between links) each need their own.
func Subnet(p netip.Prefix) Option { return func(c *config) { c.subnet = p } }

// defaultSubnet numbers the hosts of a LAN without Subnet.
var defaultSubnet = netip.MustParsePrefix("198.51.100.0/24")

// subnetAllowed holds the subnets Subnet accepts: test ranges only (RFC
// 2544's benchmarking range), never a private range or the machine's own.
var subnetAllowed = netip.MustParsePrefix("198.18.0.0/15")

// skipOrFatal skips the test, or fails it when RequireEnv=1.
func skipOrFatal(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("lantest: "+format+" (required: "+RequireEnv+"=1)", args...)
	}
	t.Skipf("lantest: "+format+" (set "+RequireEnv+"=1 to make this a failure)", args...)
}

// tools holds the absolute paths of the programs the harness needs.
type tools struct{ ip, unshare, self string }

// requireTools returns the paths of ip, unshare and the test binary, or skips
// (fails) the test when the harness cannot run here.
func requireTools(t testing.TB) tools {
	t.Helper()
	if err := namespacesSupported(); err != nil {
		skipOrFatal(t, "%v", err)
	}
	if os.Geteuid() != 0 {
		skipOrFatal(t, "network namespaces need root (euid %d)", os.Geteuid())
	}
	var tl tools
	var err error
	if tl.ip, err = exec.LookPath("ip"); err != nil {
		skipOrFatal(t, "the ip command (iproute2) is missing: %v", err)
	}
	if tl.unshare, err = exec.LookPath("unshare"); err != nil {
		skipOrFatal(t, "the unshare command (util-linux) is missing: %v", err)
	}
	if tl.self, err = os.Executable(); err != nil {
		skipOrFatal(t, "cannot locate the test binary: %v", err)
	}
	return tl
}

// Require skips the test (or fails it when LANSD_REQUIRE_NETNS=1) when the
// harness cannot run here: not root, or ip / unshare missing. New checks the
// same; call Require first when a test needs the answer before New.
func Require(t testing.TB) {
	t.Helper()
	requireTools(t)
}

// New creates a virtual LAN and registers its teardown with t.Cleanup. It
// must be called from the test goroutine.
func New(t testing.TB, opts ...Option) *LAN {
	t.Helper()
	cfg := config{hosts: 2, ipv4: true, ipv6: true}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.hosts < 1 || cfg.hosts > 200 {
		t.Fatalf("lantest: Hosts(%d): want 1..200", cfg.hosts)
	}
	if !cfg.ipv4 && !cfg.ipv6 {
		t.Fatalf("lantest: IPv4(false) and IPv6(false) leave no address family")
	}
	if !cfg.subnet.IsValid() {
		cfg.subnet = defaultSubnet
	} else if cfg.subnet.Bits() != 24 || cfg.subnet.Masked() != cfg.subnet || !subnetAllowed.Contains(cfg.subnet.Addr()) {
		t.Fatalf("lantest: Subnet(%v): want a /24 inside %v", cfg.subnet, subnetAllowed)
	}
	tl := requireTools(t)
	base := nsPrefix + strconv.FormatUint(lanCounter.Add(1), 10)
	l := &LAN{Switch: base + "-sw", t: t, cfg: cfg}
	// Registered before anything exists so that a half-built LAN is removed too.
	t.Cleanup(l.teardown)

	if err := l.addNS(tl.ip, l.Switch); err != nil {
		skipOrFatal(t, "cannot create a network namespace: %v", err)
	}
	// The switch has no addresses: IPv6 off keeps it from sending its own
	// router/neighbour/MLD traffic onto the LAN.
	if err := nsSysctl(l.Switch, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		t.Fatalf("lantest: %v", err)
	}
	l.ipBatch(l.Switch,
		"link set lo up",
		"link add "+Bridge+" type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
		"link set "+Bridge+" up",
	)
	for k := 1; k <= cfg.hosts; k++ {
		h := &Host{
			Name:  "h" + strconv.Itoa(k),
			Index: k,
			Iface: Iface,
			lan:   l,
		}
		h.NS = base + "-" + h.Name
		if cfg.ipv4 {
			b := cfg.subnet.Addr().As4()
			b[3] = byte(10 + k)
			h.IPv4 = netip.AddrFrom4(b)
		}
		if cfg.ipv6 {
			h.LinkLocal = netip.MustParseAddr(fmt.Sprintf("fe80::%x", k))
		}
		if err := l.addNS(tl.ip, h.NS); err != nil {
			t.Fatalf("lantest: %v", err)
		}
		port := "p" + strconv.Itoa(k)
		// The veth is created inside the switch namespace with its peer moved
		// straight into the host: nothing ever exists in the default namespace.
		l.ipBatch(l.Switch,
			"link add "+port+" type veth peer name "+Iface+" netns "+h.NS,
			"link set "+port+" master "+Bridge,
			"link set "+port+" up",
		)
		if err := l.setupHostLink(h, Iface, h.IPv4, h.LinkLocal, true); err != nil {
			t.Fatalf("lantest: %v", err)
		}
		l.Hosts = append(l.Hosts, h)
	}
	return l
}

// setupHostLink brings up ifname in h with the given addresses. Addresses
// that are invalid are skipped.
func (l *LAN) setupHostLink(h *Host, ifname string, v4, ll netip.Addr, mcastRoute bool) error {
	if !l.cfg.ipv6 {
		if err := nsSysctl(h.NS, "net.ipv6.conf."+ifname+".disable_ipv6=1"); err != nil {
			return err
		}
	}
	cmds := []string{
		"link set lo up",
		// Only our fixed link-local address, no EUI-64 one that would be
		// tentative for a second.
		"link set " + ifname + " addrgenmode none",
		"link set " + ifname + " multicast on up",
	}
	if v4.IsValid() {
		prefix := 24
		if v4.IsLinkLocalUnicast() {
			prefix = 16
		}
		cmds = append(cmds, fmt.Sprintf("addr add %s/%d dev %s", v4, prefix, ifname))
		if mcastRoute {
			cmds = append(cmds, "route add 224.0.0.0/4 dev "+ifname)
		}
	}
	if ll.IsValid() {
		cmds = append(cmds, fmt.Sprintf("addr add %s/64 dev %s nodad", ll, ifname))
	}
	return ipBatch(h.NS, cmds...)
}

// addNS creates namespace name and records it for teardown.
func (l *LAN) addNS(ip, name string) error {
	if !validNS.MatchString(name) {
		return fmt.Errorf("refusing odd namespace name %q", name)
	}
	out, err := exec.Command(ip, "netns", "add", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	l.created = append(l.created, name)
	return nil
}

// ipBatch runs `ip -n ns -batch -` with cmds, failing the test on error.
func (l *LAN) ipBatch(ns string, cmds ...string) {
	l.t.Helper()
	if err := ipBatch(ns, cmds...); err != nil {
		l.t.Fatalf("lantest: %v", err)
	}
}

func ipBatch(ns string, cmds ...string) error {
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s: %q: %w: %s", ns, cmds, err, bytes.TrimSpace(out))
	}
	return nil
}

// nsSysctl sets sysctls inside namespace ns by writing /proc/sys, which
// resolves per the writer's network namespace.
func nsSysctl(ns string, kv ...string) error {
	var script strings.Builder
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		fmt.Fprintf(&script, "echo %s > /proc/sys/%s || exit 1\n", v, strings.ReplaceAll(k, ".", "/"))
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script.String()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sysctl %q in %s: %w: %s", kv, ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// teardown kills every process left in the LAN's namespaces and deletes
// them, hosts first.
func (l *LAN) teardown() {
	for i := len(l.created) - 1; i >= 0; i-- {
		if err := deleteNS(l.created[i]); err != nil {
			l.t.Errorf("lantest: teardown: %v", err)
		}
	}
	l.created = nil
}

// deleteNS kills the processes inside ns (all started by this harness, since
// the namespace is ours) by PID, waits for them, and deletes ns.
func deleteNS(ns string) error {
	if !validNS.MatchString(ns) {
		return fmt.Errorf("refusing to delete namespace %q", ns)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := nsPIDs(ns)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in %s did not die", pids, ns)
		}
		for _, pid := range pids {
			killPID(pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns del %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// nsPIDs lists the processes whose network namespace is ns.
func nsPIDs(ns string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns pids %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("ip netns pids %s: bad pid %q", ns, f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Namespaces lists the namespaces created by this process that still exist.
func Namespaces() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lantest: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), nsPrefix) && validNS.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Cleanup deletes every namespace created by this process (and kills the
// processes in them). t.Cleanup already does this per LAN; Cleanup is a
// belt-and-braces sweep for TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		if err := lantest.Cleanup(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//		}
//		os.Exit(code)
//	}
func Cleanup() error {
	names, err := Namespaces()
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range names {
		if err := deleteNS(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("lantest: cleanup: %w", errors.Join(errs...))
	}
	return nil
}

// Host returns host hK (1-based), failing the test when there is none.
func (l *LAN) Host(k int) *Host {
	l.t.Helper()
	if k < 1 || k > len(l.Hosts) {
		l.t.Fatalf("lantest: no host h%d on a LAN of %d", k, len(l.Hosts))
	}
	return l.Hosts[k-1]
}
