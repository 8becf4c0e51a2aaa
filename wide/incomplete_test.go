package wide

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// An instance whose SRV target has no address in the zone is reported
// after one poll, with host and port, no address and a warning naming the
// host; once the zone gives the host an address, the next poll updates
// it. Resolve does not take it for resolved.
func TestWideInstanceWithoutAddress(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone, dnstest.WithRecords(
		"_timezone._tcp PTR Lone\\032TZ._timezone._tcp",
		"Lone\\032TZ._timezone._tcp SRV 0 0 8080 h9",
		`Lone\032TZ._timezone._tcp TXT "path=/tz"`,
	))
	ctx := wideCtx(t, 30*time.Second)
	b, err := NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr, Interval: 200 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close()
	add := nextEvent(t, b, sd.Add, 5*time.Second)
	select {
	case <-b.Quiet():
	case <-time.After(5 * time.Second):
		t.Fatal("not quiet after the first poll")
	}
	in := add.Instance
	assert.Equal(t, "Lone TZ", in.Instance)
	assert.Equal(t, "h9.tz.example.net.", in.Host)
	assert.Equal(t, uint16(8080), in.Port)
	assert.Empty(t, in.Addrs)
	assert.Equal(t, []string{s.Addr}, in.Ifaces)
	assert.True(t, in.Conforms())
	require.NotEmpty(t, in.Report.Findings)
	assert.Equal(t, txt.Warning, in.Report.Findings[0].Severity)
	assert.Equal(t, `no address for host "h9.tz.example.net."`, in.Report.Findings[0].Reason)

	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err = Resolve(short, "Lone TZ._timezone._tcp."+wideZone, BrowseOptions{Server: s.Addr})
	var re *sd.ResolveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, []string{"address of h9.tz.example.net."}, re.Missing)

	s.Nsupdate(t, "update add h9."+wideZone+". 120 A 198.51.100.9")
	up := nextEvent(t, b, sd.Update, 5*time.Second)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.9")}, up.Instance.Addrs)
	assert.Empty(t, up.Instance.Report.Findings)
}
