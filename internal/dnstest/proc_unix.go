//go:build unix

package dnstest

import (
	"os/exec"
	"syscall"
)

// detach puts cmd in its own process group, so that a terminal's interrupt
// reaches the test binary only and named is stopped by Stop.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
