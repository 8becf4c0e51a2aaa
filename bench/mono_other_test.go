//go:build !unix

package bench

import "time"

// mono returns the wall clock in nanoseconds: there is no CLOCK_MONOTONIC
// here to share with helper processes. The benchmarks run on Linux only
// (lantest skips elsewhere); this keeps the package building and vetting.
func mono() int64 { return time.Now().UnixNano() }
