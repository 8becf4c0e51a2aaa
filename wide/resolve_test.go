package wide

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/sd"
)

func TestWideResolve(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone)
	r := wideRegistrar(t, s)
	ctx := wideCtx(t, 20*time.Second)
	_, err := r.Add(ctx, sd.Service{Instance: "Dot.ted", Type: "timezone", Port: 8081, TXT: wideTXT(t, "path=/x")})
	require.NoError(t, err)
	_, err = r.Add(ctx, sd.Service{Instance: "Office TZ", Type: "timezone", Port: 8082, TXT: wideTXT(t, "path=/y")})
	require.NoError(t, err)
	in, err := Resolve(ctx, "Office TZ._timezone._tcp.tz.example.net.", BrowseOptions{Server: s.Addr})
	require.NoError(t, err)
	assert.Equal(t, uint16(8082), in.Port)
	in, err = Resolve(ctx, `Dot\.ted._timezone._tcp.tz.example.net`, BrowseOptions{Server: s.Addr})
	require.NoError(t, err)
	assert.Equal(t, "Dot.ted", in.Instance)
	assert.Equal(t, `Dot\.ted._timezone._tcp.tz.example.net.`, in.Name)
	assert.Equal(t, uint16(8081), in.Port)
	assert.True(t, in.Conforms())

	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err = Resolve(short, "Nobody._timezone._tcp.tz.example.net.", BrowseOptions{Server: s.Addr})
	var re *sd.ResolveError
	require.ErrorAs(t, err, &re)
	assert.Contains(t, re.Missing, "SRV record")
	assert.Contains(t, re.Missing, "TXT record")

	_, err = Resolve(ctx, "X._timezone._tcp.local.", BrowseOptions{Server: s.Addr})
	assert.ErrorIs(t, err, ErrBadName)
}
