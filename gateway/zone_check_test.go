package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/wide"
)

// Check writes nothing, passes with the zone's key, and says why
// otherwise: a key the server does not know, a zone that refuses
// updates, a server that does not answer.
func TestZoneMirrorCheck(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.AXFR(t)
	ctx := mCtx(t)
	require.NoError(t, mirrorFor(t, s).Check(ctx))
	assert.Equal(t, dnstest.Canonical(before), dnstest.Canonical(s.AXFR(t)), "nothing written, not even the SOA's serial")

	bad := Zone{Domain: s.Zone, Server: s.Addr, TSIG: tsig.Key{Name: "other-key.", Algorithm: s.Algorithm, Secret: s.Secret}}
	m, err := NewZoneMirror(bad, ZoneMirrorOptions{Timeout: 2 * time.Second})
	require.NoError(t, err)
	err = m.Check(ctx)
	assert.ErrorIs(t, err, wide.ErrTSIGRejected)
	assert.Contains(t, err.Error(), "BADKEY")

	closed := dnstest.StartBIND(t, mirrorZone, dnstest.WithAllowUpdate("none;"))
	z := Zone{Domain: closed.Zone, Server: closed.Addr, TSIG: tsig.Key{Name: closed.KeyName, Algorithm: closed.Algorithm, Secret: closed.Secret}}
	m, err = NewZoneMirror(z, ZoneMirrorOptions{Timeout: 2 * time.Second})
	require.NoError(t, err)
	err = m.Check(ctx)
	assert.ErrorIs(t, err, wide.ErrUpdateRefused)
	assert.Contains(t, err.Error(), "REFUSED")

	down := Zone{Domain: s.Zone, Server: dnstest.UnusedAddr(t)}
	m, err = NewZoneMirror(down, ZoneMirrorOptions{Timeout: 500 * time.Millisecond})
	require.NoError(t, err)
	err = m.Check(context.Background())
	assert.ErrorIs(t, err, wide.ErrNoAnswer)
	require.NoError(t, m.Close(ctx))
	assert.ErrorIs(t, m.Check(ctx), ErrMirrorClosed)
}
