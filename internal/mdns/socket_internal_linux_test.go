package mdns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The Linux socket (socket_linux.go), on loopback unicast: a socket bound
// to an ephemeral port, datagrams from a plain UDP socket. Nothing is
// multicast and no group is joined.

// loopSys opens a sysConn of family f on an ephemeral port and a sender to
// it over loopback.
func loopSys(t testing.TB, f Family) (*sysConn, *net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := openSysPort(f, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.close() })
	sa, err := unix.Getsockname(c.fd)
	require.NoError(t, err)
	lo, network := netip.MustParseAddr("127.0.0.1"), "udp4"
	port := 0
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		port = sa.Port
	case *unix.SockaddrInet6:
		port, lo, network = sa.Port, netip.IPv6Loopback(), "udp6"
	}
	to := netip.AddrPortFrom(lo, uint16(port))
	snd, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	t.Cleanup(func() { snd.Close() })
	return c, snd, to
}

func newMsgs(n int) []rxMsg {
	ms := make([]rxMsg, n)
	for i := range ms {
		ms[i].buf = make([]byte, MaxPacket+1)
	}
	return ms
}

// TestSysConnReadsWaitingDatagramsInOneCall checks that one readBatch takes
// every datagram waiting, up to the batch, with source, arrival interface,
// destination and size.
func TestSysConnReadsWaitingDatagramsInOneCall(t *testing.T) {
	for _, f := range []Family{IPv4, IPv6} {
		t.Run(fmt.Sprintf("IPv%d", f), func(t *testing.T) {
			c, snd, to := loopSys(t, f)
			for i := range 5 {
				_, err := snd.WriteToUDPAddrPort([]byte(fmt.Sprintf("datagram %d", i)), to)
				require.NoError(t, err)
			}
			time.Sleep(50 * time.Millisecond) // all five are queued
			ms := newMsgs(8)
			n, err := c.readBatch(ms)
			require.NoError(t, err)
			require.Equal(t, 5, n, "one call, every waiting datagram")
			lo, err := net.InterfaceByName("lo")
			require.NoError(t, err)
			from := snd.LocalAddr().(*net.UDPAddr).AddrPort()
			for i, m := range ms[:n] {
				assert.Equal(t, fmt.Sprintf("datagram %d", i), string(m.buf[:m.n]))
				assert.Equal(t, from, m.src)
				assert.Equal(t, to.Addr(), m.dst)
				assert.Equal(t, lo.Index, m.ifIndex)
				assert.Zero(t, m.scope, "loopback has no scope")
			}
			// A datagram over the limit is cut one byte over it, and its
			// size reported as that (Conn counts it oversize).
			_, err = snd.WriteToUDPAddrPort(make([]byte, MaxPacket+100), to)
			require.NoError(t, err)
			n, err = c.readBatch(ms[:2])
			require.NoError(t, err)
			require.Equal(t, 1, n)
			assert.Equal(t, MaxPacket+1, ms[0].n)
		})
	}
}

// TestSysConnReadAllocatesNothing checks the flood path's read.
func TestSysConnReadAllocatesNothing(t *testing.T) {
	c, snd, to := loopSys(t, IPv4)
	for range 120 {
		_, err := snd.WriteToUDPAddrPort([]byte("x"), to)
		require.NoError(t, err)
	}
	time.Sleep(50 * time.Millisecond)
	ms := newMsgs(1)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.readBatch(ms); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// TestSysConnCloseWakesRead checks that close returns a read blocked in the
// kernel, and that later calls fail with ErrClosed.
func TestSysConnCloseWakesRead(t *testing.T) {
	for _, f := range []Family{IPv4, IPv6} {
		t.Run(fmt.Sprintf("IPv%d", f), func(t *testing.T) {
			c, _, to := loopSys(t, f)
			done := make(chan error, 1)
			go func() {
				_, err := c.readBatch(newMsgs(4))
				done <- err
			}()
			time.Sleep(50 * time.Millisecond) // blocked in recvmmsg
			require.NoError(t, c.close())
			select {
			case err := <-done:
				assert.True(t, errors.Is(err, net.ErrClosed), "%v", err)
			case <-time.After(5 * time.Second):
				t.Fatal("close did not wake the read")
			}
			assert.ErrorIs(t, c.write([]byte("x"), 0, to), net.ErrClosed)
			assert.ErrorIs(t, c.close(), nil, "idempotent")
		})
	}
}

// TestSysConnWriteUnicast checks write to a unicast destination.
func TestSysConnWriteUnicast(t *testing.T) {
	c, snd, _ := loopSys(t, IPv4)
	require.NoError(t, c.write([]byte("hello"), 0, snd.LocalAddr().(*net.UDPAddr).AddrPort()))
	buf := make([]byte, 16)
	require.NoError(t, snd.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, _, err := snd.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
}

// BenchmarkReadBatch measures the read path per datagram over loopback:
// one datagram a call (as a read loop woken for each datagram reads), and
// a batch of readBatchSize a call (as it reads a flood).
func BenchmarkReadBatch(b *testing.B) {
	for _, batch := range []int{1, readBatchSize} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			c, snd, to := loopSys(b, IPv4)
			ms := newMsgs(batch)
			q := []byte("a 40-byte query, about the flood's size")
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				b.StopTimer()
				k := min(batch, b.N-done)
				for range k {
					if _, err := snd.WriteToUDPAddrPort(q, to); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				for got := 0; got < k; {
					n, err := c.readBatch(ms[:k-got])
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
				done += k
			}
		})
	}
}
