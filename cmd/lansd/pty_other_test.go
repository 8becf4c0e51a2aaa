//go:build !linux

package main

import (
	"os"
	"testing"
)

// openPTY skips: the tests open pseudo-terminals the Linux way only
// (/dev/ptmx and /dev/pts).
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	t.Skip("pseudo-terminal tests run on Linux only")
	return nil, nil
}
