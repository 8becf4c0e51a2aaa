//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mdns

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// boundWithOptions binds a UDP socket of family f to loopback port 0 with
// socketOptions (nothing is sent) and returns the options it could read back
// (an option the kernel does not know is left out).
func boundWithOptions(t *testing.T, f Family, opts map[string][2]int) map[string]int {
	t.Helper()
	network, addr := "udp4", "127.0.0.1:0"
	if f == IPv6 {
		network, addr = "udp6", "[::1]:0"
	}
	got := map[string]int{}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = socketOptions(fd, f); serr != nil {
				return
			}
			for name, o := range opts {
				if v, err := unix.GetsockoptInt(int(fd), o[0], o[1]); err == nil {
					got[name] = v
				}
			}
		})
		return errors.Join(err, serr)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		t.Skipf("cannot bind %s %s here: %v", network, addr, err)
	}
	pc.Close()
	return got
}
