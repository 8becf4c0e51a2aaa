package gateway

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// threeVLANDoc returns the example configuration of the package
// documentation (doc.go), the indented block after "Example: three VLANs".
func threeVLANDoc(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(src), "// # Example: three VLANs\n")
	require.True(t, ok)
	var b strings.Builder
	started := false
	for _, line := range strings.Split(after, "\n") {
		if body, ok := strings.CutPrefix(line, "//\t"); ok {
			started = true
			b.WriteString(body + "\n")
		} else if started {
			break
		}
	}
	require.NotEmpty(t, b.String())
	return b.String()
}

// ThreeVLANDoc is threeVLANDoc for the external tests.
func ThreeVLANDoc(t *testing.T) string { return threeVLANDoc(t) }

// stringsReader returns a reader of s.
func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
