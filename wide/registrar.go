package wide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/txt"
)

// DefaultLease is the update lease a Registrar asks for (RFC 9664),
// unless RegistrarOptions.Lease says otherwise: two hours, what Service
// Registration Protocol clients (RFC 9665) such as OpenThread's ask for by
// default.
const DefaultLease = 2 * time.Hour

// Limits of a registration.
const (
	// maxClaimSteps bounds the updates one registration sends: renames
	// and retries after the zone changed under us.
	maxClaimSteps = 1000
	// removeParallel is how many services Close and Refresh handle at once.
	removeParallel = 16
	// minRefresh is the shortest wait between two refreshes.
	minRefresh = time.Second
	// retryRefresh is the longest wait before a failed refresh is tried
	// again.
	retryRefresh = time.Minute
)

// RegistrarOptions configure a Registrar.
type RegistrarOptions struct {
	// Domain is the zone to publish in, e.g. "tz.example.net.". It must
	// be the zone's apex: UPDATE messages name it in their zone section
	// (RFC 2136 section 2.3).
	Domain string
	// Server is the server to send updates to, host:port (port 53 when
	// left out). Empty means the zone's primary server: the MNAME of its
	// SOA record, found through the system resolver (RFC 2136 section 4),
	// port 53.
	Server string
	// TSIG is the key that signs every message (RFC 8945); see tsig.Parse
	// and tsig.LoadFile. The zero Key sends unsigned messages, for zones
	// that allow updates by address.
	TSIG tsig.Key
	// HostName is the SRV target of services whose Host is empty: "h1"
	// means "h1.<Domain>"; empty means the first label of os.Hostname()
	// in the zone. When it lies inside the zone, its A and AAAA records
	// (Addrs) are written too.
	HostName string
	// Addrs are HostName's addresses. Empty means this machine's
	// addresses, leaving out loopback, link-local and multicast ones.
	Addrs []netip.Addr
	// TTL is the TTL of every record written; zero means DefaultTTL
	// (120 s).
	TTL time.Duration
	// Lease is the lease asked for in the EDNS(0) Update Lease option
	// (RFC 9664). Zero means DefaultLease (2 h); negative sends no lease
	// option and never refreshes. The registration is refreshed at about
	// 80% of the lease the server grants or, when the server grants none
	// (BIND 9 does not implement leases), of the lease asked for: an
	// idempotent re-assertion that puts back records someone deleted.
	Lease time.Duration
	// NoRename makes Add fail with a *ConflictError when the instance
	// name is taken in the zone, instead of trying "Name (2)", ...
	NoRename bool
	// Registry supplies the TXT rules services are validated against;
	// nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives the registrar's logs; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds one exchange with the server, retransmissions
	// included; zero means DefaultTimeout (5 s). A registration sends
	// one UPDATE when its name is free (a few more on a conflict), after
	// queries, once per registrar and name, for the TTLs of shared RRsets.
	// A silent server makes each exchange fail after Timeout.
	Timeout time.Duration
}

// Registrar publishes DNS-SD services (RFC 6763) in a unicast DNS zone
// with DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945): the wide-area
// counterpart of the Multicast DNS announce.Responder.
//
// Each service is added with one UPDATE whose prerequisite is that its
// instance name is not in use (RFC 2136 section 2.4.5). If it is, the
// SRV and TXT records there are read: when they are exactly the ones we
// would write (our own registration, left by a crash or a restart), the
// name is ours and the UPDATE is sent again with "RRset exists (value
// dependent)" prerequisites (section 2.4.2); otherwise the service is
// renamed "Name (2)", "Name (3)", ... or, with NoRename, refused.
//
// Removing a service deletes exactly the records it added, one RR at a
// time (section 2.5.4), so other instances of the type stay; the shared
// _services._dns-sd._udp PTR goes only when no instance of the type
// remains, which a "RRset does not exist" prerequisite (section 2.4.3)
// checks in the same atomic update. The host's address records go with
// the registrar's last service, unless they were in the zone before.
// Records added to an RRset that already exists (the shared PTRs, the
// host's addresses) take that RRset's TTL, since a different one would
// change the TTL of the whole RRset.
//
// Its methods are safe for concurrent use.
type Registrar struct {
	zone     string
	hostName string
	addrs    []netip.Addr // the host's addresses, cleaned
	ttl      uint32
	lease    time.Duration // asked for; 0: no lease option, no refresh
	key      *tsig.Key
	noRename bool
	registry *registry.Registry
	log      *slog.Logger
	timeout  time.Duration
	server   string   // configured server, or "" to look it up
	resolve  []string // resolvers for the lookup; nil: the system's

	ctx    context.Context // ends at Close: refreshes stop
	cancel context.CancelFunc

	primaryMu sync.Mutex
	primary   string // the server found, once found

	mu      sync.Mutex
	closed  bool
	entries map[*entry]bool
	names   map[string]*entry   // nameKey of each instance name held or being claimed
	ttls    map[string]*ttlSlot // TTLs of shared RRsets in the zone
	wg      sync.WaitGroup      // refreshes running

	host zoneHost
}

// zoneHost tracks the registrar's host address records, which every
// service pointing at the host shares.
type zoneHost struct {
	// gate is held for reading by updates that write the address records
	// and for writing while they are deleted, so that no service writes
	// them while the last one deletes them.
	gate    sync.RWMutex
	mu      sync.Mutex
	refs    int             // services using the records
	checked bool            // had is known
	had     map[string]bool // rrKey of address records in the zone before we wrote them
	written bool            // we wrote them and have not deleted them
}

// NewRegistrar returns a registrar for opts.Domain. It checks the
// options but sends nothing: the server is looked up, when needed, by the
// first Add.
func NewRegistrar(opts RegistrarOptions) (*Registrar, error) {
	zone, err := checkZone(opts.Domain, "Domain")
	if err != nil {
		return nil, fmt.Errorf("wide: RegistrarOptions: %w", err)
	}
	host, err := zoneHostName(opts.HostName, zone)
	if err != nil {
		return nil, fmt.Errorf("wide: RegistrarOptions: %w", err)
	}
	ttl, err := zoneTTL(opts.TTL)
	if err != nil {
		return nil, fmt.Errorf("wide: RegistrarOptions: %w", err)
	}
	r := &Registrar{
		zone:     zone,
		hostName: host,
		ttl:      ttl,
		noRename: opts.NoRename,
		registry: opts.Registry,
		log:      opts.Logger,
		timeout:  opts.Timeout,
		lease:    opts.Lease,
		entries:  map[*entry]bool{},
		names:    map[string]*entry{},
		ttls:     map[string]*ttlSlot{},
	}
	if !opts.TSIG.IsZero() {
		k, err := opts.TSIG.Check()
		if err != nil {
			return nil, fmt.Errorf("wide: RegistrarOptions: %w", err)
		}
		r.key = &k
	}
	if opts.Server != "" {
		srv, err := serverAddr(opts.Server)
		if err != nil {
			return nil, fmt.Errorf("wide: RegistrarOptions: %w", err)
		}
		r.server = srv
	}
	if r.registry == nil {
		r.registry = registry.Builtin()
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	switch {
	case r.lease == 0:
		r.lease = DefaultLease
	case r.lease < 0:
		r.lease = 0
	case r.lease < time.Second:
		r.lease = time.Second
	}
	if dns.IsSubDomain(zone, host) {
		r.addrs = cleanAddrs(opts.Addrs)
		if len(opts.Addrs) == 0 {
			r.addrs = machineAddrs()
			if len(r.addrs) == 0 {
				r.log.Warn("zone: no usable address on this machine; SRV records will point at a host without A or AAAA records", "host", host)
			}
		}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// serverAddr returns s as host:port, port 53 when s has none.
func serverAddr(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if h == "" || strings.ContainsAny(h, " /") {
		return "", &announce.FieldError{Field: "Server", Value: s, Reason: "want host or host:port"}
	}
	return net.JoinHostPort(h, "53"), nil
}

// machineAddrs returns this machine's addresses that mean something in a
// zone: no loopback, link-local, multicast or unspecified ones.
func machineAddrs() []netip.Addr {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ia := range ifaddrs {
		p, err := netip.ParsePrefix(ia.String())
		if err != nil {
			continue
		}
		a := p.Addr().Unmap()
		if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
			continue
		}
		out = append(out, a)
	}
	return cleanAddrs(out)
}

// Zone returns the zone, fully qualified.
func (r *Registrar) Zone() string { return r.zone }

// HostName returns the host name SRV records point at by default.
func (r *Registrar) HostName() string { return r.hostName }

// Primary returns the server updates go to, host:port: RegistrarOptions.Server,
// or the zone's primary server looked up (once) through the system
// resolver.
func (r *Registrar) Primary(ctx context.Context) (string, error) {
	p, err := r.primaryAddr(ctx)
	if err != nil {
		return "", fmt.Errorf("wide: %w", err)
	}
	return p, nil
}

// primaryAddr is Primary without the package prefix on errors.
func (r *Registrar) primaryAddr(ctx context.Context) (string, error) {
	if r.server != "" {
		return r.server, nil
	}
	r.primaryMu.Lock()
	defer r.primaryMu.Unlock()
	if r.primary != "" {
		return r.primary, nil
	}
	resolvers := r.resolve
	if resolvers == nil {
		var err error
		if resolvers, err = systemResolvers(); err != nil {
			return "", err
		}
	}
	p, err := findPrimary(ctx, r.zone, resolvers, r.timeout)
	if err != nil {
		return "", err
	}
	r.log.Info("zone: updates go to the zone's primary server", "zone", r.zone, "server", p)
	r.primary = p
	return p, nil
}

// exchanger returns the exchanger for the zone's server.
func (r *Registrar) exchanger(ctx context.Context) (*exchanger, error) {
	srv, err := r.primaryAddr(ctx)
	if err != nil {
		return nil, err
	}
	return &exchanger{server: srv, zone: r.zone, key: r.key, timeout: r.timeout}, nil
}

// keyName returns the TSIG key's name, or "".
func (r *Registrar) keyName() string {
	if r.key == nil {
		return ""
	}
	return r.key.Name
}

// entry is one service a Registrar publishes.
type entry struct {
	r *Registrar
	h *Registration
	x *exchanger

	mu      sync.Mutex // held during every exchange for this service
	svc     *service
	label   string   // current instance label
	recs    *Records // the records in the zone, nil until registered
	granted time.Duration
	hostRef bool // holds a reference on r.host
	removed bool
	timer   *time.Timer

	reserved string // nameKey of the name held in r.names; guarded by r.mu
}

// Add publishes s in the zone. s is validated exactly like
// Service.Validate (a service that does not validate is refused with a
// *ValidationError: nothing invalid is written), then one UPDATE adds
// its records: the PTR from the service type, the subtype PTRs, the
// _services._dns-sd._udp PTR, SRV, TXT, and the host's A and AAAA records.
// Add returns once the server has accepted them; the handle's Name is the
// final name and Renamed says why it changed. Errors from the server are
// *UpdateError (ErrTSIGRejected, ErrUpdateRefused), *UnreachableError
// (ErrNoAnswer) or *ConflictError (ErrNameConflict).
func (r *Registrar) Add(ctx context.Context, s announce.Service) (*Registration, error) {
	zs, err := prepareService(s, r.zone, r.hostName, r.addrs, r.ttl, r.registry)
	if err != nil {
		return nil, err
	}
	for _, w := range zs.report.Warnings() {
		r.log.Warn("zone: TXT record warning", "service", s.Instance, "finding", w.Error())
	}
	x, err := r.exchanger(ctx)
	if err != nil {
		return nil, fmt.Errorf("wide: adding %q to zone %s: %w", s.Instance, r.zone, err)
	}
	h := &Registration{regSvc: zs.p.Registered, events: make(chan announce.Event, eventBuffer)}
	e := &entry{r: r, h: h, x: x, svc: zs, label: zs.label}
	h.e = e
	h.name = zs.instanceName(zs.label)

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.entries[e] = true
	r.mu.Unlock()
	if testHookAdding != nil {
		testHookAdding(r)
	}

	e.mu.Lock()
	err = e.claim(ctx, ownership{})
	if err != nil {
		e.abandon(ctx)
	} else {
		e.schedule(false)
	}
	granted := e.granted
	e.mu.Unlock()
	if err == nil {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return nil, ErrClosed // Close has removed the service, or will
		}
	}
	if err != nil {
		return nil, fmt.Errorf("wide: adding %q to zone %s: %w", s.Instance, r.zone, err)
	}
	name := h.Name()
	r.log.Info("zone: registered", "name", name, "server", x.server, "lease", granted)
	e.emit(announce.Event{Kind: announce.EventAnnounced, Old: name, New: name, Reason: "added to zone " + r.zone + " by DNS UPDATE (RFC 2136)"})
	return h, nil
}

// testHookAdding, when set by a test, runs in Add once the registrar has
// taken the service in and before anything is sent for it.
var testHookAdding func(*Registrar)

// abandon forgets an entry whose registration failed. e.mu is held.
func (e *entry) abandon(ctx context.Context) {
	e.removed = true
	_ = e.releaseHost(ctx) // the registration's own error is the one to report
	e.r.forget(e)
	e.h.close()
}

// forget drops e from the registrar's tables.
func (r *Registrar) forget(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.entries, e)
	if e.reserved != "" && r.names[e.reserved] == e {
		delete(r.names, e.reserved)
	}
	e.reserved = ""
}

// reserve claims name for e within the registrar: it fails when another
// of our services holds it. A service moving to a new name gives up its
// old one.
func (r *Registrar) reserve(name string, e *entry) bool {
	k := dnsname.MustKey(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.names[k]; ok && o != e {
		return false
	}
	if e.reserved != "" && e.reserved != k && r.names[e.reserved] == e {
		delete(r.names, e.reserved)
	}
	r.names[k], e.reserved = e, k
	return true
}

// newUpdate returns an UPDATE for the zone (RFC 2136 section 2.3) with
// the Update Lease option (RFC 9664) when withLease and leases are on.
func (e *entry) newUpdate(withLease bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(e.r.zone)
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(ednsSize)
	if withLease && e.r.lease > 0 {
		secs := uint32(min(e.r.lease/time.Second, 1<<32-1))
		opt.Option = append(opt.Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: secs})
	}
	m.Extra = append(m.Extra, opt)
	return m
}

// grantedLease returns the lease in an UPDATE response's Update Lease
// option (RFC 9664), or 0 when the server granted none.
func grantedLease(m *dns.Msg) time.Duration {
	opt := m.IsEdns0()
	if opt == nil {
		return 0
	}
	for _, o := range opt.Option {
		if ul, ok := o.(*dns.EDNS0_UL); ok {
			return time.Duration(ul.Lease) * time.Second
		}
	}
	return 0
}

// copies returns deep copies of rrs: miekg/dns's update helpers change the
// headers of what they are given.
func copies(rrs ...dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

// update sends an UPDATE that may write the host's address records.
func (e *entry) update(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if e.hostRef {
		e.r.host.gate.RLock()
		defer e.r.host.gate.RUnlock()
	}
	return e.x.exchange(ctx, m, "update")
}

// serverError returns the error for an unexpected RCODE.
func (e *entry) serverError(op string, rcode int) error {
	return &UpdateError{Server: e.x.server, Zone: e.r.zone, Op: op, Rcode: rcode, Key: e.r.keyName()}
}

// ownership is what an UPDATE of a claim presumes about the instance
// name: nothing there (RFC 2136 section 2.4.5), or our records: the SRV
// and TXT RRsets exactly ours (section 2.4.2) or, where we saw none,
// absent (section 2.4.3).
type ownership struct {
	owned    bool
	srv, txt bool // when owned: whether our SRV, our TXT is there
}

// ours is the ownership of a name that holds all our records.
var ours = ownership{owned: true, srv: true, txt: true}

// prerequisites adds own's prerequisites for recs to m.
func (own ownership) prerequisites(m *dns.Msg, recs *Records) {
	if !own.owned {
		m.NameNotUsed([]dns.RR{recs.SRV}) // RFC 2136 section 2.4.5
		return
	}
	for _, p := range []struct {
		rr      dns.RR
		present bool
	}{{recs.SRV, own.srv}, {recs.TXT, own.txt}} {
		if p.present {
			m.Used(copies(p.rr)) // RFC 2136 section 2.4.2
		} else {
			m.RRsetNotUsed([]dns.RR{p.rr}) // RFC 2136 section 2.4.3
		}
	}
}

// claim writes the service's records under its current name, or a new one
// on a conflict. own is what the first UPDATE presumes: a refresh presumes
// our records are there, a new registration that the name is free. e.mu
// is held.
func (e *entry) claim(ctx context.Context, own ownership) error {
	r := e.r
	if len(e.svc.addrs) > 0 && !e.hostRef {
		if err := e.acquireHost(ctx); err != nil {
			return err
		}
	}
	asked := e.h.Name()
	var reason string
	empty := 0
	for step := 0; step < maxClaimSteps; step++ {
		name := e.svc.instanceName(e.label)
		if !r.reserve(name, e) {
			if r.noRename {
				return &ConflictError{Name: name, Server: e.x.server, Local: true}
			}
			reason = fmt.Sprintf("name %q is already registered by this registrar", name)
			e.label = dnsname.NextInstanceLabel(e.label)
			own = ownership{}
			continue
		}
		recs := e.svc.records(e.label)
		if err := e.adoptTTLs(ctx, recs); err != nil {
			return err
		}
		m := e.newUpdate(true)
		own.prerequisites(m, recs)
		m.Insert(copies(recs.RRs()...)) // RFC 2136 section 2.5.1
		resp, err := e.update(ctx, m)
		if err != nil {
			return err
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			e.recs = recs
			e.granted = grantedLease(resp)
			if e.hostRef {
				r.host.mu.Lock()
				r.host.written = true
				r.host.mu.Unlock()
			}
			if !dnsname.Equal(name, asked) {
				if reason == "" {
					reason = fmt.Sprintf("name %q was taken", asked)
				}
				e.h.setRenamed(name, reason)
				e.emit(announce.Event{Kind: announce.EventRenamed, Old: asked, New: name, Reason: reason})
			} else {
				e.h.setName(name)
			}
			return nil
		case dns.RcodeYXDomain, dns.RcodeNXRrset, dns.RcodeYXRrset:
			// The name is not as presumed: in use (by us after a crash or
			// a restart, or by someone else), or our records changed
			// since we looked. Look now.
			existing, now, err := e.inspect(ctx, recs)
			if err != nil {
				return err
			}
			if now.owned {
				own = now
				continue
			}
			if len(existing) == 0 {
				if empty < 2 {
					// Neither SRV nor TXT: the name is free now, or
					// holds other records; try again before deciding.
					empty++
					own = ownership{}
					continue
				}
			}
			if r.noRename {
				return &ConflictError{Name: name, Server: e.x.server, Existing: existing}
			}
			held := "other records"
			if len(existing) > 0 {
				var parts []string
				for _, rr := range existing {
					parts = append(parts, rrData(rr))
				}
				held = strings.Join(parts, ", ")
			}
			reason = fmt.Sprintf("name %q is taken in zone %s by %s", name, r.zone, held)
			r.log.Info("zone: name conflict, renaming", "name", name, "existing", held)
			e.label = dnsname.NextInstanceLabel(e.label)
			own, empty = ownership{}, 0
		default:
			return e.serverError("update", resp.Rcode)
		}
	}
	return fmt.Errorf("no free instance name after %d updates", maxClaimSteps)
}

// inspect reads the SRV and TXT records under recs.Instance. The name is
// ours when it holds at least one of them and every SRV and TXT there is
// exactly ours (rdata compared, TTLs ignored): a registration of ours, or
// its remains.
func (e *entry) inspect(ctx context.Context, recs *Records) ([]dns.RR, ownership, error) {
	var existing []dns.RR
	own := ownership{owned: true}
	for _, want := range []dns.RR{recs.SRV, recs.TXT} {
		got, err := e.query(ctx, recs.Instance, want.Header().Rrtype)
		if err != nil {
			return nil, ownership{}, err
		}
		existing = append(existing, got...)
		switch {
		case len(got) == 0:
		case len(got) == 1 && dnsname.RRKey(got[0]) == dnsname.RRKey(want):
			if want.Header().Rrtype == dns.TypeSRV {
				own.srv = true
			} else {
				own.txt = true
			}
		default:
			own.owned = false
		}
	}
	if len(existing) == 0 {
		own.owned = false
	}
	if !own.owned {
		own = ownership{}
	}
	return existing, own, nil
}

// query asks the server for name's records of type qtype and returns
// those of the answer section that are of that type.
func (e *entry) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	resp, err := e.x.exchange(ctx, q, "query")
	if err != nil {
		return nil, err
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, e.serverError("query", resp.Rcode)
	}
	var out []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype && dnsname.Equal(rr.Header().Name, name) {
			out = append(out, rr)
		}
	}
	return out, nil
}

// ttlSlot remembers the TTL of one shared RRset in the zone.
type ttlSlot struct {
	mu     sync.Mutex
	known  bool
	exists bool
	ttl    uint32
}

// adoptTTLs gives recs' shared records (the PTRs other instances share,
// the host's addresses) the TTL their RRset already has in the zone:
// adding an RR with another TTL would change the whole RRset's TTL (BIND
// does), and the zone would not be left as we found it. Each RRset is
// looked up once per registrar.
func (e *entry) adoptTTLs(ctx context.Context, recs *Records) error {
	shared := []dns.RR{recs.ServicesPTR, recs.PTR}
	for _, p := range recs.SubtypePTRs {
		shared = append(shared, p)
	}
	shared = append(shared, recs.Addrs...)
	for _, rr := range shared {
		h := rr.Header()
		slot := e.r.ttlSlot(h.Name, h.Rrtype)
		slot.mu.Lock()
		if !slot.known {
			got, err := e.query(ctx, h.Name, h.Rrtype)
			if err != nil {
				slot.mu.Unlock()
				return err
			}
			if len(got) > 0 {
				slot.exists, slot.ttl = true, got[0].Header().Ttl
			}
			slot.known = true
		}
		if slot.exists {
			h.Ttl = slot.ttl
		}
		slot.mu.Unlock()
	}
	return nil
}

// ttlSlot returns the slot for the RRset of name and type t.
func (r *Registrar) ttlSlot(name string, t uint16) *ttlSlot {
	k := dnsname.MustKey(name) + "/" + dns.TypeToString[t]
	r.mu.Lock()
	defer r.mu.Unlock()
	slot, ok := r.ttls[k]
	if !ok {
		slot = &ttlSlot{}
		r.ttls[k] = slot
	}
	return slot
}

// acquireHost takes a reference on the host's address records, first
// noting which of them the zone already has (those are never deleted).
// e.mu is held.
func (e *entry) acquireHost(ctx context.Context) error {
	h := &e.r.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked {
		had := map[string]bool{}
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			got, err := e.query(ctx, e.r.hostName, qt)
			if err != nil {
				return err
			}
			for _, rr := range got {
				had[dnsname.RRKey(rr)] = true
			}
		}
		h.had, h.checked = had, true
	}
	h.refs++
	e.hostRef = true
	return nil
}

// releaseHost gives up e's reference on the host's address records and,
// if it was the last, deletes those we wrote (RFC 2136 section 2.5.4).
// e.mu is held.
func (e *entry) releaseHost(ctx context.Context) error {
	if !e.hostRef {
		return nil
	}
	e.hostRef = false
	r := e.r
	h := &r.host
	h.mu.Lock()
	h.refs--
	last := h.refs == 0
	h.mu.Unlock()
	if !last {
		return nil
	}
	h.gate.Lock()
	defer h.gate.Unlock()
	h.mu.Lock()
	var del []dns.RR
	if h.refs == 0 && h.written {
		for _, rr := range addrRRs(r.hostName, r.addrs, r.ttl) {
			if !h.had[dnsname.RRKey(rr)] {
				del = append(del, rr)
			}
		}
	}
	h.mu.Unlock()
	if len(del) == 0 {
		return nil
	}
	m := e.newUpdate(false)
	m.Remove(del)
	resp, err := e.x.exchange(ctx, m, "update")
	if err == nil && resp.Rcode != dns.RcodeSuccess {
		err = e.serverError("update", resp.Rcode)
	}
	if err != nil {
		return fmt.Errorf("deleting the address records of %s: %w", r.hostName, err)
	}
	h.mu.Lock()
	h.written = false
	h.mu.Unlock()
	return nil
}

// remove deletes the service's records and forgets it. Removing twice is
// harmless. If the server cannot be reached the service stays registered
// (and refreshed) and the error is returned: call Remove again.
func (e *entry) remove(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return nil
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	r := e.r
	var errs []error
	if recs := e.recs; recs != nil {
		// RFC 2136 section 2.5.4: delete our RRs one by one, not whole
		// RRsets, so other instances' PTRs remain.
		m := e.newUpdate(false)
		m.Remove(copies(recs.instanceRRs()...))
		resp, err := e.x.exchange(ctx, m, "update")
		if err == nil && resp.Rcode != dns.RcodeSuccess {
			err = e.serverError("update", resp.Rcode)
		}
		if err != nil {
			e.schedule(true)
			return fmt.Errorf("wide: removing %q from zone %s (its records are still there): %w", e.h.Name(), r.zone, err)
		}
		// The shared enumeration PTR goes only if no instance of the type
		// is left: RFC 2136 section 2.4.3, "RRset does not exist", makes
		// the check and the deletion one atomic update.
		m = e.newUpdate(false)
		m.RRsetNotUsed([]dns.RR{recs.PTR})
		m.Remove(copies(recs.ServicesPTR))
		resp, err = e.x.exchange(ctx, m, "update")
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting %s: %w", recs.ServicesPTR.Hdr.Name, err))
		case resp.Rcode == dns.RcodeYXRrset: // other instances remain
		case resp.Rcode != dns.RcodeSuccess:
			errs = append(errs, fmt.Errorf("deleting %s: %w", recs.ServicesPTR.Hdr.Name, e.serverError("update", resp.Rcode)))
		}
		e.recs = nil
	}
	e.removed = true
	if err := e.releaseHost(ctx); err != nil {
		errs = append(errs, err)
	}
	r.forget(e)
	name := e.h.Name()
	r.log.Info("zone: removed", "name", name)
	e.emit(announce.Event{Kind: announce.EventRemoved, Old: name, New: name, Reason: "deleted from zone " + r.zone + " by DNS UPDATE"})
	e.h.close()
	if len(errs) > 0 {
		return fmt.Errorf("wide: removing %q from zone %s: %w", name, r.zone, errors.Join(errs...))
	}
	return nil
}

// updateTXT replaces the service's TXT record in one UPDATE: delete our
// old TXT RR, add the new one, provided our SRV and old TXT are still
// there (RFC 2136 section 2.4.2). If they are not, the service is
// registered again with the new record.
func (e *entry) updateTXT(ctx context.Context, rec txt.Record) error {
	rep := txt.Validate(rec, e.h.regSvc, txt.Options{})
	if !rep.Conforms() {
		return &announce.ValidationError{Service: e.h.Name(), Report: rep}
	}
	rr, err := rec.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		return &announce.ValidationError{Service: e.h.Name(), Report: rep, Err: &announce.FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}}
	}
	for _, w := range rep.Warnings() {
		e.r.log.Warn("zone: TXT record warning", "service", e.h.Name(), "finding", w.Error())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return announce.ErrRemoved
	}
	svc := e.svc.withTXT(rec, rr.Txt)
	if e.recs == nil {
		e.svc = svc
		return nil
	}
	newRecs := svc.records(e.label)
	m := e.newUpdate(true)
	m.Used(copies(e.recs.SRV, e.recs.TXT))
	m.Remove(copies(e.recs.TXT))  // RFC 2136 section 2.5.4
	m.Insert(copies(newRecs.TXT)) // RFC 2136 section 2.5.1
	resp, err := e.update(ctx, m)
	if err != nil {
		return fmt.Errorf("wide: updating the TXT record of %q: %w", e.h.Name(), err)
	}
	e.svc = svc
	switch resp.Rcode {
	case dns.RcodeSuccess:
		e.recs = newRecs
		e.granted = grantedLease(resp)
		return nil
	case dns.RcodeNXRrset:
		r := e.r
		r.log.Warn("zone: our records changed in the zone; registering again", "name", e.h.Name())
		if err := e.claim(ctx, ownership{}); err != nil {
			return fmt.Errorf("wide: updating the TXT record of %q: %w", e.h.Name(), err)
		}
		return nil
	}
	return fmt.Errorf("wide: updating the TXT record of %q: %w", e.h.Name(), e.serverError("update", resp.Rcode))
}

// schedule arms the refresh timer (see refreshAfter); no refresh when
// leases are off. e.mu is held.
func (e *entry) schedule(failed bool) {
	r := e.r
	if r.lease == 0 || e.removed {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(refreshAfter(e.granted, r.lease, failed), e.refreshTimer)
}

// refreshAfter returns the wait before the next refresh: about 80% of the
// lease granted or, when the server grants none, of the lease asked for
// (RFC 9664: refresh before the lease ends), spread over 75-80% so that
// many registrars do not refresh in step; at most retryRefresh after a
// failure; never less than minRefresh.
func refreshAfter(granted, asked time.Duration, failed bool) time.Duration {
	base := granted
	if base <= 0 {
		base = asked
	}
	d := base*4/5 - time.Duration(rand.Int64N(int64(base/20)+1))
	if failed {
		d = min(d, retryRefresh)
	}
	return max(d, minRefresh)
}

// refreshTimer runs a scheduled refresh.
func (e *entry) refreshTimer() {
	r := e.r
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	defer r.wg.Done()
	_ = e.refresh(r.ctx)
}

// refresh asserts the service's records again: an idempotent UPDATE that
// puts back whatever is missing and renews the lease. A name taken by
// someone else meanwhile means a rename (or, with NoRename, a conflict
// event and a later retry).
func (e *entry) refresh(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return nil
	}
	own := ownership{}
	if e.recs != nil {
		own = ours
	}
	err := e.claim(ctx, own)
	if err != nil && ctx.Err() != nil {
		return err // interrupted: the registrar is closing, or the caller gave up
	}
	if err != nil {
		name := e.h.Name()
		e.r.log.Warn("zone: refresh failed", "name", name, "err", err)
		var ce *ConflictError
		if errors.As(err, &ce) {
			e.emit(announce.Event{Kind: announce.EventConflict, Old: name, New: name, Reason: err.Error()})
		}
		e.schedule(true)
		return fmt.Errorf("wide: refreshing %q in zone %s: %w", name, e.r.zone, err)
	}
	e.schedule(false)
	return nil
}

// emit delivers an event to the entry's registration (see
// Registration.deliver).
func (e *entry) emit(ev announce.Event) { e.h.deliver(ev) }

// Refresh asserts every service's records again now, as the periodic
// refresh does, and returns the errors met. An operator who deleted them
// gets them back; a name someone else took meanwhile is renamed.
func (r *Registrar) Refresh(ctx context.Context) error {
	return forEach(r.snapshot(), func(e *entry) error { return e.refresh(ctx) })
}

// snapshot returns the current entries.
func (r *Registrar) snapshot() []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*entry, 0, len(r.entries))
	for e := range r.entries {
		out = append(out, e)
	}
	return out
}

// forEach runs fn on every item, removeParallel at a time, and joins the
// errors.
func forEach[T any](items []T, fn func(T) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, removeParallel)
	)
	for _, e := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(e); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close removes every service the registrar published, leaving the zone
// as it found it, and stops refreshing. Later calls to Add return an
// error matching ErrClosed. Services whose records could not be deleted
// are named in the error.
func (r *Registrar) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	// Refreshes in progress stop; registrations in progress finish and
	// are then removed.
	r.cancel()
	err := forEach(r.snapshot(), func(e *entry) error { return e.remove(ctx) })
	r.wg.Wait()
	return err
}

// AddAll adds services at once, each as Add does, all concurrently, and
// returns their registrations in the order of services. It is all or
// nothing: when an Add fails, the services that were added are removed
// again (within twice the timeout and a second, even when ctx has ended)
// and the error is an *AddAllError. Its slice then still holds those
// registrations, removed, so that the caller can name them; one whose
// removal failed stays registered (the error says so), for Remove or
// Close to try again.
func (r *Registrar) AddAll(ctx context.Context, services []announce.Service) ([]*Registration, error) {
	regs := make([]*Registration, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			regs[i], errs[i] = r.Add(ctx, s)
		}()
	}
	wg.Wait()
	failed := false
	for _, err := range errs {
		failed = failed || err != nil
	}
	if !failed {
		return regs, nil
	}
	// Removal gets its own bounded time: ctx may be over.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*r.timeout+time.Second)
	defer cancel()
	var added []*Registration
	for _, reg := range regs {
		if reg != nil {
			added = append(added, reg)
		}
	}
	rollback := forEach(added, func(reg *Registration) error { return reg.Remove(rctx) })
	return regs, &AddAllError{Errs: errs, Rollback: rollback}
}

// AddAllError is the error of an AddAll that could not add every service.
type AddAllError struct {
	// Errs holds the error of each service, in the order given; nil for
	// those that were added (and removed again).
	Errs []error
	// Rollback is the error of removing the services that were added, or
	// nil when they are all gone.
	Rollback error
}

// Error lists the failures, one a line, then the rollback's error.
func (e *AddAllError) Error() string { return errors.Join(e.Unwrap()...).Error() }

// Unwrap returns the failures and the rollback's error.
func (e *AddAllError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	if e.Rollback != nil {
		out = append(out, e.Rollback)
	}
	return out
}

// eventBuffer is the capacity of a registration's event channel; when it
// is full the oldest event is dropped.
const eventBuffer = 8

// Registration is one service a Registrar publishes: the wide-area
// counterpart of announce.Handle.
type Registration struct {
	e      *entry
	regSvc *registry.Service
	events chan announce.Event

	mu      sync.Mutex
	name    string
	renamed bool
	reason  string
	closed  bool
}

// Name returns the full instance name, e.g.
// "Office TZ (2)._timezone._tcp.tz.example.net.".
func (reg *Registration) Name() string {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.name
}

// Renamed reports whether the service was renamed from the name asked for,
// and why.
func (reg *Registration) Renamed() (bool, string) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.renamed, reg.reason
}

// Events returns the service's events: announced when added, renamed when
// a refresh found the name taken, conflict when it was taken and renaming
// is off, removed. The channel is closed when the service is removed or
// the registrar closed; when nobody reads, old events are dropped.
func (reg *Registration) Events() <-chan announce.Event { return reg.events }

// UpdateTXT replaces the service's TXT record, after validating it like
// Add, in one UPDATE: delete our old TXT RR, add the new one, provided our
// SRV and old TXT are still there (RFC 2136 section 2.4.2). If they are
// not, the service is registered again with the new record. After Remove
// it returns announce.ErrRemoved.
func (reg *Registration) UpdateTXT(ctx context.Context, rec txt.Record) error {
	return reg.e.updateTXT(ctx, rec)
}

// Remove deletes the service's records and forgets it. Removing twice is
// harmless. If the server cannot be reached the service stays registered
// (and refreshed) and the error is returned: call Remove again.
func (reg *Registration) Remove(ctx context.Context) error { return reg.e.remove(ctx) }

// setName records the current name.
func (reg *Registration) setName(name string) {
	reg.mu.Lock()
	reg.name = name
	reg.mu.Unlock()
}

// setRenamed records a rename.
func (reg *Registration) setRenamed(name, reason string) {
	reg.mu.Lock()
	reg.name, reg.renamed, reg.reason = name, true, reason
	reg.mu.Unlock()
}

// close ends the event stream.
func (reg *Registration) close() {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if !reg.closed {
		reg.closed = true
		close(reg.events)
	}
}

// deliver sends ev on the event channel without blocking: when the buffer
// is full the oldest event is dropped. After close it does nothing.
func (reg *Registration) deliver(ev announce.Event) {
	ev.Time = time.Now()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.closed {
		return
	}
	for range 2 {
		select {
		case reg.events <- ev:
			return
		default:
			select {
			case <-reg.events:
			default:
			}
		}
	}
}
