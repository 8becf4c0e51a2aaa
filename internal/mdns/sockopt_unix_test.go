//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package mdns

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestSocketOptionsBSD(t *testing.T) {
	if err := checkPlatform(); err != nil {
		t.Fatalf("checkPlatform() = %v, want nil", err)
	}
	for _, f := range []Family{IPv4, IPv6} {
		opts := map[string][2]int{
			"SO_REUSEADDR": {unix.SOL_SOCKET, unix.SO_REUSEADDR},
			"SO_REUSEPORT": {unix.SOL_SOCKET, unix.SO_REUSEPORT},
		}
		if f == IPv6 {
			opts["IPV6_V6ONLY"] = [2]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY}
		}
		got := boundWithOptions(t, f, opts)
		for k := range opts {
			// BSD getsockopt returns the flag's bit value, not 1.
			if g, ok := got[k]; !ok || g == 0 {
				t.Errorf("IPv%d %s = %d (read: %v), want set", int(f), k, g, ok)
			}
		}
	}
}
