// Package regtest finds the full IANA service-name registry that tests read:
// ../shared/data/service-names-port-numbers.csv next to the repository (the
// directory holding go.mod). It imports nothing of lansd, so the registry
// package's own tests can use it too.
package regtest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FullPath returns the path of the full registry CSV. It skips the test
// when the file is absent, or fails it when LANSD_REQUIRE_DATA=1.
func FullPath(tb testing.TB) string {
	tb.Helper()
	p, err := fullPath()
	if err != nil {
		if os.Getenv("LANSD_REQUIRE_DATA") == "1" {
			tb.Fatalf("full registry file required (LANSD_REQUIRE_DATA=1) but missing: %v", err)
		}
		tb.Skipf("full registry file not present (set LANSD_REQUIRE_DATA=1 to require it): %v", err)
	}
	return p
}

// fullPath looks for go.mod above the working directory and the CSV beside
// the repository.
func fullPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", "service-names-port-numbers.csv")
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}
