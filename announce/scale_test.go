package announce

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
)

// scaleServices returns n _timezone._tcp services named Clock-i, with one
// duplicate name at the end (Clock-0 again), which the responder must
// rename: it already publishes that name.
func scaleServices(t *testing.T, n int) []Service {
	var out []Service
	for i := range n {
		out = append(out, tzService(t, fmt.Sprintf("Clock-%d", i)))
	}
	return append(out, tzService(t, "Clock-0"))
}

// A responder started with thousands of services claims them all (the
// duplicate renamed, RFC 6762 section 9 applied within the responder),
// and answers one query for their type whole: every PTR in one aggregated
// response (section 6.4), however many packets it takes, not only the
// first 1,024.
func TestThousandsOfServicesAnsweredWhole(t *testing.T) {
	const n = 3000
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r := startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}, Services: scaleServices(t, n)})
		hs := r.Handles()
		require.Len(t, hs, n+1)
		last := hs[n]
		renamed, why := last.Renamed()
		assert.True(t, renamed, "the second Clock-0 is renamed")
		assert.Contains(t, why, "already published by this responder")
		assert.True(t, dnsname.Equal("Clock-0 (2)._timezone._tcp.local.", last.Name()), last.Name())

		time.Sleep(5 * time.Second) // the announcements (section 8.3)
		l.Reset()
		peer := l.NewHost("peer", 2)
		peer.Send(t, mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))
		time.Sleep(time.Second)
		seen := map[string]bool{}
		for _, p := range l.Packets(mdnstest.From("h1"), mdnstest.IsResponse) {
			for _, rr := range p.Msg.Answer {
				if ptr, ok := rr.(*dns.PTR); ok {
					seen[dnsname.MustKey(ptr.Ptr)] = true
				}
			}
		}
		assert.Equal(t, n+1, len(seen), "every instance answered to the one query")
	})
}

// A querier that already has every one of thousands of instances says so
// in a known-answer list spread over many truncated packets (RFC 6762
// section 7.2); the responder suppresses every answer it lists (section
// 7.1), not only the first 2,048 known answers.
func TestThousandsOfKnownAnswersSuppressed(t *testing.T) {
	const n = 3000
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r := startOn(t, h, Options{HostName: "h1", Families: []sd.Family{sd.IPv4}, Services: scaleServices(t, n)})
		var known []dns.RR
		for _, hd := range r.Handles() {
			known = append(known, &dns.PTR{Hdr: dns.RR_Header{Name: "_timezone._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500}, Ptr: hd.Name()})
		}
		time.Sleep(5 * time.Second) // the announcements (section 8.3)
		l.Reset()
		peer := l.NewHost("peer", 2)
		const per = 40 // known answers per packet
		for i := 0; i < len(known); i += per {
			var m *dns.Msg
			if i == 0 {
				m = mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
			} else {
				m = mdnstest.Query()
			}
			m.Answer = known[i:min(i+per, len(known))]
			m.Truncated = i+per < len(known)
			peer.Send(t, m)
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		ptrs := 0
		for _, p := range l.Packets(mdnstest.From("h1"), mdnstest.IsResponse) {
			for _, rr := range p.Msg.Answer {
				if rr.Header().Rrtype == dns.TypePTR {
					ptrs++
				}
			}
		}
		assert.Zero(t, ptrs, "every PTR was a known answer")
	})
}

// ServiceEvents carries the events of every service, in one channel (the
// host name's are not there), and is closed with the responder.
func TestServiceEventsOfEveryService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		r, err := start(context.Background(), Options{HostName: "h1", Families: []sd.Family{sd.IPv4}, Logger: discard(),
			Services: scaleServices(t, 3)}, h, h.Changes())
		require.NoError(t, err)
		time.Sleep(5 * time.Second)
		require.NoError(t, r.Close())
		var announced, renamed []string
		for ev := range r.ServiceEvents() {
			assert.NotNil(t, ev.Handle)
			switch ev.Kind {
			case EventAnnounced:
				announced = append(announced, ev.New)
			case EventRenamed:
				renamed = append(renamed, ev.Old+" -> "+ev.New)
			}
			assert.False(t, dnsname.Equal(ev.New, "h1.local."), "no host name event")
		}
		assert.Len(t, announced, 4, "Clock-0..2 and the renamed duplicate: %q", announced)
		assert.Len(t, renamed, 1, "the duplicate's rename")
	})
}
