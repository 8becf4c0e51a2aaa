package registry

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/regtest"
)

// realFilePath locates the full IANA registry CSV: ../shared/data/ next to
// the repository root (the directory holding go.mod). It skips the test when
// the file is absent, or fails it when LANSD_REQUIRE_DATA=1.
func realFilePath(tb testing.TB) string { return regtest.FullPath(tb) }

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
