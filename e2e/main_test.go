// Package e2e holds the end-to-end tests of the lansd binary on a virtual LAN
// of network namespaces (internal/lantest). Every process that sends
// multicast runs inside a namespace the test created and is verified there by
// lantest's guard before it can send.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lansd/lansd/internal/lantest"
)

// lansdBin is the lansd binary built once for the whole package.
var lansdBin string

func TestMain(m *testing.M) {
	// Helper processes re-executed inside a namespace run their helper and
	// exit here (the guard has already run in lantest's init).
	lantest.MaybeRunHelper()
	dir, err := os.MkdirTemp("", "lansd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	lansdBin = filepath.Join(dir, "lansd")
	build := exec.Command("go", "build", "-o", lansdBin, "../cmd/lansd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building lansd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startLansd starts the lansd binary with args inside host h (guarded by lantest).
func startLansd(t *testing.T, h *lantest.Host, args ...string) *lantest.Proc {
	t.Helper()
	return h.Start(t, lansdBin, args...)
}
