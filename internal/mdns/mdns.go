// Package mdns is the multicast DNS transport shared by the responder
// (package announce) and the querier (package browse): UDP sockets bound to
// port 5353 with SO_REUSEADDR (and SO_REUSEPORT where the system needs it),
// joined to 224.0.0.251 and ff02::fb on every up, multicast-capable
// interface (or those named), with the
// arrival interface of each packet known, and one code path for IPv4 and IPv6.
//
// Interfaces and their addresses are tracked by kernel events on Linux
// (rtnetlink: links and IPv4/IPv6 addresses, with their flags), with a slow
// periodic rescan as a fallback; other systems rescan periodically. Every
// change is reported through Config.OnChange as an InterfaceChange.
package mdns

import (
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/sd"
)

// Port is the mDNS UDP port (RFC 6762 section 3).
const Port = 5353

// MaxPacket is the largest mDNS message lansd sends or accepts (RFC 6762 section 17).
const MaxPacket = 9000

// Group addresses (RFC 6762 section 3).
var (
	GroupV4 = netip.MustParseAddr("224.0.0.251")
	GroupV6 = netip.MustParseAddr("ff02::fb")
)

// Family selects IPv4 or IPv6; it is the public sd.Family, so that the
// packages built on this transport expose no internal type.
type Family = sd.Family

// The address families.
const (
	IPv4 = sd.IPv4
	IPv6 = sd.IPv6
)

// Group returns the mDNS multicast address and port for f.
func Group(f Family) netip.AddrPort {
	if f == IPv6 {
		return netip.AddrPortFrom(GroupV6, Port)
	}
	return netip.AddrPortFrom(GroupV4, Port)
}

// Interface is a network interface the transport is joined on.
type Interface struct {
	Index int
	Name  string
	MTU   int
	// Addrs are the interface's own advertisable unicast addresses (IPv4
	// and IPv6, link-local included, without zone), used to answer A/AAAA
	// questions that arrive on it. On Linux, addresses that are tentative
	// (duplicate address detection not done or failed) or deprecated are
	// left out, and so are IPv6 temporary (privacy) addresses unless
	// Config.TemporaryAddrs is set: the responder and the querier never
	// filter addresses themselves.
	Addrs []netip.Addr
}

// Packet is one received mDNS message.
type Packet struct {
	Msg      *dns.Msg
	Src      netip.AddrPort // sender (a source port other than 5353 means legacy unicast, RFC 6762 section 6.7)
	Dst      netip.Addr     // destination address: the group, or our unicast address
	IfIndex  int            // arrival interface
	Family   Family
	Size     int // bytes on the wire
	Received time.Time
}

// Multicast reports whether the packet was sent to the mDNS group.
func (p *Packet) Multicast() bool { return p.Dst.IsMulticast() }

// Config configures a Conn.
type Config struct {
	// Interfaces restricts the transport to these interface names; empty
	// means every up, running, multicast-capable, non-loopback interface
	// whose name matches no Exclude glob. A name given here is used even if
	// it matches an Exclude glob.
	Interfaces []string
	// Exclude leaves out the interfaces whose names match one of these
	// globs (path.Match syntax). nil means DefaultExclude, which leaves out
	// container plumbing only; a non-nil list replaces it, and "none" (or
	// an empty non-nil list) excludes nothing. The "none" entries of a list
	// are ignored, so []string{"none", "wlan*"} excludes wlan* only.
	Exclude []string
	// Filter, when set, is called by the read loop with every datagram
	// received on a served interface, before it is unpacked; when it
	// returns true the datagram is dropped (counted in Stats.Filtered). A
	// responder uses it to drop queries it would not answer at no more
	// cost than reading them. It must be safe for concurrent use, fast,
	// and must not retain b.
	Filter func(b []byte, ifIndex int, f Family, src netip.AddrPort, dst netip.Addr) bool
	// TemporaryAddrs keeps IPv6 temporary (privacy, RFC 8981) addresses in
	// Interface.Addrs; by default they are not advertised.
	TemporaryAddrs bool
	// Families to use; empty means both IPv4 and IPv6 (whichever is available).
	Families []Family
	// Rescan is the period of the fallback interface rescan. Interfaces and
	// addresses are tracked by kernel events where the system has them
	// (rtnetlink on Linux); the periodic rescan only catches what they
	// missed. Zero means DefaultEventRescan with events, DefaultRescan
	// without (other systems, or when the subscription fails).
	Rescan time.Duration
	// Logger receives debug logs, among them every interface and address
	// decision; nil means slog.Default().
	Logger *slog.Logger
	// OnChange, when set, is called from the rescan goroutine after a
	// rescan that joined new interfaces, forgot interfaces (down, gone, or
	// no longer usable), or changed the advertisable addresses of served
	// ones. It is not called for the interfaces found by Listen itself. It
	// must return promptly and must not call Close.
	OnChange func(InterfaceChange)
}

// DefaultExclude is the exclude list used when Config.Exclude is nil: the
// container plumbing of Docker (veth pairs, docker0, and the br- bridge of
// each user-defined network, named "br-" and 12 hexadecimal digits), CNI and
// flannel. Interfaces that are real links (physical, Wi-Fi, VPN, libvirt's
// virbr*, bonds, VLANs, ordinary bridges) are not in it.
var DefaultExclude = []string{
	"veth*",
	"docker0",
	"br-" + strings.Repeat("[0-9a-f]", 12),
	"cni*",
	"flannel*",
}

// InterfaceChange is one report of Config.OnChange. The responder (package
// announce) and the querier (package browse) receive it on their loops.
type InterfaceChange struct {
	// Added are the interfaces newly joined, with their addresses.
	Added []Interface
	// Removed are the interfaces forgotten (down, gone, excluded, or left
	// with no usable address), in their last known state.
	Removed []Interface
	// Changed are the interfaces still served whose advertisable address
	// set changed, ordered by index.
	Changed []AddrChange
}

// AddrChange is the change of the advertisable addresses of one interface
// that stays served.
type AddrChange struct {
	// Interface is the new state of the interface.
	Interface Interface
	// Added and Removed are the addresses that appeared and disappeared
	// (including those that became or stopped being advertisable, such as
	// a tentative address whose duplicate address detection completed).
	Added, Removed []netip.Addr
}

// Empty reports whether c reports nothing.
func (c InterfaceChange) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.Changed) == 0
}

// OnLink reports whether src may be on ifc's link (RFC 6762 sections 5.5,
// 6 and 11: unicast queries and unicast responses are accepted only from
// on-link sources). Prefix lengths are not tracked, so this is an
// approximation: link-local and loopback sources, or sources in the /24
// (IPv4) or /64 (IPv6) of one of ifc's addresses.
func (ifc Interface) OnLink(src netip.Addr) bool {
	src = src.Unmap().WithZone("")
	if src.IsLinkLocalUnicast() || src.IsLoopback() {
		return true
	}
	for _, a := range ifc.Addrs {
		a = a.Unmap().WithZone("")
		if a.Is4() != src.Is4() {
			continue
		}
		bits := 64
		if a.Is4() {
			bits = 24
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(src) {
			return true
		}
	}
	return false
}

// HasFamily reports whether ifc has an address of family f (an
// IPv4-mapped IPv6 address counts as IPv4, sd.FamilyOf).
func (ifc Interface) HasFamily(f Family) bool {
	for _, a := range ifc.Addrs {
		if sd.FamilyOf(a) == f {
			return true
		}
	}
	return false
}
