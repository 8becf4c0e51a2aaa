// Package browse is a Multicast DNS querier (RFC 6762) that discovers
// DNS-Based Service Discovery instances (RFC 6763) on the local link,
// resolves them, reports them as add/update/remove events, and judges each
// one's TXT record against the IANA service-name registry.
//
// Browse (or NewBrowser and its Events channel) follows service types,
// Resolve looks up one instance, Enumerate lists the service types on the
// link. Instances, events and stats are those of package sd, the DNS-SD
// vocabulary all lansd browsers share.
//
// This package serves only the local. domain over Multicast DNS. Browsing
// and resolving services in unicast DNS domains (wide-area DNS-SD) is
// package wide, which builds the same instances and verdicts.
//
// # Querying (query.go, querier.go)
//
//   - Continuous querying (RFC 6762 section 5.2): the first query at once
//     for the application's own call (no trigger other hosts share), after
//     a random 20-120 ms when an interface comes up or a type is learnt
//     from a response; then at intervals of 1 s, 2 s, 4 s, ... up to 60
//     minutes. All browsed types share packets when due together.
//   - Known answers (section 7.1): every query lists the cached records that
//     answer it with more than half their TTL left, with their remaining
//     TTL, so responders stay quiet about what we know. When they do not fit
//     in one packet (the interface MTU), the query gets the TC bit and the
//     rest follow in further packets (section 7.2).
//   - Duplicate question suppression (section 7.3): when another querier on
//     an interface asks one of our questions as QM, with a complete
//     Known-Answer list that holds nothing we would not list ourselves, in
//     the second half of our wait, our next query counts as sent there.
//   - QU first, QM after (section 5.4). A question's first transmission
//     sets the unicast-response (QU) bit, so responders that answer only by
//     unicast (hashicorp/mdns answers every query that way) are found at
//     once; every later transmission is QM. Port 5353 is shared
//     (SO_REUSEPORT) with Avahi and other lansd processes, and a unicast
//     datagram reaches only one of the sockets, so discovery never depends
//     on the unicast answer: the QM query one second later is answered by
//     multicast, which every socket on the port receives. Unicast responses
//     are accepted only within two seconds of a QU query sent on their
//     interface and from an on-link source (sections 6 and 11); others are
//     ignored.
//   - Resolution: an instance is complete with SRV, TXT and at least one
//     address. When the additional records do not bring them, the missing
//     ones are asked for (SRV and TXT by instance name, A and AAAA of the
//     SRV target) after 20-120 ms, then at doubling intervals while they are
//     still missing. At most 256 such questions go out at once, the rest a
//     second later, so that a flood of PTR records naming instances that do
//     not exist cannot make the querier flood the link in turn.
//   - Cache maintenance (section 5.2): a record someone is interested in (a
//     browsed PTR, the SRV/TXT of a followed instance, its host's addresses)
//     is asked for again at 80%, 85%, 90% and 95% of its TTL, each plus a
//     random 0-2%, unless an answer refreshed it first. Other records are
//     never refreshed.
//
// # Cache (internal/engine/cache.go)
//
// The cache, the instances and the verdicts are the browse engine
// (internal/engine), which unicast DNS browsing (package wide) shares; this
// package feeds it the Multicast DNS packets received and asks on the link
// the questions it wants asked.
//
// Every record of every response is cached, answers meant for other
// queriers included, keyed by interface, name, type, class and rdata (names
// compared case-insensitively, section 16). A record's TTL runs from its
// last reception. A goodbye (TTL 0) leaves the record one more second
// (section 10.1); a record with the cache-flush bit makes the older records
// of its RRset on that interface, those received more than a second
// earlier, expire in one second (section 10.2). Responses from a port other
// than 5353 (section 6), with a non-zero opcode or rcode (sections 18.3,
// 18.11) are ignored.
//
// The cache holds at most Options.MaxRecords records (default 100,000: a link of 10,000 instances fits, one host holding them all
// or many),
// shared fairly among the hosts that send them (a resource limit on the
// passive caching of section 10; internal/engine fairness.go): each source
// address holds at most half the cache and adds at most MaxRecords/40 names
// new to it per second (bursts of MaxRecords/4; refreshes of its names are
// not limited); records beyond are dropped and counted in
// Stats.DroppedBound and Stats.DroppedRate. When a new record arrives and
// the cache is full, a tenth of it is evicted at once from the source
// holding the most records: its records nobody is interested in first,
// then the others, each group soonest-to-expire first (if the new record's
// source holds the most, the new record is dropped instead). Evictions are
// counted in Stats.Evicted (Stats.EvictedRelated those of records someone
// was interested in). An evicted record is gone as if it had expired: an
// instance that loses one is removed, and asked for again. So a host
// flooding the link with fake instances can neither evict nor delay what
// the other hosts announce.
//
// # Instances and events (internal/engine: instances.go, assemble.go, verdict.go)
//
// Multicast DNS names are per link (RFC 6762): an instance is a name on
// one interface. The same name answered on two interfaces (two networks
// that each have a "Same TZ") is two instances, each with its own events,
// addresses (only those received on its interface; IPv6 link-local ones
// zoned with it), TTL and verdict; Ifaces names its one interface and Seen
// the address families its records arrived over there. Resolve returns the
// first link's that is complete, ResolveAll every link's.
//
//   - Add: the instance became complete (its PTR record, SRV, TXT and at
//     least one address of its SRV target), or it has SRV and TXT but its
//     host has no address at the end of the resolution window: once its A
//     and AAAA questions have been asked three times (about 3.6 s after it
//     was found so). It is then reported with host and port, empty Addrs
//     and a warning finding in Report: no address for host "h9.local.".
//   - Update: its TXT record, port, target host, addresses, or the address
//     families it was seen over (a dual-stack responder's IPv6 answer
//     usually arrives just after its IPv4 one) changed. An address arriving
//     for an instance reported without one is an Update; a host whose
//     address changes (the new one announced with the cache-flush bit, or
//     the old one said goodbye to) is one Update with the new address set,
//     at once: records about to go are left out while the host has others.
//   - Remove: it stopped being announced there (goodbye, one second later,
//     or at once with Options.RemoveOnGoodbye; expiry; a flush), it lost
//     its SRV or TXT record, or its interface went away (at once).
//
// Every event carries the verdict: txt.Validate against the registry's
// Service for the instance's type.
//
// Interfaces: one that goes away takes what was learnt only there with
// it, with Remove events at once; one that comes up is asked on after a
// random 20-120 ms (RFC 6762 section 5.2), every browse question starting
// again at one-second intervals.
//
// # Enumeration (enumerate.go)
//
// Enumerate asks _services._dns-sd._udp.local. (RFC 6763 section 9).
// Giving ServicesType to Browse browses every type so found; subtypes
// ("_printer._sub._http._tcp", RFC 6763 section 7.1) are browsed like types.
//
// # Design
//
// One goroutine owns all state and runs every timer from the cache's heap
// and the question schedule; a second one reads packets from the transport.
// Everything received can grow is bounded: the cache, the events waiting to
// be received (the browser stops reading while too many wait), the
// enumerated types, the duplicate-question table. The context given to
// NewBrowser bounds only its start-up (opening the transport); Close stops
// both goroutines and the transport's. Browse, Resolve and Enumerate run
// until their context ends (or they have their answer) and close what they
// opened.
package browse
