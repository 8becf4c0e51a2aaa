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
// about a second after a goodbye (the browser's one-second wait of RFC
// 6762 section 10.1, then one UPDATE). The zone holds no expiry of its
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
// to the owner. Close (SIGINT, SIGTERM, and the restart of a SIGHUP)
// waits for the calls in flight (each given the time of one exchange,
// 5 s, to finish), then deletes everything the gateway
// added to each zone, browsing-domain PTRs included (ZoneMirror.Close,
// within ZoneCloseTimeout): the zone is left as it was found.
package gateway
