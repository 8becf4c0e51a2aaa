//go:build windows

package mdns

import (
	"context"
	"errors"
	"testing"
)

func TestListenUnsupportedOnWindows(t *testing.T) {
	_, err := listenSocket(context.Background(), IPv4)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("listenSocket = %v, want an error wrapping errors.ErrUnsupported", err)
	}
}
