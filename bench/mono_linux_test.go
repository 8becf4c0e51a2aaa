//go:build linux

package bench

import "golang.org/x/sys/unix"

// mono returns CLOCK_MONOTONIC in nanoseconds. It is one clock for every
// namespace on the machine, so timestamps printed by helpers in different
// namespaces (and python's time.monotonic_ns) compare directly.
func mono() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot happen on Linux
	}
	return ts.Nano()
}
