package announce

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
)

func TestRemoveSendsGoodbyes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		lab, err := f.r.Add(context.Background(), tzService(t, "Lab TZ"))
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		f.settle()

		require.NoError(t, f.http.Remove(context.Background()))
		gb := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, gb, 1, "one goodbye packet per interface and family")
		m := gb[0].Msg
		for _, rr := range m.Answer {
			assert.Zero(t, rr.Header().Ttl, "TTL 0 (RFC 6762 section 10.1): %v", rr)
		}
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "_http._tcp.local.", dns.TypePTR))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "_printer._sub._http._tcp.local.", dns.TypePTR))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, httpInst, dns.TypeSRV))
		assert.NotNil(t, mdnstest.FindRR(m.Answer, httpInst, dns.TypeTXT))
		enum := mdnstest.FindRR(m.Answer, "_services._dns-sd._udp.local.", dns.TypePTR)
		require.NotNil(t, enum, "the last _http service withdraws the enumeration PTR")
		assert.Equal(t, "_http._tcp.local.", enum.(*dns.PTR).Ptr)
		assert.Nil(t, mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeA), "the host stays")
		assert.Len(t, m.Answer, 5)

		// Events end with Removed, then the channel is closed.
		evs := events(f.http)
		require.NotEmpty(t, evs)
		assert.Equal(t, EventRemoved, evs[len(evs)-1].Kind)
		_, open := <-f.http.Events()
		assert.False(t, open)
		assert.NoError(t, f.http.Remove(context.Background()), "removing twice is harmless")
		err = f.http.UpdateTXT(context.Background(), tzService(t, "x").TXT)
		assert.ErrorIs(t, err, ErrRemoved)
		assert.ErrorIs(t, err, sd.ErrRemoved, "as for a removed wide.Registration")
		assert.EqualError(t, err, "announce: service removed")

		f.settle()
		require.NoError(t, lab.Remove(context.Background()))
		m = f.responses(mdnstest.Family(mdns.IPv4))[0].Msg
		assert.Nil(t, mdnstest.FindRR(m.Answer, "_services._dns-sd._udp.local.", dns.TypePTR), "Office TZ still publishes _timezone._tcp")
		assert.NotNil(t, mdnstest.FindRR(m.Answer, "_timezone._tcp.local.", dns.TypePTR))

		// No longer answered.
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(httpInst, dns.TypeSRV), mdnstest.QM("_http._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		assert.Empty(t, f.responses())
	})
}

func TestCloseSendsGoodbyesForEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r, err := start(context.Background(), Options{HostName: "h1", Logger: discard()}, h, nil)
		require.NoError(t, err)
		hd, err := r.Add(context.Background(), tzService(t, "Office TZ"))
		require.NoError(t, err)
		l.Reset()
		require.NoError(t, r.Close())
		require.NoError(t, r.Close(), "idempotent")
		gb := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse)
		require.Len(t, gb, 2, "IPv4 and IPv6")
		for _, p := range gb {
			m := p.Msg
			for _, rr := range m.Answer {
				assert.Zero(t, rr.Header().Ttl)
			}
			assert.NotNil(t, mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeA))
			assert.NotNil(t, mdnstest.FindRR(m.Answer, "h1.local.", dns.TypeAAAA))
			assert.NotNil(t, mdnstest.FindRR(m.Answer, tzInst, dns.TypeSRV))
			assert.NotNil(t, mdnstest.FindRR(m.Answer, "_services._dns-sd._udp.local.", dns.TypePTR))
		}
		assert.ErrorIs(t, hd.Remove(context.Background()), ErrClosed)
		_, err = r.Add(context.Background(), tzService(t, "Late"))
		assert.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, err, sd.ErrClosed, "as for a closed wide.Registrar")
		assert.EqualError(t, err, `announce: adding "Late": announce: responder closed`)
		assert.True(t, h.Closed(), "transport closed")
	})
}

func TestNoGoodbyeForUnannouncedService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r := startOn(t, h, Options{HostName: "h1"})
		time.Sleep(5 * time.Second) // the host's announcements are over
		l.Reset()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := r.Add(ctx, tzService(t, "Office TZ"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		time.Sleep(3 * time.Second)
		assert.Empty(t, l.Packets(mdnstest.From("h1"), mdnstest.IsResponse), "given up while probing: nothing announced, nothing withdrawn")
		assert.LessOrEqual(t, len(l.Packets(mdnstest.From("h1"), mdnstest.IsProbe, mdnstest.Family(mdns.IPv4))), 1, "probing stopped")
	})
}

func TestCloseWhileAdding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r, err := start(context.Background(), Options{HostName: "h1", Logger: discard()}, l.NewHost("h1", 1), nil)
		require.NoError(t, err)
		errc := make(chan error)
		go func() {
			_, err := r.Add(context.Background(), tzService(t, "Office TZ"))
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, r.Close())
		assert.ErrorIs(t, <-errc, ErrClosed)
	})
}
