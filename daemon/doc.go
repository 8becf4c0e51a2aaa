// Package daemon is lansd as the host's mDNS daemon (`lansd daemon`): one
// Multicast DNS responder for every program on the host (one host-name
// claim, one probe run, RFC 6762 section 8), one browse cache per service
// type shared by every client, services read from a directory, and a
// local API on a Unix socket, as avahi-daemon and mDNSResponder offer.
//
// # Server
//
// New takes the socket (a lock file beside it, Socket+".lock", keeps a
// second daemon from starting: ErrRunning), opens the responder and
// publishes the services files; Serve serves the API and reloads the
// files when they change (inotify on Linux; Reload, which the command
// calls on SIGHUP, everywhere) until its context ends or Close is called,
// which withdraws every service with goodbyes (RFC 6762 section 10.1).
// One goroutine (Serve's) owns the clients and the browsers; the services
// files are read and applied on another, one reload at a time.
//
// # Services files
//
// Options.ServicesDir (DefaultServicesDir, /etc/lansd/services.d) holds
// *.json files in the format of `lansd announce --config`
// (announce.LoadConfig), one or more services per file;
// Options.AvahiServicesDir holds Avahi static service files (*.service,
// LoadAvahiService), so that a host moves from avahi-daemon without
// rewriting them. Files whose names start with a dot are left out. Every
// file is checked as a whole, its services against the registry as
// Responder.Add checks them. On each reload the difference is applied per
// file (announce.PlanReload): services new in a file are added, a changed
// TXT record is updated in place and announced again (RFC 6762 section
// 8.4), a service whose type, port, host, subtypes or domain changed is
// withdrawn with goodbyes and added again, a service gone from its file, or
// whose file is gone, is withdrawn with goodbyes. A file that cannot be
// read or checked is refused as a whole and reported (logged at error
// level, and in Status) with every problem naming the file and the field,
// "services.d/printer.json: services[0].txt: ..." or, for an Avahi file,
// the element, "avahi/printer.service: service[0].port: ..."; the
// services it published before stay as they are, as `lansd announce
// --config` keeps them on a refused reload, and the other files are
// applied. A directory that does not exist publishes nothing.
//
// # Local API
//
// The socket (DefaultSocket, /run/lansd/lansd.sock) is created with
// Options.SocketMode (0660) and Options.SocketGroup: who can connect can
// publish. The protocol is line-delimited JSON: the client writes one
// Request object a line, the daemon answers with Response objects, one a
// line, each carrying the "id" of the request it answers. Every request
// gets exactly one reply, with "ok" true or false ("error" says why);
// browse and resolve then stream lines with the same id, ended by one
// with "done" true. Lines are at most MaxLine bytes.
//
//	→ {"id":1,"op":"register","service":{"name":"Office TZ","service":"timezone","port":8080,"txt":{"path":"/tz"}}}
//	← {"id":1,"ok":true,"published":"Office TZ._timezone._tcp.local."}
//	→ {"id":2,"op":"update","ref":1,"txt":["path=/tz2"]}
//	← {"id":2,"ok":true,"published":"Office TZ._timezone._tcp.local."}
//	→ {"id":3,"op":"withdraw","ref":1}
//	← {"id":3,"ok":true,"published":"Office TZ._timezone._tcp.local."}
//	→ {"id":4,"op":"browse","types":["timezone"]}
//	← {"id":4,"ok":true}
//	← {"id":4,"event":"add","instance":"Lab","service":"_timezone._tcp",...,"seen":["lan0/IPv4"]}
//	← {"id":4,"quiet":true}
//	→ {"id":5,"op":"cancel","ref":4}
//	← {"id":5,"ok":true}
//	← {"id":4,"done":true}
//	→ {"id":6,"op":"resolve","name":"Lab._timezone._tcp.local.","timeout_ms":2000}
//	← {"id":6,"ok":true}
//	← {"id":6,"event":"resolved","instance":"Lab",...}
//	← {"id":6,"done":true}
//	→ {"id":7,"op":"status"}
//	← {"id":7,"ok":true,"status":{"host":"h1.local.","interfaces":["lan0"],"services":[...],"files":[...],"browsers":[...],"clients":1}}
//
// register: "service" is one element of the "services" list of the
// --config format. It is checked as a services file is, against the
// daemon's registry; a service that does not pass is refused, nothing is
// announced, and the reply lists "problems" (each naming the field,
// "service.port: ...", or the TXT finding) and the TXT "report" (findings
// as in lansd browse --json). Otherwise the reply comes once the service
// is announced, with its final name ("published") and, when it had to be
// renamed, why ("renamed"). The service lives as long as the connection:
// when the client goes, it is withdrawn with goodbyes (RFC 6762 section
// 10.1), as mDNSResponder and Avahi do. update gives a registration (named
// by "ref", its register request's id) a new TXT record ("txt", an object
// or an array of "key=value" strings), checked the same way and announced
// again (RFC 6762 section 8.4); withdraw withdraws it with goodbyes.
//
// browse: "types" as lansd browse takes them ("timezone",
// "_timezone._tcp", "_printer._sub._http._tcp"), "strict" for verdicts
// that count warnings. The events are the lines of `lansd browse --json`
// (sd.JSONEvent: event, instance, service, domain, host, port, addrs, txt,
// iface, ttl, conforms, findings, name, registered, time) with the id and
// "seen", the interfaces and families the instance was seen over. The
// daemon browses each type once for all its clients: the instances its
// cache holds come at once as add events, then every change; a line with
// "quiet" true marks the end of the first rounds of queries (at once for
// a type already browsed). A type stays browsed Options.KeepWarm (5
// minutes) after its last client, so that the next browse starts warm. A
// client that does not read its stream loses it ("done" with an error).
// cancel ("ref") ends a stream.
//
// resolve: "name" as lansd resolve takes it. The instances the cache holds
// under that name are sent at once; otherwise the name is asked on the
// link (browse.ResolveAll) for at most "timeout_ms" (5000). One
// "resolved" event per interface, then "done" (with "error" when it was not
// found).
//
// status: what the daemon announces (each service with its source, a file
// or "client N"), the files read and why one was refused, the types it
// browses with their clients, instances and records.
//
// Client (Dial) speaks the protocol: Register returns a Registration
// (UpdateTXT, Withdraw), Browse an sd.Browser (so that a program, or
// lansd browse, uses the daemon or an in-process browse.Browser alike),
// Resolve the instances, Status the Status.
//
// # Service manager
//
// Notify tells systemd (Type=notify) that the daemon is ready, reloading
// or stopping, by a datagram to $NOTIFY_SOCKET, without cgo.
package daemon
