package sd_test

import (
	"sync"
	"sync/atomic"

	"github.com/lansd/lansd/sd"
)

// fakeBrowser is an sd.Browser driven by a test: send delivers an event,
// beQuiet closes Quiet, fail stops it with an error (its Events channel
// closes, as a real browser's does).
type fakeBrowser struct {
	events chan sd.Event
	quiet  chan struct{}
	stats  sd.Stats
	ins    []sd.Instance
	// keepOpen makes Close leave Events open, as a careless Browser might.
	keepOpen bool
	// closeErr is what Close returns.
	closeErr error

	mu        sync.Mutex
	err       error
	stopOnce  sync.Once
	closes    atomic.Int32
	closed    chan struct{} // closed by the first Close
	closeOnce sync.Once
}

func newFake(ins ...sd.Instance) *fakeBrowser {
	return &fakeBrowser{events: make(chan sd.Event), quiet: make(chan struct{}), ins: ins, closed: make(chan struct{})}
}

func (f *fakeBrowser) send(ev sd.Event) { f.events <- ev }

// sendUntilClosed sends ev, or gives up when Close is called; with
// keepOpen only (Close would close the channel under the send otherwise).
func (f *fakeBrowser) sendUntilClosed(ev sd.Event) bool {
	select {
	case f.events <- ev:
		return true
	case <-f.closed:
		return false
	}
}
func (f *fakeBrowser) beQuiet() { close(f.quiet) }

// fail stops the browser with err.
func (f *fakeBrowser) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	f.stop()
}

func (f *fakeBrowser) stop() { f.stopOnce.Do(func() { close(f.events) }) }

func (f *fakeBrowser) Events() <-chan sd.Event  { return f.events }
func (f *fakeBrowser) Quiet() <-chan struct{}   { return f.quiet }
func (f *fakeBrowser) Instances() []sd.Instance { return f.ins }
func (f *fakeBrowser) Stats() sd.Stats          { return f.stats }
func (f *fakeBrowser) Err() error               { f.mu.Lock(); defer f.mu.Unlock(); return f.err }
func (f *fakeBrowser) Close() error {
	f.closes.Add(1)
	f.closeOnce.Do(func() { close(f.closed) })
	if !f.keepOpen {
		f.stop()
	}
	return f.closeErr
}
