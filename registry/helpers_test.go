package registry

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// realFilePath locates the full IANA registry CSV: ../shared/data/ next to
// the repository root (the directory holding go.mod). It skips the test when
// the file is absent, or fails it when LANSD_REQUIRE_DATA=1.
func realFilePath(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	require.NoError(tb, err)
	p := ""
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p = filepath.Join(dir, "..", "shared", "data", "service-names-port-numbers.csv")
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			err = errors.New("no go.mod above the test's directory")
			break
		}
		dir = parent
	}
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		if os.Getenv("LANSD_REQUIRE_DATA") == "1" {
			tb.Fatalf("real registry file required (LANSD_REQUIRE_DATA=1) but missing: %v", err)
		}
		tb.Skipf("real registry file %s not present (set LANSD_REQUIRE_DATA=1 to require it): %v", p, err)
	}
	return p
}

var (
	realOnce sync.Once
	realReg  *Registry
	realErr  error
)

// realRegistry loads the real registry file once for all tests.
func realRegistry(tb testing.TB) *Registry {
	tb.Helper()
	p := realFilePath(tb)
	realOnce.Do(func() { realReg, realErr = LoadFile(p) })
	require.NoError(tb, realErr)
	return realReg
}
