package announce

import (
	"fmt"

	"github.com/lansd/lansd/sd"
)

// The service description, its validation errors and the events of a
// published service are package sd's, shared with the unicast DNS
// registrar (package wide); these names are the same types and values.

type (
	// Service describes one DNS-SD service instance to publish; see
	// sd.Service. Its Domain defaults to "local.", the only domain a
	// Responder publishes in.
	Service = sd.Service
	// Prepared is a service with its names and data worked out; see
	// sd.Prepared.
	Prepared = sd.Prepared
	// FieldError is a problem with one field of a service description;
	// see sd.FieldError.
	FieldError = sd.FieldError
	// ValidationError is a service refused by validation; see
	// sd.ValidationError. The responder's errors wrap it as
	// "announce: service ... refused: ...".
	ValidationError = sd.ValidationError
	// EventKind says what happened to a published name; see
	// sd.RegistrationEventKind.
	EventKind = sd.RegistrationEventKind
	// Event is something that happened to a published service or the
	// host name; see sd.RegistrationEvent.
	Event = sd.RegistrationEvent
)

// The kinds of Event.
const (
	// EventAnnounced: probing succeeded and the first announcement was sent.
	EventAnnounced = sd.Announced
	// EventConflict: another host answered with different data for the
	// name (RFC 6762 section 9); the name is being probed again.
	EventConflict = sd.Conflict
	// EventRenamed: the name was taken; Old and New give the change.
	EventRenamed = sd.Renamed
	// EventDeferred: a simultaneous probe was lost (RFC 6762 section 8.2);
	// probing again after a second.
	EventDeferred = sd.Deferred
	// EventRemoved: the service was withdrawn and goodbyes sent.
	EventRemoved = sd.Removed
	// EventWithdrawn: a proxy (Responder.AddProxy) was withdrawn from one
	// interface after a conflict there, never renamed; see sd.Withdrawn.
	EventWithdrawn = sd.Withdrawn
)

// Errors the responder's errors match with errors.Is.
var (
	// ErrClosed (sd.ErrClosed) is matched by the errors of calls on a
	// responder that has been closed: "announce: responder closed".
	ErrClosed = sd.ErrClosed
	// ErrRemoved (sd.ErrRemoved) is matched by the errors of calls on a
	// handle whose service was removed: "announce: service removed".
	ErrRemoved = sd.ErrRemoved
)

// The errors the responder returns for ErrClosed and ErrRemoved.
var (
	errClosed  = fmt.Errorf("announce: responder %w", sd.ErrClosed)
	errRemoved = fmt.Errorf("announce: service %w", sd.ErrRemoved)
)
