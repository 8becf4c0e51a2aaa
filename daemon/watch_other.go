//go:build !linux

package daemon

import (
	"context"
	"errors"
	"log/slog"
)

// watcher is not available here: SIGHUP (Server.Reload) reloads.
type watcher struct{}

func watchDirs([]string, *slog.Logger) (*watcher, error) {
	return nil, errors.New("inotify is Linux only")
}

func (w *watcher) run(context.Context, chan<- struct{}) {}

// Close does nothing.
func (w *watcher) Close() error { return nil }
