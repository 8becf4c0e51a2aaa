//go:build unix

package daemon

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// errLocked says that another process holds the lock.
var errLocked = errors.New("locked")

// lockFile takes an exclusive lock on f (flock(2)), without waiting; it
// is released when f is closed or the process ends, so a daemon that
// died leaves no lock behind.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

// umaskMu serialises the umask change of listenPrivate.
var umaskMu sync.Mutex

// listenPrivate listens on a Unix socket created with no permissions at
// all: nobody connects before the caller gives it its mode.
func listenPrivate(path string) (*net.UnixListener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(0o777)
	defer syscall.Umask(old)
	return net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
}
