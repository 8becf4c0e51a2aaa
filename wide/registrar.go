package wide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/tsig"
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
// One goroutine owns the registrar's state: its services, the names they
// hold, the TTLs of shared RRsets, the host's address records and the
// server found. Methods and refresh timers send it commands; the
// exchanges with the server run outside it, in the calling goroutine,
// and their results come back to it, so that nothing waits for the
// network while holding the state. The operations on one service
// (adding, refreshing, updating its TXT record, removing) take turns.
// Close waits for the operations in flight and removes what they wrote.
// Its methods are safe for concurrent use.
type Registrar struct {
	// Set by NewRegistrar, then read only.
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

	cmds chan func()   // commands for the owner (loop)
	done chan struct{} // closed when the owner has ended
	st   state         // the owner's: touched by loop only
}

// NewRegistrar returns a registrar for opts.Domain. It checks the options
// and starts the goroutine that owns the registrar's state (Close ends
// it), but sends nothing: the server is looked up, when needed, by the
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
	r.st = newState()
	r.cmds = make(chan func())
	r.done = make(chan struct{})
	go r.loop()
	return r, nil
}

// serverAddr returns s as host:port, port 53 when s has none.
func serverAddr(s string) (string, error) {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if h == "" || strings.ContainsAny(h, " /") {
		return "", &sd.FieldError{Field: "Server", Value: s, Reason: "want host or host:port"}
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

// Primary returns the server updates go to, host:port:
// RegistrarOptions.Server, or the zone's primary server looked up (once)
// through the system resolver.
func (r *Registrar) Primary(ctx context.Context) (string, error) {
	p, err := r.primaryAddr(ctx)
	if err != nil && !errors.Is(err, ErrClosed) {
		return "", fmt.Errorf("wide: %w", err)
	}
	return p, err
}

// exchanger returns the exchanger for the zone's server.
func (r *Registrar) exchanger(ctx context.Context) (*exchanger, error) {
	srv, err := r.primaryAddr(ctx)
	if err != nil {
		return nil, err
	}
	return &exchanger{server: srv, zone: r.zone, key: r.key, timeout: r.timeout}, nil
}

// Add publishes s in the zone. s is validated exactly like
// sd.Service.Validate (a service that does not validate is refused with an
// error wrapping an *sd.ValidationError: nothing invalid is written), then one
// UPDATE adds its records: the PTR from the service type, the subtype
// PTRs, the _services._dns-sd._udp PTR, SRV, TXT, and the host's A and
// AAAA records. Add returns once the server has accepted them; the
// registration's Name is the final name and Renamed says why it changed.
// Errors from the server are *UpdateError (ErrTSIGRejected,
// ErrUpdateRefused), *UnreachableError (ErrNoAnswer) or *ConflictError
// (ErrNameConflict). An Add that Close overtakes fails with ErrClosed,
// having written nothing or leaving Close to remove what it wrote.
func (r *Registrar) Add(ctx context.Context, s sd.Service) (*Registration, error) {
	zs, err := prepareService(s, r.zone, r.hostName, r.addrs, r.ttl, r.registry)
	if err != nil {
		return nil, fmt.Errorf("wide: %w", err)
	}
	for _, w := range zs.report.Warnings() {
		r.log.Warn("zone: TXT record warning", "service", s.Instance, "finding", w.Error())
	}
	x, err := r.exchanger(ctx)
	if err != nil {
		return nil, fmt.Errorf("wide: adding %q to zone %s: %w", s.Instance, r.zone, err)
	}
	reg := newRegistration(zs.p.Registered, zs.instanceName(zs.label))
	e := &entry{r: r, reg: reg, x: x, svc: zs, label: zs.label}
	reg.e = e
	if !r.admit(e) {
		return nil, ErrClosed
	}
	if testHookAdding != nil {
		testHookAdding(r)
	}
	if err := r.claim(ctx, e, ownership{}); err != nil {
		r.abandon(ctx, e)
		return nil, fmt.Errorf("wide: adding %q to zone %s: %w", s.Instance, r.zone, err)
	}
	var granted time.Duration
	closed := true
	_ = r.call(func() {
		granted, closed = e.granted, r.st.closed
		if !closed {
			r.schedule(e, false)
			name := reg.Name()
			reg.st.Deliver(sd.RegistrationEvent{Kind: sd.Announced, Old: name, New: name, Reason: "added to zone " + r.zone + " by DNS UPDATE (RFC 2136)"})
		}
		r.release(e)
	})
	if closed {
		return nil, ErrClosed // Close, waiting for this turn, removes what was written
	}
	r.log.Info("zone: registered", "name", reg.Name(), "server", x.server, "lease", granted)
	return reg, nil
}

// testHookAdding, when set by a test, runs in Add once the registrar has
// taken the service in and before anything is sent for it.
var testHookAdding func(*Registrar)

// AddAll adds services at once, each as Add does, all concurrently, and
// returns their registrations in the order of services. It is all or
// nothing: when an Add fails, the services that were added are removed
// again (within twice the timeout and a second, even when ctx has ended)
// and the error is an *AddAllError. Its slice then still holds those
// registrations, removed, so that the caller can name them; one whose
// removal failed stays registered (the error says so), for Remove or
// Close to try again.
func (r *Registrar) AddAll(ctx context.Context, services []sd.Service) ([]*Registration, error) {
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
	if errors.Join(errs...) == nil {
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

// Refresh asserts every service's records again now, as the periodic
// refresh does, and returns the errors met. An operator who deleted them
// gets them back; a name someone else took meanwhile is renamed.
func (r *Registrar) Refresh(ctx context.Context) error {
	return forEach(r.entries(), func(e *entry) error { return r.refresh(ctx, e) })
}

// Close removes every service the registrar published, leaving the zone
// as it found it, and stops refreshing. Operations in flight finish their
// exchange first: an Add that has written its records returns ErrClosed
// and Close deletes them; one that has not yet sent anything sends
// nothing. Later calls to Add return ErrClosed (which matches
// sd.ErrClosed, as a closed announce.Responder's errors do). Services whose records could not be deleted are
// named in the error; Registration.Remove can try them again. The
// registrar's goroutine ends once it holds no service.
func (r *Registrar) Close(ctx context.Context) error {
	var entries []*entry
	already := true
	err := r.call(func() {
		if r.st.closed {
			return
		}
		already, r.st.closed = false, true
		entries = r.st.list()
	})
	if err != nil || already {
		return nil // closing twice is harmless
	}
	return forEach(entries, func(e *entry) error { return r.remove(ctx, e) })
}

// forEach runs fn on every item, removeParallel at a time, and joins the
// errors in the order of items.
func forEach[T any](items []T, fn func(T) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(items))
	sem := make(chan struct{}, removeParallel)
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
