package gateway

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	e := &entry{seen: map[string]map[string]sd.Instance{}}
	_, _, ok := e.current()
	assert.False(t, ok)
	e.seen["lan1"] = map[string]sd.Instance{"": {Name: "x", Port: 2}}
	e.seen["lan0"] = map[string]sd.Instance{"_printer": {Name: "x", Port: 1}, "": {Name: "x", Port: 3}}
	in, subs, ok := e.current()
	require.True(t, ok)
	assert.Equal(t, uint16(3), in.Port)
	assert.Equal(t, []string{"_printer"}, subs)
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
