//go:build linux

package main

import "golang.org/x/sys/unix"

// terminalFD reports whether fd is a terminal: the TCGETS ioctl succeeds.
func terminalFD(fd uintptr) bool {
	_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	return err == nil
}
