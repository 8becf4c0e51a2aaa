package browse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
}

// DefaultMaxRecords bounds the cache when Options.MaxRecords is 0.
const DefaultMaxRecords = 10000

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
	tr     transport
	pkts   chan *mdns.Packet
	ifchg  chan mdns.InterfaceChange
	cancel context.CancelFunc
	events chan Event
	quiet  chan struct{}
	cmds   chan func()
	done   chan struct{} // closed when the loop has exited
	wg     sync.WaitGroup

	closeOnce sync.Once
	err       error // set by the loop before done is closed

	// Owned by the loop.
	q *querier
}

var _ sd.Browser = (*Browser)(nil)

// maxPending bounds the events waiting to be received from Events; when
// reached, the browser stops reading packets until the receiver catches up
// (the transport then drops packets, as it does when any reader is slow).
const maxPending = 4096

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
		Families:   opts.Families,
		Logger:     q.log,
		OnChange: func(added, removed []mdns.Interface) {
			select {
			case chg <- mdns.InterfaceChange{Added: added, Removed: removed}:
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
	ctx, cancel := context.WithCancel(context.Background())
	b := &Browser{
		tr:     tr,
		pkts:   make(chan *mdns.Packet, 64),
		ifchg:  chg,
		cancel: cancel,
		events: make(chan Event),
		quiet:  make(chan struct{}),
		cmds:   make(chan func()),
		done:   make(chan struct{}),
		q:      q,
	}
	q.tr = tr
	readErr := make(chan error, 1)
	b.wg.Add(2)
	go b.read(ctx, readErr)
	go b.loop(ctx, readErr)
	return b
}

// read moves packets from the transport to the loop.
func (b *Browser) read(ctx context.Context, errc chan<- error) {
	defer b.wg.Done()
	for {
		p, err := b.tr.ReadPacket(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, mdns.ErrClosed) {
				errc <- err
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

// loop owns the querier and its engine: it handles packets, timers,
// commands and event delivery until ctx is cancelled by Close.
func (b *Browser) loop(ctx context.Context, readErr <-chan error) {
	defer b.wg.Done()
	defer close(b.done)
	defer close(b.events)
	q := b.q
	q.ctx = ctx
	now := time.Now()
	q.begin(now)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now = time.Now()
		q.settle(now)
		ev, pending := q.e.NextEvent()
		// Quiet is signalled once every event before it was received, so
		// that a receiver stopping at Quiet misses none.
		if q.quietNow && !q.quietSent && pending == 0 {
			q.quietSent = true
			close(b.quiet)
		}
		if t, ok := q.nextWake(); ok {
			timer.Reset(max(0, t.Sub(now)))
		} else {
			timer.Reset(time.Hour)
		}
		var out chan Event
		if pending > 0 {
			out = b.events
		}
		in := b.pkts
		if pending >= maxPending {
			in = nil
		}
		select {
		case <-ctx.Done():
			return
		case err := <-readErr:
			b.err = fmt.Errorf("browse: reading packets: %w", err)
			return
		case p := <-in:
			q.handlePacket(p)
		case <-timer.C:
			q.tick(time.Now())
		case out <- ev:
			q.e.EventSent()
		case f := <-b.cmds:
			f()
		case c := <-b.ifchg:
			q.interfacesChanged(c, time.Now())
		}
	}
}

// do runs f on the loop; it returns false when the browser has stopped.
func (b *Browser) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case b.cmds <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-b.done:
		return false
	}
}

// Events returns the channel of instance events. It is closed when the
// browser stops (Close, or a failure: see Err). Events must be received
// promptly: while more than a few thousand wait, the browser stops reading
// packets.
func (b *Browser) Events() <-chan Event { return b.events }

// Quiet returns a channel closed once the first rounds of queries have gone
// quiet: every browse question has been asked three times (at about 0.1, 1
// and 3 s) and no new record has arrived for a second, like
// "avahi-browse -t". With ServicesType, types discovered later restart the
// count.
func (b *Browser) Quiet() <-chan struct{} { return b.quiet }

// Instances returns the complete instances now known, sorted by name.
func (b *Browser) Instances() []Instance {
	var out []Instance
	b.do(func() { out = b.q.e.Instances() })
	return out
}

// Stats returns a snapshot of the browser's counters (zero after it stopped).
func (b *Browser) Stats() Stats {
	var s Stats
	b.do(func() { s = b.q.snapshot() })
	return s
}

// Types returns the service types seen in enumeration answers
// (_services._dns-sd._udp, RFC 6763 section 9), "_timezone._tcp", sorted.
func (b *Browser) Types() []string {
	var out []string
	b.do(func() { out = b.q.e.Enumerated() })
	return out
}

// Err returns the error that stopped the browser, nil while it runs or
// when Close stopped it.
func (b *Browser) Err() error {
	select {
	case <-b.done:
		return b.err
	default:
		return nil
	}
}

// Close stops the browser, closes the transport and waits for every
// goroutine to exit. It is idempotent.
func (b *Browser) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.cancel()
		b.wg.Wait()
		err = b.tr.Close()
	})
	return err
}

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
