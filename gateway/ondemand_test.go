package gateway

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
)

// newOnDemand returns the planner of a configuration with links a, b, c:
// a -> b for timezone and _printer._sub._http._tcp, c -> b for every type,
// b -> a for _ipp._tcp.
func newOnDemand(t *testing.T) *onDemand {
	t.Helper()
	cfg, err := Parse([]byte(`{
  "links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["gwb", "gwb2"]}, "c": {"interfaces": ["gwc"]}},
  "rules": [
    {"from": ["a"], "to": ["b"], "types": ["timezone", "_printer._sub._http._tcp"]},
    {"from": ["c"], "to": ["b"], "types": ["*"]},
    {"from": ["b"], "to": ["a"], "types": ["_ipp._tcp"]}
  ]
}`))
	require.NoError(t, err)
	pol, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	return &onDemand{cfg: cfg, pol: pol, last: map[onDemandKey]time.Time{}}
}

func heardOn(iface, name string, qtype uint16) announce.ReceivedQuestion {
	return announce.ReceivedQuestion{Name: name, Type: qtype, Iface: iface, Src: netip.MustParseAddrPort("198.18.2.11:5353")}
}

// A question for a type a rule proxies to the link it arrived on asks
// the rule's source links, at most once a second per question and link.
func TestOnDemandPlan(t *testing.T) {
	o := newOnDemand(t)
	t0 := time.Now()
	tz := heardOn("gwb", "_timezone._tcp.local.", dns.TypePTR)
	assert.Equal(t, []ask{{"a", "_timezone._tcp.local."}, {"c", "_timezone._tcp.local."}}, o.plan(tz, t0))
	assert.Empty(t, o.plan(tz, t0.Add(999*time.Millisecond)), "within the second")
	assert.Empty(t, o.plan(heardOn("gwb2", "_TimeZone._tcp.local.", dns.TypeANY), t0.Add(500*time.Millisecond)),
		"another interface of the link, names compared without case: within the second too")
	assert.Len(t, o.plan(tz, t0.Add(time.Second)), 2, "a second later")

	// A type with no rule to b: from c (every type) only; _ipp._tcp is
	// proxied b -> a, not to b.
	assert.Equal(t, []ask{{"c", "_ipp._tcp.local."}}, o.plan(heardOn("gwb", "_ipp._tcp.local.", dns.TypePTR), t0))
	// On a: _ipp._tcp from b; timezone has no rule to a.
	assert.Equal(t, []ask{{"b", "_ipp._tcp.local."}}, o.plan(heardOn("lan0", "_ipp._tcp.local.", dns.TypePTR), t0))
	assert.Empty(t, o.plan(heardOn("lan0", "_timezone._tcp.local.", dns.TypePTR), t0))
	// A subtype: the subtype's question and its base type's.
	assert.Equal(t, []ask{
		{"a", "_printer._sub._http._tcp.local."}, {"a", "_http._tcp.local."},
		{"c", "_printer._sub._http._tcp.local."}, {"c", "_http._tcp.local."}},
		o.plan(heardOn("gwb", "_printer._sub._http._tcp.local.", dns.TypePTR), t0))
	// The enumeration: every source link of a rule to b (browsers that do
	// not enumerate ignore it).
	assert.Equal(t, []ask{{"a", "_services._dns-sd._udp.local."}, {"c", "_services._dns-sd._udp.local."}},
		o.plan(heardOn("gwb", "_services._dns-sd._udp.local.", dns.TypePTR), t0))

	// Not a type question, not a PTR, not local., not a destination link,
	// an interface of no link: nothing.
	for _, q := range []announce.ReceivedQuestion{
		heardOn("gwb", "Office TZ._timezone._tcp.local.", dns.TypePTR),
		heardOn("gwb", "_timezone._tcp.local.", dns.TypeSRV),
		heardOn("gwb", "h1.local.", dns.TypeA),
		heardOn("gwb", "_timezone._tcp.example.com.", dns.TypePTR),
		heardOn("gwc", "_timezone._tcp.local.", dns.TypePTR),
		heardOn("eth9", "_timezone._tcp.local.", dns.TypePTR),
		heardOn("gwb", "11.2.18.198.in-addr.arpa.", dns.TypePTR),
	} {
		assert.Empty(t, o.plan(q, t0.Add(time.Hour)), "%+v", q)
	}
}

// The rate limiter's table is bounded: past maxOnDemandMemory, entries
// older than the interval are forgotten.
func TestOnDemandMemoryBounded(t *testing.T) {
	o := newOnDemand(t)
	t0 := time.Now()
	for i := range maxOnDemandMemory + 10 {
		o.plan(heardOn("gwb", "_t"+itoa(i)+"._tcp.local.", dns.TypePTR), t0.Add(time.Duration(i)*time.Second))
	}
	assert.LessOrEqual(t, len(o.last), maxOnDemandMemory)
}

func itoa(i int) string {
	const digits = "abcdefghij"
	s := ""
	for {
		s = string(digits[i%10]) + s
		i /= 10
		if i == 0 {
			return s
		}
	}
}
