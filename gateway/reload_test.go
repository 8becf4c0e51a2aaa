package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
)

// reloadRig is an owner driven by hand, with the responder replaced
// (addProxy records its calls): no network.
type reloadRig struct {
	t     *testing.T
	g     *Gateway
	st    map[instKey]*entry
	mu    sync.Mutex
	calls []string
}

func newReloadRig(t *testing.T, conf string) *reloadRig {
	t.Helper()
	cfg, err := Parse([]byte(conf))
	require.NoError(t, err)
	pol, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	r := &reloadRig{t: t, st: map[instKey]*entry{}}
	r.g = &Gateway{cfg: cfg, pol: pol, log: slog.New(slog.DiscardHandler), events: make(chan Event, EventBuffer),
		in: make(chan any, 64), live: map[int]*source{}, mirrors: map[string]*ZoneMirror{}}
	r.g.ctx, r.g.cancel = context.WithCancel(context.Background())
	t.Cleanup(r.g.cancel)
	r.g.addProxy = func(_ context.Context, s announce.Service, o announce.ProxyOptions) (*announce.Handle, error) {
		r.mu.Lock()
		r.calls = append(r.calls, s.Instance+" on "+strings.Join(o.Interfaces, ","))
		r.mu.Unlock()
		return nil, nil
	}
	return r
}

// browse hands the owner an event of browser src on link a, and the
// outcome of the AddProxy calls it made.
func (r *reloadRig) browse(src int, kind sd.EventKind, in sd.Instance) {
	r.g.browsed(r.st, browsed{src: src, link: "a", ev: sd.Event{Kind: kind, Instance: in, Time: time.Now()}}, officePrefixes)
	r.settle()
}

// settle applies the outcomes of the calls in flight.
func (r *reloadRig) settle() {
	r.g.ops.Wait()
	for {
		select {
		case m := <-r.g.in:
			r.g.added(r.st, m.(opResult))
		default:
			return
		}
	}
}

// events returns the events reported so far.
func (r *reloadRig) events() []string {
	var out []string
	for {
		select {
		case e := <-r.g.events:
			out = append(out, e.Kind+" "+strings.SplitN(e.Instance, ".", 2)[0]+" -> "+e.To+" "+e.Reason)
		default:
			return out
		}
	}
}

// reload applies conf as Reload does, with the browsers add.
func (r *reloadRig) reload(conf string, add ...*source) {
	r.t.Helper()
	cfg, err := Parse([]byte(conf))
	require.NoError(r.t, err)
	pol, err := NewPolicy(cfg, nil)
	require.NoError(r.t, err)
	r.g.applyReload(r.st, reloadMsg{cfg: cfg, pol: pol, add: add}, func(string) []netip.Prefix { return officePrefixes })
	r.settle()
}

func linkInstance(t *testing.T, name, typ string) sd.Instance {
	in := instance(t, name, typ, []string{"198.51.100.7"}, "path=/tz")
	in.Name = name + "." + typ + ".local."
	in.Host, in.Port, in.Ifaces, in.TTL = "h1.local.", 8080, []string{"lan0"}, 2*time.Minute
	return in
}

const reloadLinks = `"links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["gwb"]}}`

// A reload decides every instance again: the proxy of a type whose rule
// is gone is removed (reported), the one whose rule stays is left alone
// (no AddProxy, no event), and a new type's instance, reported by the new
// browser, is proxied. The browser replaced hands over what the new one
// holds without a change, and its last events no longer count.
func TestReloadRedecides(t *testing.T) {
	r := newReloadRig(t, `{`+reloadLinks+`, "rules": [
	  {"from": ["a"], "to": ["b"], "types": ["timezone"]},
	  {"from": ["a"], "to": ["b"], "types": ["_ipp._tcp"]}]}`)
	tz, ipp, web := linkInstance(t, "Office TZ", "_timezone._tcp"), linkInstance(t, "Printer", "_ipp._tcp"), linkInstance(t, "Web", "_http._tcp")
	clock := linkInstance(t, "Clock", "_timezone._tcp")
	r.g.live[1] = &source{id: 1, sourceSpec: sourceSpec{link: "a", types: []string{"_ipp._tcp", "_timezone._tcp"}}}
	r.browse(1, sd.Add, tz)
	r.browse(1, sd.Add, ipp)
	r.browse(1, sd.Add, clock)
	assert.Equal(t, []string{"proxied Office TZ -> b addresses 198.51.100.7", "proxied Printer -> b addresses 198.51.100.7",
		"proxied Clock -> b addresses 198.51.100.7"}, r.events())

	conf := `{` + reloadLinks + `, "rules": [
	  {"from": ["a"], "to": ["b"], "types": ["timezone"]},
	  {"from": ["a"], "to": ["b"], "types": ["_http._tcp"]}]}`
	cfg, err := Parse([]byte(conf))
	require.NoError(t, err)
	pol, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	keep, start, retire := planSources(r.g.live, wantedSources(pol, cfg))
	assert.Empty(t, keep)
	assert.Equal(t, []sourceSpec{{link: "a", types: []string{"_http._tcp", "_timezone._tcp"}}}, start)
	assert.Equal(t, []int{1}, retire)

	src2 := &source{id: 2, sourceSpec: start[0]}
	r.reload(conf, src2)
	assert.Equal(t, []string{"removed Printer -> b refused: type _ipp._tcp not in rules[0].types",
		"refused Printer -> b type _ipp._tcp not in rules[0].types"}, r.events(), "only the proxy whose rule is gone")

	r.browse(2, sd.Add, tz)
	r.browse(2, sd.Add, web)
	assert.Equal(t, []string{"proxied Web -> b addresses 198.51.100.7"}, r.events())

	// Clock: held by the new browser (its Instances) but not reported by
	// it yet through its events: handed over all the same.
	r.g.applyRetire(r.st, retireMsg{old: []*source{r.g.live[1]}, into: map[int][]sd.Instance{2: {clock, tz, web}}}, func(string) []netip.Prefix { return officePrefixes })
	r.settle()
	assert.Empty(t, r.events(), "handed over: nothing changes")
	r.browse(2, sd.Add, clock)
	assert.Empty(t, r.events(), "its add, late: nothing changes")
	r.browse(1, sd.Remove, tz)
	assert.Empty(t, r.events(), "a retired browser's last events do not count")
	assert.Len(t, r.st, 3, "Printer forgotten with its browser")

	r.browse(2, sd.Remove, tz)
	assert.Equal(t, []string{"removed Office TZ -> b instance left link a"}, r.events())
	assert.Equal(t, []string{"Office TZ on gwb", "Printer on gwb", "Clock on gwb", "Web on gwb"}, r.calls, "one AddProxy per instance: none again at the reload")
}

// A browser retired without a successor (its link or type no longer
// browsed) takes its instances with it; a reload that leaves the rules
// as they are changes nothing at all.
func TestReloadRetireWithoutSuccessor(t *testing.T) {
	conf := `{` + reloadLinks + `, "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]}`
	r := newReloadRig(t, conf)
	tz := linkInstance(t, "Office TZ", "_timezone._tcp")
	r.g.live[1] = &source{id: 1, sourceSpec: sourceSpec{link: "a", types: []string{"_timezone._tcp"}}}
	r.browse(1, sd.Add, tz)
	require.Len(t, r.events(), 1)

	r.reload(conf)
	assert.Empty(t, r.events(), "the same rules: nothing")
	cfg, err := Parse([]byte(conf))
	require.NoError(t, err)
	pol, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	keep, start, retire := planSources(r.g.live, wantedSources(pol, cfg))
	assert.Equal(t, []int{1}, keep)
	assert.Empty(t, start)
	assert.Empty(t, retire)

	// The rule goes, then its browser.
	r.reload(`{` + reloadLinks + `}`)
	assert.Equal(t, []string{"removed Office TZ -> b " + ReasonReloaded}, r.events())
	r.g.applyRetire(r.st, retireMsg{old: []*source{r.g.live[1]}}, func(string) []netip.Prefix { return officePrefixes })
	assert.Empty(t, r.events(), "reported once")
	assert.Empty(t, r.st)
	assert.Equal(t, []string{"Office TZ on gwb"}, r.calls)
}

// planSources keeps a browser whose types are all still wanted and
// browses the new ones with one more; subtype browsers are kept or
// retired one by one.
func TestPlanSources(t *testing.T) {
	running := map[int]*source{
		1: {id: 1, sourceSpec: sourceSpec{link: "a", types: []string{"_timezone._tcp"}}},
		2: {id: 2, sourceSpec: sourceSpec{link: "a", types: []string{"_printer._sub._http._tcp"}, subtype: "_printer"}},
		3: {id: 3, sourceSpec: sourceSpec{link: "c", types: []string{"_ipp._tcp"}}},
	}
	keep, start, retire := planSources(running, []sourceSpec{
		{link: "a", types: []string{"_ipp._tcp", "_timezone._tcp"}},
		{link: "a", types: []string{"_scanner._sub._http._tcp"}, subtype: "_scanner"},
	})
	assert.Equal(t, []int{1}, keep)
	assert.Equal(t, []sourceSpec{{link: "a", types: []string{"_ipp._tcp"}},
		{link: "a", types: []string{"_scanner._sub._http._tcp"}, subtype: "_scanner"}}, start)
	assert.Equal(t, []int{2, 3}, retire)
}

// What cannot change in place: the responder's interfaces, a link's
// interfaces, a zone's definition.
func TestInPlace(t *testing.T) {
	parse := func(s string) *Config {
		cfg, err := Parse([]byte(s))
		require.NoError(t, err)
		return cfg
	}
	base := parse(`{` + reloadLinks + `, "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]}`)
	assert.Empty(t, inPlace(base, parse(`{`+reloadLinks+`, "rules": [{"from": ["a"], "to": ["b"], "types": ["_ipp._tcp"]}]}`)))
	assert.Empty(t, inPlace(base, parse(`{"links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["gwb"]}, "c": {"interfaces": ["lan2"]}},
	  "rules": [{"from": ["a", "c"], "to": ["b"], "types": ["timezone"]}]}`)), "a new source link")
	assert.Equal(t, "the destination interfaces change from [gwb] to [gwb lan0]",
		inPlace(base, parse(`{`+reloadLinks+`, "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}, {"from": ["b"], "to": ["a"], "types": ["timezone"]}]}`)))
	assert.Equal(t, "link a changes its interfaces from [lan0] to [lan0 lan3]",
		inPlace(base, parse(`{"links": {"a": {"interfaces": ["lan0", "lan3"]}, "b": {"interfaces": ["gwb"]}}, "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]}`)))
	zoned := func(ttl string) *Config {
		return parse(`{` + reloadLinks + `, "zones": {"corp": {"domain": "dnssd.example.net.", "server": "198.51.100.53", "ttl": ` + ttl + `}},
		  "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}, {"from": ["a"], "to_zones": ["corp"], "types": ["timezone"]}]}`)
	}
	assert.Empty(t, inPlace(base, zoned("60")), "a new zone")
	assert.Empty(t, inPlace(zoned("60"), zoned("60")))
	assert.Equal(t, "zone corp changes", inPlace(zoned("60"), zoned("120")))

	err := error(&RestartError{Reason: "zone corp changes"})
	assert.True(t, errors.Is(err, ErrRestart))
	assert.Equal(t, "gateway: cannot reload in place: zone corp changes", err.Error())
}

// Reload without the network: an invalid configuration is ConfigErrors,
// one that needs a restart is a RestartError; either way the gateway
// runs on as it was.
func TestReloadRefusals(t *testing.T) {
	cfg, err := Parse([]byte(`{` + reloadLinks + `}`)) // no rules: nothing opened
	require.NoError(t, err)
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer g.Close()
	bad := &Config{Links: cfg.Links, Rules: []Rule{{From: []string{"a"}, To: []string{"b"}, Types: []string{"no-such-service-name"}}}}
	var ce ConfigErrors
	require.True(t, errors.As(g.Reload(context.Background(), bad), &ce))
	assert.Equal(t, "rules[0].types[0]", ce[0].Field)
	next, err := Parse([]byte(`{` + reloadLinks + `, "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]}`))
	require.NoError(t, err)
	err = g.Reload(context.Background(), next)
	require.ErrorIs(t, err, ErrRestart)
	assert.Contains(t, err.Error(), "the destination interfaces change from [] to [gwb]")
	require.NoError(t, g.Reload(context.Background(), cfg), "the same configuration: in place")
	require.NoError(t, g.Close())
	assert.ErrorIs(t, g.Reload(context.Background(), cfg), sd.ErrClosed)
}

// Close reports every live proxy and zone record removed ("gateway
// stopping"), the proxies first, the zones' after their Close; nothing
// for a proxy not yet published.
func TestStoppingEvents(t *testing.T) {
	k := instKey{"a", "Office TZ._timezone._tcp.local."}
	st := map[instKey]*entry{k: {dests: map[string]*dest1{
		"b":         {to: "b", want: true, live: true, rule: 0},
		"c":         {to: "c", want: true, rule: 0}, // probing
		"zone:corp": {to: "corp", zone: true, want: true, live: true, rule: 1},
	}}}
	g := &Gateway{events: make(chan Event, EventBuffer), stopping: stoppingEvents(st)}
	g.emitStopping(false, nil)
	g.emitStopping(true, errors.New("no answer"))
	close(g.events)
	var got []string
	for e := range g.events {
		assert.Equal(t, EventRemoved, e.Kind)
		assert.False(t, e.Time.IsZero())
		got = append(got, e.To+": "+e.Reason)
	}
	assert.Equal(t, []string{"b: gateway stopping", "corp: gateway stopping; leaving the zones: no answer"}, got)
}
