package mdns

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"slices"
	"strconv"

	"github.com/lansd/lansd/sd"
)

// ErrUnknownInterface is returned (wrapped, naming the interface) by Listen
// when Config.Interfaces names an interface that does not exist.
var ErrUnknownInterface = sd.ErrUnknownInterface

// ErrNoInterface is returned when there is no usable interface: by Listen
// when it can join none at all, and by the send methods when the requested
// interface is not joined for the family.
var ErrNoInterface = sd.ErrNoInterface

// addrFlags are the system's flags of an address that decide whether it is
// advertised (on Linux, the IFA_F_* flags of rtnetlink).
type addrFlags uint8

const (
	// addrTentative: duplicate address detection is not done yet.
	addrTentative addrFlags = 1 << iota
	// addrDADFailed: duplicate address detection found the address in use.
	addrDADFailed
	// addrDeprecated: the preferred lifetime is over; the address is kept
	// for existing traffic only.
	addrDeprecated
	// addrTemporary: an IPv6 temporary (privacy) address, RFC 8981.
	addrTemporary
)

// sysAddr is one unicast address of an interface as the system lists it.
type sysAddr struct {
	addr  netip.Addr // without zone
	flags addrFlags
}

// candidate is an interface as enumerated, before selection and joining.
type candidate struct {
	ifi   net.Interface
	addrs []sysAddr
}

// listInterfaces enumerates the system's interfaces with every unicast
// address and its flags.
func listInterfaces() (map[int]candidate, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("mdns: listing interfaces: %w", err)
	}
	addrs, err := systemAddrs(ifs)
	if err != nil {
		return nil, fmt.Errorf("mdns: listing addresses: %w", err)
	}
	out := make(map[int]candidate, len(ifs))
	for _, ifi := range ifs {
		out[ifi.Index] = candidate{ifi: ifi, addrs: addrs[ifi.Index]}
	}
	return out, nil
}

// checkNames fails with an error wrapping ErrUnknownInterface when one of
// names is not an interface of the system.
func checkNames(names []string) error {
	if len(names) == 0 {
		return nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("mdns: listing interfaces: %w", err)
	}
	for _, n := range names {
		if !slices.ContainsFunc(ifs, func(ifi net.Interface) bool { return ifi.Name == n }) {
			return fmt.Errorf("%w %q", ErrUnknownInterface, n)
		}
	}
	return nil
}

// excludeGlobs returns the effective exclude list of Config.Exclude: nil
// means DefaultExclude; "none" entries are dropped. A malformed glob is an
// error wrapping path.ErrBadPattern.
func excludeGlobs(exclude []string) ([]string, error) {
	if exclude == nil {
		return DefaultExclude, nil
	}
	out := make([]string, 0, len(exclude))
	for _, g := range exclude {
		if g == "none" {
			continue
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("mdns: Config.Exclude: glob %q: %w", g, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// excludedBy returns the first of globs that name matches.
func excludedBy(name string, globs []string) (string, bool) {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return g, true
		}
	}
	return "", false
}

// selector decides which interfaces and addresses the transport uses, and
// logs every decision once, when it is first made or changes.
type selector struct {
	names     []string // Config.Interfaces
	exclude   []string // effective globs
	temporary bool     // Config.TemporaryAddrs
	log       *slog.Logger
	// logged is the last decision logged per interface, family and
	// address (keys from decisionKey); it only serves to log changes.
	logged map[string]string
}

// pick is the selection of one rescan: each selected interface with its
// advertisable addresses, and the families it is usable for.
type pick struct {
	ifi    net.Interface
	iface  Interface
	usable map[Family]bool
}

// skipReason returns why interface ifi is not used at all, or "".
func (s *selector) skipReason(ifi net.Interface) string {
	named := slices.Contains(s.names, ifi.Name)
	switch fl := ifi.Flags; {
	case len(s.names) > 0 && !named:
		return "not among the interfaces asked for"
	case !named && s.excluded(ifi.Name) != "":
		return "excluded by glob " + s.excluded(ifi.Name)
	case fl&net.FlagLoopback != 0:
		return "loopback"
	case fl&net.FlagUp == 0:
		return "not up"
	case fl&net.FlagRunning == 0:
		return "not running (no carrier)"
	case fl&net.FlagMulticast == 0:
		return "no multicast"
	}
	return ""
}

func (s *selector) excluded(name string) string {
	g, _ := excludedBy(name, s.exclude)
	return g
}

// addrReason returns why a is not advertised, or "".
func (s *selector) addrReason(a sysAddr) string {
	switch {
	case a.flags&addrDADFailed != 0:
		return "duplicate address detection failed"
	case a.flags&addrTentative != 0:
		return "tentative (duplicate address detection not done)"
	case a.flags&addrDeprecated != 0:
		return "deprecated"
	case a.flags&addrTemporary != 0 && a.addr.Is6() && !s.temporary:
		return "temporary (privacy address)"
	}
	return ""
}

// pick selects, among cands, the interfaces usable for at least one of
// fams, with their advertisable addresses.
func (s *selector) pick(cands map[int]candidate, fams []Family) map[int]pick {
	seen := map[string]bool{}
	out := map[int]pick{}
	for _, idx := range sortedKeys(cands) {
		cd := cands[idx]
		ifi := cd.ifi
		ifKey := decisionKey(ifi, "")
		seen[ifKey] = true
		if why := s.skipReason(ifi); why != "" {
			s.decide(ifKey, why, func() {
				s.log.Debug("mdns: interface skipped", "ifname", ifi.Name, "ifindex", idx, "reason", why)
			})
			continue
		}
		s.decide(ifKey, "", nil)
		p := pick{ifi: ifi, iface: Interface{Index: idx, Name: ifi.Name, MTU: ifi.MTU}, usable: map[Family]bool{}}
		for _, a := range cd.addrs {
			if !a.addr.IsValid() || a.addr.IsMulticast() || a.addr.IsUnspecified() {
				continue
			}
			k := decisionKey(ifi, a.addr.String())
			seen[k] = true
			why := s.addrReason(a)
			s.decide(k, why, func() {
				s.log.Debug("mdns: address not advertised", "ifname", ifi.Name, "addr", a.addr, "reason", why)
			})
			if why != "" {
				continue
			}
			p.iface.Addrs = append(p.iface.Addrs, a.addr)
		}
		for _, f := range fams {
			k := decisionKey(ifi, "IPv"+strconv.Itoa(int(f)))
			seen[k] = true
			if p.iface.HasFamily(f) {
				p.usable[f] = true
				s.decide(k, "", nil)
				continue
			}
			s.decide(k, "no address of family", func() {
				s.log.Debug("mdns: interface skipped", "ifname", ifi.Name, "ifindex", idx, "family", f, "reason", "no address of family")
			})
		}
		if len(p.usable) > 0 {
			out[idx] = p
		}
	}
	for k := range s.logged {
		if !seen[k] {
			delete(s.logged, k)
		}
	}
	return out
}

// decide records decision why under key and runs log when it differs from
// the last one recorded ("" means used, and is not logged here: joining is).
func (s *selector) decide(key, why string, log func()) {
	if last, ok := s.logged[key]; ok && last == why {
		return
	}
	s.logged[key] = why
	if why != "" && log != nil {
		log()
	}
}

// decisionKey names one decision: an interface (what == ""), one of its
// families, or one of its addresses.
func decisionKey(ifi net.Interface, what string) string {
	return strconv.Itoa(ifi.Index) + "/" + ifi.Name + "/" + what
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// diffInterfaces computes what changed from the served interfaces prev to
// next: interfaces only in next are Added, only in prev Removed (an index
// whose name changed is both), and those in both whose address sets differ
// are Changed.
func diffInterfaces(prev, next map[int]Interface) InterfaceChange {
	var c InterfaceChange
	for _, idx := range sortedKeys(next) {
		n := next[idx]
		p, ok := prev[idx]
		if ok && p.Name != n.Name {
			c.Removed = append(c.Removed, p)
			ok = false
		}
		if !ok {
			c.Added = append(c.Added, n)
			continue
		}
		added, removed := addrDiff(p.Addrs, n.Addrs)
		if len(added)+len(removed) > 0 {
			c.Changed = append(c.Changed, AddrChange{Interface: n, Added: added, Removed: removed})
		}
	}
	for _, idx := range sortedKeys(prev) {
		if _, ok := next[idx]; !ok {
			c.Removed = append(c.Removed, prev[idx])
		}
	}
	sortByIndex(c.Removed)
	return c
}

// addrDiff returns the addresses of next not in prev, and of prev not in
// next, each sorted.
func addrDiff(prev, next []netip.Addr) (added, removed []netip.Addr) {
	for _, a := range next {
		if !slices.Contains(prev, a) && !slices.Contains(added, a) {
			added = append(added, a)
		}
	}
	for _, a := range prev {
		if !slices.Contains(next, a) && !slices.Contains(removed, a) {
			removed = append(removed, a)
		}
	}
	slices.SortFunc(added, netip.Addr.Compare)
	slices.SortFunc(removed, netip.Addr.Compare)
	return added, removed
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
func (c *Conn) rescan() (InterfaceChange, error) {
	c.scanMu.Lock()
	defer c.scanMu.Unlock()
	cands, err := listInterfaces()
	if err != nil {
		return InterfaceChange{}, err
	}
	fams := make([]Family, 0, len(c.socks))
	for _, s := range c.socks {
		fams = append(fams, s.fc.family())
	}
	picks := c.sel.pick(cands, fams)
	next := &ifaceState{ifaces: map[int]Interface{}, joined: map[Family]map[int]bool{}}
	for _, s := range c.socks {
		f := s.fc.family()
		next.joined[f] = map[int]bool{}
		for idx, ifi := range s.joined {
			if p, ok := picks[idx]; !ok || !p.usable[f] || p.ifi.Name != ifi.Name {
				// Best effort: the kernel drops memberships of removed
				// interfaces itself.
				_ = s.fc.leave(ifi)
				delete(s.joined, idx)
				c.log.Debug("mdns: left group", "family", f, "ifindex", idx, "ifname", ifi.Name)
			}
		}
		for _, idx := range sortedKeys(picks) {
			p := picks[idx]
			if !p.usable[f] {
				continue
			}
			if _, ok := s.joined[idx]; !ok {
				ifi := p.ifi
				if err := s.fc.join(&ifi); err != nil {
					c.log.Debug("mdns: cannot join group", "family", f, "ifname", ifi.Name, "err", err)
					continue
				}
				s.joined[idx] = &ifi
				c.log.Debug("mdns: joined group", "family", f, "ifindex", idx, "ifname", ifi.Name, "addrs", p.iface.Addrs)
			}
			next.joined[f][idx] = true
			next.ifaces[idx] = p.iface
		}
	}
	change := diffInterfaces(c.state.Load().ifaces, next.ifaces)
	c.state.Store(next)
	return change, nil
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
