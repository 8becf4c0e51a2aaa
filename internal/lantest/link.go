package lantest

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
)

// Link is an extra interface added to a host by Connect.
type Link struct {
	// Name is the interface name inside the host namespace.
	Name string
	// Port is the switch-side veth name.
	Port string
	// IPv4 is 169.254.K.N/16 (N counts links per LAN from 1); zero when IPv4
	// is off.
	IPv4 netip.Addr
	// LinkLocal is fe80::K:N; zero when IPv6 is off.
	LinkLocal netip.Addr
}

var ifnameRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$`)

// Connect adds another interface called ifname to h, plugged into the same
// bridge, up with multicast on (a multihomed host, or an interface appearing
// at run time). It has no 224.0.0.0/4 route (lan0 keeps it). The interface
// disappears with the namespace, or earlier with Disconnect. Call it from the
// test goroutine.
func (l *LAN) Connect(t testing.TB, h *Host, ifname string) Link {
	t.Helper()
	if !ifnameRE.MatchString(ifname) || ifname == Iface {
		t.Fatalf("lantest: Connect: bad interface name %q", ifname)
	}
	l.mu.Lock()
	l.links++
	n := l.links
	l.mu.Unlock()
	if n > 250 {
		t.Fatalf("lantest: Connect: too many links")
	}
	lk := Link{Name: ifname, Port: "p" + strconv.Itoa(h.Index) + "x" + strconv.Itoa(n)}
	if l.cfg.ipv4 {
		lk.IPv4 = netip.AddrFrom4([4]byte{169, 254, byte(h.Index), byte(n)})
	}
	if l.cfg.ipv6 {
		lk.LinkLocal = netip.MustParseAddr(fmt.Sprintf("fe80::%x:%x", h.Index, n))
	}
	if err := ipBatch(l.Switch,
		"link add "+lk.Port+" type veth peer name "+ifname+" netns "+h.NS,
		"link set "+lk.Port+" master "+Bridge,
		"link set "+lk.Port+" up",
	); err != nil {
		t.Fatalf("lantest: Connect: %v", err)
	}
	if err := l.setupHostLink(h, ifname, lk.IPv4, lk.LinkLocal, false); err != nil {
		t.Fatalf("lantest: Connect: %v", err)
	}
	return lk
}

// Disconnect deletes an interface added by Connect (both veth ends go).
func (l *LAN) Disconnect(t testing.TB, h *Host, lk Link) {
	t.Helper()
	if err := ipBatch(h.NS, "link del "+lk.Name); err != nil {
		t.Fatalf("lantest: Disconnect: %v", err)
	}
}
