//go:build !unix

package daemon

import (
	"errors"
	"net"
	"os"
)

// errLocked says that another process holds the lock.
var errLocked = errors.New("locked")

// lockFile is not implemented here: the socket alone tells that a daemon
// runs (listening on it fails).
func lockFile(*os.File) error { return nil }

// listenPrivate listens on a Unix socket.
func listenPrivate(path string) (*net.UnixListener, error) {
	return net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
}
