package e2e

// End-to-end test of the goodbye rescue of lansd announce (issue 12, RFC
// 6762 section 10.1): another host on the link says goodbye for a record
// of the announcer's; the announcer multicasts it again within the second
// a browser keeps a goodbye'd record, and the browser never reports the
// service removed.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
)

// annAnswersPTR reports whether c holds, as an answer, the PTR record
// owner -> target with a TTL of zero (goodbye) or not, as asked.
func annAnswersPTR(c lantest.Captured, owner, target string, goodbye bool) bool {
	if c.Msg == nil || !c.Msg.Response {
		return false
	}
	for _, rr := range c.Msg.Answer {
		if p, ok := rr.(*dns.PTR); ok && dnsname.Equal(p.Hdr.Name, owner) && dnsname.Equal(p.Ptr, target) && (p.Hdr.Ttl == 0) == goodbye {
			return true
		}
	}
	return false
}

// TestAnnounceGoodbyeRescue: lansd announce on h1, lansd browse --json on
// h2; a spoofer on h3 multicasts a goodbye for h1's PTR record. h1
// multicasts the PTR again within a second, and the browser prints no
// remove event.
func TestAnnounceGoodbyeRescue(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(3))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2, h3 := lan.Host(1), lan.Host(2), lan.Host(3)
	raw := h3.Helper(t, "browse-raw")
	brReady(t, ctx, raw)
	ann, _ := annStart(t, ctx, h1, annArgs("-v")...)
	br := clitest.Start(t, h2, "browse", "timezone", "--json")
	_, err := clitest.WaitEvent(ctx, br, "add", annName, nil)
	require.NoError(t, err, "%q", br.Lines())
	annSettle(t, ctx, obs, h1, annInstance)
	// Past the rate limit of the last multicast of the PTR (the rescue
	// that has to wait for it is unit-tested).
	time.Sleep(1500 * time.Millisecond)

	brSend(t, ctx, raw, 1, brResponse(brRR(t, `_timezone._tcp.local. 0 IN PTR Office\ TZ._timezone._tcp.local.`)))
	time.Sleep(5 * time.Second)

	evs := clitest.Events(t, br.Lines())
	assert.Empty(t, clitest.Select(evs, "remove", annName), "the browser never reports the service removed:\n%q", br.Lines())

	pkts := obs.Packets()
	gb := annFilter(pkts, func(c lantest.Captured) bool {
		return annFromHost(c, h3) && annAnswersPTR(c, annType, annInstance, true)
	})
	require.Len(t, gb, 1, "the spoofed goodbye on the wire")
	at := gb[0].Time
	rescue := annFilter(pkts, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annIsV4(c) && annAnswersPTR(c, annType, annInstance, false) && c.Time.After(at)
	})
	require.NotEmpty(t, rescue, "h1 multicast its PTR again (RFC 6762 section 10.1):\n%q", ann.Lines())
	took := rescue[0].Time.Sub(at)
	t.Logf("rescue %v after the goodbye", took)
	assert.Less(t, took, time.Second, "within the second a browser keeps a goodbye'd record")
	assert.True(t, slices.ContainsFunc(ann.Lines(), func(l string) bool {
		return strings.Contains(l, "goodbye or cache flush from another host")
	}), "the decision logged at debug level (-v)")
	annNoRename(t, ann)
}
