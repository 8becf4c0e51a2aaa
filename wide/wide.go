// Package wide is wide-area DNS-Based Service Discovery (RFC 6763 over
// ordinary unicast DNS): registering services into a DNS zone with DNS
// UPDATE (RFC 2136) signed with TSIG (RFC 8945) and leased (RFC 9664), and
// browsing and resolving the services of a zone, with the same instances,
// events and verdicts as the Multicast DNS browser (package sd). Multicast
// DNS on the link is packages announce and browse; this package never
// sends multicast.
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
