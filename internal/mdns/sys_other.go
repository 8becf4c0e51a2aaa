//go:build !linux

package mdns

// Interface tracking on systems other than Linux: addresses come from the
// portable net.Interface.Addrs, without flags (so none is left out as
// tentative, deprecated or temporary), and there are no interface events:
// the periodic rescan (DefaultRescan) notices every change.

import (
	"errors"
	"net"
	"net/netip"
)

// errNoEvents reports that the system gives no interface events here.
var errNoEvents = errors.New("mdns: no interface events on this system")

// systemAddrs lists the unicast addresses of ifs by interface index.
func systemAddrs(ifs []net.Interface) (map[int][]sysAddr, error) {
	out := make(map[int][]sysAddr, len(ifs))
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			// Vanished between the two calls: no addresses this round.
			continue
		}
		for _, a := range addrs {
			p, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(p.IP)
			if !ok {
				continue
			}
			out[ifi.Index] = append(out[ifi.Index], sysAddr{addr: ip.Unmap()})
		}
	}
	return out, nil
}

// openEvents fails: rescans are periodic.
func openEvents() (eventSource, error) { return nil, errNoEvents }
