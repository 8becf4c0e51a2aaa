package sd

import (
	"fmt"
	"time"
)

// RegistrationEventKind says what happened to a published service (or,
// for a Multicast DNS responder, to its host name).
type RegistrationEventKind int

const (
	// Announced: the service is published: probing succeeded and the
	// first announcement was sent (Multicast DNS), or the zone's server
	// accepted the records (DNS UPDATE, RFC 2136).
	Announced RegistrationEventKind = iota + 1
	// Conflict: someone else holds the name with different data. In
	// Multicast DNS another host answered (RFC 6762 section 9) and the
	// name is being probed again; in a zone, a refresh found other
	// records holding it and renaming is off.
	Conflict
	// Renamed: the name was taken; Old and New give the change.
	Renamed
	// Deferred: a simultaneous probe was lost (Multicast DNS, RFC 6762
	// section 8.2); probing again after a second.
	Deferred
	// Removed: the service was withdrawn (goodbyes sent on the link, or
	// its records deleted from the zone).
	Removed
	// Withdrawn: a service published for another host (a proxy, as a
	// gateway publishes) was withdrawn from one interface because someone
	// on that link holds its name, or its origin host's name, with other
	// data (Multicast DNS, RFC 6762 section 9). A proxy is never renamed:
	// the name is another host's. Reason names the interface and the
	// other party's data. It follows a Conflict event; the service stays
	// published on its other interfaces, and once it is withdrawn from
	// all of them a Removed event ends its events.
	Withdrawn
)

// String returns a lower-case name for k: "announced", "conflict",
// "renamed", "deferred", "removed" or "withdrawn".
func (k RegistrationEventKind) String() string {
	switch k {
	case Announced:
		return "announced"
	case Conflict:
		return "conflict"
	case Renamed:
		return "renamed"
	case Deferred:
		return "deferred"
	case Removed:
		return "removed"
	case Withdrawn:
		return "withdrawn"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// RegistrationEvent is something that happened to a published service.
type RegistrationEvent struct {
	// Kind says what happened.
	Kind RegistrationEventKind
	// Old and New are the full names before and after; they are equal
	// unless the service was renamed.
	Old, New string
	// Reason says why, for a person to read.
	Reason string
	// Time is when it happened.
	Time time.Time
}
