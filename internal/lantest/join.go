package lantest

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
)

// Join plugs h, a host of another LAN, into l's bridge through a new
// interface called ifname: a host on two networks (a laptop on Wi-Fi and
// Ethernet, a server with a NIC per network). The interface is up with
// multicast on, has IPv4 address v4/24 when v4 is valid (the test picks it
// from 198.18.0.0/15 so that it does not collide with l's own
// 198.51.100.0/24) and, when l has IPv6, the link-local fe80::K:N (K is
// h's index, N counts l's extra links). Like Connect's, it has no
// 224.0.0.0/4 route, and strict reverse-path filtering is relaxed to loose
// on it so that packets from l's hosts, whose 198.51.100.0/24 is routed
// through h's own lan0, are not dropped. It goes with h's namespace, or
// earlier with Disconnect (called on l). Call it from the test goroutine.
func (l *LAN) Join(t testing.TB, h *Host, ifname string, v4 netip.Addr) Link {
	t.Helper()
	if !ifnameRE.MatchString(ifname) || ifname == Iface {
		t.Fatalf("lantest: Join: bad interface name %q", ifname)
	}
	if v4.IsValid() && (!v4.Is4() || !netip.MustParsePrefix("198.18.0.0/15").Contains(v4)) {
		t.Fatalf("lantest: Join: IPv4 address %v is not in 198.18.0.0/15", v4)
	}
	l.mu.Lock()
	l.links++
	n := l.links
	l.mu.Unlock()
	if n > 250 {
		t.Fatalf("lantest: Join: too many links")
	}
	lk := Link{Name: ifname, Port: "j" + strconv.Itoa(n)}
	if l.cfg.ipv4 {
		lk.IPv4 = v4
	}
	if l.cfg.ipv6 {
		lk.LinkLocal = netip.MustParseAddr(fmt.Sprintf("fe80::%x:%x", h.Index, n))
	}
	// The veth is created in l's switch namespace with its peer moved
	// straight into h: nothing ever exists in the default namespace.
	if err := ipBatch(l.Switch,
		"link add "+lk.Port+" type veth peer name "+ifname+" netns "+h.NS,
		"link set "+lk.Port+" master "+Bridge,
		"link set "+lk.Port+" up",
	); err != nil {
		t.Fatalf("lantest: Join: %v", err)
	}
	if err := nsSysctl(h.NS, "net.ipv4.conf.all.rp_filter=2", "net.ipv4.conf."+ifname+".rp_filter=2"); err != nil {
		t.Fatalf("lantest: Join: %v", err)
	}
	if err := l.setupHostLink(h, ifname, lk.IPv4, lk.LinkLocal, false); err != nil {
		t.Fatalf("lantest: Join: %v", err)
	}
	return lk
}
