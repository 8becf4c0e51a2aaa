package announce

import (
	"sync"
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

// questionLog collects what Options.OnQuestion reports.
type questionLog struct {
	mu sync.Mutex
	qs []ReceivedQuestion
}

func (l *questionLog) add(q ReceivedQuestion) {
	l.mu.Lock()
	l.qs = append(l.qs, q)
	l.mu.Unlock()
}

func (l *questionLog) take() []ReceivedQuestion {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.qs
	l.qs = nil
	return out
}

// Options.OnQuestion sees the questions of other hosts' queries, with the
// interface and source, even those the query fast path would drop (a PTR
// question whose answer was just multicast); never a probe's, nor our own
// queries looped back.
func TestOnQuestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ql := &questionLog{}
		f := newFixture(t, Options{OnQuestion: ql.add})
		ql.take()

		f.peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR), mdnstest.QU("_ipp._tcp.local.", dns.TypePTR)))
		synctest.Wait()
		got := ql.take()
		require.Len(t, got, 2, "%+v", got)
		assert.Equal(t, "_timezone._tcp.local.", got[0].Name)
		assert.Equal(t, dns.TypePTR, got[0].Type)
		assert.False(t, got[0].Unicast)
		assert.True(t, got[1].Unicast)
		assert.Equal(t, "_ipp._tcp.local.", got[1].Name)
		ifc := f.h.Interfaces()[0]
		assert.Equal(t, ifc.Name, got[0].Iface)
		assert.Equal(t, f.peer.Addr4(), got[0].Src.Addr().Unmap())

		// The answer was just multicast: the fast path would drop the same
		// query (RFC 6762 section 6.2), but a PTR question reaches
		// OnQuestion all the same.
		time.Sleep(200 * time.Millisecond)
		ptrQ := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		b, err := ptrQ.Pack()
		require.NoError(t, err)
		assert.False(t, f.r.quick.drop(b, ifc.Index, sd.IPv4, quickPeer, mdns.GroupV4))
		txtQ := mdnstest.Query(mdnstest.QM(tzInst, dns.TypeTXT))
		f.peer.Send(t, txtQ)
		synctest.Wait()
		ql.take()
		time.Sleep(200 * time.Millisecond)
		b, err = txtQ.Pack()
		require.NoError(t, err)
		assert.True(t, f.r.quick.drop(b, ifc.Index, sd.IPv4, quickPeer, mdns.GroupV4), "other types keep the fast path")

		// A probe: not reported.
		probe := mdnstest.Query(mdnstest.QU("Other._timezone._tcp.local.", dns.TypeANY))
		probe.Ns = []dns.RR{mdnstest.SRV("Other._timezone._tcp.local.", "peer.local.", 1, 120)}
		f.peer.Send(t, probe)
		synctest.Wait()
		assert.Empty(t, ql.take(), "a probe's questions are not reported")

		// Our own query, looped back: not reported.
		require.NoError(t, f.h.SendMulticast(t.Context(), mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)), ifc.Index, sd.IPv4))
		synctest.Wait()
		assert.Empty(t, ql.take(), "our own query is not reported")
		time.Sleep(2 * time.Second)
	})
}

// Without OnQuestion, a rate-limited PTR query keeps the fast path.
func TestOnQuestionUnsetKeepsFastPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		ptrQ := mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
		f.peer.Send(t, ptrQ)
		time.Sleep(200 * time.Millisecond)
		b, err := ptrQ.Pack()
		require.NoError(t, err)
		assert.True(t, f.r.quick.drop(b, f.h.Interfaces()[0].Index, sd.IPv4, quickPeer, mdns.GroupV4))
		time.Sleep(2 * time.Second)
	})
}
