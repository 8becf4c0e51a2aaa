// Package clitest holds what the tests of the lansd command share: the
// lansd binary, built once per test binary and started inside a host of a
// virtual LAN (internal/lantest), and the one decoder of the --json events
// that lansd browse and lansd resolve print (Event, Decode, Events,
// WaitEvent). The e2e, interop and bench tests and cmd/lansd's own tests use
// it, so the schema is written down once, here.
package clitest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lansd/lansd/internal/lantest"
)

// pkg is the import path of the lansd command.
const pkg = "github.com/lansd/lansd/cmd/lansd"

// build is the result of the one build of a test binary.
var build struct {
	once sync.Once
	dir  string // the temporary directory holding bin
	bin  string
	err  error
}

// Build builds the lansd command once per test binary, as `make build`
// builds it (static, without cgo), into a temporary directory, and returns
// the binary's path. Call it from TestMain before m.Run, so that no test's
// deadline pays for the build, and call Remove after m.Run. Later calls
// return the first call's result.
func Build() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "lansd-test-")
		if err != nil {
			build.err = fmt.Errorf("clitest: %w", err)
			return
		}
		build.dir = dir
		bin := filepath.Join(dir, "lansd")
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("clitest: building lansd: %w\n%s", err, out)
			return
		}
		build.bin = bin
	})
	return build.bin, build.err
}

// Binary returns the path of the lansd binary, building it first when
// Build has not; it fails tb when the build failed.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := Build()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Remove deletes the binary Build made, if any. TestMain calls it once
// every test has finished.
func Remove() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

// Start starts the lansd binary with args inside host h (lantest's guard
// proves the namespace before lansd runs) and returns the running process,
// which is killed at the end of the test.
func Start(tb testing.TB, h *lantest.Host, args ...string) *lantest.Proc {
	tb.Helper()
	return h.Start(tb, Binary(tb), args...)
}
