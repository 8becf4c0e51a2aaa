//go:build !linux

package lantest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
)

// errNoNamespaces is why nothing runs here: the harness needs Linux network
// and UTS namespaces. Every function below fails or does nothing, so the
// guard refuses (nsID fails) and New skips (or fails under RequireEnv).
var errNoNamespaces = fmt.Errorf("%w: network namespaces need Linux (this is %s)", errors.ErrUnsupported, runtime.GOOS)

func namespacesSupported() error { return errNoNamespaces }

func nsID(string) (string, error) { return "", errNoNamespaces }

func sethostname(string) error { return errNoNamespaces }

func execve(string, []string, []string) error { return errNoNamespaces }

func setpgid(*exec.Cmd) {}

func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func killGroup(pid int) { killPID(pid) }

func observe(*os.File) error { return errNoNamespaces }
