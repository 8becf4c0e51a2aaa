// Package gateway is lansd's service discovery gateway (`lansd gateway
// --config FILE`): its configuration says which links the gateway joins,
// which DNS zones it may mirror instances into, and which instances cross
// from which links to which links and zones; its Policy decides (pure Go,
// no network I/O); and Gateway runs it: one browser per source link, and
// the instances the Policy lets cross published on the destination links
// as proxies of one announce.Responder (see Gateway and New), and those
// a rule sends to a zone written into that unicast DNS zone by one
// ZoneMirror per zone (DNS UPDATE, RFC 6763 section 11 browsing domains,
// the zone left as found; see "Zones" below).
//
// # Configuration
//
// Parse and Load read a JSON object of three members, all optional (an
// empty configuration is valid and lets nothing cross):
//
//   - "links": name -> {"interfaces": ["eth0.10", ...]}: a link is a
//     named set of network interfaces, at least one; an interface belongs
//     to one link. Names are 1 to 63 bytes of a-z, 0-9 and '-'.
//   - "zones": name -> {"domain": "dnssd.example.net.", "server":
//     "192.0.2.53:53", "tsig": "hmac-sha256:NAME:BASE64" or "tsig_file":
//     "/etc/lansd/gateway.key", "ttl": 120}: a unicast DNS zone, updated
//     with DNS UPDATE (RFC 2136). "domain" is required (the zone's apex,
//     not local.); "server" (host or host:port) defaults to the zone's
//     primary server, looked up; the key is given inline in the form of
//     nsupdate -y or as a BIND key file (not both; none sends unsigned
//     updates); "ttl" is in seconds, 1 to 2^31-1. A zone may not share a
//     link's name, nor its domain with another zone.
//   - "rules": [{"from": [links], "to": [links], "to_zones": [zones],
//     "types": [...], "instances": [...], "sources": [...],
//     "conformance": "any" | "conforming" | "strict"}]: "from" and at
//     least one of "to" and "to_zones" are required, and no link is in
//     both "from" and "to". "types" is required: service types as
//     "_ipp._tcp", as a registry name ("timezone", its protocol taken from
//     the registry by NewPolicy), or as a subtype
//     ("_printer._sub._http._tcp"); ["*"] means every type. "instances"
//     are path.Match patterns for the raw instance label; "sources" are
//     address prefixes ("198.51.100.0/24", "2001:db8::/32");
//     "conformance" defaults to "any".
//
// Parsing is strict: unknown members, members given twice, values of the
// wrong kind, bad names, prefixes, patterns and keys, and rules naming
// links or zones that do not exist are all errors. Every problem is
// reported at once, as ConfigErrors sorted by field, each a *ConfigError
// naming its field by JSON path: `rules[2].to[0]: unknown link "guest"`;
// input that is not JSON gives one *ConfigError with the byte offset,
// line and column. A registry name among the types is resolved by
// NewPolicy, which reports an unknown one the same way. Config.Marshal
// writes a configuration back.
//
// # Example: three VLANs
//
// A router with three VLANs on eth0: office (10), guest (20) and iot
// (30). Printers and time-zone servers of the office are visible on the
// guest and IoT VLANs; every conforming instance of the office is
// mirrored into the zone dnssd.example.net., where standard DNS-SD
// clients browse it.
//
//	{
//	  "links": {
//	    "office": {"interfaces": ["eth0.10"]},
//	    "guest": {"interfaces": ["eth0.20"]},
//	    "iot": {"interfaces": ["eth0.30"]}
//	  },
//	  "zones": {
//	    "corp": {
//	      "domain": "dnssd.example.net.",
//	      "server": "192.0.2.53:53",
//	      "tsig": "hmac-sha256:gateway-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",
//	      "ttl": 120
//	    }
//	  },
//	  "rules": [
//	    {
//	      "from": ["office"],
//	      "to": ["guest", "iot"],
//	      "types": ["_ipp._tcp", "_ipps._tcp", "_printer._sub._http._tcp", "timezone", "timezones"],
//	      "sources": ["198.51.100.0/24"],
//	      "conformance": "conforming"
//	    },
//	    {
//	      "from": ["office"],
//	      "to_zones": ["corp"],
//	      "types": ["*"],
//	      "conformance": "conforming"
//	    }
//	  ]
//	}
//
// # Policy
//
// NewPolicy turns a Config into a Policy; Policy.Decide says, for an
// instance seen on a source link, for each destination of each rule
// from that link, whether it crosses (Decision.Proxy, with the addresses
// it crosses with) or which filter refused it and why. Nothing crosses
// without a rule; an instance crosses only from the link its routable
// addresses are on (so that what one gateway proxied onto a link is never
// proxied back: loops are impossible by construction); link-local
// addresses never cross. Policy.BrowseTypes says what to browse on a
// source link, Policy.SourcesFor which source links to ask when a query
// arrives on a destination link.
//
// # Zones
//
// For every zone a rule names in "to_zones", New makes a ZoneMirror and,
// before it opens anything on a link, asks the zone's server whether it
// takes the gateway's updates (ZoneMirror.Check: one signed UPDATE that
// only has a prerequisite, writing nothing). A server that answers no
// (the key rejected: BADKEY, BADSIG, BADTIME; updates refused) is a
// configuration error the operator must fix: New fails with ConfigErrors
// naming the zone ("zones.corp: the zone's server refuses the gateway's
// updates: TSIG key ... BADSIG ..."), and lansd gateway exits 2. A server
// that does not answer may only be down for a while: the gateway starts
// (and proxies between links as usual), logs it, and reports each
// instance for that zone refused with the server's error, once, trying
// again every RefreshInterval until the server answers.
//
// An instance that passes a rule's filters for a zone is written into it
// (ZoneMirror.Put: PTR, the _services._dns-sd._udp PTR, SRV to
// HOST.LINK.ZONE, TXT, the host's routable addresses as A and AAAA, and
// with the first instance the "b" and "lb" browsing-domain PTRs) and
// reported proxied once the server has accepted the update, with To the
// zone's name and Reason what was written ("in zone dnssd.example.net. as
// Office TZ._timezone._tcp.dnssd.example.net., SRV
// h1.office.dnssd.example.net.:8080, addresses 198.51.100.7"). A new TXT
// record is replaced in place; new addresses, port or host are written
// again; no event. The records carry the zone's "ttl" (default 120 s):
// clients may cache a record that long after it left the zone, so a
// short ttl keeps them closer to the link.
//
// When the instance leaves its source link, by a goodbye or because its
// records expired there (the browser removes it at the end of its TTL,
// after the reconfirming queries of RFC 6762 section 5.2), it is deleted
// from the zone at once and reported removed once the server has done it:
// one UPDATE after the goodbye (see Removal). The zone holds no expiry of its
// own: the source's TTL ends the instance in the zone through the
// browser, and a gateway that dies leaves its records behind until it
// runs again (the registrar's RFC 9664 update lease, two hours, ends them
// on servers that honour leases; BIND does not). A deletion the server
// does not answer is tried again after 1, 2, 4 ... seconds, up to
// RefreshInterval apart.
//
// A name held in the zone by other data (another publisher's instance, a
// record an operator put there, the same name from another link) is
// never renamed and nothing is written: the instance is reported
// withdrawn for the zone with the holder's records in the reason, and is
// not tried again until it leaves its link and comes back. A TXT record
// the registry refuses, or an update the server refuses, is reported
// refused and tried again when the instance changes.
//
// Calls into the mirrors do network I/O: they never run in the owner
// goroutine but in goroutines of their own, chained per instance and
// zone as the calls into the responder are, and their outcomes come back
// to the owner. Close (SIGINT, SIGTERM, and a SIGHUP that needs a
// restart, see Reloading) waits for the calls in flight (each given the time of one exchange,
// 5 s, to finish), then deletes everything the gateway
// added to each zone, browsing-domain PTRs included (ZoneMirror.Close,
// within ZoneCloseTimeout): the zone is left as it was found.
//
// # Removal
//
// When an instance leaves its source link, its proxies are withdrawn
// (goodbyes on the destination links, RFC 6762 section 10.1) as soon as
// the gateway hears the goodbye of its PTR or SRV record: the gateway's
// browsers run with browse.Options.RemoveOnGoodbye, so the goodbye is
// passed on at once rather than when the records leave the cache one
// second later. A browser on the destination link then keeps the proxy's
// goodbye one second, as every querier does: the instance leaves it about
// one second after the source's goodbye (measured on the virtual LAN:
// 1.00 s). Should the instance be announced again, within that second or
// later, it is proxied again as a new one (probed and announced). An
// instance that expires at its source (no goodbye) is removed when its
// records expire in the gateway's cache; the proxies' TTLs never run past
// the source's (announce.ProxyOptions.Expires).
//
// # Reloading
//
// Gateway.Reload (lansd gateway's SIGHUP) applies a new configuration to
// the running gateway in place, changing only what it changes. It is
// checked whole first (NewPolicy); on any error the gateway runs on with
// the old one, untouched. Then, in the owner goroutine, the new policy
// replaces the old and every instance the gateway knows is decided
// again: what no longer passes is withdrawn (goodbyes on the link,
// deleted from the zone) and reported EventRemoved, what now passes is
// proxied, and a proxy that still passes keeps its names on its
// destination links (no goodbye, no new probe, no new announcement) as
// a zone record that still passes is not written again. Browsers are
// kept when every type they browse is still wanted; the new types of a
// link get a new browser; a browser no longer needed is closed, and one
// that browsed a type no longer wanted alongside others still wanted is
// replaced: the new one runs first and, once it has gone quiet
// (browse.Browser.Quiet, at most 5 s), the instances both hold are
// handed over without a change. A zone no rule names any more is left
// as it was found (ZoneMirror.Close, its records reported EventRemoved);
// a new zone is opened and checked as New does (a server that refuses the
// gateway's updates is ConfigErrors naming it, and nothing changes).
// Browsers and zones are opened and closed outside the owner goroutine.
//
// What cannot change in place makes Reload return an error matching
// ErrRestart (a *RestartError saying what), the gateway untouched: the
// set of interfaces of the destination links (the responder's), the
// interfaces of a link present in both configurations, and the
// definition of a zone present in both. lansd gateway then restarts: it
// closes the gateway (every proxy sent goodbyes, the zones emptied of
// what it added) and starts a new one, and says so.
//
// Measured on the virtual LAN (go test ./e2e -run
// 'TestGatewayReloadOnSIGHUP|TestGatewayZoneReload'): a reload that keeps
// the timezone rule and adds one for _http._tcp leaves Office TZ on B
// untouched (no remove or add seen by a browser there, no probe) and the
// zone's SOA serial unchanged, while the new type's instance arrives on
// B 0.87 to 0.95 s after the SIGHUP (4 runs); a reload that replaces a
// browser returns after its handover, 4.0 s.
//
// # Stopping
//
// Close reports each proxy and zone record it withdraws as EventRemoved
// with Reason ReasonStopping ("gateway stopping"): the proxies once the
// responder's goodbyes are sent, the zone records once the zones are left
// as found (the reason says when that failed), all before Events is
// closed; so a --json log says where every instance went.
//
// # Queries on demand
//
// Probes and queries are never forwarded. But a query received on a
// destination link (from another host: the gateway's responder reports
// it through announce.Options.OnQuestion) for a service type, a subtype
// or the type enumeration that a rule proxies to that link makes the
// gateway ask the rule's source links for it at once
// (browse.Browser.QueryNow), as an RFC 8766 discovery proxy does, rather
// than at its browser's next continuous query, whose interval grows to
// 60 minutes (RFC 6762 section 5.2). A subtype query asks the subtype and
// its base type; the enumeration is asked where a rule has types ["*"].
// Measured on the virtual LAN: the query on the source link 0.3 ms after
// the one on the destination link. A type no rule proxies to the link
// asks nothing.
//
// Bound: at most one query on demand per question per source link per
// second (OnDemandInterval), and never within a second of the gateway's
// own last query of that question on that link (browse.MinQueryInterval),
// whatever the number of queries received; the gateway's own queries,
// heard by its responder, never count. So gateways cannot keep each
// other asking. With two gateways G1 and G2 between links A and B, both
// with rules A -> B and B -> A: a client's query on B makes each ask A;
// G1's query on A is a query on G2's destination link A and may make G2
// ask B, and G2's may make G1 ask B; those are queries on B, but each
// gateway asked A (and now B) a few milliseconds before, so nothing more
// is asked: each gateway asks each link at most once per chain, four
// queries in all, and the chain ends. A gateway's continuous query (say
// G1's on B) makes the other ask A at most once, and no more.
//
// # Two gateways between the same links
//
// Two gateways with rules both ways between links A and B neither loop
// nor amplify:
//
//   - No loop: a gateway proxies an instance from a link only when its
//     addresses are on that link's subnets, so the proxy that gateway 1
//     publishes on B of an instance of A is refused by gateway 2's rule
//     B -> A (and by gateway 1's own: reported refused by the filter
//     "loop", FilterLoop), and never comes back to A.
//   - No rename, no withdrawal: both gateways publish the same instance
//     on B with identical records (same SRV, TXT and origin host
//     addresses). Identical records are no conflict (RFC 6762 sections
//     8.1, 8.2 and 9: a probe or an answer with our own data is none), so
//     the second gateway's probes, answered by the first's proxies, or
//     two simultaneous probes, end with both proxies published: each
//     answers queries, and duplicate answer suppression (section 7.4)
//     and known answers (section 7.1) keep the traffic down. Clients on
//     B see one instance, from its origin host, and keep it if either
//     gateway stops.
//   - Bounded packets: at steady state a link carries its queriers'
//     continuous queries (doubling intervals, section 5.2), at most one
//     query on demand per gateway for each (see above), and at most one
//     response per responder (the announcer and each gateway's proxy)
//     to each; the gateways' expiry refresh (RefreshInterval) sends
//     nothing. Measured on the virtual LAN (one proxied instance per
//     link, from 20 s to 80 s after start): 6 to 12 mDNS packets per
//     proxied instance per minute with one gateway, 10 to 22 with two
//     (go test ./e2e -run 'TestGatewayTwoGateways|TestGatewaySteadyStateOneGateway').
package gateway
