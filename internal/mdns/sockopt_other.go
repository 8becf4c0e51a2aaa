//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd && !windows

package mdns

import (
	"errors"
	"fmt"
	"runtime"
)

// socketOptions sets nothing: on this system the transport does not run
// (see checkPlatform).
func socketOptions(uintptr, Family) error { return nil }

// checkPlatform returns an error when the transport cannot run on this
// system; it is not ported here: the package builds so that programs importing announce or browse
// compile, and listenSocket returns an error wrapping errors.ErrUnsupported.
func checkPlatform() error {
	return fmt.Errorf("%w on %s: no mDNS socket options for this system", errors.ErrUnsupported, runtime.GOOS)
}
