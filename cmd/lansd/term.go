package main

import (
	"io"
	"os"
)

// isTerminal reports whether w is a terminal (see terminalFD for how each
// system tells).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return terminalFD(f.Fd())
}
