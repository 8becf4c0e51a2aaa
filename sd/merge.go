package sd

import (
	"errors"
	"slices"
	"strings"
	"sync"
)

// Merge returns a Browser that runs parts as one, for browsing several
// domains at once (Multicast DNS on the link and unicast DNS zones):
//
//   - Events delivers the events of every part, each part's in its order;
//   - Quiet is closed once every part's Quiet is;
//   - the first part that stops with an error stops the merge: the merged
//     Events channel is closed and Err returns that error;
//   - Stats are the parts' counters summed, and Instances the parts'
//     instances together, sorted by name;
//   - Close closes every part, waits for the merge's goroutines and
//     returns the parts' errors joined; it is idempotent.
//
// Once the merged Events channel is closed, the parts may still be
// running (an error of one ends the merge, not the others): call Close.
// Merge of one part returns that part itself; Merge of none returns a
// Browser whose Events channel is closed and which is quiet at once.
func Merge(parts ...Browser) Browser {
	if len(parts) == 1 {
		return parts[0]
	}
	m := &merged{
		parts:  slices.Clone(parts),
		events: make(chan Event),
		quiet:  make(chan struct{}),
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	for _, p := range m.parts {
		m.forwarders.Go(func() { m.forward(p) })
	}
	m.wg.Go(m.watchQuiet)
	m.wg.Go(func() {
		m.forwarders.Wait()
		close(m.events)
	})
	return m
}

// merged is the Browser Merge returns. Its goroutines are one forwarder a
// part, a watcher of the parts' Quiet channels, and the closer of events
// once every forwarder has returned.
type merged struct {
	parts  []Browser
	events chan Event
	quiet  chan struct{}
	done   chan struct{} // closed by Close
	failed chan struct{} // closed when a part stops with an error

	forwarders sync.WaitGroup // the forward goroutines
	wg         sync.WaitGroup // the quiet watcher and the closer of events

	failOnce sync.Once
	failErr  error // the first part's error; written once, before failed closes

	closeOnce sync.Once
	closeErr  error
}

// forward copies p's events until p stops, the merge stops or Close is
// called. A part stopping with an error stops the merge (the other
// forwarders return), so that the error is seen at once.
func (m *merged) forward(p Browser) {
	in := p.Events()
	for {
		select {
		case ev, ok := <-in:
			if !ok {
				if err := p.Err(); err != nil {
					m.failOnce.Do(func() {
						m.failErr = err
						close(m.failed)
					})
				}
				return
			}
			select {
			case m.events <- ev:
			case <-m.done:
				return
			case <-m.failed:
				return
			}
		case <-m.done:
			return
		case <-m.failed:
			return
		}
	}
}

// watchQuiet closes quiet once every part is quiet.
func (m *merged) watchQuiet() {
	for _, p := range m.parts {
		select {
		case <-p.Quiet():
		case <-m.done:
			return
		}
	}
	close(m.quiet)
}

func (m *merged) Events() <-chan Event   { return m.events }
func (m *merged) Quiet() <-chan struct{} { return m.quiet }

// Instances returns the instances of every part, sorted by name.
func (m *merged) Instances() []Instance {
	var out []Instance
	for _, p := range m.parts {
		out = append(out, p.Instances()...)
	}
	slices.SortStableFunc(out, func(a, b Instance) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Stats returns the sum of the parts' counters.
func (m *merged) Stats() Stats {
	var s Stats
	for _, p := range m.parts {
		ps := p.Stats()
		s.Records += ps.Records
		s.Instances += ps.Instances
		s.Packets += ps.Packets
		s.Ignored += ps.Ignored
		s.Queries += ps.Queries
		s.Truncated += ps.Truncated
		s.Suppressed += ps.Suppressed
		s.Expired += ps.Expired
		s.Flushed += ps.Flushed
		s.Goodbyes += ps.Goodbyes
		s.Evicted += ps.Evicted
		s.EvictedRelated += ps.EvictedRelated
		s.DroppedRate += ps.DroppedRate
		s.DroppedBound += ps.DroppedBound
		s.Sources += ps.Sources
	}
	return s
}

// Err returns the error of the part that stopped the merge, or else the
// first error a part reports.
func (m *merged) Err() error {
	select {
	case <-m.failed:
		return m.failErr
	default:
	}
	for _, p := range m.parts {
		if err := p.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the forwarding, closes every part and waits for the merge's
// goroutines. Later calls return what the first returned.
func (m *merged) Close() error {
	m.closeOnce.Do(func() {
		close(m.done)
		var errs []error
		for _, p := range m.parts {
			errs = append(errs, p.Close())
		}
		m.wg.Wait()
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
