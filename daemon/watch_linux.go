package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// watcher reports changes in the services directories, by inotify(7).
type watcher struct {
	fd   int
	log  *slog.Logger
	file *os.File
}

// watchDirs watches dirs for files created, written, moved or deleted. A
// directory that does not exist yet is not watched (SIGHUP reads it).
func watchDirs(dirs []string, log *slog.Logger) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	const mask = unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM |
		unix.IN_MOVED_TO | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	for _, d := range dirs {
		if _, err := unix.InotifyAddWatch(fd, d, mask); err != nil {
			if errors.Is(err, unix.ENOENT) {
				log.Warn("daemon: services directory does not exist; not watched", "dir", d)
				continue
			}
			unix.Close(fd)
			return nil, err
		}
	}
	// Through os.File, the read waits in the runtime's poller and Close
	// ends it.
	return &watcher{fd: fd, log: log, file: os.NewFile(uintptr(fd), "inotify")}, nil
}

// run sends on changed (without blocking) after every batch of events,
// until ctx ends or the watcher is closed.
func (w *watcher) run(ctx context.Context, changed chan<- struct{}) {
	go func() {
		<-ctx.Done()
		w.file.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, os.ErrClosed) {
				w.log.Error("daemon: watching the services directories", "err", err)
			}
			return
		}
		if n > 0 {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// Close stops the watcher.
func (w *watcher) Close() error { return w.file.Close() }
