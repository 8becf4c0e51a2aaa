package sd_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/sd"
)

// Every test runs in a synctest bubble: synctest.Test fails when a
// goroutine of the bubble is still blocked once the test returns, so each
// one also proves that Merge leaks no goroutine.

func ev(kind sd.EventKind, name string) sd.Event {
	return sd.Event{Kind: kind, Instance: sd.Instance{Name: name}}
}

// isClosed reports whether c is closed, once every goroutine of the
// bubble is blocked.
func isClosed[T any](c <-chan T) bool {
	synctest.Wait()
	select {
	case _, ok := <-c:
		return !ok
	default:
		return false
	}
}

func TestMergeOneIsThePart(t *testing.T) {
	f := newFake()
	assert.Same(t, f, sd.Merge(f))
}

func TestMergeNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := sd.Merge()
		assert.True(t, isClosed(b.Events()))
		assert.True(t, isClosed(b.Quiet()))
		assert.NoError(t, b.Err())
		assert.Empty(t, b.Instances())
		assert.NoError(t, b.Close())
	})
}

func TestMergeEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, z := newFake(), newFake()
		b := sd.Merge(a, z)
		defer b.Close()
		go func() {
			a.send(ev(sd.Add, "a1"))
			a.send(ev(sd.Update, "a1"))
			a.send(ev(sd.Remove, "a1"))
			a.stop()
		}()
		go func() {
			z.send(ev(sd.Add, "z1"))
			z.send(ev(sd.Add, "z2"))
			z.stop()
		}()
		var fromA, fromZ []sd.Event
		for e := range b.Events() {
			if e.Instance.Name[0] == 'a' {
				fromA = append(fromA, e)
			} else {
				fromZ = append(fromZ, e)
			}
		}
		// Each part's events in its order; the channel closes when both stop.
		assert.Equal(t, []sd.Event{ev(sd.Add, "a1"), ev(sd.Update, "a1"), ev(sd.Remove, "a1")}, fromA)
		assert.Equal(t, []sd.Event{ev(sd.Add, "z1"), ev(sd.Add, "z2")}, fromZ)
		assert.NoError(t, b.Err())
	})
}

func TestMergeQuietWhenAllAre(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, z := newFake(), newFake()
		b := sd.Merge(a, z)
		defer b.Close()
		z.beQuiet()
		assert.False(t, isClosed(b.Quiet()), "quiet with one part still busy")
		a.beQuiet()
		assert.True(t, isClosed(b.Quiet()))
		assert.False(t, isClosed(b.Events()), "quiet does not end the events")
	})
}

func TestMergeFailureEndsAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("reading packets: boom")
		a, z := newFake(), newFake()
		b := sd.Merge(a, z)
		go z.send(ev(sd.Add, "z1"))
		e := <-b.Events()
		assert.Equal(t, "z1", e.Instance.Name)
		assert.NoError(t, b.Err())

		a.fail(boom)
		// z still runs, but the merge ends with a's error.
		for range b.Events() {
			t.Error("event after the failure")
		}
		assert.ErrorIs(t, b.Err(), boom)
		assert.Zero(t, z.closes.Load(), "the merge does not close the parts by itself")

		require.NoError(t, b.Close())
		assert.Equal(t, int32(1), a.closes.Load())
		assert.Equal(t, int32(1), z.closes.Load())
		assert.ErrorIs(t, b.Err(), boom, "the error stays after Close")
	})
}

func TestMergeFirstFailureWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, second := errors.New("first"), errors.New("second")
		a, z := newFake(), newFake()
		b := sd.Merge(a, z)
		defer b.Close()
		z.fail(first)
		synctest.Wait()
		a.fail(second)
		for range b.Events() {
		}
		assert.Equal(t, first, b.Err())
	})
}

func TestMergeCloseIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shut := errors.New("closing the transport: shut")
		a, z := newFake(), newFake()
		z.closeErr = shut
		b := sd.Merge(a, z)
		err := b.Close()
		assert.ErrorIs(t, err, shut)
		assert.Equal(t, err, b.Close(), "a later Close returns what the first did")
		assert.Equal(t, int32(1), a.closes.Load())
		assert.Equal(t, int32(1), z.closes.Load())
		assert.True(t, isClosed(b.Events()))
		assert.NoError(t, b.Err(), "closed, not failed")
	})
}

func TestMergeCloseWhileEventsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Nobody receives: the parts' sends block until Close, which
		// must return all the same, also when the parts leave their
		// channels open.
		a, z := newFake(), newFake()
		a.keepOpen, z.keepOpen = true, true
		b := sd.Merge(a, z)
		go func() {
			for a.sendUntilClosed(ev(sd.Add, "a")) {
			}
		}()
		synctest.Wait()
		done := make(chan struct{})
		go func() {
			b.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("Close did not return")
		}
		assert.True(t, isClosed(b.Events()))
		assert.False(t, isClosed(b.Quiet()))
	})
}

func TestMergeStatsAndInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newFake(sd.Instance{Name: "b._x._tcp.local."}, sd.Instance{Name: "d._x._tcp.local."})
		z := newFake(sd.Instance{Name: "a._x._tcp.example.net."}, sd.Instance{Name: "c._x._tcp.example.net."})
		a.stats = sd.Stats{Records: 1, Instances: 2, Packets: 3, Ignored: 4, Queries: 5, Truncated: 6, Suppressed: 7, Expired: 8, Flushed: 9, Goodbyes: 10, Evicted: 11, EvictedRelated: 12, DroppedRate: 13, DroppedBound: 14, Sources: 15}
		z.stats = sd.Stats{Records: 100, Instances: 100, Packets: 100, Ignored: 100, Queries: 100, Truncated: 100, Suppressed: 100, Expired: 100, Flushed: 100, Goodbyes: 100, Evicted: 100, EvictedRelated: 100, DroppedRate: 100, DroppedBound: 100, Sources: 100}
		b := sd.Merge(a, z)
		defer b.Close()
		assert.Equal(t, sd.Stats{Records: 101, Instances: 102, Packets: 103, Ignored: 104, Queries: 105, Truncated: 106, Suppressed: 107, Expired: 108, Flushed: 109, Goodbyes: 110, Evicted: 111, EvictedRelated: 112, DroppedRate: 113, DroppedBound: 114, Sources: 115}, b.Stats())
		var names []string
		for _, in := range b.Instances() {
			names = append(names, in.Name)
		}
		assert.Equal(t, []string{"a._x._tcp.example.net.", "b._x._tcp.local.", "c._x._tcp.example.net.", "d._x._tcp.local."}, names)
	})
}
