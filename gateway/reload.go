package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Reloading in place (Gateway.Reload). The browsers are sources: one
// browser of a link for a set of plain types, or for one subtype. A
// reload keeps every source whose types are all still wanted, starts new
// ones for the rest, and retires the others once the new ones of their
// link have gone quiet (browse.Browser.Quiet, at most handoverTimeout):
// what a retired browser held and a new one holds is handed over
// without a change, so that its proxies stay as they are.

// ErrRestart is matched (errors.Is) by the error of a Reload whose new
// configuration cannot be applied to the running gateway; the running
// gateway is left as it was. A *RestartError says why.
var ErrRestart = errors.New("gateway: the new configuration needs a restart")

// RestartError is the error of a Reload that needs a restart: Reason
// says what changes ("the destination interfaces change from ... to
// ..."). It matches ErrRestart.
type RestartError struct {
	Reason string
}

func (e *RestartError) Error() string { return "gateway: cannot reload in place: " + e.Reason }

// Is makes a RestartError match ErrRestart.
func (e *RestartError) Is(target error) bool { return target == ErrRestart }

// handoverTimeout bounds how long Reload waits for a new browser to go
// quiet before it retires the browser it replaces.
const handoverTimeout = 5 * time.Second

// ReasonReloaded is the Reason of the EventRemoved of a proxy whose
// destination no rule of a reloaded configuration names any more.
const ReasonReloaded = "no rule for it in the reloaded configuration"

// ReasonStopping is the Reason of the EventRemoved of each proxy and
// zone record withdrawn by Close.
const ReasonStopping = "gateway stopping"

// sourceSpec is what a browser browses: types on a link, and the raw
// subtype label when it follows one subtype (types is then that one).
type sourceSpec struct {
	link    string
	types   []string
	subtype string
}

// source is a running browser of a source link.
type source struct {
	sourceSpec
	id int
	b  *browse.Browser
}

// wantedSources returns the browsers pol needs: per source link, one for
// its plain types and one per subtype.
func wantedSources(pol *Policy, cfg *Config) []sourceSpec {
	var out []sourceSpec
	for _, link := range slices.Sorted(maps.Keys(cfg.Links)) {
		var plain []string
		var subs []sourceSpec
		for _, t := range pol.BrowseTypes(link) {
			rt, err := registry.ParseType(t)
			if err == nil && rt.Subtype != "" {
				subs = append(subs, sourceSpec{link: link, types: []string{t}, subtype: rt.Subtype})
			} else {
				plain = append(plain, t)
			}
		}
		if len(plain) > 0 {
			out = append(out, sourceSpec{link: link, types: plain})
		}
		out = append(out, subs...)
	}
	return out
}

// destInterfaces returns the interfaces of cfg's destination links, in
// the order the rules name them: the responder's.
func destInterfaces(cfg *Config) []string {
	var out []string
	for _, r := range cfg.Rules {
		for _, l := range r.To {
			for _, ifn := range cfg.Links[l].Interfaces {
				if !slices.Contains(out, ifn) {
					out = append(out, ifn)
				}
			}
		}
	}
	return out
}

// startSources starts a browser per spec; on error it closes those it
// started. Under reloadMu, or in New.
func (g *Gateway) startSources(ctx context.Context, cfg *Config, specs []sourceSpec) ([]*source, error) {
	var out []*source
	for _, sp := range specs {
		// RemoveOnGoodbye: a goodbye on the source link withdraws the
		// proxies at once, not one second later (see Removal in doc.go).
		bopts := browse.Options{Interfaces: cfg.Links[sp.link].Interfaces, Registry: g.opts.Registry,
			Logger: g.log.With("part", "browser", "link", sp.link), ExcludeInterfaces: []string{}, RemoveOnGoodbye: true}
		b, err := browse.NewBrowser(ctx, sp.types, bopts)
		if err != nil {
			for _, s := range out {
				s.b.Close()
			}
			return nil, fmt.Errorf("gateway: browsing %s on link %s: %w", strings.Join(sp.types, ", "), sp.link, err)
		}
		g.nextSrc++
		out = append(out, &source{sourceSpec: sp, id: g.nextSrc, b: b})
		g.log.Debug("gateway: browsing source link", "link", sp.link, "if", cfg.Links[sp.link].Interfaces, "types", sp.types)
	}
	return out, nil
}

// planSources compares the running sources with those pol needs: the
// ids of the sources to keep, the specs to start, the ids to retire.
// A running plain browser is kept when every type it browses is still
// wanted on its link; the wanted types it does not cover go to one new
// browser.
func planSources(running map[int]*source, want []sourceSpec) (keep []int, start []sourceSpec, retire []int) {
	kept := map[int]bool{}
	for _, w := range want {
		if w.subtype != "" {
			found := false
			for _, id := range slices.Sorted(maps.Keys(running)) {
				r := running[id]
				if r.link == w.link && r.subtype != "" && slices.Equal(r.types, w.types) && !kept[id] {
					kept[id], found = true, true
					break
				}
			}
			if !found {
				start = append(start, w)
			}
			continue
		}
		covered := map[string]bool{}
		for _, id := range slices.Sorted(maps.Keys(running)) {
			r := running[id]
			if r.link != w.link || r.subtype != "" {
				continue
			}
			all := true
			for _, t := range r.types {
				all = all && slices.Contains(w.types, t)
			}
			if all {
				kept[id] = true
				for _, t := range r.types {
					covered[t] = true
				}
			}
		}
		var rest []string
		for _, t := range w.types {
			if !covered[t] {
				rest = append(rest, t)
			}
		}
		if len(rest) > 0 {
			start = append(start, sourceSpec{link: w.link, types: rest})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(running)) {
		if kept[id] {
			keep = append(keep, id)
		} else {
			retire = append(retire, id)
		}
	}
	return keep, start, retire
}

// inPlace says why cfg cannot replace old in place ("" when it can): the
// responder's interfaces (those of the destination links) must stay the
// same, a link kept must keep its interfaces, a zone kept its definition.
func inPlace(old, cfg *Config) string {
	oi, ni := slices.Sorted(slices.Values(destInterfaces(old))), slices.Sorted(slices.Values(destInterfaces(cfg)))
	if !slices.Equal(oi, ni) {
		return fmt.Sprintf("the destination interfaces change from [%s] to [%s]", strings.Join(oi, " "), strings.Join(ni, " "))
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Links)) {
		ol, ok := old.Links[name]
		if !ok {
			continue
		}
		a, b := slices.Sorted(slices.Values(ol.Interfaces)), slices.Sorted(slices.Values(cfg.Links[name].Interfaces))
		if !slices.Equal(a, b) {
			return fmt.Sprintf("link %s changes its interfaces from [%s] to [%s]", name, strings.Join(a, " "), strings.Join(b, " "))
		}
	}
	used := zoneNames(old)
	for _, name := range zoneNames(cfg) {
		if slices.Contains(used, name) && !reflect.DeepEqual(old.Zones[name], cfg.Zones[name]) {
			return fmt.Sprintf("zone %s changes", name)
		}
	}
	return ""
}

// reloadMsg hands a reloaded configuration to the owner.
type reloadMsg struct {
	cfg     *Config
	pol     *Policy
	add     []*source              // new browsers
	mirrors map[string]*ZoneMirror // new zones
	drop    []string               // zones no rule names any more
	reply   chan reloadReply
}

// reloadReply is the owner's answer to a reloadMsg: the mirrors of the
// dropped zones, to close, and the removed events to report once they
// are closed.
type reloadReply struct {
	mirrors map[string]*ZoneMirror
	events  []Event
}

// retireMsg tells the owner to forget the browsers old, handing what
// each held and one of the new browsers of its link holds (into, by
// source id: their instances) over to that one.
type retireMsg struct {
	old   []*source
	into  map[int][]sd.Instance
	reply chan struct{}
}

// Reload applies cfg to the running gateway in place. It checks cfg
// (NewPolicy: ConfigErrors) and, when it can be applied, changes only
// what cfg changes: the policy is replaced and every instance known is
// decided again (what no longer passes is withdrawn, reported
// EventRemoved, what now passes is proxied); the browsers of types and
// links no longer needed are closed, their instances' proxies removed,
// and new ones started; zones no rule names any more are left as found
// (ZoneMirror.Close, their records reported EventRemoved), new zones are
// opened and checked as New does (a server that refuses the gateway's
// updates is ConfigErrors naming the zone). A proxy that still passes
// keeps its names on its destination links: no goodbye, no new probe; a
// zone record that still passes is not written again. A browser replaced
// by one of more (or fewer) types hands the instances both hold over
// once the new one has gone quiet (at most 5 s), so Reload may take
// that long.
//
// When cfg cannot be applied in place, because the interfaces of the
// destination links (the responder's) change, a link changes its
// interfaces, or a zone its definition, Reload returns an error matching
// ErrRestart (a *RestartError saying why) and the gateway runs on as it
// was: Close it and start a new one with New for cfg. On any other error
// the gateway also runs on with its old configuration, unchanged. ctx
// bounds the opening of browsers and zones.
func (g *Gateway) Reload(ctx context.Context, cfg *Config) error {
	pol, err := NewPolicy(cfg, g.opts.Registry)
	if err != nil {
		return err
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.ctx.Err() != nil {
		return fmt.Errorf("gateway: reload: %w", sd.ErrClosed)
	}
	old := g.rcfg
	if why := inPlace(old, cfg); why != "" {
		return &RestartError{Reason: why}
	}
	oldZones, newZones := zoneNames(old), zoneNames(cfg)
	var opened, drop []string
	for _, z := range newZones {
		if !slices.Contains(oldZones, z) {
			opened = append(opened, z)
		}
	}
	for _, z := range oldZones {
		if !slices.Contains(newZones, z) {
			drop = append(drop, z)
		}
	}
	mirrors := map[string]*ZoneMirror{}
	if len(opened) > 0 {
		if mirrors, err = openMirrors(ctx, cfg, opened, g.opts, g.log); err != nil {
			return err
		}
	}
	_, startSpecs, retire := planSources(g.srcs, wantedSources(pol, cfg))
	added, err := g.startSources(ctx, cfg, startSpecs)
	if err != nil {
		for _, m := range mirrors {
			_ = m.Close(context.Background()) // nothing written yet: sends nothing
		}
		return err
	}
	g.log.Debug("gateway: reloading in place", "new browsers", len(added), "retired browsers", len(retire), "new zones", opened, "dropped zones", drop)
	reply := make(chan reloadReply, 1)
	select {
	case g.in <- reloadMsg{cfg: cfg, pol: pol, add: added, mirrors: mirrors, drop: drop, reply: reply}:
	case <-g.ctx.Done():
		for _, s := range added {
			s.b.Close()
		}
		for _, m := range mirrors {
			_ = m.Close(context.Background())
		}
		return fmt.Errorf("gateway: reload: %w", sd.ErrClosed)
	}
	var r reloadReply
	select {
	case r = <-reply:
	case <-g.done:
		// The owner ended (Close waits for reloadMu): nothing more to do
		// here, Close closes what is running.
	}
	g.rcfg = cfg
	for _, s := range added {
		g.srcs[s.id] = s
		go g.forward(s)
	}
	g.setOnDemand(cfg, pol)

	// Zones no rule names any more: left as found.
	if len(r.mirrors) > 0 {
		zctx, cancel := context.WithTimeout(context.Background(), ZoneCloseTimeout)
		failed := map[string]error{}
		for _, name := range slices.Sorted(maps.Keys(r.mirrors)) {
			if err := r.mirrors[name].Close(zctx); err != nil {
				failed[name] = err
				g.log.Error("gateway: leaving a zone no rule names any more", "zone", name, "err", err)
			}
		}
		cancel()
		for _, ev := range r.events {
			if err := failed[ev.To]; err != nil {
				ev.Reason += "; removing it from the zone failed: " + err.Error()
			}
			ev.Time = time.Now()
			g.emit(ev)
		}
	}

	// Retired browsers: once the new browsers of their link are quiet,
	// what both hold is handed over, the rest withdrawn.
	if len(retire) == 0 {
		return nil
	}
	old2 := make([]*source, 0, len(retire))
	links := map[string]bool{}
	for _, id := range retire {
		old2 = append(old2, g.srcs[id])
		links[g.srcs[id].link] = true
	}
	into := map[int][]sd.Instance{}
	wait := time.NewTimer(handoverTimeout)
	defer wait.Stop()
	for _, s := range added {
		if !links[s.link] || s.subtype != "" {
			continue
		}
		select {
		case <-s.b.Quiet():
		case <-wait.C:
		case <-ctx.Done():
		case <-g.ctx.Done():
		}
		into[s.id] = s.b.Instances()
	}
	done := make(chan struct{})
	select {
	case g.in <- retireMsg{old: old2, into: into, reply: done}:
		select {
		case <-done:
		case <-g.done:
		}
	case <-g.ctx.Done():
	}
	if g.ctx.Err() != nil {
		return nil // Close closes what is running
	}
	for _, s := range old2 {
		delete(g.srcs, s.id)
	}
	g.setOnDemand(cfg, pol)
	for _, s := range old2 {
		if err := s.b.Close(); err != nil {
			g.log.Debug("gateway: closing a retired browser", "link", s.link, "types", s.types, "err", err)
		}
	}
	return nil
}

// applyReload is the owner's part of Reload: the new configuration,
// policy, browsers and zones in force, the dropped zones' destinations
// forgotten, and every instance decided again.
func (g *Gateway) applyReload(st map[instKey]*entry, m reloadMsg, linkPrefixes func(string) []netip.Prefix) reloadReply {
	g.cfg, g.pol = m.cfg, m.pol
	for _, s := range m.add {
		g.live[s.id] = s
	}
	for name, zm := range m.mirrors {
		g.mirrors[name] = zm
	}
	r := reloadReply{mirrors: map[string]*ZoneMirror{}}
	for _, z := range m.drop {
		r.mirrors[z] = g.mirrors[z]
		delete(g.mirrors, z)
	}
	now := time.Now()
	for _, k := range slices.SortedFunc(maps.Keys(st), func(a, b instKey) int {
		return strings.Compare(a.link+"\x00"+a.name, b.link+"\x00"+b.name)
	}) {
		e := st[k]
		for _, z := range m.drop {
			key := "zone:" + z
			d := e.dests[key]
			if d == nil {
				continue
			}
			if d.want && d.live {
				r.events = append(r.events, Event{Kind: EventRemoved, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: ReasonReloaded})
			}
			d.want, d.live = false, false
			d.slot.gen++
			delete(e.dests, key)
		}
		cur, subs, ok := e.current()
		if !ok {
			continue
		}
		decs := g.decide(k, e, cur, subs, linkPrefixes(k.link), now)
		for _, d := range e.dests {
			if !slices.ContainsFunc(decs, func(dec Decision) bool { return dec.To == d.to && dec.Zone == d.zone }) {
				d.refused = ""
				g.withdraw(k, d, ReasonReloaded)
			}
		}
	}
	return r
}

// applyRetire is the owner's part of a browser's retirement: its
// sightings are dropped, or handed over to a new browser of its link
// that holds the same instance on the same interface, and the instances
// concerned decided again (withdrawn when no browser holds them).
func (g *Gateway) applyRetire(st map[instKey]*entry, m retireMsg, linkPrefixes func(string) []netip.Prefix) {
	gone := map[int]*source{}
	for _, s := range m.old {
		gone[s.id] = s
		delete(g.live, s.id)
		if g.retiredSrcs == nil {
			g.retiredSrcs = map[int]bool{}
		}
		g.retiredSrcs[s.id] = true
	}
	type held struct {
		link, name, ifn string
	}
	holder := map[held]seenKey{}
	for _, id := range slices.Sorted(maps.Keys(m.into)) {
		src := g.live[id]
		if src == nil {
			continue
		}
		for _, in := range m.into[id] {
			ifn := ""
			if len(in.Ifaces) > 0 {
				ifn = in.Ifaces[0]
			}
			h := held{src.link, in.Name, ifn}
			if _, ok := holder[h]; !ok {
				holder[h] = seenKey{src: id}
			}
		}
	}
	now := time.Now()
	for _, k := range slices.SortedFunc(maps.Keys(st), func(a, b instKey) int {
		return strings.Compare(a.link+"\x00"+a.name, b.link+"\x00"+b.name)
	}) {
		e := st[k]
		changed := false
		for ifn, byBr := range e.seen {
			for sk, in := range byBr {
				if gone[sk.src] == nil {
					continue
				}
				delete(byBr, sk)
				changed = true
				h := held{k.link, k.name, ifn}
				if nk, ok := holder[h]; ok && sk.subtype == "" {
					if _, ok := byBr[nk]; !ok {
						byBr[nk] = in // as proxied: nothing changes
					}
				}
			}
			if len(byBr) == 0 {
				delete(e.seen, ifn)
			}
		}
		if changed {
			g.reconsider(st, k, e, linkPrefixes(k.link), now, "no longer browsed on link "+k.link)
		}
	}
}

// stopEvent is a removed event Close reports, and whether it is a
// zone's.
type stopEvent struct {
	ev   Event
	zone bool
}

// stoppingEvents returns a removed event for every proxy and zone
// record in st that is live: what Close withdraws.
func stoppingEvents(st map[instKey]*entry) []stopEvent {
	var out []stopEvent
	for _, k := range slices.SortedFunc(maps.Keys(st), func(a, b instKey) int {
		return strings.Compare(a.link+"\x00"+a.name, b.link+"\x00"+b.name)
	}) {
		e := st[k]
		for _, key := range slices.Sorted(maps.Keys(e.dests)) {
			d := e.dests[key]
			if d.want && d.live {
				out = append(out, stopEvent{Event{Kind: EventRemoved, Instance: k.name, From: k.link, To: d.to, Rule: d.rule, Reason: ReasonStopping}, d.zone})
			}
		}
	}
	return out
}

// emitStopping reports what Close withdrew: the proxies (zones false),
// or the zone records (zones true; zerr the error of the zones' Close).
func (g *Gateway) emitStopping(zones bool, zerr error) {
	for _, se := range g.stopping {
		if se.zone != zones {
			continue
		}
		ev := se.ev
		if zones && zerr != nil {
			ev.Reason += "; leaving the zones: " + zerr.Error()
		}
		ev.Time = time.Now()
		g.emit(ev)
	}
}
