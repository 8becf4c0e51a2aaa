package mdns

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"

	"github.com/lansd/lansd/sd"
)

// ErrUnknownInterface is returned (wrapped, naming the interface) by Listen
// when Config.Interfaces names an interface that does not exist.
var ErrUnknownInterface = sd.ErrUnknownInterface

// ErrNoInterface is returned when there is no usable interface: by Listen
// when it can join none at all, and by the send methods when the requested
// interface is not joined for the family.
var ErrNoInterface = sd.ErrNoInterface

// candidate is an interface as enumerated, before joining.
type candidate struct {
	iface Interface
	ifi   net.Interface
	has4  bool // has an IPv4 address
	has6  bool // has an IPv6 address
}

// usable reports whether mDNS can run on c for family f: up, multicast,
// not loopback, and with an address of that family to send from.
func (c candidate) usable(f Family) bool {
	fl := c.ifi.Flags
	if fl&net.FlagUp == 0 || fl&net.FlagMulticast == 0 || fl&net.FlagLoopback != 0 {
		return false
	}
	if f == IPv6 {
		return c.has6
	}
	return c.has4
}

// enumerate lists the interfaces, restricted to names when not empty; a name
// that does not exist is an error wrapping ErrUnknownInterface.
func enumerate(names []string) (map[int]candidate, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("mdns: listing interfaces: %w", err)
	}
	byName := make(map[string]bool, len(ifs))
	for _, ifi := range ifs {
		byName[ifi.Name] = true
	}
	for _, n := range names {
		if !byName[n] {
			return nil, fmt.Errorf("%w %q", ErrUnknownInterface, n)
		}
	}
	out := make(map[int]candidate, len(ifs))
	for _, ifi := range ifs {
		if len(names) > 0 && !slices.Contains(names, ifi.Name) {
			continue
		}
		c := candidate{
			iface: Interface{Index: ifi.Index, Name: ifi.Name, MTU: ifi.MTU},
			ifi:   ifi,
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			// Vanished between the two calls: skip it this round.
			continue
		}
		for _, a := range addrs {
			p, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(p.IP)
			if !ok || ip.IsMulticast() {
				continue
			}
			ip = ip.Unmap()
			c.iface.Addrs = append(c.iface.Addrs, ip)
			if ip.Is4() {
				c.has4 = true
			} else {
				c.has6 = true
			}
		}
		out[ifi.Index] = c
	}
	return out, nil
}

// ifaceState is an immutable snapshot of what the Conn serves, swapped
// atomically on every rescan so readers never lock.
type ifaceState struct {
	ifaces map[int]Interface       // joined on at least one family
	joined map[Family]map[int]bool // per family
}

func (s *ifaceState) served(f Family, ifIndex int) bool { return s.joined[f][ifIndex] }

// rescan enumerates the interfaces, joins the group on new usable ones,
// leaves those gone or no longer usable, refreshes names, MTUs and
// addresses, and publishes a new snapshot. It returns what changed.
func (c *Conn) rescan() (added, removed []Interface, err error) {
	c.scanMu.Lock()
	defer c.scanMu.Unlock()
	cands, err := enumerate(c.cfg.Interfaces)
	if err != nil {
		if c.started && errors.Is(err, ErrUnknownInterface) {
			// A named interface went away after Listen: serve the others.
			cands, err = enumerate(nil)
			if err == nil {
				maps.DeleteFunc(cands, func(_ int, cd candidate) bool { return !slices.Contains(c.cfg.Interfaces, cd.ifi.Name) })
			}
		}
		if err != nil {
			return nil, nil, err
		}
	}
	next := &ifaceState{ifaces: map[int]Interface{}, joined: map[Family]map[int]bool{}}
	for _, s := range c.socks {
		f := s.fc.family()
		next.joined[f] = map[int]bool{}
		for idx, ifi := range s.joined {
			if cd, ok := cands[idx]; !ok || !cd.usable(f) || cd.ifi.Name != ifi.Name {
				// Best effort: the kernel drops memberships of removed
				// interfaces itself.
				_ = s.fc.leave(ifi)
				delete(s.joined, idx)
				c.log.Debug("mdns: left group", "family", f, "ifindex", idx, "ifname", ifi.Name)
			}
		}
		for idx, cd := range cands {
			if !cd.usable(f) {
				continue
			}
			if _, ok := s.joined[idx]; !ok {
				ifi := cd.ifi
				if err := s.fc.join(&ifi); err != nil {
					c.log.Debug("mdns: cannot join group", "family", f, "ifname", ifi.Name, "err", err)
					continue
				}
				s.joined[idx] = &ifi
				c.log.Debug("mdns: joined group", "family", f, "ifindex", idx, "ifname", ifi.Name)
			}
			next.joined[f][idx] = true
			next.ifaces[idx] = cd.iface
		}
	}
	prev := c.state.Load()
	for idx, ifc := range next.ifaces {
		if _, ok := prev.ifaces[idx]; !ok {
			added = append(added, ifc)
		}
	}
	for idx, ifc := range prev.ifaces {
		if _, ok := next.ifaces[idx]; !ok {
			removed = append(removed, ifc)
		}
	}
	sortByIndex(added)
	sortByIndex(removed)
	c.state.Store(next)
	return added, removed, nil
}

func sortByIndex(s []Interface) {
	slices.SortFunc(s, func(a, b Interface) int { return a.Index - b.Index })
}

// Interfaces returns a snapshot of the interfaces the transport is joined
// on (for at least one family), ordered by index, with their current
// addresses.
func (c *Conn) Interfaces() []Interface {
	st := c.state.Load()
	out := make([]Interface, 0, len(st.ifaces))
	for _, ifc := range st.ifaces {
		ifc.Addrs = slices.Clone(ifc.Addrs)
		out = append(out, ifc)
	}
	sortByIndex(out)
	return out
}

// Interface returns the joined interface with the given index.
func (c *Conn) Interface(index int) (Interface, bool) {
	ifc, ok := c.state.Load().ifaces[index]
	if ok {
		ifc.Addrs = slices.Clone(ifc.Addrs)
	}
	return ifc, ok
}

// Families returns the address families that currently have a socket and at
// least one joined interface, IPv4 first.
func (c *Conn) Families() []Family {
	st := c.state.Load()
	var out []Family
	for _, f := range []Family{IPv4, IPv6} {
		if len(st.joined[f]) > 0 {
			out = append(out, f)
		}
	}
	return out
}
