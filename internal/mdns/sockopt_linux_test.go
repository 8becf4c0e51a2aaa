//go:build linux

package mdns

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestSocketOptionsLinux(t *testing.T) {
	if err := checkPlatform(); err != nil {
		t.Fatalf("checkPlatform() = %v, want nil on Linux", err)
	}
	got := boundWithOptions(t, IPv4, map[string][2]int{
		"SO_REUSEADDR":     {unix.SOL_SOCKET, unix.SO_REUSEADDR},
		"SO_REUSEPORT":     {unix.SOL_SOCKET, unix.SO_REUSEPORT},
		"IP_MULTICAST_ALL": {unix.IPPROTO_IP, unix.IP_MULTICAST_ALL},
	})
	// Not SO_REUSEPORT on Linux (see socketOptions).
	want := map[string]int{"SO_REUSEADDR": 1, "SO_REUSEPORT": 0, "IP_MULTICAST_ALL": 0}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("IPv4 %s = %d (read: %v), want %d", k, g, ok, v)
		}
	}

	got = boundWithOptions(t, IPv6, map[string][2]int{
		"SO_REUSEADDR": {unix.SOL_SOCKET, unix.SO_REUSEADDR},
		"SO_REUSEPORT": {unix.SOL_SOCKET, unix.SO_REUSEPORT},
		"IPV6_V6ONLY":  {unix.IPPROTO_IPV6, unix.IPV6_V6ONLY},
	})
	want = map[string]int{"SO_REUSEADDR": 1, "SO_REUSEPORT": 0, "IPV6_V6ONLY": 1}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("IPv6 %s = %d (read: %v), want %d", k, g, ok, v)
		}
	}
	// IPV6_MULTICAST_ALL exists since Linux 4.20; older kernels keep the
	// default (best effort), so it is checked only where it can be read.
	mall := boundWithOptions(t, IPv6, map[string][2]int{
		"IPV6_MULTICAST_ALL": {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL},
	})
	if v, ok := mall["IPV6_MULTICAST_ALL"]; ok && v != 0 {
		t.Errorf("IPv6 IPV6_MULTICAST_ALL = %d, want 0", v)
	}
}
