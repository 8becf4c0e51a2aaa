// Package mdns is the multicast DNS transport shared by the responder
// (package announce) and the querier (package browse): UDP sockets bound to
// port 5353 with SO_REUSEADDR and SO_REUSEPORT, joined to 224.0.0.251 and
// ff02::fb on every up, multicast-capable interface (or those named), with the
// arrival interface of each packet known, and one code path for IPv4 and IPv6.
package mdns

import (
	"log/slog"
	"net/netip"
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
	// Addrs are the interface's own unicast addresses (IPv4 and IPv6,
	// link-local included), used to answer A/AAAA questions that arrive on it.
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
	// Interfaces restricts the transport to these interface names; empty means
	// every up, multicast-capable, non-loopback interface.
	Interfaces []string
	// Families to use; empty means both IPv4 and IPv6 (whichever is available).
	Families []Family
	// Rescan is how often interfaces are re-enumerated so that interfaces that
	// come and go are picked up; zero means 5 seconds.
	Rescan time.Duration
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// OnChange, when set, is called from the rescan goroutine after a rescan
	// that joined new interfaces (added) or forgot vanished or unusable ones
	// (removed). It is not called for the interfaces found by Listen itself,
	// nor for address changes (see Conn.Interfaces). It must not call Close.
	OnChange func(added, removed []Interface)
}

// InterfaceChange is one report of Config.OnChange: the interfaces a Conn
// joined (Added) and forgot (Removed: down, gone, or no longer usable), and
// those it still serves whose advertisable address set changed (Changed).
// The responder (package announce) and the querier (package browse)
// receive it on their loops.
type InterfaceChange struct {
	Added, Removed []Interface
	Changed        []AddrChange
}

// AddrChange is a change of the advertisable addresses of an interface a
// Conn keeps serving: Interface is its new state (Interface.Addrs the new
// set), Added and Removed the addresses that joined and left the set.
type AddrChange struct {
	Interface      Interface
	Added, Removed []netip.Addr
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
