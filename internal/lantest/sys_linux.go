//go:build linux

package lantest

import (
	"fmt"
	"os/exec"
	"syscall"
)

// namespacesSupported returns nil: Linux has network namespaces.
func namespacesSupported() error { return nil }

// nsID identifies the namespace behind path as "dev:ino" (stat follows the
// /proc symlink to the nsfs inode).
func nsID(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}

// sethostname sets the UTS host name of this process's UTS namespace.
func sethostname(name string) error { return syscall.Sethostname([]byte(name)) }

// execve replaces this process with path; it returns only on failure.
func execve(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }

// setpgid makes cmd lead its own process group, so that killGroup can kill
// what it forks.
func setpgid(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killPID sends SIGKILL to process pid.
func killPID(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// killGroup sends SIGKILL to the process group led by pid (negative PID).
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
