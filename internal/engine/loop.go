package engine

import (
	"context"
	"sync"
	"time"

	"github.com/lansd/lansd/sd"
)

// MaxPending bounds the events waiting to be received from Loop.Events:
// while that many wait, the loop reads no input (the mDNS transport then
// drops packets, as it does when any reader is slow; a unicast poll's
// answers wait to be applied) until the receiver catches up.
const MaxPending = 4096

// Loop is the goroutine that owns a browser's Engine and its feeder, and
// the plumbing both browsers (packages browse and wide) share around it:
//
//   - Commands: Do runs a function on the loop, so the browser's methods
//     read the engine's state without a lock.
//   - Events: the loop hands the engine's events to Events in order, one at
//     a time as the receiver takes them; while MaxPending wait, it stops
//     reading the feeder's input.
//   - Quiet: closed once the feeder says the browser has gone quiet and
//     every event queued before has been received, so that a receiver
//     stopping at Quiet misses none.
//   - Stopping: Close ends the loop and waits for it and for every
//     goroutine started with Go; an input the feeder refuses, or Fail,
//     stops it with an error that Err returns. Events is closed when the
//     loop stops.
//
// NewLoop makes one, Go adds helper goroutines (a packet reader), Start
// runs the loop with a Feeder.
type Loop struct {
	e      *Engine
	ctx    context.Context // the loop's, ended by Close
	cancel context.CancelFunc
	events chan sd.Event
	quiet  chan struct{}
	cmds   chan func()
	fail   chan error
	done   chan struct{} // closed when the loop has exited
	wg     sync.WaitGroup

	closeOnce sync.Once
	err       error // set by the loop before done is closed

	// Owned by the loop.
	quietSent bool
}

// Feeder is what a browser's loop does besides the shared plumbing: it
// feeds the engine what it receives and runs its clock. In is the input
// that waits while MaxPending events do (packets, a poll's answers); Ctl is
// input handled even then (interface changes). Every method runs on the
// loop.
type Feeder[In, Ctl any] interface {
	// Begin runs once, before anything else; ctx is the loop's (for I/O
	// done on the loop), ended by Close.
	Begin(ctx context.Context, now time.Time)
	// Turn runs at the start of every turn of the loop: it settles the
	// engine (Engine.Settle) and returns when Tick must next run (ok
	// false: nothing is due; the loop then wakes within the hour anyway)
	// and whether the browser has gone quiet.
	Turn(now time.Time) (wake time.Time, ok, quiet bool)
	// Input handles one input; an error stops the loop (see Loop.Err).
	Input(in In) error
	// Control handles one control input at now.
	Control(c Ctl, now time.Time)
	// Tick runs when the time Turn returned has come.
	Tick(now time.Time)
}

// NewLoop returns a loop owning e, not yet started.
func NewLoop(e *Engine) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	return &Loop{
		e:      e,
		ctx:    ctx,
		cancel: cancel,
		events: make(chan sd.Event),
		quiet:  make(chan struct{}),
		cmds:   make(chan func()),
		fail:   make(chan error, 1),
		done:   make(chan struct{}),
	}
}

// Go runs f on a new goroutine with the loop's context, which Close ends;
// Close waits for f to return. Call it before Start or on the loop.
func (l *Loop) Go(f func(ctx context.Context)) {
	l.wg.Go(func() { f(l.ctx) })
}

// Start runs the loop on a new goroutine until Close, Fail, or an input f
// refuses: it reads in (while fewer than MaxPending events wait) and ctl,
// and runs f's Tick when Turn says.
func Start[In, Ctl any](l *Loop, f Feeder[In, Ctl], in <-chan In, ctl <-chan Ctl) {
	l.Go(func(ctx context.Context) { run(ctx, l, f, in, ctl) })
}

// run is the loop.
func run[In, Ctl any](ctx context.Context, l *Loop, f Feeder[In, Ctl], in <-chan In, ctl <-chan Ctl) {
	defer close(l.done)
	defer close(l.events)
	f.Begin(ctx, time.Now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		wake, ok, quiet := f.Turn(now)
		ev, pending := l.e.NextEvent()
		// Quiet is signalled once every event before it was received, so
		// that a receiver stopping at Quiet misses none.
		if quiet && !l.quietSent && pending == 0 {
			l.quietSent = true
			close(l.quiet)
		}
		if ok {
			timer.Reset(max(0, wake.Sub(now)))
		} else {
			timer.Reset(time.Hour)
		}
		var out chan sd.Event
		if pending > 0 {
			out = l.events
		}
		input := in
		if pending >= MaxPending {
			input = nil
		}
		select {
		case <-ctx.Done():
			return
		case err := <-l.fail:
			l.err = err
			return
		case x := <-input:
			if err := f.Input(x); err != nil {
				l.err = err
				return
			}
		case c := <-ctl:
			f.Control(c, time.Now())
		case <-timer.C:
			f.Tick(time.Now())
		case out <- ev:
			l.e.EventSent()
		case fn := <-l.cmds:
			fn()
		}
	}
}

// Do runs f on the loop and waits for it; it returns false, without
// running f, when the loop has stopped.
func (l *Loop) Do(f func()) bool {
	ran := make(chan struct{})
	select {
	case l.cmds <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-l.done:
		return false
	}
}

// Fail stops the loop with err, which Err then returns; it may be called
// from any goroutine, and only the first failure counts.
func (l *Loop) Fail(err error) {
	select {
	case l.fail <- err:
	default:
	}
}

// Events returns the channel of the engine's events, closed when the loop
// stops.
func (l *Loop) Events() <-chan sd.Event { return l.events }

// Quiet returns the channel closed once the feeder has said the browser
// is quiet and every event before was received.
func (l *Loop) Quiet() <-chan struct{} { return l.quiet }

// Done returns a channel closed when the loop has stopped.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Instances returns the engine's reported instances (Engine.Instances),
// none once the loop has stopped.
func (l *Loop) Instances() []sd.Instance {
	var out []sd.Instance
	l.Do(func() { out = l.e.Instances() })
	return out
}

// Enumerated returns the service types the engine has seen enumerated
// (Engine.Enumerated), none once the loop has stopped.
func (l *Loop) Enumerated() []string {
	var out []string
	l.Do(func() { out = l.e.Enumerated() })
	return out
}

// Err returns the error that stopped the loop (Fail, or an input the
// feeder refused), nil while it runs or when Close stopped it.
func (l *Loop) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// Close stops the loop, waits for it and for every goroutine started with
// Go, then runs after (when not nil: closing a transport) and returns its
// error. Only the first call does this; later ones return nil.
func (l *Loop) Close(after func() error) error {
	var err error
	l.closeOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
		if after != nil {
			err = after()
		}
	})
	return err
}
