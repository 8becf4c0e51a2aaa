package interop

// Shared code of the Go peer helpers (grandcat/zeroconf, hashicorp/mdns and
// the raw split-packet sender). Helpers run only in processes that lantest's
// guard started inside a test namespace; each calls lantest.MustBeGuarded
// again before it opens any socket.

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/lansd/lansd/internal/lantest"
)

var peerOutMu sync.Mutex

// peerPrintf prints one whole line on standard output.
func peerPrintf(format string, a ...any) {
	peerOutMu.Lock()
	defer peerOutMu.Unlock()
	fmt.Printf(format+"\n", a...)
}

// peerJSON prints prefix and v as JSON on one line.
func peerJSON(prefix string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		peerPrintf("FATAL json: %v", err)
		return
	}
	peerPrintf("%s %s", prefix, b)
}

// lanIface returns the host's LAN interface (lan0), the only one a helper
// uses.
func lanIface() (*net.Interface, error) {
	ifc, err := net.InterfaceByName(lantest.Iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", lantest.Iface, err)
	}
	return ifc, nil
}

// ipStrings formats addresses for the helpers' JSON output.
func ipStrings(ips []net.IP) []string {
	s := make([]string, 0, len(ips))
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}
