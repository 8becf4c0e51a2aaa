package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// The runtime (Gateway): one browser per source link (and one more per
// subtype a rule names, so that the gateway knows what an instance was
// found under; a Reload may add browsers for new types, see reload.go), one announce.Responder for every interface of every
// destination link, and one owner goroutine (Gateway.run) that holds the
// state: for each instance seen on a source link, its proxy on each
// destination link. Every call into the responder runs in a goroutine of
// its own, chained per proxy (slot.last) so that they apply in the order
// the owner issued them; AddProxy, which probes for about a second, feeds
// its outcome back to the owner.

// EventBuffer is how many events Gateway.Events holds for a slow reader:
// past it, the oldest event is dropped to make room for the newest.
const EventBuffer = 1024

// RefreshInterval is how often the gateway moves the expiry of its
// proxies (announce.ProxyOptions.Expires) to now plus the source's TTL,
// for the instances its browsers still hold: the browser reports no event
// when a record's TTL is only refreshed.
const RefreshInterval = 15 * time.Second

// The kinds of Event.
const (
	// EventProxied: an instance was published on a destination link,
	// or written into a destination zone (once its server accepted it).
	EventProxied = "proxied"
	// EventWithdrawn: a proxy was withdrawn from a destination link (or
	// from one of its interfaces) because someone there holds its name or
	// its host's name with other data; never renamed. For a zone: its
	// name is held there by other records, and nothing was written.
	EventWithdrawn = "withdrawn"
	// EventRefused: the policy (or the responder) refused an instance for
	// a destination; Rule and Reason say why.
	EventRefused = "refused"
	// EventRemoved: a proxy was taken away from a destination (goodbyes
	// sent; for a zone, deleted by its server) because the instance left
	// its source link, expired there, no longer passes the policy (after
	// a Reload too), or the gateway stops (Close: ReasonStopping).
	EventRemoved = "removed"
)

// Event is something the gateway did with an instance.
type Event struct {
	// Kind is EventProxied, EventWithdrawn, EventRefused or EventRemoved.
	Kind string
	// Instance is the full instance name, "Office TZ._timezone._tcp.local.".
	Instance string
	// From is the source link, To the destination link or zone.
	From, To string
	// Rule is the index in Config.Rules of the rule that decided, or -1.
	Rule int
	// Reason says why (refused, withdrawn, removed), or "".
	Reason string
	// Time is when it happened.
	Time time.Time
}

// Options configure a Gateway.
type Options struct {
	// Registry supplies the service types of registry names and the TXT
	// rules conformance is checked against; nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives the gateway's decisions at Debug; nil means
	// slog.Default().
	Logger *slog.Logger
	// HostName is the gateway's own mDNS host name, claimed on the
	// destination links; "" means the system's (announce.Options).
	HostName string
}

// Gateway is a running service discovery gateway: it browses the source
// links of its configuration and publishes on the destination links,
// as proxies (announce.Responder.AddProxy), the instances its Policy lets
// cross. Its methods are safe for concurrent use.
type Gateway struct {
	cfg    *Config // the owner's (Reload replaces it there)
	pol    *Policy // the owner's (Reload replaces it there)
	opts   Options
	log    *slog.Logger
	resp   *announce.Responder // nil without destination links
	events chan Event

	// reloadMu serializes Reload and Close; under it, rcfg is the
	// configuration in force and srcs the running browsers (reload.go).
	reloadMu sync.Mutex
	rcfg     *Config
	srcs     map[int]*source
	nextSrc  int
	// live is the owner's view of srcs; retiredSrcs the ids of the
	// browsers retired, whose last events do not count. Owner only.
	live        map[int]*source
	retiredSrcs map[int]bool
	// odMu guards od, what the on-demand goroutine works from.
	odMu sync.Mutex
	od   onDemandView
	// stopping is what the owner leaves at its end for Close to report:
	// a removed event for every live proxy and zone record.
	stopping []stopEvent

	ctx    context.Context // ends at Close: calls into the responder
	cancel context.CancelFunc
	in     chan any                       // to the owner: browsed, opResult, handleEvent
	asks   chan announce.ReceivedQuestion // to onDemand (ondemand.go)
	ops    sync.WaitGroup
	done   chan struct{} // owner ended

	mirrors map[string]*ZoneMirror // by zone name: the zones the rules mirror into (mirror.go)
	zctx    context.Context        // exchanges with the zones' servers: ends after the mirrors' Close
	zcancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error

	// retired holds, for the owner, the slots of the instances that left
	// their source link, until their last call into the responder is
	// done: an instance back meanwhile (re-announced within the second of
	// its goodbye) takes its old slot again, so that its new AddProxy
	// runs after the old proxy's Remove (see slotFor).
	retired map[slotKey]*slot
	// addProxy is resp.AddProxy; tests replace it.
	addProxy func(context.Context, announce.Service, announce.ProxyOptions) (*announce.Handle, error)
}

// slotKey names a proxy: an instance on a source link, and a destination
// (dest1's key in entry.dests).
type slotKey struct {
	inst instKey
	dest string
}

// browsed is a browse event from a source link's browser.
type browsed struct {
	src     int // source.id of the browser
	link    string
	subtype string // raw subtype label when the browser follows a subtype, else ""
	ev      sd.Event
}

// opResult is the outcome of an AddProxy.
type opResult struct {
	s   *slot
	gen int
	h   *announce.Handle
	err error
}

// handleEvent is an event of a proxy's handle.
type handleEvent struct {
	s   *slot
	gen int
	ev  announce.Event
}

// New starts a gateway for cfg: it checks cfg and resolves its types
// (NewPolicy; errors are ConfigErrors), opens one responder on every
// interface of every destination link and one browser per source link
// (and per subtype named by its rules), and returns once they run. ctx
// bounds only the start-up (the responder claims its host name, about a
// second) and the check of the zones' servers (openMirrors: a server that
// refuses the gateway's updates fails New with ConfigErrors naming the
// zone; one that does not answer does not).
func New(ctx context.Context, cfg *Config, opts Options) (*Gateway, error) {
	pol, err := NewPolicy(cfg, opts.Registry)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{cfg: cfg, pol: pol, opts: opts, log: log, events: make(chan Event, EventBuffer), rcfg: cfg,
		srcs: map[int]*source{}, live: map[int]*source{},
		in: make(chan any, 256), asks: make(chan announce.ReceivedQuestion, onDemandBuffer), done: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.zctx, g.zcancel = context.WithCancel(context.Background())
	g.mirrors, err = openMirrors(ctx, cfg, zoneNames(cfg), opts, log)
	if err != nil {
		g.cancel()
		g.zcancel()
		return nil, err
	}
	context.AfterFunc(g.ctx, func() { time.AfterFunc(zoneFlightGrace, g.zcancel) })

	destIfs := destInterfaces(cfg)
	fail := func(err error) (*Gateway, error) {
		g.cancel()
		if g.resp != nil {
			g.resp.Close()
		}
		_ = g.closeMirrors() // nothing written yet: sends nothing
		return nil, err
	}
	if len(destIfs) > 0 {
		g.resp, err = announce.New(ctx, announce.Options{Interfaces: destIfs, HostName: opts.HostName,
			Registry: opts.Registry, Logger: log.With("part", "responder"), ExcludeInterfaces: []string{},
			OnQuestion: g.heard}) // queries on demand (ondemand.go)
		if err != nil {
			return fail(fmt.Errorf("gateway: responder on %s: %w", strings.Join(destIfs, ", "), err))
		}
	}
	srcs, err := g.startSources(ctx, cfg, wantedSources(pol, cfg))
	if err != nil {
		return fail(err)
	}
	for _, src := range srcs {
		g.srcs[src.id] = src
		g.live[src.id] = src
	}
	g.setOnDemand(cfg, pol)
	for _, src := range srcs {
		go g.forward(src)
	}
	go g.run()
	g.ops.Add(1)
	go func() {
		defer g.ops.Done()
		g.onDemand()
	}()
	return g, nil
}

// forward hands a source's events to the owner until its browser ends.
func (g *Gateway) forward(src *source) {
	for ev := range src.b.Events() {
		g.log.Debug("gateway: browse event", "link", src.link, "subtype", src.subtype, "kind", ev.Kind, "instance", ev.Instance.Name, "if", ev.Instance.Ifaces, "addrs", ev.Instance.Addrs, "ttl", ev.Instance.TTL)
		select {
		case g.in <- browsed{src: src.id, link: src.link, subtype: src.subtype, ev: ev}:
		case <-g.ctx.Done():
			return
		}
	}
}

// Events returns the gateway's events. It holds EventBuffer events; a
// reader that falls behind loses the oldest ones. It is closed by Close.
func (g *Gateway) Events() <-chan Event { return g.events }

// Close stops the gateway: the browsers stop, every proxy is removed
// with goodbyes on its destination links (the responder's Close), what
// was mirrored into zones is deleted from them, leaving each zone as it
// was found (ZoneMirror.Close, within ZoneCloseTimeout), each proxy and
// zone record so withdrawn is reported EventRemoved (Reason "gateway
// stopping"), and Events is closed. It waits for a Reload in progress,
// and returns once that is done.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.reloadMu.Lock()
		defer g.reloadMu.Unlock()
		var errs []error
		g.cancel()
		<-g.done
		for _, id := range slices.Sorted(maps.Keys(g.srcs)) {
			if err := g.srcs[id].b.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		g.ops.Wait()
		if g.resp != nil {
			if err := g.resp.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		g.emitStopping(false, nil)
		zerr := g.closeMirrors()
		if zerr != nil {
			errs = append(errs, zerr)
		}
		g.emitStopping(true, zerr)
		close(g.events)
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// instKey is an instance on a source link.
type instKey struct{ link, name string }

// entry is an instance on a source link, as the owner knows it.
type entry struct {
	// seen: per interface, per browser (subtype "" or a subtype label),
	// the instance as last reported.
	seen  map[string]map[seenKey]sd.Instance
	dests map[string]*dest1 // by destination name (zones prefixed "zone:")
}

// seenKey is a browser (source.id) and the subtype it follows ("" for
// none): who reported an instance.
type seenKey struct {
	src     int
	subtype string
}

// dest1 is an instance's state for one destination.
type dest1 struct {
	to      string
	zone    bool
	slot    *slot
	want    bool   // proxied (or being proxied) there
	live    bool   // AddProxy succeeded for slot.gen
	gone    bool   // withdrawn after conflicts: not tried again until the instance leaves
	rule    int    // rule of the last decision
	refused string // reason of the last refusal reported, to report changes only
	txt     txt.Record
	addrs   []netip.Addr
	expires time.Time
	in      sd.Instance // a zone: the instance as last written
	retry   bool        // a zone: the last write failed; tried again at the next refresh
}

// slot is one proxy's chain of calls into the responder. h is written and
// read only by those calls, which run one after another (last); gen and
// last belong to the owner.
type slot struct {
	gen  int
	last chan struct{}
	h    *announce.Handle
}

// busy reports whether the slot's last call is still running.
func (s *slot) busy() bool {
	if s.last == nil {
		return false
	}
	select {
	case <-s.last:
		return false
	default:
		return true
	}
}

// retire keeps the slot of a proxy whose instance left its source link
// while its last call (the Remove) runs. Owner only.
func (g *Gateway) retire(k slotKey, s *slot) {
	if !s.busy() {
		return
	}
	if g.retired == nil {
		g.retired = map[slotKey]*slot{}
	}
	g.retired[k] = s
}

// slotFor returns the slot of a new proxy: the retired one of the same
// instance and destination, if its calls still run, so that the new calls
// follow them; a new one otherwise. It forgets the retired slots that are
// done. Owner only.
func (g *Gateway) slotFor(k slotKey) *slot {
	s := g.retired[k]
	delete(g.retired, k)
	for rk, rs := range g.retired {
		if !rs.busy() {
			delete(g.retired, rk)
		}
	}
	if s == nil {
		s = &slot{}
	}
	return s
}

// do runs op after the slot's previous call, in a goroutine.
func (g *Gateway) do(s *slot, op func()) {
	prev := s.last
	done := make(chan struct{})
	s.last = done
	g.ops.Add(1)
	go func() {
		defer g.ops.Done()
		defer close(done)
		if prev != nil {
			<-prev
		}
		op()
	}()
}

// emit sends an event, dropping the oldest when the buffer is full.
func (g *Gateway) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for {
		select {
		case g.events <- ev:
			return
		default:
		}
		select {
		case <-g.events:
		default:
		}
	}
}

// run is the owner goroutine.
func (g *Gateway) run() {
	defer close(g.done)
	st := map[instKey]*entry{}
	prefixes := map[string][]netip.Prefix{}
	prefixTime := map[string]time.Time{}
	linkPrefixes := func(link string) []netip.Prefix {
		if time.Since(prefixTime[link]) < 2*time.Second {
			return prefixes[link]
		}
		prefixes[link] = interfacePrefixes(g.cfg.Links[link].Interfaces)
		prefixTime[link] = time.Now()
		return prefixes[link]
	}
	tick := time.NewTicker(RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.ctx.Done():
			g.stopping = stoppingEvents(st)
			return
		case <-tick.C:
			g.refresh(st)
		case m := <-g.in:
			switch m := m.(type) {
			case browsed:
				g.browsed(st, m, linkPrefixes(m.link))
			case opResult:
				g.added(st, m)
			case handleEvent:
				g.handleEvent(st, m)
			case zoneResult:
				g.zoneDone(st, m)
			case reloadMsg:
				m.reply <- g.applyReload(st, m, linkPrefixes)
			case retireMsg:
				g.applyRetire(st, m, linkPrefixes)
				close(m.reply)
			}
		}
	}
}

// current returns the instance an entry stands for (the one seen on the
// first interface, by name) and the subtypes it was found under there.
func (e *entry) current() (sd.Instance, []string, bool) {
	if len(e.seen) == 0 {
		return sd.Instance{}, nil, false
	}
	ifn := slices.Min(slices.Collect(maps.Keys(e.seen)))
	byBr := e.seen[ifn]
	keys := slices.SortedFunc(maps.Keys(byBr), func(a, b seenKey) int {
		if c := strings.Compare(a.subtype, b.subtype); c != 0 {
			return c
		}
		return a.src - b.src
	})
	var subs []string
	for _, b := range keys {
		if b.subtype != "" && !slices.Contains(subs, b.subtype) {
			subs = append(subs, b.subtype)
		}
	}
	// The instance of a plain browser, sorted first, when there is one.
	return byBr[keys[0]], subs, true
}

// browsed applies one browse event.
func (g *Gateway) browsed(st map[instKey]*entry, m browsed, pfx []netip.Prefix) {
	if g.retiredSrcs[m.src] {
		return // a browser retired by Reload: its last events
	}
	in := m.ev.Instance
	k := instKey{m.link, in.Name}
	sk := seenKey{m.src, m.subtype}
	e := st[k]
	ifn := ""
	if len(in.Ifaces) > 0 {
		ifn = in.Ifaces[0]
	}
	if m.ev.Kind == sd.Remove {
		if e == nil {
			return
		}
		delete(e.seen[ifn], sk)
		if len(e.seen[ifn]) == 0 {
			delete(e.seen, ifn)
		}
	} else {
		if e == nil {
			e = &entry{seen: map[string]map[seenKey]sd.Instance{}, dests: map[string]*dest1{}}
			st[k] = e
		}
		if e.seen[ifn] == nil {
			e.seen[ifn] = map[seenKey]sd.Instance{}
		}
		e.seen[ifn][sk] = in
	}
	g.reconsider(st, k, e, pfx, m.ev.Time, "instance left link "+m.link)
}

// reconsider decides again on an entry whose sightings changed: when no
// browser holds it any more its proxies are withdrawn (reason) and it is
// forgotten.
func (g *Gateway) reconsider(st map[instKey]*entry, k instKey, e *entry, pfx []netip.Prefix, at time.Time, reason string) {
	cur, subs, ok := e.current()
	if !ok {
		g.log.Debug("gateway: instance left its source link", "instance", k.name, "from", k.link, "reason", reason)
		for _, d := range e.dests {
			g.withdraw(k, d, reason)
		}
		for key, d := range e.dests {
			g.retire(slotKey{k, key}, d.slot)
		}
		delete(st, k)
		return
	}
	g.decide(k, e, cur, subs, pfx, at)
}

// decide applies the policy to an entry's instance and acts on every
// destination the policy decides for; it returns the decisions.
func (g *Gateway) decide(k instKey, e *entry, in sd.Instance, subs []string, pfx []netip.Prefix, at time.Time) []Decision {
	if at.IsZero() {
		at = time.Now()
	}
	decs := g.pol.Decide(k.link, pfx, in, subs)
	for _, dec := range decs {
		key := dec.To
		if dec.Zone {
			key = "zone:" + dec.To
		}
		d := e.dests[key]
		if d == nil {
			d = &dest1{to: dec.To, zone: dec.Zone, slot: g.slotFor(slotKey{k, key}), rule: -1}
			e.dests[key] = d
		}
		g.log.Debug("gateway: decision", "instance", in.Name, "from", k.link, "to", dec.To, "zone", dec.Zone,
			"rule", dec.Rule, "proxy", dec.Proxy, "filter", dec.Filter, "reason", dec.Reason, "addrs", dec.Addrs)
		if !dec.Proxy {
			if d.want {
				g.withdraw(k, d, "refused: "+dec.Reason)
			}
			if d.refused != dec.Reason {
				d.refused = dec.Reason
				d.rule = dec.Rule
				g.emit(Event{Kind: EventRefused, Instance: in.Name, From: k.link, To: dec.To, Rule: dec.Rule, Reason: dec.Reason, Time: at})
			}
			continue
		}
		d.refused = ""
		d.rule = dec.Rule
		if d.gone {
			continue
		}
		if d.zone {
			g.zonePut(k, d, in, dec)
			continue
		}
		expires := at.Add(in.TTL)
		if in.TTL <= 0 {
			expires = time.Time{}
		}
		if !d.want {
			g.add(k, d, in, subs, dec, expires)
			continue
		}
		if sameTXT(d.txt, in.TXT) && slices.Equal(d.addrs, dec.Addrs) && !expires.After(d.expires) {
			continue
		}
		g.update(k, d, in.TXT, dec.Addrs, expires)
	}
	return decs
}

// add starts proxying an instance on a destination link.
func (g *Gateway) add(k instKey, d *dest1, in sd.Instance, subs []string, dec Decision, expires time.Time) {
	d.want, d.live = true, false
	d.txt, d.addrs, d.expires = in.TXT, slices.Clone(dec.Addrs), expires
	s := d.slot
	s.gen++
	gen := s.gen
	svc := announce.Service{Instance: in.Instance, Type: in.Service, Subtypes: subs, Port: in.Port, TXT: in.TXT, Host: in.Host}
	opts := announce.ProxyOptions{Interfaces: g.cfg.Links[d.to].Interfaces, HostAddrs: d.addrs, Expires: expires}
	g.log.Debug("gateway: proxying", "instance", in.Name, "from", k.link, "to", d.to, "rule", dec.Rule, "host", in.Host, "addrs", d.addrs, "expires", expires)
	g.do(s, func() {
		add := g.addProxy
		if add == nil {
			add = g.resp.AddProxy
		}
		h, err := add(g.ctx, svc, opts)
		s.h = h
		if h != nil {
			go g.watch(s, gen, h)
		}
		select {
		case g.in <- opResult{s: s, gen: gen, h: h, err: err}:
		case <-g.ctx.Done():
		}
	})
}

// watch forwards a proxy handle's events to the owner.
func (g *Gateway) watch(s *slot, gen int, h *announce.Handle) {
	for ev := range h.Events() {
		select {
		case g.in <- handleEvent{s: s, gen: gen, ev: ev}:
		case <-g.ctx.Done():
			return
		}
	}
}

// update changes a live (or pending) proxy's TXT record, addresses and
// expiry.
func (g *Gateway) update(k instKey, d *dest1, rec txt.Record, addrs []netip.Addr, expires time.Time) {
	d.txt, d.addrs, d.expires = rec, slices.Clone(addrs), expires
	s := d.slot
	opts := announce.ProxyOptions{Interfaces: g.cfg.Links[d.to].Interfaces, HostAddrs: d.addrs, Expires: expires}
	name := k.name
	g.do(s, func() {
		if s.h == nil {
			return
		}
		if err := s.h.UpdateProxy(g.ctx, rec, opts); err != nil && g.ctx.Err() == nil {
			g.log.Debug("gateway: updating proxy failed", "instance", name, "to", d.to, "err", err)
		}
	})
}

// withdraw removes an instance's proxy from a destination (goodbyes),
// reporting it removed.
func (g *Gateway) withdraw(k instKey, d *dest1, reason string) {
	d.gone = false
	if !d.want {
		return
	}
	if d.zone {
		g.zoneRemove(k, d, reason)
		return
	}
	d.want, d.live = false, false
	s := d.slot
	s.gen++
	g.log.Debug("gateway: removing proxy", "instance", k.name, "from", k.link, "to", d.to, "reason", reason)
	g.emit(Event{Kind: EventRemoved, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: reason})
	g.do(s, func() {
		if s.h == nil {
			return
		}
		h := s.h
		s.h = nil
		if err := h.Remove(g.ctx); err != nil && g.ctx.Err() == nil && !errors.Is(err, sd.ErrRemoved) {
			g.log.Debug("gateway: removing proxy failed", "instance", k.name, "to", d.to, "err", err)
		}
	})
}

// find returns the entry and destination a slot belongs to.
func find(st map[instKey]*entry, s *slot) (instKey, *dest1) {
	for k, e := range st {
		for _, d := range e.dests {
			if d.slot == s {
				return k, d
			}
		}
	}
	return instKey{}, nil
}

// added handles the outcome of an AddProxy.
func (g *Gateway) added(st map[instKey]*entry, m opResult) {
	if m.gen != m.s.gen {
		return // removed meanwhile: the chained Remove takes care of it
	}
	k, d := find(st, m.s)
	if d == nil {
		return
	}
	if m.err != nil {
		d.want = false
		d.gone = true
		// Withdrawn while probing (someone on the link holds the name
		// or the origin host's name, RFC 6762 section 8.2): never
		// renamed, not tried again until the instance leaves its link.
		// Anything else the responder refused.
		kind := EventRefused
		if errors.Is(m.err, sd.ErrRemoved) {
			kind = EventWithdrawn
		}
		g.log.Debug("gateway: proxy not published", "instance", k.name, "to", d.to, "kind", kind, "err", m.err)
		g.emit(Event{Kind: kind, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.err.Error()})
		return
	}
	d.live = true
	g.emit(Event{Kind: EventProxied, Instance: k.name, From: k.link, To: d.to, Rule: d.rule,
		Reason: "addresses " + joinAddrs(d.addrs)})
}

// handleEvent handles an event of a proxy's handle: a withdrawal after a
// conflict, or its end (expired at the source, or withdrawn everywhere).
func (g *Gateway) handleEvent(st map[instKey]*entry, m handleEvent) {
	if m.gen != m.s.gen {
		return
	}
	k, d := find(st, m.s)
	if d == nil {
		return
	}
	switch m.ev.Kind {
	case sd.Withdrawn:
		g.emit(Event{Kind: EventWithdrawn, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.ev.Reason, Time: m.ev.Time})
	case sd.Removed:
		if !d.want {
			return
		}
		d.want, d.live, d.gone = false, false, true
		m.s.gen++
		g.emit(Event{Kind: EventRemoved, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.ev.Reason, Time: m.ev.Time})
	}
}

// refresh moves the expiry of the proxies whose instances the browsers
// still hold.
func (g *Gateway) refresh(st map[instKey]*entry) {
	g.zoneRetry(st)
	held := map[instKey]sd.Instance{}
	for _, src := range g.live {
		for _, in := range src.b.Instances() {
			held[instKey{g.linkOfIfaces(in.Ifaces), in.Name}] = in
		}
	}
	now := time.Now()
	for k, e := range st {
		in, ok := held[k]
		if !ok || in.TTL <= 0 {
			continue
		}
		for _, d := range e.dests {
			if d.want && !d.gone && !d.zone {
				g.update(k, d, d.txt, d.addrs, now.Add(in.TTL))
			}
		}
	}
}

// linkOfIfaces is the link of the first of ifaces.
func (g *Gateway) linkOfIfaces(ifaces []string) string {
	if len(ifaces) == 0 {
		return ""
	}
	l, _ := g.cfg.LinkOf(ifaces[0])
	return l
}

// interfacePrefixes returns the global and unique-local prefixes of the
// named interfaces (link-local ones left out). An interface that does
// not exist has none.
func interfacePrefixes(ifaces []string) []netip.Prefix {
	var out []netip.Prefix
	for _, name := range ifaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.IsLinkLocalUnicast() || ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast() {
				continue
			}
			bits, _ := ipn.Mask.Size()
			if ip.Is4() && bits > 32 {
				bits -= 96
			}
			out = append(out, netip.PrefixFrom(ip, bits).Masked())
		}
	}
	return out
}

// sameTXT says whether two TXT records encode alike.
func sameTXT(a, b txt.Record) bool {
	wa, ea := a.Encode()
	wb, eb := b.Encode()
	return ea == nil && eb == nil && string(wa) == string(wb)
}
