package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// A full event buffer drops its oldest event for the newest.
func TestEmitDropsOldest(t *testing.T) {
	g := &Gateway{events: make(chan Event, EventBuffer)}
	for i := range EventBuffer + 5 {
		g.emit(Event{Kind: EventRefused, Rule: i})
	}
	require.Len(t, g.events, EventBuffer)
	first := <-g.events
	assert.Equal(t, 5, first.Rule)
	assert.False(t, first.Time.IsZero())
}

// New checks the configuration before opening anything: an invalid one
// is ConfigErrors.
func TestNewRefusesBadConfig(t *testing.T) {
	cfg := &Config{Links: map[string]Link{"a": {Interfaces: []string{"lan0"}}},
		Rules: []Rule{{From: []string{"a"}, To: []string{"guest"}, Types: []string{"_ipp._tcp"}}}}
	_, err := New(context.Background(), cfg, Options{})
	var ce ConfigErrors
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "rules[0].to[0]", ce[0].Field)
}

// Interface prefixes: loopback and unknown interfaces give none.
func TestInterfacePrefixes(t *testing.T) {
	assert.Empty(t, interfacePrefixes([]string{"lo", "no-such-if0"}))
}

// An entry stands for the instance of its first interface, with the
// subtypes it was found under there.
func TestEntryCurrent(t *testing.T) {
	e := &entry{seen: map[string]map[seenKey]sd.Instance{}}
	_, _, ok := e.current()
	assert.False(t, ok)
	e.seen["lan1"] = map[seenKey]sd.Instance{{1, ""}: {Name: "x", Port: 2}}
	e.seen["lan0"] = map[seenKey]sd.Instance{{2, "_printer"}: {Name: "x", Port: 1}, {3, ""}: {Name: "x", Port: 3},
		{4, "_printer"}: {Name: "x", Port: 1}, {5, ""}: {Name: "x", Port: 4}}
	in, subs, ok := e.current()
	require.True(t, ok)
	assert.Equal(t, uint16(3), in.Port, "the first plain browser's")
	assert.Equal(t, []string{"_printer"}, subs)
	delete(e.seen["lan0"], seenKey{3, ""})
	delete(e.seen["lan0"], seenKey{5, ""})
	in, _, _ = e.current()
	assert.Equal(t, uint16(1), in.Port, "a subtype browser's when no plain one holds it")
}

func TestSameTXT(t *testing.T) {
	a, err := txt.ParseArgs([]string{"a=1"})
	require.NoError(t, err)
	b, err := txt.ParseArgs([]string{"a=2"})
	require.NoError(t, err)
	assert.True(t, sameTXT(a, a))
	assert.False(t, sameTXT(a, b))
	assert.True(t, sameTXT(txt.Record{}, txt.Record{}))
}

// A proxy whose instance left while its Remove still runs keeps its slot
// for the instance's return, so that the new AddProxy follows the Remove;
// a slot whose calls are done is not kept, and those done meanwhile are
// forgotten.
func TestSlotReusedWhileBusy(t *testing.T) {
	g := &Gateway{}
	k := slotKey{instKey{"a", "x._ipp._tcp.local."}, "b"}
	running := make(chan struct{})
	s := &slot{gen: 3, last: running}
	g.retire(k, s)
	assert.Same(t, s, g.slotFor(k), "busy: the same slot, its calls chained")
	assert.Empty(t, g.retired)

	close(running)
	g.retire(k, s) // not busy: not kept
	assert.NotSame(t, s, g.slotFor(k), "done: a new slot")
	assert.Empty(t, g.retired)
	other := slotKey{instKey{"a", "y._ipp._tcp.local."}, "b"}
	busy := &slot{last: make(chan struct{})}
	g.retire(other, busy)
	g.retired[k] = s // done meanwhile
	g.slotFor(slotKey{instKey{"a", "z._ipp._tcp.local."}, "b"})
	assert.Equal(t, map[slotKey]*slot{other: busy}, g.retired, "done slots are forgotten")
}

// The owner's reaction to its browsers' events, with the responder
// replaced: an Add proxies the instance, a Remove (at the goodbye, under
// browse.Options.RemoveOnGoodbye) withdraws it at once, and an Add right
// after (re-announced within the second) proxies it again, on the same
// chain of calls.
func TestBrowsedRemoveThenAddAgain(t *testing.T) {
	cfg, err := Parse([]byte(`{"links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["gwb"]}},
	  "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]}`))
	require.NoError(t, err)
	pol, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	g := &Gateway{cfg: cfg, pol: pol, log: slog.New(slog.DiscardHandler), events: make(chan Event, EventBuffer),
		in: make(chan any, 16)}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	defer g.cancel()
	var mu sync.Mutex
	var calls []string
	g.addProxy = func(_ context.Context, s announce.Service, o announce.ProxyOptions) (*announce.Handle, error) {
		mu.Lock()
		calls = append(calls, s.Instance+" on "+strings.Join(o.Interfaces, ","))
		mu.Unlock()
		return nil, nil
	}
	in := instance(t, "Office TZ", "_timezone._tcp", []string{"198.51.100.7"}, "path=/tz")
	in.Name, in.Host, in.Port, in.Ifaces, in.TTL = "Office TZ._timezone._tcp.local.", "h1.local.", 8080, []string{"lan0"}, 2*time.Minute
	st := map[instKey]*entry{}
	ev := func(kind sd.EventKind) browsed {
		return browsed{link: "a", ev: sd.Event{Kind: kind, Instance: in, Time: time.Now()}}
	}
	next := func() Event {
		t.Helper()
		select {
		case e := <-g.events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return Event{}
	}
	settle := func() {
		t.Helper()
		m := <-g.in
		g.added(st, m.(opResult))
	}

	g.browsed(st, ev(sd.Add), officePrefixes)
	settle()
	e := next()
	assert.Equal(t, EventProxied, e.Kind)
	assert.Equal(t, "b", e.To)

	g.browsed(st, ev(sd.Remove), officePrefixes)
	e = next()
	assert.Equal(t, EventRemoved, e.Kind, "withdrawn at the Remove")
	assert.Empty(t, st, "the instance left its source link")

	g.browsed(st, ev(sd.Add), officePrefixes)
	settle()
	e = next()
	assert.Equal(t, EventProxied, e.Kind, "proxied again")
	g.ops.Wait()
	assert.Equal(t, []string{"Office TZ on gwb", "Office TZ on gwb"}, calls)
}
