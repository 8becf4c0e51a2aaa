package browse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Options configure a browser.
type Options struct {
	// Interfaces restricts the querier to these interface names; empty
	// means every up, multicast-capable, non-loopback interface.
	Interfaces []string
	// ExcludeInterfaces leaves out the interfaces whose names match one of
	// these globs (path.Match syntax: "veth*", "br-[0-9a-f]*"). nil means
	// the default list, which leaves out container plumbing only: veth*,
	// docker0, br- followed by 12 hexadecimal digits (Docker networks),
	// cni* and flannel*. A non-nil list replaces the default; "none" (or an
	// empty non-nil list) excludes nothing. A name given in Interfaces is
	// used even if it matches. A malformed glob is an error wrapping
	// path.ErrBadPattern.
	ExcludeInterfaces []string
	// Families to use; empty means IPv4 and IPv6.
	Families []sd.Family
	// Registry supplies the service types of bare names ("timezone") and
	// the TXT rules verdicts are given against; nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
	// Strict makes the verdicts treat warnings as errors (txt.Options.Strict).
	Strict bool
	// MaxRecords bounds the record cache; 0 means DefaultMaxRecords. See
	// the package documentation for what happens when it is full.
	MaxRecords int
	// RemoveOnGoodbye reports an instance removed as soon as it is said
	// goodbye to (every PTR record naming it, or every SRV record of it,
	// announced with TTL 0 on its interface) rather than one second later,
	// when those records leave the cache (RFC 6762 section 10.1); if it is
	// announced again, it is added again. The records are still cached for
	// that second. For proxies that pass the goodbye on (lansd gateway);
	// the default, false, is what lansd browse reports.
	RemoveOnGoodbye bool
}

// DefaultMaxRecords bounds the cache when Options.MaxRecords is 0: room
// for a link of 10,000 instances (about four records each), all from one
// host or from many.
const DefaultMaxRecords = 100000

// The DNS-SD vocabulary, shared with unicast DNS browsing (package wide):
// these are the types of package sd under the names this package has
// always used.
type (
	// Instance is a resolved service instance (RFC 6763 section 4).
	Instance = sd.Instance
	// Source is an interface and address family an instance was seen on.
	Source = sd.Source
	// EventKind says what happened to an instance: Add, Update or Remove.
	EventKind = sd.EventKind
	// Event is a change of one instance.
	Event = sd.Event
	// Stats count what a browser has done.
	Stats = sd.Stats
	// ResolveError is returned (wrapped) by Resolve when the instance did
	// not become complete before the context ended.
	ResolveError = sd.ResolveError
)

// The event kinds (sd.EventKind).
const (
	Add    = sd.Add
	Update = sd.Update
	Remove = sd.Remove
)

// ServicesType is the DNS-SD service type enumeration meta-query (RFC 6763
// section 9). Given to Browse or NewBrowser as a type, it browses every
// service type that responders on the link enumerate, adding each one as
// it is discovered.
const ServicesType = sd.ServicesType

// ErrBadName is sd.ErrBadName, wrapped by errors about names that are not
// usable: a service type that does not parse, a name outside local., an
// instance name without service type.
var ErrBadName = sd.ErrBadName

// transport is what the browser needs of an mdns.Conn.
type transport interface {
	ReadPacket(ctx context.Context) (*mdns.Packet, error)
	SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, f mdns.Family) error
	Interfaces() []mdns.Interface
	Interface(index int) (mdns.Interface, bool)
	Families() []mdns.Family
	Close() error
}

var _ transport = (*mdns.Conn)(nil)

// Browser is a running Multicast DNS querier (RFC 6762) for DNS-SD service
// types (RFC 6763). Its methods are safe for concurrent use.
type Browser struct {
	tr   transport
	pkts chan *mdns.Packet
	loop *engine.Loop // owns q, runs the methods, delivers the events

	// Owned by the loop.
	q *querier
}

var _ sd.Browser = (*Browser)(nil)

// NewBrowser opens the mDNS transport and starts browsing types, each a
// registered service name ("timezone"), a DNS-SD type ("_timezone._tcp",
// "_timezone._tcp.local.") or a subtype ("_printer._sub._http._tcp"), or
// ServicesType to browse every type responders enumerate. It returns once
// the transport is open; events arrive on Events. ctx bounds only this
// start-up; the browser runs until Close. Errors: a type that does not
// parse (wrapping ErrBadName), no types, or the transport's errors
// (sd.ErrNoInterface, sd.ErrUnknownInterface).
func NewBrowser(ctx context.Context, types []string, opts Options) (*Browser, error) {
	q, err := newQuerier(opts, nil)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("browse: %w: no service type to browse", ErrBadName)
	}
	for _, t := range types {
		bt, err := engine.ParseType(t, q.reg)
		if err != nil {
			return nil, fmt.Errorf("browse: %w", err)
		}
		q.wantTypes = append(q.wantTypes, bt)
	}
	return open(ctx, q, opts)
}

// openTransport opens the mDNS transport; tests replace it.
var openTransport = func(ctx context.Context, cfg mdns.Config) (transport, error) {
	return mdns.Listen(ctx, cfg)
}

// open opens the transport, within ctx, and starts the loop, which runs
// until Close.
func open(ctx context.Context, q *querier, opts Options) (*Browser, error) {
	chg := make(chan mdns.InterfaceChange, 16)
	tr, err := openTransport(ctx, mdns.Config{
		Interfaces: opts.Interfaces,
		Exclude:    opts.ExcludeInterfaces,
		Families:   opts.Families,
		Logger:     q.log,
		OnChange: func(c mdns.InterfaceChange) {
			select {
			case chg <- c:
			default:
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("browse: %w", err)
	}
	return start(q, tr, chg), nil
}

// start runs the browser loop over tr until Close.
func start(q *querier, tr transport, chg chan mdns.InterfaceChange) *Browser {
	b := &Browser{
		tr:   tr,
		pkts: make(chan *mdns.Packet, 64),
		loop: engine.NewLoop(q.e),
		q:    q,
	}
	q.tr = tr
	b.loop.Go(b.read)
	engine.Start(b.loop, q, b.pkts, chg)
	return b
}

// read moves packets from the transport to the loop.
func (b *Browser) read(ctx context.Context) {
	for {
		p, err := b.tr.ReadPacket(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, mdns.ErrClosed) {
				b.loop.Fail(fmt.Errorf("browse: reading packets: %w", err))
			}
			return
		}
		select {
		case b.pkts <- p:
		case <-ctx.Done():
			return
		}
	}
}

// The querier is the loop's feeder: it feeds the engine the packets
// received and the interface changes, and runs the queries.
var _ engine.Feeder[*mdns.Packet, mdns.InterfaceChange] = (*querier)(nil)

// Begin starts the continuous questions; ctx is the loop's, for sending.
func (q *querier) Begin(ctx context.Context, now time.Time) {
	q.ctx = ctx
	q.begin(now)
}

// Turn settles the engine and says when tick is next due and whether the
// first rounds of queries have gone quiet.
func (q *querier) Turn(now time.Time) (time.Time, bool, bool) {
	q.settle(now)
	t, ok := q.nextWake()
	return t, ok, q.quietNow
}

// Input handles a packet received.
func (q *querier) Input(p *mdns.Packet) error {
	q.handlePacket(p)
	return nil
}

// Control handles an interface change.
func (q *querier) Control(c mdns.InterfaceChange, now time.Time) { q.interfacesChanged(c, now) }

// Tick runs the timers due at now.
func (q *querier) Tick(now time.Time) { q.tick(now) }

// Events returns the channel of instance events. It is closed when the
// browser stops (Close, or a failure: see Err). Events must be received
// promptly: while more than a few thousand wait, the browser stops reading
// packets.
func (b *Browser) Events() <-chan Event { return b.loop.Events() }

// Quiet returns a channel closed once the first rounds of queries have gone
// quiet: every browse question has been asked three times (at about 0.1, 1
// and 3 s) and no new record has arrived for a second, like
// "avahi-browse -t". With ServicesType, types discovered later restart the
// count.
func (b *Browser) Quiet() <-chan struct{} { return b.loop.Quiet() }

// Instances returns the instances now reported (added and not removed),
// sorted by name, then interface.
func (b *Browser) Instances() []Instance { return b.loop.Instances() }

// Stats returns a snapshot of the browser's counters (zero after it stopped).
func (b *Browser) Stats() Stats {
	var s Stats
	b.loop.Do(func() { s = b.q.snapshot() })
	return s
}

// Types returns the service types seen in enumeration answers
// (_services._dns-sd._udp, RFC 6763 section 9), "_timezone._tcp", sorted.
func (b *Browser) Types() []string { return b.loop.Enumerated() }

// MinQueryInterval is the least time between two transmissions of one
// question that QueryNow allows: the least interval RFC 6762 section 5.2
// sets between the first two queries of a continuous question ("MUST be
// at least one second").
const MinQueryInterval = time.Second

// QueryNow asks name (a browsed type, as given to NewBrowser or in
// presentation form, "_ipp._tcp.local."; a type learnt by enumeration;
// ServicesType when browsing it) on every interface now, once, unless
// that question was sent less than MinQueryInterval ago: a query on
// demand, as an RFC 8766 discovery proxy sends when a client asks it. The
// continuous schedule of the question (RFC 6762 section 5.2) is left as
// it is. It reports whether the query was scheduled; it is not when name
// is not a question of this browser, was asked within the interval, or
// the browser has stopped. A query due may still be left out on an
// interface where another querier has just asked it (duplicate question
// suppression, RFC 6762 section 7.3).
func (b *Browser) QueryNow(name string) bool {
	asked := false
	b.loop.Do(func() { asked = b.q.queryNow(name, time.Now()) })
	return asked
}

// Err returns the error that stopped the browser, nil while it runs or
// when Close stopped it.
func (b *Browser) Err() error { return b.loop.Err() }

// Close stops the browser, closes the transport and waits for every
// goroutine to exit. It is idempotent.
func (b *Browser) Close() error { return b.loop.Close(b.tr.Close) }

// Browse browses types (see NewBrowser) and calls fn for every event, from
// one goroutine and in order, until ctx is done; it then closes the
// browser and returns nil. It returns an error when the types do not parse
// or the transport fails.
func Browse(ctx context.Context, types []string, opts Options, fn func(Event)) error {
	b, err := NewBrowser(ctx, types, opts)
	if err != nil {
		return err
	}
loop:
	for {
		select {
		case ev, ok := <-b.Events():
			if !ok {
				err = b.Err()
				break loop
			}
			fn(ev)
		case <-ctx.Done():
			break loop
		}
	}
	if cerr := b.Close(); err == nil && cerr != nil && ctx.Err() == nil {
		err = cerr
	}
	return err
}
