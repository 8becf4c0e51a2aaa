package main

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/sd"
)

// statsBrowser is an sd.Browser whose counters the test sets.
type statsBrowser struct {
	mu sync.Mutex
	s  sd.Stats
}

func (b *statsBrowser) Events() <-chan sd.Event  { return nil }
func (b *statsBrowser) Quiet() <-chan struct{}   { return nil }
func (b *statsBrowser) Instances() []sd.Instance { return nil }
func (b *statsBrowser) Err() error               { return nil }
func (b *statsBrowser) Close() error             { return nil }
func (b *statsBrowser) set(s sd.Stats)           { b.mu.Lock(); b.s = s; b.mu.Unlock() }
func (b *statsBrowser) Stats() sd.Stats          { b.mu.Lock(); defer b.mu.Unlock(); return b.s }

func TestVerboseLogsCacheFairnessStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		b := &statsBrowser{}
		b.set(sd.Stats{Records: 5005, Sources: 2, DroppedRate: 7, DroppedBound: 74995, Evicted: 3, EvictedRelated: 1})
		stop := logStats(log, b, time.Second)
		time.Sleep(1500 * time.Millisecond)
		time.Sleep(time.Second) // unchanged: not logged again
		stop()
		stop()
		out := buf.String()
		assert.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("browse: stats")), out)
		assert.Contains(t, out, "records=5005 ")
		assert.Contains(t, out, "sources=2 ")
		assert.Contains(t, out, "evicted=3 evicted_related=1 dropped_rate=7 dropped_bound=74995")
	})
	// Not verbose: nothing, and no goroutine.
	var buf bytes.Buffer
	stop := logStats(slog.New(slog.NewTextHandler(&buf, nil)), &statsBrowser{}, time.Millisecond)
	stop()
	assert.Empty(t, buf.String())
}
