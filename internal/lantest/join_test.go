package lantest_test

import (
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/lantest"
)

// A host of LAN A joined to LAN B reaches B's hosts over its new
// interface, IPv4 and IPv6 link-local, and stays on A.
func TestJoinSecondLAN(t *testing.T) {
	a := lantest.New(t, lantest.Hosts(2))
	b := lantest.New(t, lantest.Hosts(3))
	ctx := lantest.Context(t, 30*time.Second)
	m := a.Host(1)
	lk := b.Join(t, m, "lanB", netip.MustParseAddr("198.18.2.1"))
	assert.Equal(t, "lanB", lk.Name)
	assert.Equal(t, netip.MustParseAddr("198.18.2.1"), lk.IPv4)
	assert.True(t, lk.LinkLocal.IsLinkLocalUnicast())
	for _, tc := range []struct {
		on                 *lantest.Host
		listen, ping, want string
	}{
		{b.Host(3), "[fe80::3%lan0]:7009", "[fe80::3%lanB]:7009", "PONG [fe80::3%lanB]:7009"},
		{a.Host(2), "[fe80::2%lan0]:7010", "[fe80::2%lan0]:7010", "PONG [fe80::2%lan0]:7010"},
	} {
		echo := tc.on.Helper(t, "udp-echo", "ECHO_ADDR="+tc.listen)
		_, err := echo.WaitFor(ctx, regexp.MustCompile(`^READY`))
		require.NoError(t, err, "%q", echo.Lines())
		ping := m.Helper(t, "udp-ping", "PING_ADDR="+tc.ping)
		require.NoError(t, ping.Wait(ctx), "%q", ping.Lines())
		assert.Contains(t, ping.Lines(), tc.want)
	}
	b.Disconnect(t, m, lk)
}
