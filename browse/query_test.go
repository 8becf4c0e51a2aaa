package browse

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
)

func manyPTRs(n int) []dns.RR {
	out := make([]dns.RR, n)
	for i := range out {
		out[i] = mdnstest.PTR("_timezone._tcp.local.", fmt.Sprintf("Instance %03d._timezone._tcp.local.", i), 4500)
		out[i].Header().Class = dns.ClassINET
	}
	return out
}

func TestBuildQueriesSplitsKnownAnswersWithTC(t *testing.T) {
	// A repeated question (known answers come only with repeats): QM.
	q := &question{name: "_timezone._tcp.local.", qtype: dns.TypePTR, lastSent: time.Unix(1, 0)}
	ka := manyPTRs(200)
	limit := mdns.PacketLimit(1500, mdns.IPv4)
	msgs := buildQueries([]*question{q}, func([]*question) []dns.RR { return ka }, limit)
	require.Greater(t, len(msgs), 1)
	var got []dns.RR
	for i, m := range msgs {
		b, err := m.Pack()
		require.NoError(t, err)
		assert.LessOrEqual(t, len(b), limit, "packet %d", i)
		assert.Equal(t, uint16(0), m.Id, "RFC 6762 section 18.1")
		assert.False(t, m.Response)
		last := i == len(msgs)-1
		assert.Equal(t, !last, m.Truncated, "TC on every packet but the last (RFC 6762 section 7.2), packet %d", i)
		if i == 0 {
			require.Len(t, m.Question, 1)
			assert.Equal(t, uint16(dns.ClassINET), m.Question[0].Qclass, "QM question")
		} else {
			assert.Empty(t, m.Question, "continuation packets hold known answers only")
		}
		if !last {
			// Packets are filled: the next record would not have fitted.
			mm := m.Copy()
			mm.Answer = append(mm.Answer, msgs[i+1].Answer[0])
			mm.Compress = true
			assert.Greater(t, mm.Len(), limit, "packet %d could hold more", i)
		}
		got = append(got, m.Answer...)
	}
	assert.Equal(t, ka, got, "every known answer once, in order")
}

func TestBuildQueriesFitsInOne(t *testing.T) {
	q := &question{name: "_timezone._tcp.local.", qtype: dns.TypePTR}
	msgs := buildQueries([]*question{q}, func([]*question) []dns.RR { return manyPTRs(3) }, 1472)
	require.Len(t, msgs, 1)
	assert.False(t, msgs[0].Truncated)
	assert.Len(t, msgs[0].Answer, 3)
}

func TestBuildQueriesManyQuestions(t *testing.T) {
	var qs []*question
	for i := range 300 {
		qs = append(qs, &question{name: fmt.Sprintf("Instance %03d._timezone._tcp.local.", i), qtype: dns.TypeSRV})
	}
	msgs := buildQueries(qs, func([]*question) []dns.RR { return nil }, 1472)
	require.Greater(t, len(msgs), 1)
	n := 0
	for _, m := range msgs {
		assert.False(t, m.Truncated, "separate queries, not a truncated one")
		assert.NotEmpty(t, m.Question)
		assert.LessOrEqual(t, m.Len(), 1472)
		n += len(m.Question)
	}
	assert.Equal(t, 300, n)
}

func TestFirstDelayRange(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	lo, hi := time.Hour, time.Duration(0)
	for range 10000 {
		d := firstDelay(rnd)
		lo, hi = min(lo, d), max(hi, d)
	}
	assert.GreaterOrEqual(t, lo, 20*time.Millisecond)
	assert.LessOrEqual(t, hi, 120*time.Millisecond)
	assert.Less(t, lo, 25*time.Millisecond, "the whole range is used")
	assert.Greater(t, hi, 115*time.Millisecond)
}

// ptrQueryTimes returns the times (relative to start) of IPv4 queries asking
// name PTR.
func ptrQueryTimes(tr *fake, name string, start time.Time) []time.Duration {
	var out []time.Duration
	for _, s := range tr.queries(name, dns.TypePTR) {
		if s.Family == mdns.IPv4 {
			out = append(out, s.At.Sub(start))
		}
	}
	return out
}

func TestContinuousQuerySchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		start := time.Now()
		b := startFake(t, []string{"_timezone._tcp"}, Options{}, tr)
		defer b.Close()
		consume(b)
		time.Sleep(5 * time.Hour)
		synctest.Wait()
		times := ptrQueryTimes(tr, "_timezone._tcp.local.", start)
		require.GreaterOrEqual(t, len(times), 14)
		// The application's call asks at once (see querier.begin); then
		// RFC 6762 section 5.2: 1 s, doubling, capped at 60 minutes.
		assert.Zero(t, times[0], "first query at once")
		want := time.Second
		for i := 1; i < len(times); i++ {
			assert.Equal(t, want, times[i]-times[i-1], "interval %d", i)
			want = min(2*want, time.Hour)
		}
		for i, s := range tr.queries("_timezone._tcp.local.", dns.TypePTR) {
			assert.False(t, s.Msg.Response)
			assert.Equal(t, uint16(0), s.Msg.Id)
			if s.At.Sub(start) < time.Second {
				// RFC 6762 section 5.4: the first query asks for unicast responses.
				assert.Equal(t, uint16(dns.ClassINET|dnsname.QU), s.Msg.Question[0].Qclass, "QU first query (%d)", i)
			} else {
				assert.Equal(t, uint16(dns.ClassINET), s.Msg.Question[0].Qclass, "QM: no unicast-response bit after the first (%d)", i)
			}
		}
		// Both families are asked.
		v6 := 0
		for _, s := range tr.sent() {
			if s.Family == mdns.IPv6 {
				v6++
			}
		}
		assert.Equal(t, len(times), v6)
	})
}

// An interface coming up is a trigger other hosts see too: the continuous
// questions start again after a random 20-120 ms (RFC 6762 section 5.2),
// then at 1 s, 2 s, ...
func TestInterfaceUpRestartsAfterRandomDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		chg := tr.h.Changes()
		q, err := newQuerier(Options{}, nil)
		require.NoError(t, err)
		bt, err := engine.ParseType("_timezone._tcp", q.reg)
		require.NoError(t, err)
		q.wantTypes = append(q.wantTypes, bt)
		b := start(q, tr.h, chg)
		defer b.Close()
		consume(b)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		up := time.Now()
		tr.h.Attach(tr.l, fakeEth1)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		var after []time.Duration
		for _, d := range ptrQueryTimes(tr, "_timezone._tcp.local.", up) {
			if d >= 0 {
				after = append(after, d)
			}
		}
		require.Len(t, after, 3, "asked again at ~0.1 s, ~1.1 s and ~3.1 s")
		assert.GreaterOrEqual(t, after[0], 20*time.Millisecond)
		assert.LessOrEqual(t, after[0], 120*time.Millisecond)
		assert.Equal(t, time.Second, after[1]-after[0])
		assert.Equal(t, 2*time.Second, after[2]-after[1])
	})
}

func TestKnownAnswersListedWithRemainingTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		start := time.Now()
		b := startFake(t, []string{"_timezone._tcp"}, Options{}, tr)
		defer b.Close()
		consume(b)
		time.Sleep(500 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(10))
		// Queries at ~0.1 s, ~1.1 s (TTL 10: 9.4 s left, listed), ~3.1 s
		// (7.4 s left, listed), ~7.1 s (3.4 s left: under half, not listed).
		time.Sleep(10 * time.Second)
		synctest.Wait()
		qs := tr.queries("_timezone._tcp.local.", dns.TypePTR)
		var v4 []mdnstest.Packet
		for _, s := range qs {
			if s.Family == mdns.IPv4 && s.At.Sub(start) < 8*time.Second {
				v4 = append(v4, s)
			}
		}
		require.Len(t, v4, 4)
		assert.Empty(t, v4[0].Msg.Answer)
		for i, wantTTL := range map[int]uint32{1: 9, 2: 7} {
			require.Len(t, v4[i].Msg.Answer, 1, "query %d", i)
			ka := v4[i].Msg.Answer[0]
			assert.Equal(t, wantTTL, ka.Header().Ttl, "remaining TTL in whole seconds, query %d", i)
			assert.Equal(t, uint16(dns.ClassINET), ka.Header().Class, "no cache-flush bit in a query")
		}
		assert.Empty(t, v4[3].Msg.Answer, "RFC 6762 section 7.1: under half its TTL, not a known answer")
	})
}

func TestDuplicateQuestionSuppression(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		start := time.Now()
		b := startFake(t, []string{"_timezone._tcp"}, Options{}, tr)
		defer b.Close()
		consume(b)
		time.Sleep(130 * time.Millisecond)
		synctest.Wait()
		first := ptrQueryTimes(tr, "_timezone._tcp.local.", start)
		require.Len(t, first, 1)

		other := func(ka ...dns.RR) *dns.Msg {
			m := new(dns.Msg)
			m.Question = []dns.Question{{Name: "_timezone._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
			m.Answer = ka
			return m
		}
		src := netip4("198.51.100.13:5353")

		// Our own query looped back right after sending: no suppression.
		tr.injectFrom(fakeEth0, mdns.IPv4, netip4("198.51.100.11:5353"), mdns.GroupV4, other())
		time.Sleep(first[0] + time.Second + 10*time.Millisecond - time.Since(start))
		synctest.Wait()
		require.Len(t, ptrQueryTimes(tr, "_timezone._tcp.local.", start), 2, "second query sent")

		// Another host asks the same question 1.5 s into our 2 s wait with
		// no known answer we lack: our third query is not sent on eth0.
		time.Sleep(1500 * time.Millisecond)
		tr.injectFrom(fakeEth0, mdns.IPv4, src, mdns.GroupV4, other())
		time.Sleep(600 * time.Millisecond)
		synctest.Wait()
		assert.Len(t, ptrQueryTimes(tr, "_timezone._tcp.local.", start), 2, "RFC 6762 section 7.3: treated as sent")
		assert.Equal(t, uint64(1), b.Stats().Suppressed)

		// The schedule went on as if it had been sent: the next is 4 s later.
		// Before it, another host asks listing a known answer we do not
		// have: that query does not stand for ours.
		time.Sleep(3 * time.Second)
		tr.injectFrom(fakeEth0, mdns.IPv4, src, mdns.GroupV4,
			other(&dns.PTR{Hdr: dns.RR_Header{Name: "_timezone._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500}, Ptr: "Unknown._timezone._tcp.local."}))
		time.Sleep(time.Second)
		synctest.Wait()
		times := ptrQueryTimes(tr, "_timezone._tcp.local.", start)
		require.Len(t, times, 3)
		assert.Equal(t, 6*time.Second, times[2]-times[1], "1 s + 2 s (suppressed) + 4 s... the third sent 6 s after the second")
	})
}

func TestRefreshQueriesAtEightyPercent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b := startFake(t, []string{"_timezone._tcp"}, Options{}, tr)
		defer b.Close()
		log := consume(b)
		time.Sleep(200 * time.Millisecond)
		at := time.Now()
		// TTL 20 s for the instance; an unrelated record with TTL 20 s too.
		m := tzInstance(20)
		m.Extra = append(m.Extra, mdnstest.A("unrelated.local.", "198.51.100.99", 20))
		tr.inject(fakeEth0, mdns.IPv4, m)
		time.Sleep(25 * time.Second)
		synctest.Wait()

		var srvAt []time.Duration
		for _, s := range tr.queries(`Office\ TZ._timezone._tcp.local.`, dns.TypeSRV) {
			if s.Family == mdns.IPv4 {
				srvAt = append(srvAt, s.At.Sub(at))
			}
		}
		require.Len(t, srvAt, 4, "RFC 6762 section 5.2: four refresh queries")
		for i, p := range []float64{0.80, 0.85, 0.90, 0.95} {
			lo := time.Duration(p * float64(20*time.Second))
			hi := time.Duration((p+0.02)*float64(20*time.Second)) + aggregateWindow
			assert.True(t, srvAt[i] >= lo-aggregateWindow && srvAt[i] <= hi, "refresh %d at %v", i, srvAt[i])
		}
		assert.Len(t, tr.queries("h2.local.", dns.TypeA, mdnstest.Family(mdns.IPv4)), 4, "the host's address is refreshed too")
		assert.Empty(t, tr.queries("unrelated.local.", dns.TypeA), "no maintenance without interest")
		assert.Equal(t, []EventKind{Add, Remove}, log.kinds(), "no answer: removed at expiry")
		evs := log.all()
		assert.Equal(t, 20*time.Second, evs[1].Time.Sub(evs[0].Time))
	})
}

func TestRefreshAnswerKeepsInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		// A responder: every query asking about the instance gets the whole
		// announcement again.
		tr.l.OnTransmit(func(s mdnstest.Packet) {
			if len(s.Msg.Question) == 0 || s.Msg.Question[0].Qtype == dns.TypePTR || s.Family != mdns.IPv4 {
				return
			}
			go func() {
				time.Sleep(50 * time.Millisecond)
				tr.inject(fakeEth0, mdns.IPv4, tzInstance(10))
			}()
		})
		b := startFake(t, []string{"_timezone._tcp"}, Options{}, tr)
		defer b.Close()
		log := consume(b)
		time.Sleep(200 * time.Millisecond)
		tr.inject(fakeEth0, mdns.IPv4, tzInstance(10))
		time.Sleep(60 * time.Second)
		synctest.Wait()
		assert.Equal(t, []EventKind{Add}, log.kinds(), "refreshed in time: never removed")
		assert.Equal(t, 1, b.Stats().Instances)
	})
}

func TestResolutionQuestionsAreRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		_, _ = browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		// 1000 PTR records naming instances nobody answers for.
		for i := range 10 {
			var rrs []dns.RR
			for j := range 100 {
				rrs = append(rrs, mdnstest.PTR("_timezone._tcp.local.", fmt.Sprintf("Ghost %d-%d._timezone._tcp.local.", i, j), 4500))
			}
			tr.inject(fakeEth0, mdns.IPv4, mdnstest.Response(rrs...))
		}
		start := time.Now()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		// Per interface and family, questions asked in the first 1.5 s: the
		// first round (<= 256) and one postponed round (<= 256), plus the
		// continuous PTR question.
		n := 0
		for _, s := range tr.sent(mdnstest.Family(mdns.IPv4)) {
			if s.At.After(start) {
				n += len(s.Msg.Question)
			}
		}
		assert.LessOrEqual(t, n, 2*maxPerRound+2)
		assert.GreaterOrEqual(t, n, maxPerRound)
	})
}

func TestFirstTransmissionIsQU(t *testing.T) {
	fresh := &question{name: "_timezone._tcp.local.", qtype: dns.TypePTR}
	again := &question{name: "_jnx-kcsync._tcp.local.", qtype: dns.TypePTR, lastSent: time.Unix(1, 0)}
	msgs := buildQueries([]*question{fresh, again}, func([]*question) []dns.RR { return nil }, 1472)
	require.Len(t, msgs, 1)
	require.Len(t, msgs[0].Question, 2)
	assert.Equal(t, uint16(dns.ClassINET|dnsname.QU), msgs[0].Question[0].Qclass, "first transmission: QU (RFC 6762 section 5.4)")
	assert.Equal(t, uint16(dns.ClassINET), msgs[0].Question[1].Qclass, "repeat: QM")
}

// QueryNow asks a browsed type at once, between the continuous queries,
// at most once per MinQueryInterval (RFC 6762 section 5.2), and only a
// question of the browser.
func TestQueryNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, _ := browseFake(t, []string{"timezone"}, Options{}, tr)
		// The continuous question has been asked at about 0.1, 1, 3, 7 and
		// 15 s; the next one is due at about 31 s.
		time.Sleep(20 * time.Second)
		synctest.Wait()
		before := len(tr.queries("_timezone._tcp.local.", dns.TypePTR, mdnstest.Family(mdns.IPv4)))
		require.Equal(t, 5, before)

		at := time.Now()
		require.True(t, b.QueryNow("_timezone._tcp.local."))
		synctest.Wait()
		qs := tr.queries("_timezone._tcp.local.", dns.TypePTR, mdnstest.Family(mdns.IPv4))
		require.Len(t, qs, before+1, "asked at once")
		assert.Equal(t, at, qs[len(qs)-1].At)

		assert.False(t, b.QueryNow("timezone"), "within the second")
		time.Sleep(999 * time.Millisecond)
		assert.False(t, b.QueryNow("timezone"), "within the second")
		time.Sleep(time.Millisecond)
		assert.True(t, b.QueryNow("timezone"), "a second later")
		synctest.Wait()
		assert.Len(t, tr.queries("_timezone._tcp.local.", dns.TypePTR, mdnstest.Family(mdns.IPv4)), before+2)

		assert.False(t, b.QueryNow("_ipp._tcp"), "not a question of this browser")
		assert.False(t, b.QueryNow("not a type"))
		// The continuous schedule is unchanged: the next one at about 31 s.
		time.Sleep(12 * time.Second)
		synctest.Wait()
		assert.Len(t, tr.queries("_timezone._tcp.local.", dns.TypePTR, mdnstest.Family(mdns.IPv4)), before+3)
	})
}
