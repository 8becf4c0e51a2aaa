//go:build linux

package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// TestBrowseBurstWhileBusy: one response to one query for a type of a
// thousand instances is about a hundred full-size datagrams, sent back to
// back (twice, per address family). A browser busy elsewhere for a moment
// (here: stopped) must find them waiting in its socket, not lose those
// past the kernel's default buffer (212,992 bytes, about 90 datagrams of
// 1,400 bytes) and wait for a later query: that loss made the second and
// later back-to-back browsers of the issue trickle in over 2-3 s. The
// sender never answers queries, so whatever the browser reports came from
// the burst.
func TestBrowseBurstWhileBusy(t *testing.T) {
	t.Parallel()
	const instances, perPacket = 2000, 10
	lan := lantest.New(t, lantest.Hosts(2), lantest.IPv6(false))
	ctx := lantest.Context(t, 60*time.Second)
	victim, sender := lan.Host(1), lan.Host(2)
	raw := sender.Helper(t, "browse-raw")
	brReady(t, ctx, raw)
	br := clitest.Start(t, victim, "browse", "timezone", "--json")
	time.Sleep(1500 * time.Millisecond) // its sockets are open, its first queries went out

	require.NoError(t, br.Signal(syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			_ = br.Signal(syscall.SIGCONT)
		}
	}()
	packets := 0
	for i := 0; i < instances; i += perPacket {
		var rrs []dns.RR
		for j := i; j < i+perPacket; j++ {
			name := fmt.Sprintf("Clock-%04d._timezone._tcp.local.", j)
			rrs = append(rrs,
				brRR(t, "_timezone._tcp.local. 4500 IN PTR "+name),
				brFlush(brRR(t, name+" 120 IN SRV 0 0 9000 burst.local.")),
				brFlush(brRR(t, name+` 4500 IN TXT "tzdist=/.well-known/timezone" "`+fmt.Sprintf("pad=%0100d", j)+`"`)))
		}
		if i == 0 {
			rrs = append(rrs, brFlush(brRR(t, "burst.local. 120 IN A 198.51.100.12")))
		}
		b, err := brResponse(rrs...).Pack()
		require.NoError(t, err)
		require.Greater(t, len(b), 1000, "full-size datagrams")
		require.NoError(t, raw.WriteLine("SEND "+hex.EncodeToString(b)))
		packets++
	}
	_, err := raw.WaitFor(ctx, regexp.MustCompile(`^(SENT `+strconv.Itoa(packets)+`|FATAL.*)$`))
	require.NoError(t, err, "%q", raw.Lines())
	time.Sleep(200 * time.Millisecond) // the last datagrams crossed the bridge
	require.NoError(t, br.Signal(syscall.SIGCONT))
	stopped = false

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _ = br.WaitForN(wctx, regexp.MustCompile(`^\{"event":"add"`), instances)
	adds := 0
	for _, ev := range clitest.Events(t, br.Lines()) {
		if ev.Event == "add" {
			adds++
		}
	}
	require.Equal(t, instances, adds, "every instance of the %d-datagram burst reported from the socket's buffer", packets)
}
