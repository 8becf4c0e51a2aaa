//go:build !linux

package bench

import "time"

// mono returns the wall clock in nanoseconds, a stand-in for Linux's shared
// CLOCK_MONOTONIC: the benchmarks run on Linux only (lantest skips
// elsewhere), and this keeps the package building and vetting there.
func mono() int64 { return time.Now().UnixNano() }
