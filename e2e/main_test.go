// Package e2e holds the end-to-end tests of the lansd binary on a virtual LAN
// of network namespaces (internal/lantest). Every process that sends
// multicast runs inside a namespace the test created and is verified there by
// lantest's guard before it can send.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

func TestMain(m *testing.M) {
	// Helper processes re-executed inside a namespace run their helper and
	// exit here (the guard has already run in lantest's init).
	lantest.MaybeRunHelper()
	// Built before any test starts its clock.
	if _, err := clitest.Build(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	clitest.Remove()
	os.Exit(code)
}
