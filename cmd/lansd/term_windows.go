//go:build windows

package main

import "golang.org/x/sys/windows"

// terminalFD reports whether fd is a console: GetConsoleMode succeeds.
func terminalFD(fd uintptr) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(fd), &mode) == nil
}
