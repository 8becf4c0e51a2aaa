package udns_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/udns"
)

// udpServer answers every query on 127.0.0.1 with the replies reply makes.
func udpServer(t *testing.T, reply func(q *dns.Msg) []*dns.Msg) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			for _, r := range reply(q) {
				b, err := r.Pack()
				if err == nil {
					_, _ = pc.WriteTo(b, from)
				}
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestExchangeSkipsDatagramsWithAnotherID(t *testing.T) {
	srv := udpServer(t, func(q *dns.Msg) []*dns.Msg {
		spoof := new(dns.Msg)
		spoof.SetReply(q)
		spoof.Id = q.Id + 1
		spoof.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 66)}}
		good := new(dns.Msg)
		good.SetReply(q)
		good.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, 1)}}
		return []*dns.Msg{spoof, good}
	})
	m := new(dns.Msg)
	m.SetQuestion("h1.example.", dns.TypeA)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := udns.Exchange(ctx, "udp", srv, m, 0, nil)
	require.NoError(t, err)
	assert.Equal(t, m.Id, r.Id)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "127.0.0.1", r.Answer[0].(*dns.A).A.String())
}

func TestExchangeEndsWithTheContext(t *testing.T) {
	srv := udpServer(t, func(*dns.Msg) []*dns.Msg { return nil }) // never answers
	m := new(dns.Msg)
	m.SetQuestion("h1.example.", dns.TypeA)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := udns.Exchange(ctx, "udp", srv, m, 0, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = udns.Exchange(ctx, "udp", srv, m, 0, nil)
	assert.ErrorIs(t, err, context.Canceled, "cancellation closes the connection at once")
}

func TestExchangeTSIGSignsAndVerifies(t *testing.T) {
	const key, secret = "k.example.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	srv := &dns.Server{Addr: "127.0.0.1:0", Net: "udp", TsigSecret: map[string]string{key: secret}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.PacketConn = pc
	srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		if q.IsTsig() != nil && w.TsigStatus() == nil {
			r.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
		} else {
			r.Rcode = dns.RcodeRefused
		}
		_ = w.WriteMsg(r)
	})
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	m := new(dns.Msg)
	m.SetQuestion("h1.example.", dns.TypeSOA)
	m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := udns.Exchange(ctx, "udp", pc.LocalAddr().String(), m, 0, map[string]string{key: secret})
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode, "the server verified our signature")
	require.NotNil(t, r.IsTsig(), "and signed its answer, which we verified")

	// The same exchange with the wrong secret: the server refuses it and
	// its unsigned answer comes back as is.
	m2 := new(dns.Msg)
	m2.SetQuestion("h1.example.", dns.TypeSOA)
	m2.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	r, err = udns.Exchange(ctx, "udp", pc.LocalAddr().String(), m2, 0, map[string]string{key: "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI="})
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
}
