package announce

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/notify"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// transport is what the responder uses of the mDNS transport; *mdns.Conn
// implements it in production, an in-memory link in the unit tests.
type transport interface {
	ReadPacket(ctx context.Context) (*mdns.Packet, error)
	SendMulticast(ctx context.Context, m *dns.Msg, ifIndex int, f mdns.Family) error
	SendUnicast(ctx context.Context, m *dns.Msg, to netip.AddrPort, ifIndex int) error
	Interfaces() []mdns.Interface
	Interface(index int) (mdns.Interface, bool)
	Close() error
}

var _ transport = (*mdns.Conn)(nil)

// TTLs are the record TTLs the responder gives out. A zero field means the
// RFC 6762 section 10 default. Tests set short ones; daemons leave them zero.
type TTLs struct {
	// Host is the TTL of records whose name or rdata holds a host name:
	// A, AAAA, SRV and the host's NSEC. Zero means 120 s.
	Host time.Duration
	// Other is the TTL of every other record: PTR, TXT, the instance NSEC.
	// Zero means 4500 s (75 minutes).
	Other time.Duration
}

// RFC 6762 section 10 default TTLs.
const (
	defaultHostTTL  = 120 * time.Second
	defaultOtherTTL = 4500 * time.Second
)

// ttlConfig holds the TTLs in whole seconds, as sent.
type ttlConfig struct{ host, other uint32 }

func (t TTLs) seconds() ttlConfig {
	conv := func(d, def time.Duration) uint32 {
		if d <= 0 {
			d = def
		}
		s := int64(d / time.Second)
		if s < 1 {
			s = 1
		}
		if s > 1<<31-1 {
			s = 1<<31 - 1
		}
		return uint32(s)
	}
	return ttlConfig{host: conv(t.Host, defaultHostTTL), other: conv(t.Other, defaultOtherTTL)}
}

// Options configure a Responder.
type Options struct {
	// Interfaces restricts the responder to these interface names; empty
	// means every up, multicast-capable, non-loopback interface. New fails
	// with an error wrapping sd.ErrUnknownInterface when a name does not
	// exist, and sd.ErrNoInterface when no interface is usable.
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
	// HostName is the host name to claim, as a single label ("h1") or with
	// the mDNS domain ("h1.local."); empty means the first label of
	// os.Hostname(). On a conflict it becomes "h1-2", "h1-3", ...
	HostName string
	// Registry supplies the TXT rules services are validated against;
	// nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives the responder's logs; nil means slog.Default().
	Logger *slog.Logger
	// Families to use (sd.IPv4, sd.IPv6); empty means both.
	Families []sd.Family
	// NoValidate publishes services that fail validation (with a logged
	// warning) instead of refusing them. Errors that make a service
	// impossible to encode are refused regardless.
	NoValidate bool
	// TTL overrides the record TTLs (zero fields: RFC 6762 defaults).
	TTL TTLs
	// Services are published from the start, together with the host name:
	// their names go into the host name's probe packets (RFC 6762 section
	// 8.1: a host probing several names SHOULD put them in one packet), so
	// they are announced about one probing sequence (~1 s) after start,
	// where Add after New takes two. They are validated like Add's before
	// New opens anything; New returns once all of them are final, and
	// Handles returns their handles.
	Services []Service
	// OnQuestion, when set, is called with every question of every query
	// received from another host: not a probe (RFC 6762 section 8.1: its
	// questions claim names, they ask for nothing), not one of this
	// host's own queries looped back (its source is an address of the
	// interface it arrived on), at most 256 questions a packet, before the
	// query is answered. A query holding a PTR or ANY question then
	// always takes the full path (the query fast path of quick.go drops
	// only queries asking for other types). It runs on the responder's goroutine: it must
	// return at once (hand the question over without blocking, dropping it
	// if need be) and must not call the Responder's methods. For gateways
	// that ask another link on demand (RFC 8766).
	OnQuestion func(ReceivedQuestion)
}

// ReceivedQuestion is a question of a query the responder received
// (Options.OnQuestion).
type ReceivedQuestion struct {
	// Name is the name asked about, in presentation form as received.
	Name string
	// Type is the RR type asked for (dns.TypePTR is 12, dns.TypeANY 255).
	Type uint16
	// Unicast: the unicast-response bit was set (QU, RFC 6762 section 5.4).
	Unicast bool
	// Iface is the interface the query arrived on.
	Iface string
	// Src is the address and port it came from (a port other than 5353:
	// a legacy unicast querier, RFC 6762 section 6.7).
	Src netip.AddrPort
}

// Responder is a Multicast DNS responder (RFC 6762) that claims a host name
// and publishes DNS-SD services (RFC 6763). Its methods are safe for
// concurrent use. One goroutine owns all state and runs every timer; a
// second one reads packets.
type Responder struct {
	tr       transport
	log      *slog.Logger
	reg      *registry.Registry
	opts     Options
	families []mdns.Family
	ttl      ttlConfig

	ctx    context.Context // cancelled when the responder stops
	cancel context.CancelFunc

	// names indexes the entities by the key of the name they claim
	// (names.go), so that a name check costs a look-up, not a scan.
	names nameIndex
	// svcEvents carries every service's events (ServiceEvents); only the
	// owner goroutine sends on it and closes it.
	svcEvents chan ServiceEvent

	cmds  chan func()
	pkts  chan *mdns.Packet
	ifchg chan mdns.InterfaceChange
	done  chan struct{} // closed when the event loop has exited
	wg    sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	nameMu   sync.Mutex
	hostName string // copy of the current host name for HostName

	// Owned by the event loop.
	tasks    taskHeap
	taskSeq  uint64
	timer    *time.Timer
	stopping bool
	host     *entity
	services []*entity
	// proxied holds the entities of services published for other hosts
	// (proxy.go): one per proxy and interface, and one per origin host
	// name and interface; proxyNames indexes them by name and interface,
	// proxyHosts the origin host names.
	proxied    []*entity
	proxyNames map[scopedKey]*entity
	proxyHosts map[scopedKey]*entity
	forming    *probeRun                  // probe run that has not sent its first probe yet
	lastMC     map[mcKey]time.Time        // last multicast of a record per interface (RFC 6762 section 6.2)
	pending    map[targetKey]*pendingResp // delayed multicast responses (section 6)
	tcWait     map[tcKey]*tcEntry         // truncated queries awaiting known answers (section 7.2)
	conflicts  []time.Time                // recent conflicts (section 8.1 rate limit)
	ixCache    map[int]*recIndex          // record index per interface index, until changed
	ownCache   map[string]*entity         // owners(), until changed
	former     map[string]time.Time       // records we published until lately, until when they may be echoed (RFC 6762 section 9)
	sameLink   map[[2]int]bool            // pairs of our interfaces seen to share a link (our multicast from one heard on the other)
	rescues    map[targetKey]*rescueBatch // records to multicast again after a goodbye once the rate limit allows (rescue.go)
	initial    []*Handle                  // handles of Options.Services (set before the loop runs)

	// quick is the query fast path the transport consults (quick.go);
	// quickDirty is set when its index must be rebuilt.
	quick      *quickFilter
	quickDirty bool
	// quickNext is the earliest time the index may be rebuilt again, and
	// quickWake the task that wakes the loop then (quick.go, afterEvent).
	quickNext time.Time
	quickWake *task
}

// entityKind tells a host name from a service.
type entityKind int

const (
	kindHost entityKind = iota
	kindService
	// kindProxyHost is another host's name, claimed on one interface for
	// the proxies that point at it (proxy.go).
	kindProxyHost
)

// entityState is where a unique name is in its life (RFC 6762 section 8).
type entityState int

const (
	stateProbing     entityState = iota // claiming the name (section 8.1)
	stateAnnouncing                     // name won; announcing (section 8.3)
	stateEstablished                    // announced; answering and defending
	stateRemoved                        // withdrawn
)

// entity is a name the responder claims: its host name or one service
// instance, with everything published under it. Owned by the event loop.
type entity struct {
	kind     entityKind
	label    string // host label or instance name, raw (unescaped)
	state    entityState
	svc      *svcData // nil for the host
	handle   *Handle  // nil for the host
	run      *probeRun
	deferred *task // scheduled start of a later probe run
	annGen   int   // bumped to cancel a running announcement sequence
	txtGen   int   // likewise for TXT re-announcements
	waiters  []chan error
	// announced is set once any announcement went out: goodbyes are owed.
	announced bool
	// retarget is set on the host when it was renamed, so that services
	// pointing at it are re-announced once it is established again.
	retarget bool
	// reprobe holds the interfaces (by index) on which a name already won
	// is being probed again after a link change (RFC 6762 section 8): it
	// is not answered there until that probing ends, and stays answered
	// everywhere else. Empty while the state is stateProbing, which
	// covers every interface.
	reprobe map[int]bool
	// name, key and nameLabel memoize nameOf(e) and its dnsname key for
	// the label nameLabel (names.go).
	name, key, nameLabel string
	// scope is the index of the one interface a proxied entity is
	// published on (proxy.go); 0 for our own names, published on all.
	scope int
	// proxy is the proxy a proxied service entity publishes; users, the
	// proxies that use a proxied host entity (kindProxyHost).
	proxy *proxy
	users map[*proxy]bool
}

// New opens the mDNS transport, claims the host name (probing and
// announcing it, RFC 6762 section 8) and returns once the host name is
// final. ctx bounds only this start-up; the responder runs until Close.
func New(ctx context.Context, opts Options) (*Responder, error) {
	// Bad options are refused before any socket is opened.
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	chg := make(chan mdns.InterfaceChange, 16)
	qf := newQuickFilter()
	qf.passPTR = opts.OnQuestion != nil
	cfg := mdns.Config{
		Filter:     qf.drop,
		Interfaces: opts.Interfaces,
		Exclude:    opts.ExcludeInterfaces,
		Families:   opts.Families,
		Logger:     opts.Logger,
		OnChange: func(c mdns.InterfaceChange) {
			select {
			case chg <- c:
			default:
			}
		},
	}
	conn, err := mdns.Listen(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("announce: %w", err)
	}
	return startWith(ctx, opts, conn, chg, qf)
}

// checkOptions refuses bad options before anything is opened: the host
// name, and every service of Options.Services (as Add would).
func checkOptions(opts Options) error {
	if err := CheckHostName(opts.HostName); err != nil {
		return err
	}
	reg := opts.Registry
	if reg == nil {
		reg = registry.Builtin()
	}
	var errs []error
	for _, s := range opts.Services {
		if _, err := admit(s, reg, opts.NoValidate, slog.New(slog.DiscardHandler)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// start runs a responder over tr; chg delivers interface changes (may be nil).
func start(ctx context.Context, opts Options, tr transport, chg chan mdns.InterfaceChange) (*Responder, error) {
	qf := newQuickFilter()
	qf.passPTR = opts.OnQuestion != nil
	return startWith(ctx, opts, tr, chg, qf)
}

// startWith is start with the query fast path qf, which the transport
// consults (mdns.Config.Filter) before it unpacks a datagram.
func startWith(ctx context.Context, opts Options, tr transport, chg chan mdns.InterfaceChange, qf *quickFilter) (*Responder, error) {
	label, err := hostLabel(opts.HostName)
	if err != nil {
		_ = tr.Close()
		return nil, err
	}
	r := &Responder{
		tr:       tr,
		log:      opts.Logger,
		reg:      opts.Registry,
		opts:     opts,
		families: opts.Families,
		ttl:      opts.TTL.seconds(),
		cmds:     make(chan func()),
		pkts:     make(chan *mdns.Packet, 128),
		ifchg:    chg,
		done:     make(chan struct{}),
		lastMC:   map[mcKey]time.Time{},
		pending:  map[targetKey]*pendingResp{},
		tcWait:   map[tcKey]*tcEntry{},
		quick:    qf,
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.reg == nil {
		r.reg = registry.Builtin()
	}
	if len(r.families) == 0 {
		r.families = []mdns.Family{mdns.IPv4, mdns.IPv6}
	}
	if r.ifchg == nil {
		r.ifchg = make(chan mdns.InterfaceChange)
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	r.host = &entity{kind: kindHost, label: label}
	r.host.handle = &Handle{r: r, e: r.host, st: notify.New("")}
	r.svcEvents = make(chan ServiceEvent, ServiceEventsBuffer)
	r.names.add(r, r.host)
	r.setHostName()
	var waits []chan error
	wait := make(chan error, 1)
	r.host.waiters = append(r.host.waiters, wait)
	waits = append(waits, wait)
	// Nothing else runs yet, so the host's probing can be started here,
	// and the initial services join its first probe run.
	r.startProbing(r.host, 0)
	for _, s := range opts.Services {
		res, err := admit(s, r.reg, opts.NoValidate, r.log)
		if err != nil {
			_ = tr.Close()
			return nil, err
		}
		h := r.newHandle(res)
		wait := make(chan error, 1)
		r.addEntity(h, wait)
		r.initial = append(r.initial, h)
		waits = append(waits, wait)
	}

	r.wg.Add(2)
	go r.readLoop()
	go r.run()

	for _, wait := range waits {
		select {
		case err := <-wait:
			if err != nil {
				_ = r.Close()
				return nil, err
			}
		case <-ctx.Done():
			_ = r.Close()
			return nil, fmt.Errorf("announce: claiming names: %w", ctx.Err())
		}
	}
	r.log.Info("mdns: host name claimed", "host", r.HostName())
	return r, nil
}

// HostEvents returns the events of the host name: its announcement, and
// later conflicts and renames (RFC 6762 section 9: "h1.local." becomes
// "h1-2.local."), after which the services that point at it are announced
// again. The channel is closed when the responder is; when nobody reads,
// old events are dropped.
func (r *Responder) HostEvents() <-chan Event { return r.host.handle.st.Events() }

// ServiceEventsBuffer is how many events ServiceEvents holds for a slow
// reader before it drops the oldest.
const ServiceEventsBuffer = 4096

// ServiceEvent is an event of one published service, with its handle.
type ServiceEvent struct {
	// Handle is the service's (Add's, AddProxy's or Handles').
	Handle *Handle
	Event
}

// ServiceEvents returns the events of every published service (proxies
// included, the host name not: HostEvents), in the order they happen: the
// same events as each Handle's Events, in one channel, so that a program
// publishing thousands of services needs one reader, not one per
// service. The channel is closed when the responder is; when nobody reads,
// the oldest events are dropped past ServiceEventsBuffer.
func (r *Responder) ServiceEvents() <-chan ServiceEvent { return r.svcEvents }

// Handles returns the handles of Options.Services, in their order (a
// service may have been renamed; see Handle.Name and Handle.Renamed).
func (r *Responder) Handles() []*Handle { return slices.Clone(r.initial) }

// CheckHostName reports whether name is usable as Options.HostName: empty
// (the machine's name), a single label, or a label followed by ".local."
// of at most 63 bytes of UTF-8 without control characters (RFC 6762
// section 16, RFC 1035 section 2.3.4). New makes the same check before it
// opens anything.
func CheckHostName(name string) error {
	if name == "" {
		return nil
	}
	_, err := hostLabel(name)
	return err
}

// hostLabel returns the host label to claim from the HostName option or
// the machine's name.
func hostLabel(name string) (string, error) {
	if name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "lansd"
		}
		name = strings.SplitN(h, ".", 2)[0]
	} else {
		n := strings.TrimSuffix(name, ".")
		if l := len(n) - len(".local"); l > 0 && dnsname.ASCIILower(n[l:]) == ".local" {
			n = n[:l]
		}
		if strings.Contains(n, ".") {
			return "", fmt.Errorf("announce: host name %q: must be a single label or end in .local.", name)
		}
		name = n
	}
	switch {
	case name == "":
		return "", fmt.Errorf("announce: host name is empty")
	case len(name) > 63:
		return "", fmt.Errorf("announce: host name %q: %d bytes, more than 63 (RFC 1035 section 2.3.4)", name, len(name))
	case !utf8.ValidString(name):
		return "", fmt.Errorf("announce: host name %q: not valid UTF-8 (RFC 6762 section 16)", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("announce: host name %q: control character at byte %d", name, i)
		}
	}
	return name, nil
}

// HostName returns the host name the responder holds, e.g. "h1.local." or,
// after a conflict, "h1-2.local.".
func (r *Responder) HostName() string {
	r.nameMu.Lock()
	defer r.nameMu.Unlock()
	return r.hostName
}

// Interfaces returns the names of the interfaces the responder is joined
// on at the moment (on at least one address family), in interface index
// order. The set changes as interfaces come and go.
func (r *Responder) Interfaces() []string {
	var names []string
	for _, ifc := range r.tr.Interfaces() {
		if !slices.Contains(names, ifc.Name) {
			names = append(names, ifc.Name)
		}
	}
	return names
}

// setHostName publishes the current host name to HostName. Event loop only.
func (r *Responder) setHostName() {
	n := r.hostFQDN()
	r.nameMu.Lock()
	r.hostName = n
	r.nameMu.Unlock()
}

// Close sends goodbyes for every record (RFC 6762 section 10.1), closes
// the transport and waits for the responder's goroutines to stop. It is
// idempotent.
func (r *Responder) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.Shutdown(ctx)
}

// Shutdown is Close with a context bounding the goodbyes; when ctx ends
// first the responder is closed without them and ctx's error is returned.
func (r *Responder) Shutdown(ctx context.Context) error {
	r.closeOnce.Do(func() {
		var ctxErr error
		sent := make(chan struct{})
		select {
		case r.cmds <- func() {
			r.goodbyeAll()
			r.stopping = true
			close(sent)
		}:
			<-sent
		case <-r.done:
		case <-ctx.Done():
			ctxErr = fmt.Errorf("announce: shutdown: %w", ctx.Err())
		}
		r.cancel()
		err := r.tr.Close()
		r.wg.Wait()
		if err != nil {
			err = fmt.Errorf("announce: closing transport: %w", err)
		}
		r.closeErr = errors.Join(ctxErr, err)
	})
	return r.closeErr
}

// call runs fn on the event loop and waits until it has run.
func (r *Responder) call(ctx context.Context, fn func()) error {
	ran := make(chan struct{})
	select {
	case r.cmds <- func() { fn(); close(ran) }:
	case <-r.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// An accepted command always runs to completion on the loop.
	<-ran
	return nil
}

// readLoop moves packets from the transport to the event loop through a
// bounded channel; when the loop falls behind, packets are dropped rather
// than queued without bound.
func (r *Responder) readLoop() {
	defer r.wg.Done()
	for {
		p, err := r.tr.ReadPacket(r.ctx)
		if err != nil {
			if r.ctx.Err() != nil || errors.Is(err, mdns.ErrClosed) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return
			}
			r.log.Debug("mdns: read failed", "err", err)
			select {
			case <-r.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		select {
		case r.pkts <- p:
		case <-r.ctx.Done():
			return
		default:
			r.log.Debug("mdns: responder busy, packet dropped", "src", p.Src)
		}
	}
}

// run is the event loop: it owns all state and runs commands, packets
// and timers one at a time.
func (r *Responder) run() {
	defer r.wg.Done()
	defer close(r.done)
	defer r.finish()
	for !r.stopping {
		var tc <-chan time.Time
		if t := r.tasks.peek(); t != nil {
			r.timer.Reset(time.Until(t.at))
			tc = r.timer.C
		} else {
			r.timer.Stop()
		}
		select {
		case <-r.ctx.Done():
			return
		case fn := <-r.cmds:
			fn()
		case p := <-r.pkts:
			r.handlePacket(p)
		case c := <-r.ifchg:
			r.interfacesChanged(c)
		case <-tc:
			r.runDue()
		}
		r.afterEvent()
	}
}

// finish releases everyone waiting on the loop when it exits.
func (r *Responder) finish() {
	r.timer.Stop()
	for _, e := range r.entities() {
		for _, w := range e.waiters {
			w <- errClosed
		}
		e.waiters = nil
		if e.handle != nil {
			e.handle.setErr(errClosed)
			e.handle.st.Close()
		}
	}
	close(r.svcEvents)
}

// handlePacket dispatches one received message. Malformed input never
// stops the responder: a panic while handling one packet is logged and the
// packet dropped.
func (r *Responder) handlePacket(p *mdns.Packet) {
	if p == nil || p.Msg == nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("mdns: packet handling failed", "src", p.Src, "panic", v)
		}
	}()
	sanitize(p.Msg)
	if p.Msg.Response {
		r.handleResponse(p)
	} else {
		r.handleQuery(p)
	}
}

// sanitize drops nil records, which miekg/dns never produces when
// unpacking but a hand-built message may hold.
func sanitize(m *dns.Msg) {
	isNil := func(rr dns.RR) bool { return rr == nil }
	m.Answer = slices.DeleteFunc(m.Answer, isNil)
	m.Ns = slices.DeleteFunc(m.Ns, isNil)
	m.Extra = slices.DeleteFunc(m.Extra, isNil)
}

// target is one interface and family to multicast on.
type target struct {
	ifc mdns.Interface
	fam mdns.Family
}

// targetKey identifies a target in maps.
type targetKey struct {
	ifIndex int
	fam     mdns.Family
}

func (t target) key() targetKey { return targetKey{t.ifc.Index, t.fam} }

// targets returns every interface and family to multicast on: the
// configured families on each interface that has an address of that family.
func (r *Responder) targets() []target {
	var out []target
	for _, ifc := range r.tr.Interfaces() {
		for _, f := range r.families {
			if ifc.HasFamily(f) {
				out = append(out, target{ifc: ifc, fam: f})
			}
		}
	}
	return out
}

// packetLimit is the largest message that fits t's MTU (RFC 6762 section 17).
func packetLimit(mtu int, f mdns.Family) int {
	if mtu <= 0 {
		mtu = 1500
	}
	n := mdns.PacketLimit(mtu, f)
	if n <= 0 || n > mdns.MaxPacket {
		n = mdns.MaxPacket
	}
	return n
}

// newResponse returns an empty mDNS response: QR and AA set, ID zero, no
// questions (RFC 6762 section 18: ID 0 and AA in multicast responses;
// section 6: no questions).
func newResponse() *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	m.Opcode = dns.OpcodeQuery
	m.Compress = true
	return m
}

// split returns m, or m split over several messages of at most max bytes
// when it is larger (RFC 6762 section 17).
func split(m *dns.Msg, max int) []*dns.Msg {
	if m.Len() <= max {
		return []*dns.Msg{m}
	}
	return mdns.Split(m, max)
}

// multicast sends m on t. With mark, its answers count as multicast now for
// the rate limit and the quarter-TTL rule (RFC 6762 sections 5.4 and 6.2).
func (r *Responder) multicast(t target, m *dns.Msg, mark bool) {
	if len(m.Answer) == 0 && len(m.Ns) == 0 && len(m.Question) == 0 {
		return
	}
	if mark {
		now := time.Now()
		for _, rr := range m.Answer {
			r.markMulticast(t.key(), rr, now)
		}
	}
	for _, part := range split(m, packetLimit(t.ifc.MTU, t.fam)) {
		if err := r.tr.SendMulticast(r.ctx, part, t.ifc.Index, t.fam); err != nil {
			r.log.Debug("mdns: multicast failed", "if", t.ifc.Name, "family", int(t.fam), "err", err)
		}
	}
}

// unicast sends m to one address.
func (r *Responder) unicast(to netip.AddrPort, ifIndex int, m *dns.Msg, limit int) {
	for _, part := range split(m, limit) {
		if err := r.tr.SendUnicast(r.ctx, part, to, ifIndex); err != nil {
			r.log.Debug("mdns: unicast failed", "to", to, "err", err)
		}
	}
}

// mcKey identifies one record on one interface and family.
type mcKey struct {
	rr string
	t  targetKey
}

// maxLastMC bounds the multicast history map.
const maxLastMC = 4096

// markMulticast records that rr was multicast on t at now.
func (r *Responder) markMulticast(t targetKey, rr dns.RR, now time.Time) {
	if len(r.lastMC) >= maxLastMC {
		horizon := time.Duration(max(r.ttl.host, r.ttl.other)) * time.Second / 4
		for k, at := range r.lastMC {
			if now.Sub(at) > horizon {
				delete(r.lastMC, k)
			}
		}
		if len(r.lastMC) >= maxLastMC {
			clear(r.lastMC)
		}
		r.invalidateQuick()
	}
	k := dnsname.RRKey(rr)
	r.lastMC[mcKey{k, t}] = now
	r.quickMark(t, k, now)
}

// multicastWithin reports whether the record with dnsname.RRKey k was
// multicast on t less than d ago.
func (r *Responder) multicastWithin(t targetKey, k string, d time.Duration) bool {
	at, ok := r.lastMC[mcKey{k, t}]
	return ok && time.Since(at) < d
}

// ttlOf returns our TTL for rr as a duration.
func ttlOf(rr dns.RR) time.Duration { return time.Duration(rr.Header().Ttl) * time.Second }

// randDuration returns a uniformly random duration in [lo, hi].
func randDuration(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1)
}

// task is a timer callback run by the event loop.
type task struct {
	at       time.Time
	seq      uint64
	fn       func()
	index    int
	canceled bool
}

// cancel stops t from running (nil-safe).
func (t *task) cancel() {
	if t != nil {
		t.canceled = true
	}
}

// after schedules fn on the event loop after d.
func (r *Responder) after(d time.Duration, fn func()) *task {
	r.taskSeq++
	t := &task{at: time.Now().Add(d), seq: r.taskSeq, fn: fn}
	heap.Push(&r.tasks, t)
	return t
}

// runDue runs every task that is due.
func (r *Responder) runDue() {
	now := time.Now()
	for {
		t := r.tasks.peek()
		if t == nil || t.at.After(now) {
			return
		}
		heap.Pop(&r.tasks)
		if !t.canceled {
			t.fn()
		}
		if r.stopping {
			return
		}
	}
}

// taskHeap orders tasks by time, then by scheduling order.
type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	t.index = -1
	return t
}

// peek returns the earliest task, skipping cancelled ones, or nil.
func (h *taskHeap) peek() *task {
	for h.Len() > 0 {
		t := (*h)[0]
		if !t.canceled {
			return t
		}
		heap.Pop(h)
	}
	return nil
}
