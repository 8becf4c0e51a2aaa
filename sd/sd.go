// Package sd is the DNS-Based Service Discovery (RFC 6763) vocabulary that
// lansd's publishers and browsers share, whatever carries the records:
// Multicast DNS on the link (packages announce and browse) or unicast DNS
// in a zone (package wide).
//
// Publishing: a Service describes a service instance to publish;
// Validate checks it (instance name, service type and subtypes against
// the IANA registry of package registry, TXT record against its rules of
// package txt) and Prepare works out what its records carry. Problems are
// a *ValidationError holding *FieldError values and the TXT findings. A
// published service reports what happens to its name as a
// RegistrationEvent (announced, conflict, renamed, removed), and calls on
// a closed publisher or a removed service fail with errors matching
// ErrClosed or ErrRemoved.
//
// Browsing: an Instance is a resolved service instance with its
// conformance verdict; an Event says that one was added, updated or
// removed; Stats count what a browser did; Browser is what every browser
// offers, and Merge runs several as one.
package sd

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lansd/lansd/txt"
)

// ServicesType is the DNS-SD service type enumeration meta-query (RFC 6763
// section 9). Given to a browser as a type, it browses every service type
// that is enumerated, adding each one as it is discovered.
const ServicesType = "_services._dns-sd._udp"

// ErrBadName is wrapped by errors about names that are not usable: a
// service type that does not parse, a name outside the domains browsed, an
// instance name without service type, a domain that is not a domain name.
var ErrBadName = errors.New("bad name")

// Family is an IP address family: IPv4 or IPv6.
type Family int

// The address families; their values are the IP version numbers.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// String returns "IPv4" or "IPv6".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("Family(%d)", int(f))
}

// FamilyOf returns the family of a: IPv4 for an IPv4 address, also when it
// is held as an IPv4-mapped IPv6 address (::ffff:198.51.100.7), else IPv6.
func FamilyOf(a netip.Addr) Family {
	if a.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// Instance is a resolved service instance (RFC 6763 section 4): complete
// with its SRV and TXT records and at least one address of its host, or
// reported without address when its host had none after the resolution
// window (Addrs is then empty and Report holds a warning naming the host).
//
// Multicast DNS names are per link (RFC 6762): an Instance is the name as
// seen on one interface (Ifaces), and the same name on two interfaces is
// two Instances. For unicast DNS, the interface is the servers asked.
type Instance struct {
	// Name is the full instance name, "Office TZ._timezone._tcp.local.",
	// with dots and backslashes inside the instance label written \. and \\
	// (RFC 6763 section 4.3); it is what Resolve accepts.
	Name string
	// Instance is the instance label as published, raw ("Office TZ").
	Instance string
	// Service is the service type, "_timezone._tcp".
	Service string
	// Domain is the domain, "local." for Multicast DNS.
	Domain string
	// Host is the SRV target, "h2.local.".
	Host string
	// Port is the SRV port.
	Port uint16
	// Addrs are the host's addresses seen on the instance's interface,
	// IPv4 first, sorted; an IPv6 link-local address carries the name of
	// the interface as its zone (fe80::2%lan0). Empty when the host has no
	// address (see Report).
	Addrs []netip.Addr
	// TXT is the TXT record.
	TXT txt.Record
	// Ifaces names the one interface the instance was seen on (for unicast
	// DNS, the servers asked): a list of one, kept a list for the JSON
	// output's "iface" and for callers that merge instances.
	Ifaces []string
	// Seen lists the interface and each address family the instance's
	// records (its PTR record, or SRV for Resolve) arrived over.
	Seen []Source
	// TTL is the smallest TTL, as received, of the records the instance is
	// made of: how long it would last without being refreshed.
	TTL time.Duration
	// Report is the conformance verdict: txt.Validate of the TXT record
	// against the registry's Service for the instance's type (syntax only
	// when the registry does not know the type). An instance without
	// address has a first, record-level Warning finding more (Offset -1,
	// Rule "RFC 6763 section 5"): no address for host "h9.local.".
	Report txt.Report
	// Registered is the registry's name for the service type ("timezone"),
	// or "" when the registry does not know it.
	Registered string
}

// Conforms reports whether the instance's TXT record has no Fatal finding.
func (in Instance) Conforms() bool { return in.Report.Conforms() }

// Source is an interface and address family an instance was seen on.
type Source struct {
	Iface  string
	Family Family
}

// EventKind says what happened to an instance.
type EventKind int

const (
	// Add: the instance became complete (SRV, TXT and an address), or was
	// found with SRV and TXT but no address for the whole resolution
	// window, for the first time or again after a Remove.
	Add EventKind = iota + 1
	// Update: its TXT record, port, target host, addresses, or the address
	// families it was seen over (Seen) changed.
	Update
	// Remove: it said goodbye (TTL 0, RFC 6762 section 10.1), expired, lost
	// its SRV or TXT record, or its interface went away. Instance is the
	// last state.
	Remove
)

// String returns "add", "update" or "remove".
func (k EventKind) String() string {
	switch k {
	case Add:
		return "add"
	case Update:
		return "update"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change of one instance.
type Event struct {
	Kind     EventKind
	Instance Instance
	Time     time.Time
}

// Stats count what a browser has done.
type Stats struct {
	// Records is the number of records cached now; Instances the number of
	// instances reported (one per name and interface).
	Records, Instances int
	// Packets counts DNS messages handled; Ignored those dropped: responses
	// from a port other than 5353, unicast responses not asked for, non-zero
	// opcode or rcode.
	Packets, Ignored uint64
	// Queries counts query packets sent, Truncated those with the TC bit
	// (for unicast DNS: UDP answers with the TC bit, asked again over TCP),
	// Suppressed question transmissions skipped because another querier
	// had just asked them (RFC 6762 section 7.3).
	Queries, Truncated, Suppressed uint64
	// Expired, Flushed, Goodbyes and Evicted count cache removals: TTL
	// expiry, cache-flush (RFC 6762 section 10.2), goodbye packets
	// (section 10.1) and evictions when the cache was full.
	Expired, Flushed, Goodbyes, Evicted uint64
	// EvictedRelated counts the evictions (in Evicted) of records a browse,
	// resolution or enumeration was interested in: those may remove an
	// instance. Evictions take from the source holding the most records.
	EvictedRelated uint64
	// DroppedRate and DroppedBound count records not cached by the cache's
	// per-source bounds (a resource limit on the passive caching of RFC 6762
	// section 10, so that one host cannot crowd out the others): DroppedRate
	// those naming something new to their source beyond its rate of new
	// names per second, DroppedBound those from a source holding its share
	// of the cache (or the most records of a full cache). Zero for unicast
	// DNS, whose one source is its servers.
	DroppedRate, DroppedBound uint64
	// Sources is the number of sources (sender addresses, per interface)
	// holding cached records now.
	Sources int
}

// ResolveError is returned when an instance did not become complete before
// the context ended; Missing names what was never found.
type ResolveError struct {
	// Name is the instance name asked for.
	Name string
	// Missing lists what was missing: "SRV record", "TXT record",
	// "address of h2.local." or "address (no SRV target yet)".
	Missing []string
	// Err is the context's error.
	Err error
}

// Error says what was missing, e.g. `resolving "Office
// TZ._timezone._tcp.local.": no SRV record, no TXT record: context
// deadline exceeded`.
func (e *ResolveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resolving %q: ", e.Name)
	for i, m := range e.Missing {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("no " + m)
	}
	if len(e.Missing) == 0 {
		b.WriteString("incomplete")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the context's error.
func (e *ResolveError) Unwrap() error { return e.Err }
