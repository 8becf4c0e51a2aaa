// Package announce is a Multicast DNS responder (RFC 6762) publishing
// DNS-Based Service Discovery services (RFC 6763) on the local link.
//
// New claims a host name ("h1.local.") and Responder.Add publishes a
// Service: its PTR records (service type, subtypes, and the
// _services._dns-sd._udp enumeration name), SRV and TXT records, with the
// host's A and AAAA records given per interface (each interface's own
// addresses only).
//
// Publishing the same Service descriptions in ordinary unicast DNS
// (wide-area DNS-SD) is package wide's. The description, its validation
// and the events of a published service are package sd's, shared by both;
// Service, ValidationError, Event and the other names here are aliases of
// them.
//
// # Life of a name
//
//   - Probing (RFC 6762 section 8.1): after a random 0-250 ms wait, three
//     queries 250 ms apart, each asking type ANY for every name being
//     claimed, with the proposed records in the Authority section; the
//     first sets the unicast-response (QU) bit, so a defender answers at
//     once, the others do not, so that defences are also multicast (a
//     unicast answer reaches only one of several sockets sharing port 5353). Names claimed at the same time
//     share probe packets. A response naming a name being probed is a
//     conflict: the name is renamed ("Office TZ (2)", host "h1-2") and
//     probed again; after 15 conflicts in 10 s each new attempt waits 5 s.
//     Simultaneous probes are tie-broken as section 8.2 says (class, type,
//     then raw rdata of the sorted record sets); the loser waits 1 s.
//   - Announcing (section 8.3): three unsolicited responses at 0, 1 and
//     3 s (the RFC asks for at least two, one second apart, the interval
//     at least doubling). Add returns after the first. Unique records
//     (SRV, TXT, A, AAAA, NSEC) carry the cache-flush bit, shared PTR
//     records do not (section 10.2).
//   - Answering (section 6): unique answers go out at once; answers with
//     shared records after a random 20-120 ms, aggregated per interface.
//     Additional records follow RFC 6763 section 12; NSEC records assert
//     the types a name of ours does not have (section 6.1). Known answers
//     with at least half our TTL are not repeated (section 7.1), and a
//     truncated query waits 400-500 ms for the rest of its known answers
//     (7.2). QU questions are answered by unicast when the record was
//     multicast within the last quarter of its TTL, by multicast otherwise
//     (section 5.4); a probe's QU question always gets the unicast answer.
//     A record is multicast at most once a second per interface, once per
//     250 ms when defending against a probe (section 6.2). Queries from a
//     port other than 5353 get a legacy unicast response: same ID, the
//     question repeated, TTLs of at most 10 s, no cache-flush bits (6.7).
//   - Defending (section 9): a response from another host with different
//     data for one of our unique records sends the name back to probing
//     (and to a new name if the other host defends it). Identical data is
//     no conflict.
//   - Updating (section 8.4): Handle.UpdateTXT announces the new TXT
//     record again with the cache-flush bit; only data changed, not a
//     claimed name, so there is no new probing.
//   - Goodbye (section 10.1): Handle.Remove and Responder.Close multicast
//     every announced record with TTL 0.
//   - Link changes (section 8): the transport reports interfaces that come
//     and go and addresses that change, and the responder acts on the
//     interfaces concerned only, the others answering meanwhile. An
//     interface that comes up gets every name probed (in shared packets)
//     and announced there; an address added gets the host name's new
//     address set probed and announced there with the cache-flush bit; an
//     address removed gets a goodbye for its A or AAAA record there; an
//     interface that goes gets goodbyes as far as it can still send, and is
//     forgotten. Our own records seen again, even some time after we
//     stopped publishing them (within their TTL: a flapping link, a
//     replaced address, a second NIC on the same link, a peer repeating
//     them), are no conflict (section 9), so a host never renames itself.
//     The addresses advertised are exactly those the transport reports for
//     each interface; it leaves out those not to be advertised (tentative,
//     deprecated, temporary).
//
// # Proxies
//
// Responder.AddProxy publishes a service of another host, as a gateway
// does for what it learnt on another link (proxy.go): on the interfaces
// listed only, with the origin host's name as SRV target and the
// addresses given for it. Its instance name and host name are probed,
// announced, answered and said goodbye to on those interfaces as our own
// names are, but never renamed: a conflict there (section 9, or a lost
// tie-break, 8.2) withdraws it from that interface (EventConflict, then
// EventWithdrawn), with goodbyes if it was announced. Proxies of one host
// share its address records on an interface. Every TTL is capped by
// ProxyOptions.Expires (section 10), at which the proxy is withdrawn if
// no Handle.UpdateProxy moved it.
//
// Responses fit the interface MTU when they can and are split otherwise,
// never exceeding 9000 bytes (section 17).
//
// # Design
//
// One goroutine owns all state and runs every timer from a single heap;
// a second goroutine reads packets into a bounded channel (dropping when
// the event loop falls behind). API calls are run on the event loop.
// Every table that received packets can grow (pending responses, waits
// for known answers, multicast history) is bounded. Close stops both
// goroutines.
//
// Services are validated before anything is sent: the instance name
// (RFC 6763 section 4.1.1), the service type (RFC 6763 section 7 and
// RFC 6335 section 5.1 through package registry) and the TXT record
// (RFC 6763 section 6 and the IANA registry's TXT key rules through
// package txt). Port 0 is published with a warning.
package announce
