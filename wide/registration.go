package wide

import (
	"context"
	"sync"
	"time"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// eventBuffer is the capacity of a registration's event channel; when it
// is full the oldest event is dropped. Events are rare (a rename is two:
// renamed, then announced), so it is small.
const eventBuffer = 8

// Registration is one service a Registrar publishes: the wide-area
// counterpart of announce.Handle, with the same events
// (sd.RegistrationEvent).
type Registration struct {
	e      *entry            // the registrar's record of the service
	regSvc *registry.Service // the registry's rules for its TXT record
	events chan sd.RegistrationEvent

	// What Name, Renamed and Events show: written by the registrar's
	// owner goroutine, read by anyone.
	mu      sync.Mutex
	name    string
	renamed bool
	reason  string
	closed  bool
}

// newRegistration returns the registration of a service named name.
func newRegistration(regSvc *registry.Service, name string) *Registration {
	return &Registration{regSvc: regSvc, name: name, events: make(chan sd.RegistrationEvent, eventBuffer)}
}

// Name returns the full instance name, e.g.
// "Office TZ (2)._timezone._tcp.tz.example.net.".
func (reg *Registration) Name() string {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.name
}

// Renamed reports whether the service was renamed from the name asked for,
// and why.
func (reg *Registration) Renamed() (bool, string) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.renamed, reg.reason
}

// Events returns the service's events: announced when added, renamed when
// a refresh found the name taken, conflict when it was taken and renaming
// is off, removed. The channel is closed when the service is removed or
// the registrar closed; when nobody reads, old events are dropped.
func (reg *Registration) Events() <-chan sd.RegistrationEvent { return reg.events }

// UpdateTXT replaces the service's TXT record, after validating it like
// Add, in one UPDATE: delete our old TXT RR, add the new one, provided our
// SRV and old TXT are still there (RFC 2136 section 2.4.2). If they are
// not, the service is registered again with the new record. After Remove
// it returns an error wrapping sd.ErrRemoved.
func (reg *Registration) UpdateTXT(ctx context.Context, rec txt.Record) error {
	return reg.e.r.updateTXT(ctx, reg.e, rec)
}

// Remove deletes the service's records and forgets it. Removing twice is
// harmless. If the server cannot be reached the service stays registered
// (and refreshed) and the error is returned: call Remove again.
func (reg *Registration) Remove(ctx context.Context) error {
	return reg.e.r.remove(ctx, reg.e)
}

// setName records the current name.
func (reg *Registration) setName(name string) {
	reg.mu.Lock()
	reg.name = name
	reg.mu.Unlock()
}

// setRenamed records a rename.
func (reg *Registration) setRenamed(name, reason string) {
	reg.mu.Lock()
	reg.name, reg.renamed, reg.reason = name, true, reason
	reg.mu.Unlock()
}

// close ends the event stream.
func (reg *Registration) close() {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if !reg.closed {
		reg.closed = true
		close(reg.events)
	}
}

// deliver sends ev on the event channel without blocking: when the buffer
// is full the oldest event is dropped. After close it does nothing.
func (reg *Registration) deliver(ev sd.RegistrationEvent) {
	ev.Time = time.Now()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.closed {
		return
	}
	for range 2 {
		select {
		case reg.events <- ev:
			return
		default:
			select {
			case <-reg.events:
			default:
			}
		}
	}
}
