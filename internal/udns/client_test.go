package udns_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/udns"
)

// Test keys (base64 of 32 bytes each).
const (
	testKeyName  = "k.example."
	testSecret   = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
	wrongSecret  = "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI="
	testQuestion = "h1.example."
)

// dnsServer is a miekg/dns server on UDP and TCP at the same 127.0.0.1
// port, with a handler the test controls and a count of the requests each
// transport delivered.
type dnsServer struct {
	addr     string
	udp, tcp atomic.Int32
}

// handler answers one request; network is "udp" or "tcp".
type handler func(network string, w dns.ResponseWriter, q *dns.Msg)

// startDNS starts a dnsServer; tsig, when not nil, is its TSIG secrets
// (the handler reads w.TsigStatus()).
func startDNS(t *testing.T, tsig map[string]string, h handler) *dnsServer {
	t.Helper()
	s := &dnsServer{}
	var ln net.Listener
	var pc net.PacketConn
	// The UDP port of the same number may be taken: try a few.
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		p, err := net.ListenPacket("udp", l.Addr().String())
		if err == nil {
			ln, pc = l, p
			break
		}
		l.Close()
	}
	require.NotNil(t, ln, "no port free on both UDP and TCP")
	s.addr = ln.Addr().String()
	serve := func(network string) dns.HandlerFunc {
		return func(w dns.ResponseWriter, q *dns.Msg) {
			if network == "udp" {
				s.udp.Add(1)
			} else {
				s.tcp.Add(1)
			}
			h(network, w, q)
		}
	}
	// Every request reaches the handler, updates included (miekg/dns
	// answers those NOTIMP by default).
	accept := func(dh dns.Header) dns.MsgAcceptAction {
		if dh.Bits&(1<<15) != 0 { // QR: a response
			return dns.MsgIgnore
		}
		return dns.MsgAccept
	}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Net: "udp", TsigSecret: tsig, MsgAcceptFunc: accept, Handler: serve("udp")},
		{Listener: ln, Net: "tcp", TsigSecret: tsig, MsgAcceptFunc: accept, Handler: serve("tcp")},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.ActivateAndServe()
		}()
		select {
		case <-started:
		case <-done:
			t.Fatalf("%s server did not start", srv.Net)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s server did not start in time", srv.Net)
		}
		t.Cleanup(func() {
			_ = srv.Shutdown()
			<-done
		})
	}
	return s
}

// packetServer is a raw UDP server on 127.0.0.1 for tricks a dns.Server
// does not do: reply returns the datagrams to send back (none: drop).
func packetServer(t *testing.T, reply func(q *dns.Msg) []*dns.Msg) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	addr := udpServer(t, func(q *dns.Msg) []*dns.Msg {
		n.Add(1)
		return reply(q)
	})
	return addr, &n
}

// aRecord is name's A record 127.0.0.last.
func aRecord(name string, last byte) dns.RR {
	return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(127, 0, 0, last)}
}

// answer is a NOERROR answer to q with an A record 127.0.0.last.
func answer(q *dns.Msg, last byte) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Answer = []dns.RR{aRecord(q.Question[0].Name, last)}
	return r
}

// query is an A question for testQuestion.
func query() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(testQuestion, dns.TypeA)
	return m
}

// bigUpdate is an RFC 2136 UPDATE of zone "example." adding TXT records of
// about size bytes in all.
func bigUpdate(size int) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate("example.")
	var txt []string
	for size > 0 {
		n := min(size, 200)
		txt = append(txt, strings.Repeat("x", n))
		size -= n
	}
	m.Insert([]dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "big.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: txt}})
	return m
}

// testCtx bounds a test's exchanges well beyond any client timeout, so
// that a hang fails the test instead of stalling the run.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientTruncatedAnswerIsAskedAgainOverTCP(t *testing.T) {
	s := startDNS(t, nil, func(network string, w dns.ResponseWriter, q *dns.Msg) {
		r := answer(q, 1)
		if network == "udp" {
			r.Answer = nil
			r.Truncated = true
		}
		_ = w.WriteMsg(r)
	})
	c := &udns.Client{Servers: []string{s.addr}}
	r, srv, err := c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, s.addr, srv)
	assert.False(t, r.Truncated, "the answer is the TCP one")
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "127.0.0.1", r.Answer[0].(*dns.A).A.String())
	assert.Equal(t, uint64(1), c.Truncated())
	assert.Equal(t, int32(1), s.udp.Load())
	assert.Equal(t, int32(1), s.tcp.Load())
}

func TestClientLargeRequestGoesOverTCP(t *testing.T) {
	s := startDNS(t, nil, func(_ string, w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		_ = w.WriteMsg(r)
	})
	c := &udns.Client{Servers: []string{s.addr}}
	m := bigUpdate(1500)
	require.Greater(t, m.Len(), udns.EDNSSize)
	r, _, err := c.Exchange(testCtx(t), m)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode)
	assert.Equal(t, int32(0), s.udp.Load(), "a request over EDNSSize bytes never goes over UDP")
	assert.Equal(t, int32(1), s.tcp.Load())
	assert.Equal(t, uint64(0), c.Truncated())

	// A small request goes over UDP.
	_, _, err = c.Exchange(testCtx(t), bigUpdate(300))
	require.NoError(t, err)
	assert.Equal(t, int32(1), s.udp.Load())
	assert.Equal(t, int32(1), s.tcp.Load())
}

func TestClientCountsTheTSIGInTheRequestSize(t *testing.T) {
	s := startDNS(t, map[string]string{testKeyName: testSecret}, func(_ string, w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		if q.IsTsig() != nil && w.TsigStatus() == nil {
			r.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
		} else {
			r.Rcode = dns.RcodeRefused
		}
		_ = w.WriteMsg(r)
	})
	// A request that fits in EDNSSize bytes unsigned, but not signed.
	m := bigUpdate(1100)
	m.SetEdns0(udns.EDNSSize, false)
	for m.Len() < udns.EDNSSize-20 {
		txt := m.Ns[0].(*dns.TXT)
		txt.Txt[len(txt.Txt)-1] += "x"
	}
	require.LessOrEqual(t, m.Len(), udns.EDNSSize)
	c := &udns.Client{Servers: []string{s.addr}, Key: &udns.Key{Name: testKeyName, Algorithm: dns.HmacSHA256, Secret: testSecret}}
	r, _, err := c.Exchange(testCtx(t), m)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode, "the server verified our signature over TCP")
	assert.NotNil(t, r.IsTsig())
	assert.Equal(t, int32(0), s.udp.Load(), "signed, the request is over EDNSSize bytes")
	assert.Equal(t, int32(1), s.tcp.Load())
}

func TestClientRetransmitsAfterALostDatagram(t *testing.T) {
	var (
		mu  sync.Mutex
		ids []uint16
	)
	addr, n := packetServer(t, func(q *dns.Msg) []*dns.Msg {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, q.Id)
		if len(ids) == 1 {
			return nil // the first datagram is lost
		}
		return []*dns.Msg{answer(q, 2)}
	})
	c := &udns.Client{Servers: []string{addr}}
	m := query()
	start := time.Now()
	r, srv, err := c.Exchange(testCtx(t), m)
	waited := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, addr, srv)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, "127.0.0.2", r.Answer[0].(*dns.A).A.String())
	assert.Equal(t, int32(2), n.Load(), "one retransmission")
	mu.Lock()
	assert.Equal(t, []uint16{m.Id, m.Id}, ids, "the retransmission is the same message")
	mu.Unlock()
	// The first try waits FirstTry before the retransmission; the upper
	// bound is the default timeout, generous on a busy machine.
	assert.GreaterOrEqual(t, waited, udns.FirstTry-100*time.Millisecond)
	assert.Less(t, waited, udns.DefaultTimeout)
}

// rcodeServer answers every query with rcode (an A record with NOERROR).
func rcodeServer(t *testing.T, rcode int) (string, *atomic.Int32) {
	return packetServer(t, func(q *dns.Msg) []*dns.Msg {
		r := answer(q, 3)
		if rcode != dns.RcodeSuccess {
			r.Answer = nil
			r.Rcode = rcode
		}
		return []*dns.Msg{r}
	})
}

// acceptFinal accepts NOERROR and NXDOMAIN, as the zone browser does.
func acceptFinal(r *dns.Msg) bool {
	return r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError
}

func TestClientRejectedAnswerMovesOnToTheNextServer(t *testing.T) {
	bad, nBad := rcodeServer(t, dns.RcodeServerFailure)
	good, nGood := rcodeServer(t, dns.RcodeSuccess)
	c := &udns.Client{Servers: []string{bad, good}, Accept: acceptFinal}
	r, srv, err := c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, good, srv)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode)
	require.Len(t, r.Answer, 1)
	assert.Equal(t, int32(1), nBad.Load())
	assert.Equal(t, int32(1), nGood.Load())

	// Without Accept, the SERVFAIL settles the exchange.
	c = &udns.Client{Servers: []string{bad, good}}
	r, srv, err = c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, bad, srv)
	assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
	assert.Equal(t, int32(1), nGood.Load())
}

func TestClientOnlyRejectedAnswersReturnTheLast(t *testing.T) {
	first, n1 := rcodeServer(t, dns.RcodeServerFailure)
	last, n2 := rcodeServer(t, dns.RcodeRefused)
	c := &udns.Client{Servers: []string{first, last}, Accept: acceptFinal}
	r, srv, err := c.Exchange(testCtx(t), query())
	require.NoError(t, err, "the caller judges the rejected answer")
	require.NotNil(t, r)
	assert.Equal(t, last, srv)
	assert.Equal(t, dns.RcodeRefused, r.Rcode, "the last rejected answer")
	assert.Equal(t, int32(1), n1.Load(), "one round, no retransmission")
	assert.Equal(t, int32(1), n2.Load())

	// Both SERVFAIL: the second's.
	second, _ := rcodeServer(t, dns.RcodeServerFailure)
	c = &udns.Client{Servers: []string{first, second}, Accept: acceptFinal}
	r, srv, err = c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, second, srv)
	assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
}

// closedPort returns a 127.0.0.1 UDP address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := pc.LocalAddr().String()
	require.NoError(t, pc.Close())
	return addr
}

func TestClientNothingListeningIsNoAnswerError(t *testing.T) {
	addr := closedPort(t)
	const timeout = 1500 * time.Millisecond
	c := &udns.Client{Servers: []string{addr}, Timeout: timeout}
	start := time.Now()
	r, _, err := c.Exchange(testCtx(t), query())
	waited := time.Since(start)
	assert.Nil(t, r)
	var ne *udns.NoAnswerError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, []string{addr}, ne.Servers)
	assert.Greater(t, ne.Tries, 1, "refused tries are tried again after a pause")
	assert.Less(t, ne.Tries, 20, "with a pause between rounds, not spinning")
	require.Error(t, ne.Err)
	assert.Contains(t, err.Error(), addr)
	assert.GreaterOrEqual(t, waited, timeout-100*time.Millisecond, "it keeps trying for the whole timeout")
	assert.Less(t, waited, timeout+2*time.Second)
	assert.LessOrEqual(t, ne.Waited, waited)
}

func TestClientSilentServerIsNoAnswerError(t *testing.T) {
	addr, n := packetServer(t, func(*dns.Msg) []*dns.Msg { return nil })
	c := &udns.Client{Servers: []string{addr}, Timeout: 1500 * time.Millisecond}
	_, _, err := c.Exchange(testCtx(t), query())
	var ne *udns.NoAnswerError
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, 2, ne.Tries, "1 s, then the rest of the timeout")
	assert.Equal(t, int32(2), n.Load())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClientEndsWithTheContext(t *testing.T) {
	addr, _ := packetServer(t, func(*dns.Msg) []*dns.Msg { return nil }) // never answers
	c := &udns.Client{Servers: []string{addr}}
	stop := errors.New("stopped by the test")

	ctx, cancel := context.WithCancelCause(testCtx(t))
	time.AfterFunc(100*time.Millisecond, func() { cancel(stop) })
	start := time.Now()
	_, _, err := c.Exchange(ctx, query())
	assert.ErrorIs(t, err, stop, "ctx's cause")
	var ne *udns.NoAnswerError
	assert.False(t, errors.As(err, &ne), "the caller gave up, not the server")
	assert.Less(t, time.Since(start), udns.DefaultTimeout-time.Second)

	// Already cancelled.
	_, _, err = c.Exchange(ctx, query())
	assert.ErrorIs(t, err, stop)

	// A deadline before the client's timeout.
	dctx, dcancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer dcancel()
	_, _, err = c.Exchange(dctx, query())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, errors.As(err, &ne))
}

// tsigServer answers every query with NOERROR; sign says whether the
// answer is signed when the request's signature verified. verified counts
// requests whose signature the server verified.
func tsigServer(t *testing.T, sign bool, verified *atomic.Int32) *dnsServer {
	return startDNS(t, map[string]string{testKeyName: testSecret}, func(_ string, w dns.ResponseWriter, q *dns.Msg) {
		r := answer(q, 4)
		switch {
		case q.IsTsig() == nil:
			r.Answer = nil
			r.Rcode = dns.RcodeRefused
		case w.TsigStatus() != nil:
			// RFC 8945 section 5.2.2: BADSIG, unsigned (miekg/dns
			// leaves the MAC out for BADSIG).
			r.Answer = nil
			r.Rcode = dns.RcodeNotAuth
			r.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
			r.Extra[len(r.Extra)-1].(*dns.TSIG).Error = dns.RcodeBadSig
		default:
			verified.Add(1)
			if sign {
				r.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
			}
		}
		_ = w.WriteMsg(r)
	})
}

func TestClientTSIGSignsAndVerifies(t *testing.T) {
	var verified atomic.Int32
	s := tsigServer(t, true, &verified)
	key := &udns.Key{Name: testKeyName, Algorithm: dns.HmacSHA256, Secret: testSecret}
	c := &udns.Client{Servers: []string{s.addr}, Key: key}
	m := query()
	r, srv, err := c.Exchange(testCtx(t), m)
	require.NoError(t, err)
	assert.Equal(t, s.addr, srv)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode)
	require.Len(t, r.Answer, 1)
	assert.NotNil(t, r.IsTsig(), "the answer is signed, and verified")
	assert.Equal(t, int32(1), verified.Load(), "the server verified our signature")
	assert.Nil(t, m.IsTsig(), "a signed copy is sent, m keeps no TSIG")
	assert.NotNil(t, m.IsEdns0(), "m gets the EDNS(0) record")

	// Over TCP too (a large update).
	_, _, err = c.Exchange(testCtx(t), bigUpdate(1500))
	require.NoError(t, err)
	assert.Equal(t, int32(2), verified.Load())
	assert.Equal(t, int32(1), s.tcp.Load())

	// Without a key, the server refuses; that is an answer like any.
	r, _, err = (&udns.Client{Servers: []string{s.addr}}).Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, r.Rcode)
}

func TestClientTSIGUnsignedAnswer(t *testing.T) {
	var verified atomic.Int32
	s := tsigServer(t, false, &verified)
	c := &udns.Client{Servers: []string{s.addr}, Key: &udns.Key{Name: testKeyName, Algorithm: dns.HmacSHA256, Secret: testSecret}}
	r, _, err := c.Exchange(testCtx(t), query())
	assert.Nil(t, r)
	var te *udns.TSIGError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Unsigned)
	assert.Equal(t, 0, te.TSIGError)
	assert.Equal(t, s.addr, te.Server)
	assert.Equal(t, dns.RcodeSuccess, te.Rcode)
	assert.Equal(t, int32(1), verified.Load())
	assert.Equal(t, int32(1), s.udp.Load(), "a TSIG error ends the exchange at once")
}

func TestClientTSIGRejectedByTheServer(t *testing.T) {
	var verified atomic.Int32
	s := tsigServer(t, true, &verified)
	c := &udns.Client{Servers: []string{s.addr}, Key: &udns.Key{Name: testKeyName, Algorithm: dns.HmacSHA256, Secret: wrongSecret}}
	_, _, err := c.Exchange(testCtx(t), query())
	var te *udns.TSIGError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, dns.RcodeBadSig, te.TSIGError)
	assert.False(t, te.Unsigned)
	assert.Equal(t, dns.RcodeNotAuth, te.Rcode)
	assert.Equal(t, s.addr, te.Server)
	assert.Contains(t, err.Error(), "BADSIG")
	assert.Equal(t, int32(0), verified.Load())
	assert.Equal(t, int32(1), s.udp.Load(), "a TSIG error ends the exchange at once")
}

func TestClientTSIGAnswerThatDoesNotVerifyIsDiscarded(t *testing.T) {
	// The server signs its answers with another secret than ours: they
	// may be forged, and are discarded like lost datagrams (as the
	// registrar's exchange did), not reported as a *TSIGError.
	addr, n := packetServer(t, func(q *dns.Msg) []*dns.Msg {
		r := answer(q, 5)
		r.SetTsig(testKeyName, dns.HmacSHA256, 300, time.Now().Unix())
		b, _, err := dns.TsigGenerate(r, wrongSecret, q.IsTsig().MAC, false)
		if err != nil {
			return nil
		}
		forged := new(dns.Msg)
		if forged.Unpack(b) != nil {
			return nil
		}
		return []*dns.Msg{forged}
	})
	c := &udns.Client{Servers: []string{addr}, Timeout: 1500 * time.Millisecond, Key: &udns.Key{Name: testKeyName, Algorithm: dns.HmacSHA256, Secret: testSecret}}
	_, _, err := c.Exchange(testCtx(t), query())
	var ne *udns.NoAnswerError
	require.ErrorAs(t, err, &ne)
	assert.ErrorIs(t, err, dns.ErrSig)
	assert.Greater(t, ne.Tries, 1)
	assert.Greater(t, n.Load(), int32(1))
}

func TestClientAnswerToAnotherQuestionIsNoAnswer(t *testing.T) {
	other, nOther := packetServer(t, func(q *dns.Msg) []*dns.Msg {
		r := answer(q, 6)
		r.Question[0].Name = "other.example."
		return []*dns.Msg{r}
	})
	c := &udns.Client{Servers: []string{other}, Timeout: 1500 * time.Millisecond}
	_, _, err := c.Exchange(testCtx(t), query())
	var ne *udns.NoAnswerError
	require.ErrorAs(t, err, &ne)
	assert.Contains(t, ne.Err.Error(), "does not match the question")
	assert.Greater(t, ne.Tries, 1)
	assert.Greater(t, nOther.Load(), int32(1))

	// Another type, or no question at all in a NOERROR answer: the same.
	for name, change := range map[string]func(*dns.Msg){
		"type":        func(r *dns.Msg) { r.Question[0].Qtype = dns.TypeAAAA },
		"class":       func(r *dns.Msg) { r.Question[0].Qclass = dns.ClassCHAOS },
		"no question": func(r *dns.Msg) { r.Question = nil },
	} {
		addr, _ := packetServer(t, func(q *dns.Msg) []*dns.Msg {
			r := answer(q, 6)
			change(r)
			return []*dns.Msg{r}
		})
		c := &udns.Client{Servers: []string{addr}, Timeout: 1100 * time.Millisecond}
		_, _, err := c.Exchange(testCtx(t), query())
		assert.ErrorAs(t, err, &ne, name)
	}

	// A mismatched answer moves on to the next server, as no answer.
	good, _ := rcodeServer(t, dns.RcodeSuccess)
	c = &udns.Client{Servers: []string{other, good}}
	r, srv, err := c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, good, srv)
	assert.Equal(t, dns.RcodeSuccess, r.Rcode)

	// Names compare without regard to ASCII case (RFC 1035 section
	// 2.3.3): a server may echo the question in another case.
	upper, _ := packetServer(t, func(q *dns.Msg) []*dns.Msg {
		r := answer(q, 7)
		r.Question[0].Name = strings.ToUpper(q.Question[0].Name)
		return []*dns.Msg{r}
	})
	c = &udns.Client{Servers: []string{upper}}
	r, _, err = c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	require.Len(t, r.Answer, 1)
}

func TestClientErrorAnswerWithoutQuestionIsAccepted(t *testing.T) {
	addr, n := packetServer(t, func(q *dns.Msg) []*dns.Msg {
		r := new(dns.Msg)
		r.SetRcodeFormatError(q)
		r.Question = nil
		return []*dns.Msg{r}
	})
	c := &udns.Client{Servers: []string{addr}}
	r, srv, err := c.Exchange(testCtx(t), query())
	require.NoError(t, err)
	assert.Equal(t, addr, srv)
	assert.Equal(t, dns.RcodeFormatError, r.Rcode)
	assert.Empty(t, r.Question)
	assert.Equal(t, int32(1), n.Load())
}

func TestClientWithoutServers(t *testing.T) {
	_, _, err := (&udns.Client{}).Exchange(testCtx(t), query())
	require.Error(t, err)
	var ne *udns.NoAnswerError
	assert.False(t, errors.As(err, &ne))
}

// resolvConf writes a resolver configuration file and returns its path.
func resolvConf(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestSystemServersAndSearchDomains(t *testing.T) {
	path := resolvConf(t, `# written by the test
nameserver 127.0.0.53
nameserver ::1
search corp.example lab.example.
options ndots:2
`)
	servers, err := udns.SystemServers(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.53:53", "[::1]:53"}, servers)
	assert.Equal(t, []string{"corp.example", "lab.example."}, udns.SearchDomains(path))

	// "domain" stands for the search list when there is none.
	path = resolvConf(t, "domain home.example\nnameserver 127.0.0.1\n")
	assert.Equal(t, []string{"home.example"}, udns.SearchDomains(path))

	// No name server.
	path = resolvConf(t, "search corp.example\n")
	_, err = udns.SystemServers(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	assert.Equal(t, []string{"corp.example"}, udns.SearchDomains(path))

	// No search domain.
	path = resolvConf(t, "nameserver 127.0.0.1\n")
	assert.Empty(t, udns.SearchDomains(path))

	// No file.
	missing := filepath.Join(t.TempDir(), "missing.conf")
	_, err = udns.SystemServers(missing)
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Nil(t, udns.SearchDomains(missing))
}
