package engine

// Tests of the Loop: the owner goroutine both browsers share. A fake
// feeder's input is a function run on the loop; the clock is synctest's.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// loopInput is the fake feeder's input: run on the loop with its engine.
type loopInput func(e *Engine, now time.Time) error

// fakeFeeder records what the loop asks of it. Its fields are the loop's:
// read them through Loop.Do, or after the loop has stopped.
type fakeFeeder struct {
	e       *Engine
	ctx     context.Context // Begin's
	begun   time.Time
	turns   int
	wake    time.Duration // when Tick is due, from Begin; 0: nothing due
	quiet   bool
	inputs  int
	ctls    []string
	ctlTime []time.Time
	ticks   []time.Time
}

var _ Feeder[loopInput, string] = (*fakeFeeder)(nil)

func (f *fakeFeeder) Begin(ctx context.Context, now time.Time) { f.ctx, f.begun = ctx, now }

func (f *fakeFeeder) Turn(now time.Time) (time.Time, bool, bool) {
	f.turns++
	f.e.Settle(now)
	if f.wake == 0 {
		return time.Time{}, false, f.quiet
	}
	return f.begun.Add(f.wake), true, f.quiet
}

func (f *fakeFeeder) Input(in loopInput) error {
	f.inputs++
	return in(f.e, time.Now())
}

func (f *fakeFeeder) Control(c string, now time.Time) {
	f.ctls = append(f.ctls, c)
	f.ctlTime = append(f.ctlTime, now)
}

// Tick records the tick; the time Turn gave has passed, so nothing is due
// any more.
func (f *fakeFeeder) Tick(now time.Time) {
	f.ticks = append(f.ticks, now)
	f.wake = 0
}

// loopFixture is a running loop over a fake feeder.
type loopFixture struct {
	l   *Loop
	f   *fakeFeeder
	in  chan loopInput
	ctl chan string
}

// startLoop starts a loop over an engine browsing _timezone._tcp; set
// prepares the feeder before the loop starts.
func startLoop(t *testing.T, set func(*fakeFeeder)) *loopFixture {
	t.Helper()
	e := New(Config{Asker: &recAsker{}})
	bt, err := ParseType("timezone", registry.Builtin())
	require.NoError(t, err)
	e.AddType(bt, time.Now())
	x := &loopFixture{l: NewLoop(e), f: &fakeFeeder{e: e}, in: make(chan loopInput), ctl: make(chan string)}
	if set != nil {
		set(x.f)
	}
	Start(x.l, x.f, x.in, x.ctl)
	t.Cleanup(func() { _ = x.l.Close(nil) })
	return x
}

// emit is an input queueing n events named prefix0, prefix1, ...
func emit(prefix string, n int) loopInput {
	return func(e *Engine, now time.Time) error {
		for i := range n {
			e.emit(sd.Event{Kind: sd.Add, Instance: sd.Instance{Name: fmt.Sprint(prefix, i)}, Time: now})
		}
		return nil
	}
}

// names receives n events and returns their instance names.
func names(t *testing.T, l *Loop, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ev, ok := <-l.Events()
		require.True(t, ok, "events closed after %d", len(out))
		out = append(out, ev.Instance.Name)
	}
	return out
}

// closed reports whether c is closed, without waiting.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// The engine's events reach Events in order; the engine's state is read
// on the loop.
func TestLoopDeliversEventsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := startLoop(t, nil)
		x.in <- emit("a", 3)
		x.in <- func(e *Engine, now time.Time) error {
			putAll(e, 2, sd.IPv4, now, tzRecords(120)...)
			return nil
		}
		assert.Equal(t, []string{"a0", "a1", "a2", "Office TZ._timezone._tcp.local."}, names(t, x.l, 4))
		ins := x.l.Instances()
		require.Len(t, ins, 1)
		assert.Equal(t, "Office TZ._timezone._tcp.local.", ins[0].Name)
		assert.Empty(t, x.l.Enumerated())
		var inputs int
		require.True(t, x.l.Do(func() { inputs = x.f.inputs }))
		assert.Equal(t, 2, inputs)
	})
}

// Quiet closes once the feeder says so and every event queued before has
// been received, and only once however many turns stay quiet.
func TestLoopQuietAfterEarlierEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := startLoop(t, nil)
		x.in <- func(e *Engine, now time.Time) error {
			x.f.quiet = true
			return emit("q", 2)(e, now)
		}
		synctest.Wait()
		assert.False(t, closed(x.l.Quiet()), "two events wait")
		assert.Equal(t, []string{"q0"}, names(t, x.l, 1))
		synctest.Wait()
		assert.False(t, closed(x.l.Quiet()), "one event waits")
		assert.Equal(t, []string{"q1"}, names(t, x.l, 1))
		synctest.Wait()
		assert.True(t, closed(x.l.Quiet()))
		x.in <- emit("later", 1) // more quiet turns: no second close
		assert.Equal(t, []string{"later0"}, names(t, x.l, 1))
		assert.True(t, x.l.Do(func() {}))
	})
}

// While MaxPending events wait, input waits too; control input and
// commands do not.
func TestLoopBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := startLoop(t, nil)
		x.in <- emit("p", MaxPending)
		var taken atomic.Bool
		go func() {
			x.in <- emit("next", 1)
			taken.Store(true)
		}()
		synctest.Wait()
		assert.False(t, taken.Load(), "input read while MaxPending events wait")
		x.ctl <- "up" // read at once: the send returns
		var ctls []string
		require.True(t, x.l.Do(func() { ctls = x.f.ctls }))
		assert.Equal(t, []string{"up"}, ctls)

		assert.Equal(t, []string{"p0"}, names(t, x.l, 1))
		synctest.Wait()
		assert.True(t, taken.Load(), "input read once fewer than MaxPending wait")
		got := names(t, x.l, MaxPending)
		assert.Equal(t, "p1", got[0])
		assert.Equal(t, fmt.Sprint("p", MaxPending-1), got[MaxPending-2])
		assert.Equal(t, "next0", got[MaxPending-1], "order kept")
	})
}

// Tick runs when Turn says; with nothing due the loop still wakes within
// the hour.
func TestLoopTicksWhenDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		x := startLoop(t, func(f *fakeFeeder) { f.wake = 5 * time.Second })
		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		var ticks []time.Time
		x.l.Do(func() { ticks = x.f.ticks })
		assert.Empty(t, ticks)
		time.Sleep(time.Millisecond)
		synctest.Wait()
		x.l.Do(func() { ticks = x.f.ticks })
		assert.Equal(t, []time.Time{start.Add(5 * time.Second)}, ticks)
		time.Sleep(time.Hour)
		synctest.Wait()
		x.l.Do(func() { ticks = x.f.ticks })
		assert.Equal(t, []time.Time{start.Add(5 * time.Second), start.Add(5*time.Second + time.Hour)}, ticks)
	})
}

// An input the feeder refuses stops the loop: Events closes, Err says
// why, Do runs nothing; Close still works and returns after's error once.
func TestLoopInputErrorStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := startLoop(t, nil)
		assert.NoError(t, x.l.Err())
		boom := errors.New("boom")
		x.in <- func(*Engine, time.Time) error { return boom }
		_, ok := <-x.l.Events()
		assert.False(t, ok)
		<-x.l.Done()
		assert.ErrorIs(t, x.l.Err(), boom)
		ran := false
		assert.False(t, x.l.Do(func() { ran = true }))
		assert.False(t, ran)
		assert.Empty(t, x.l.Instances())

		closeErr := errors.New("transport")
		calls := 0
		after := func() error { calls++; return closeErr }
		assert.Equal(t, closeErr, x.l.Close(after))
		assert.NoError(t, x.l.Close(after), "idempotent")
		assert.Equal(t, 1, calls)
		assert.ErrorIs(t, x.l.Err(), boom, "Close keeps the failure")
	})
}

// Fail, from any goroutine, stops the loop; the first failure counts.
func TestLoopFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x := startLoop(t, nil)
		first, second := errors.New("first"), errors.New("second")
		x.l.Fail(first)
		x.l.Fail(second)
		<-x.l.Done()
		assert.Equal(t, first, x.l.Err())
	})
}

// Close ends the loop's context, waits for the goroutines started with Go,
// and leaves Err nil.
func TestLoopClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Config{Asker: &recAsker{}})
		l := NewLoop(e)
		var helperDone atomic.Bool
		l.Go(func(ctx context.Context) {
			<-ctx.Done()
			time.Sleep(time.Second) // Close waits for this
			helperDone.Store(true)
		})
		f := &fakeFeeder{e: e}
		Start(l, f, nil, (<-chan string)(nil))
		synctest.Wait()
		var ctx context.Context
		require.True(t, l.Do(func() { ctx = f.ctx }))
		require.NoError(t, ctx.Err())
		assert.False(t, closed(l.Done()))

		require.NoError(t, l.Close(nil))
		assert.True(t, helperDone.Load())
		assert.Error(t, ctx.Err(), "Begin's context ends")
		assert.True(t, closed(l.Done()))
		_, ok := <-l.Events()
		assert.False(t, ok)
		assert.NoError(t, l.Err(), "stopped by Close")
		assert.False(t, closed(l.Quiet()), "never quiet")
		require.NoError(t, l.Close(nil))
	})
}
