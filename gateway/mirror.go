package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/wide"
)

// The zone destinations of the runtime: one ZoneMirror per zone a rule
// names (to_zones), made and checked by New. The owner decides (decide,
// withdraw, refresh) and every call into a mirror runs in a goroutine of
// its own, chained per instance and zone on the destination's slot (do),
// so that they reach the mirror in the order the owner issued them; their
// outcomes come back to the owner as zoneResult.

// ZoneCloseTimeout bounds how long Close spends removing from the zones
// what the gateway mirrored into them.
const ZoneCloseTimeout = 30 * time.Second

// zoneFlightGrace is how long the calls into the mirrors in flight when
// Close begins may take to finish their exchanges, before they are
// interrupted: an exchange cut short may leave records the mirror does
// not know of, so it gets the time of one (wide.DefaultTimeout).
const zoneFlightGrace = wide.DefaultTimeout

// zoneCheckTimeout bounds New's check of the zones' servers.
const zoneCheckTimeout = 10 * time.Second

// zoneOp is what a zoneResult reports.
type zoneOp int

const (
	zonePut    zoneOp = iota // a Put: the instance written or brought up to date
	zoneRemove               // a Remove: the instance deleted from the zone
)

// zoneResult is the outcome of a call into a mirror, for the owner.
type zoneResult struct {
	s     *slot
	gen   int
	op    zoneOp
	first bool   // a Put of an instance not yet in the zone
	wrote string // a Put: what is in the zone now, for the event
	err   error
	ev    Event // a Remove: the event to report once it is done
}

// zoneNames returns the zones that the rules of cfg name, sorted.
func zoneNames(cfg *Config) []string {
	names := map[string]bool{}
	for _, r := range cfg.Rules {
		for _, z := range r.ToZones {
			names[z] = true
		}
	}
	return slices.Sorted(maps.Keys(names))
}

// openMirrors makes one mirror per zone of names (zones of cfg) and
// checks each with its server (ZoneMirror.Check), all at once, before
// anything is sent on a link. A zone whose server answers that it will
// not take the gateway's updates (the key rejected, updates refused, not
// the zone's primary) is a configuration error, reported as ConfigErrors
// naming the zone ("zones.corp"); a server that does not answer is not:
// the gateway starts, logs it, and reports each instance for that zone
// refused with the server's error until the server answers (tried again
// every RefreshInterval).
func openMirrors(ctx context.Context, cfg *Config, names []string, opts Options, log *slog.Logger) (map[string]*ZoneMirror, error) {
	mirrors := map[string]*ZoneMirror{}
	closeAll := func() {
		for _, m := range mirrors {
			_ = m.Close(context.Background()) // nothing written yet: sends nothing
		}
	}
	for _, name := range names {
		m, err := NewZoneMirror(cfg.Zones[name], ZoneMirrorOptions{Registry: opts.Registry, Logger: log.With("part", "zone", "zone", name)})
		if err != nil {
			closeAll()
			return nil, ConfigErrors{{Field: "zones." + name, Reason: "cannot mirror into it", Err: err}}
		}
		mirrors[name] = m
	}
	cctx, cancel := context.WithTimeout(ctx, zoneCheckTimeout)
	defer cancel()
	var mu sync.Mutex
	var ces ConfigErrors
	var wg sync.WaitGroup
	for name, m := range mirrors {
		wg.Go(func() {
			err := m.Check(cctx)
			switch {
			case err == nil:
				log.Debug("gateway: zone accepts our updates", "zone", name, "domain", m.Domain())
			case ctx.Err() != nil:
			case errors.Is(err, wide.ErrNoAnswer) || errors.Is(err, context.DeadlineExceeded):
				log.Error("gateway: zone server not answering; its instances are refused until it answers", "zone", name, "domain", m.Domain(), "err", err)
			default:
				mu.Lock()
				ces = append(ces, &ConfigError{Field: "zones." + name, Reason: "the zone's server refuses the gateway's updates", Err: err})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		closeAll()
		return nil, fmt.Errorf("gateway: checking zones: %w", context.Cause(ctx))
	}
	if len(ces) > 0 {
		closeAll()
		slices.SortFunc(ces, func(a, b *ConfigError) int { return strings.Compare(a.Field, b.Field) })
		return nil, ces
	}
	return mirrors, nil
}

// closeMirrors removes from every zone what the gateway wrote there
// (ZoneMirror.Close), after the calls in flight.
func (g *Gateway) closeMirrors() error {
	ctx, cancel := context.WithTimeout(context.Background(), ZoneCloseTimeout)
	defer cancel()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(g.mirrors)) {
		if err := g.mirrors[name].Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	g.zcancel()
	return errors.Join(errs...)
}

// zonePut writes an instance that crosses to a zone into it, or brings
// what is there up to date; nothing is sent when the instance is in the
// zone as it is now.
func (g *Gateway) zonePut(k instKey, d *dest1, in sd.Instance, dec Decision) {
	if d.want && !d.retry && sameTXT(d.in.TXT, in.TXT) && slices.Equal(d.addrs, dec.Addrs) &&
		d.in.Port == in.Port && d.in.Host == in.Host && d.in.Instance == in.Instance {
		return
	}
	first := !d.want
	d.want, d.retry = true, false
	d.in, d.txt, d.addrs = in, in.TXT, slices.Clone(dec.Addrs)
	s := d.slot
	if first {
		d.live = false
		s.gen++
	}
	gen := s.gen
	m := g.mirrors[d.to]
	addrs := d.addrs
	g.log.Debug("gateway: mirroring into zone", "instance", in.Name, "from", k.link, "zone", d.to, "rule", dec.Rule, "first", first, "host", in.Host, "addrs", addrs)
	g.do(s, func() {
		if g.ctx.Err() != nil {
			return // closing: the mirror's Close removes what is there
		}
		err := m.Put(g.zctx, k.link, in, addrs)
		wrote := fmt.Sprintf("in zone %s as %s, SRV %s:%d, addresses %s", m.Domain(),
			m.InstanceName(in.Instance, in.Service), m.HostName(k.link, in.Host), in.Port, joinAddrs(routable(addrs)))
		g.toOwner(zoneResult{s: s, gen: gen, op: zonePut, first: first, wrote: wrote, err: err})
	})
}

// zoneRemove deletes an instance from a zone, and reports it removed
// once the server has taken it away. When the server cannot be reached
// the removal is tried again, after 1 s, 2 s, 4 s ... up to
// RefreshInterval, until it is done or the gateway closes (whose
// ZoneMirror.Close tries once more).
func (g *Gateway) zoneRemove(k instKey, d *dest1, reason string) {
	d.want, d.live, d.retry = false, false, false
	s := d.slot
	s.gen++
	m := g.mirrors[d.to]
	ev := Event{Kind: EventRemoved, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: reason}
	g.log.Debug("gateway: removing from zone", "instance", k.name, "from", k.link, "zone", d.to, "reason", reason)
	g.do(s, func() {
		for wait := time.Second; ; wait = min(2*wait, RefreshInterval) {
			if g.ctx.Err() != nil {
				return
			}
			err := m.Remove(g.zctx, k.link, k.name)
			if errors.Is(err, ErrMirrorClosed) {
				return // the zone left the configuration (Reload): its Close removed it
			}
			if err == nil {
				ev.Time = time.Now()
				g.toOwner(zoneResult{s: s, op: zoneRemove, ev: ev})
				return
			}
			g.log.Debug("gateway: removing from zone failed, trying again", "instance", k.name, "zone", d.to, "in", wait, "err", err)
			select {
			case <-time.After(wait):
			case <-g.ctx.Done():
				return
			}
		}
	})
}

// toOwner hands a message to the owner, unless the gateway is closing.
func (g *Gateway) toOwner(m any) {
	select {
	case g.in <- m:
	case <-g.ctx.Done():
	}
}

// zoneDone handles the outcome of a call into a mirror.
func (g *Gateway) zoneDone(st map[instKey]*entry, m zoneResult) {
	if m.op == zoneRemove {
		g.emit(m.ev)
		return
	}
	if m.gen != m.s.gen {
		return // removed meanwhile: the chained Remove takes care of it
	}
	k, d := find(st, m.s)
	if d == nil || !d.want {
		return
	}
	if m.err == nil {
		d.retry, d.refused = false, ""
		if !d.live {
			d.live = true
			g.emit(Event{Kind: EventProxied, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.wrote})
		} else {
			g.log.Debug("gateway: zone brought up to date", "instance", k.name, "zone", d.to, "now", m.wrote)
		}
		return
	}
	if errors.Is(m.err, sd.ErrClosed) || errors.Is(m.err, context.Canceled) && g.ctx.Err() != nil {
		return
	}
	g.log.Debug("gateway: zone refused the instance", "instance", k.name, "zone", d.to, "err", m.err)
	var ce *wide.ConflictError
	switch {
	case errors.As(m.err, &ce):
		// The name is held in the zone by records that are not ours
		// (RFC 6763 section 4.1): nothing was written, nothing is
		// renamed, and it is not tried again until the instance leaves
		// its link, as on a link (added).
		d.want, d.live, d.gone = false, false, true
		m.s.gen++
		g.emit(Event{Kind: EventWithdrawn, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.err.Error()})
	case !m.first && d.live:
		// An update failed: the zone holds the instance as it was.
		// Tried again at the next refresh.
		d.retry = true
	case errors.Is(m.err, wide.ErrNoAnswer) || errors.Is(m.err, context.DeadlineExceeded):
		// The server did not answer: reported once, tried again at
		// every refresh until it does.
		if d.refused == "" {
			d.refused = m.err.Error()
			g.emit(Event{Kind: EventRefused, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.err.Error()})
		}
		d.want, d.live, d.retry = true, false, true
	default:
		// The server refused it, or its TXT record does not validate:
		// reported; tried again when the instance changes.
		d.want, d.live = false, false
		m.s.gen++
		d.refused = m.err.Error()
		g.emit(Event{Kind: EventRefused, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: m.err.Error()})
		// A Put that wrote the instance but not the browsing-domain
		// PTRs fails too, the instance left in the zone: out with it,
		// so that the zone holds nothing the owner does not know of (a
		// Remove of what is not there sends nothing).
		mirror := g.mirrors[d.to]
		g.do(m.s, func() {
			if g.ctx.Err() == nil {
				if err := mirror.Remove(g.zctx, k.link, k.name); err != nil {
					g.log.Debug("gateway: removing a refused instance from the zone failed", "instance", k.name, "zone", d.to, "err", err)
				}
			}
		})
	}
}

// zoneRetry puts again the instances whose last Put failed for want of
// an answer, or whose update failed.
func (g *Gateway) zoneRetry(st map[instKey]*entry) {
	for k, e := range st {
		for _, d := range e.dests {
			if d.zone && d.want && d.retry && !d.gone {
				g.log.Debug("gateway: trying the zone again", "instance", k.name, "zone", d.to)
				g.zonePut(k, d, d.in, Decision{Rule: d.rule, Addrs: d.addrs})
			}
		}
	}
}
