// Package notify holds what a published service shows its owner while a
// registrar (announce.Responder for Multicast DNS, wide.Registrar for DNS
// UPDATE) works on it: its current name, whether and why it was renamed,
// and its stream of sd.RegistrationEvent. The registrar writes from its
// owner goroutine and never blocks on a slow reader: when nobody reads,
// the oldest events are dropped.
package notify

import (
	"sync"
	"time"

	"github.com/lansd/lansd/sd"
)

// Buffer is the capacity of the event channel; when it is full the oldest
// event is dropped. Events are rare (a Multicast DNS rename is three:
// conflict, renamed, announced; one in a zone is two: renamed, announced),
// and every published service holds one buffer, so it is small.
const Buffer = 8

// Stream is one published service's name and events. Its methods are
// safe for concurrent use.
type Stream struct {
	events chan sd.RegistrationEvent

	mu      sync.Mutex
	name    string
	renamed bool
	reason  string
	closed  bool
}

// New returns the stream of a service named name.
func New(name string) *Stream {
	return &Stream{name: name, events: make(chan sd.RegistrationEvent, Buffer)}
}

// Name returns the current full instance name.
func (s *Stream) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Renamed reports whether the service was renamed from the name asked
// for, and why.
func (s *Stream) Renamed() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renamed, s.reason
}

// Events returns the event channel, closed by Close.
func (s *Stream) Events() <-chan sd.RegistrationEvent { return s.events }

// SetName records the current name.
func (s *Stream) SetName(name string) {
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
}

// SetRenamed records a rename to name, for reason.
func (s *Stream) SetRenamed(name, reason string) {
	s.mu.Lock()
	s.name, s.renamed, s.reason = name, true, reason
	s.mu.Unlock()
}

// Deliver stamps ev with the time now and sends it on the event channel
// without blocking: when the buffer is full the oldest event is dropped.
// After Close it does nothing.
func (s *Stream) Deliver(ev sd.RegistrationEvent) {
	ev.Time = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for range 2 {
		select {
		case s.events <- ev:
			return
		default:
			select {
			case <-s.events:
			default:
			}
		}
	}
}

// Close ends the event stream; closing twice is harmless.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.events)
	}
}
