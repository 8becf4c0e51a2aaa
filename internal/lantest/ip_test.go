package lantest_test

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
)

// Host.IP replaces an address in the host's namespace, in one batch.
func TestHostIP(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	h := lan.Host(1)
	h.IP(t, "addr add 198.18.1.11/24 dev lan0", "addr del 198.51.100.11/24 dev lan0")
	out, err := exec.Command("ip", "-n", h.NS, "-4", "addr", "show", "dev", "lan0").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "198.18.1.11/24")
	assert.NotContains(t, string(out), "198.51.100.11")
}
