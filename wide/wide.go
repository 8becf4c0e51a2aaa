// Package wide is wide-area DNS-Based Service Discovery (RFC 6763 over
// ordinary unicast DNS), for services that must be found beyond the link:
// registering services into a DNS zone, and browsing and resolving the
// services of a zone with the same instances, events and verdicts as the
// Multicast DNS browser (the vocabulary of package sd). Multicast DNS on the
// link is packages announce and browse; this package never sends
// multicast and does not link the Multicast DNS transport.
//
// # Registration (registrar*.go, records.go, exchange.go, primary.go)
//
// A Registrar adds services to one zone with DNS UPDATE (RFC 2136) signed
// with TSIG (RFC 8945, keys from package tsig) and leased (RFC 9664): the
// PTR, subtype PTRs, SRV, TXT and the host's A/AAAA records of RFC 6763,
// written with prerequisites so that a name someone else holds is never
// overwritten (the instance is renamed, "Office TZ (2)", or refused). One
// goroutine owns the registrar's state; Close removes exactly the records
// it added. Updates go to the zone's primary server (the MNAME of its SOA,
// RFC 2136 section 4) unless a server is given. BuildRecords gives the
// records of a service without sending anything.
//
// # Browsing (browse.go, resolve.go, domains.go, query.go)
//
// NewBrowser polls a zone's PTR, SRV, TXT, A and AAAA records (RFC 6763
// sections 4 to 12) and feeds them to the same browse engine as the
// Multicast DNS querier; Resolve looks up one instance; Domains lists the
// browsing domains a zone recommends (RFC 6763 section 11), also under the
// reverse-mapping names of the host's networks.
//
// Every unicast exchange goes through one client: UDP, TCP when a request
// is large or an answer truncated (RFC 7766), retransmissions at doubling
// intervals within DefaultTimeout.
//
// Constructors do no network I/O and take no context (NewRegistrar), or
// take one that bounds only their start-up (NewBrowser): the object runs
// until Close, as announce.New and browse.NewBrowser do.
package wide

import (
	"errors"
	"time"

	"github.com/lansd/lansd/sd"
)

// DefaultTimeout bounds one DNS exchange, retransmissions included, when an
// option leaves its timeout at zero.
const DefaultTimeout = 5 * time.Second

// ErrNoAnswer is wrapped by errors that say no DNS server answered.
var ErrNoAnswer = errors.New("wide: DNS server did not answer")

// ErrBadName is sd.ErrBadName: wrapped by errors about names, types and
// domains that are not usable.
var ErrBadName = sd.ErrBadName

// resolvConf is where the system's resolvers and search domains are read.
const resolvConf = "/etc/resolv.conf"
