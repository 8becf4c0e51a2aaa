package wide

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/sd"
)

// Errors a Registrar's errors match with errors.Is (besides ErrNoAnswer:
// the server did not answer within the timeout, *UnreachableError).
var (
	// ErrNameConflict: the instance name is held in the zone by records
	// that are not ours, and RegistrarOptions.NoRename forbids renaming
	// (*ConflictError).
	ErrNameConflict = errors.New("wide: instance name taken in the zone")
	// ErrTSIGRejected: the server rejected the TSIG key (BADKEY, BADSIG,
	// BADTIME; *UpdateError).
	ErrTSIGRejected = errors.New("wide: TSIG key rejected")
	// ErrUpdateRefused: the server refused the update: the zone does not
	// accept updates from this key or address (*UpdateError).
	ErrUpdateRefused = errors.New("wide: update refused")
	// ErrClosed is returned by a closed Registrar. It wraps sd.ErrClosed,
	// which the errors of a closed announce.Responder wrap too.
	ErrClosed = fmt.Errorf("wide: registrar %w", sd.ErrClosed)
)

// errRemoved is returned by calls on a Registration that was removed; it
// wraps sd.ErrRemoved.
var errRemoved = fmt.Errorf("wide: service %w", sd.ErrRemoved)

// ConflictError is an instance name held in the zone by someone else:
// its SRV or TXT records differ from ours (RFC 6763 section 4.1: one
// instance name, one service), and renaming is off.
type ConflictError struct {
	Name     string   // the full instance name
	Server   string   // the server asked, host:port
	Existing []dns.RR // the SRV and TXT records found under Name
	// Local is true when another service of the same registrar holds
	// the name.
	Local bool
}

// Error names the instance and what holds it.
func (e *ConflictError) Error() string {
	held := heldBy(e.Existing)
	if e.Local {
		held = "another service of this registrar"
	}
	return fmt.Sprintf("%q is taken in the zone at %s by %s; not renamed (NoRename)", e.Name, e.Server, held)
}

// Is makes errors.Is(err, ErrNameConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrNameConflict }

// rrData returns "TYPE rdata" of rr, for messages.
func rrData(rr dns.RR) string {
	s := rr.String()
	h := rr.Header().String()
	return dns.TypeToString[rr.Header().Rrtype] + " " + strings.TrimSpace(strings.TrimPrefix(s, h))
}

// UpdateError is an error answer from the zone's server, to an update or
// to one of the queries a registration makes.
type UpdateError struct {
	Server string // host:port
	Zone   string
	Op     string // "update" or "query"
	Rcode  int    // the response code, e.g. dns.RcodeRefused, dns.RcodeNotAuth
	// TSIGError is the TSIG error (RFC 8945 section 5.2: dns.RcodeBadSig,
	// dns.RcodeBadKey, dns.RcodeBadTime), or 0.
	TSIGError int
	// Key names the TSIG key sent, or "" for an unsigned message.
	Key string
	// Unsigned is true when the answer to a signed message was not
	// signed (RFC 8945 section 5.4: the answer cannot be trusted).
	Unsigned bool
}

// Error explains the answer: "TSIG key NAME rejected by 127.0.0.1:5300:
// BADKEY ...".
func (e *UpdateError) Error() string {
	key := strings.TrimSuffix(e.Key, ".")
	switch {
	case e.TSIGError != 0:
		msg := fmt.Sprintf("TSIG key %s rejected by %s: %s", key, e.Server, rcodeName(e.TSIGError))
		switch e.TSIGError {
		case dns.RcodeBadKey:
			msg += " (the server does not know this key name and algorithm)"
		case dns.RcodeBadSig:
			msg += " (the secret does not match the server's)"
		case dns.RcodeBadTime:
			msg += " (this machine's clock and the server's differ by more than 5 minutes)"
		}
		return msg
	case e.Unsigned:
		return fmt.Sprintf("%s of zone %s: the answer from %s is not signed though the request was (RFC 8945 section 5.4): %s", e.Op, e.Zone, e.Server, rcodeName(e.Rcode))
	case e.Rcode == dns.RcodeRefused && e.Op == "update":
		who := "unsigned updates"
		if key != "" {
			who = "updates signed with key " + key
		}
		return fmt.Sprintf("update of zone %s refused by %s: REFUSED (the zone does not accept %s)", e.Zone, e.Server, who)
	case e.Rcode == dns.RcodeNotAuth:
		return fmt.Sprintf("%s is not authoritative for zone %s: NOTAUTH", e.Server, e.Zone)
	case e.Rcode == dns.RcodeNotZone:
		return fmt.Sprintf("%s of zone %s at %s: NOTZONE (a name is outside the zone)", e.Op, e.Zone, e.Server)
	}
	msg := fmt.Sprintf("%s of zone %s at %s failed: %s", e.Op, e.Zone, e.Server, rcodeName(e.Rcode))
	if e.Rcode == dns.RcodeServerFailure && e.Op == "update" {
		msg += " (the server's log says why; BIND 9.18.28 and later, for one, refuse more than 100 records of one type at one name unless max-records-per-type is raised)"
	}
	return msg
}

// Is makes errors.Is match ErrTSIGRejected and ErrUpdateRefused.
func (e *UpdateError) Is(target error) bool {
	switch target {
	case ErrTSIGRejected:
		return e.TSIGError != 0
	case ErrUpdateRefused:
		return e.TSIGError == 0 && e.Rcode == dns.RcodeRefused
	}
	return false
}

// rcodeName returns the mnemonic of an RCODE or TSIG error.
func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// UnreachableError is a server that gave no usable answer within the
// timeout.
type UnreachableError struct {
	Server string        // host:port
	Zone   string        // the zone
	Op     string        // "update" or "query"
	Waited time.Duration // how long we tried
	Tries  int           // messages sent
	Err    error         // the last error seen
}

// Error names the server and the last error.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("no answer from DNS server %s (zone %s, %s) after %v and %d tries: %v",
		e.Server, e.Zone, e.Op, e.Waited.Round(time.Millisecond), e.Tries, e.Err)
}

// Unwrap returns the last error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNoAnswer) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrNoAnswer }
