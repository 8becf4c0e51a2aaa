//go:build !linux

package bench

import "time"

// mono returns the wall clock in nanoseconds: CLOCK_MONOTONIC is read the
// Linux way only. The benchmarks run on Linux only
// (lantest skips elsewhere); this keeps the package building and vetting.
func mono() int64 { return time.Now().UnixNano() }
