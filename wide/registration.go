package wide

import (
	"context"

	"github.com/lansd/lansd/internal/notify"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// Registration is one service a Registrar publishes: the wide-area
// counterpart of announce.Handle, with the same events
// (sd.RegistrationEvent).
type Registration struct {
	e      *entry            // the registrar's record of the service
	regSvc *registry.Service // the registry's rules for its TXT record
	// What Name, Renamed and Events show: written by the registrar's
	// owner goroutine, read by anyone.
	st *notify.Stream
}

// newRegistration returns the registration of a service named name.
func newRegistration(regSvc *registry.Service, name string) *Registration {
	return &Registration{regSvc: regSvc, st: notify.New(name)}
}

// Name returns the full instance name, e.g.
// "Office TZ (2)._timezone._tcp.tz.example.net.".
func (reg *Registration) Name() string { return reg.st.Name() }

// Renamed reports whether the service was renamed from the name asked for,
// and why.
func (reg *Registration) Renamed() (bool, string) { return reg.st.Renamed() }

// Events returns the service's events: announced when added, renamed when
// a refresh found the name taken, conflict when it was taken and renaming
// is off, removed. The channel is closed when the service is removed or
// the registrar closed; when nobody reads, old events are dropped.
func (reg *Registration) Events() <-chan sd.RegistrationEvent { return reg.st.Events() }

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
