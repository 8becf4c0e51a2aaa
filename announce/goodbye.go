package announce

import (
	"slices"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// goodbye withdraws every record of ents that was announced: each is
// multicast with TTL zero (RFC 6762 section 10.1), all of them in one
// message per interface and family (split only when it does not fit).
// Shared records that an entity staying on still publishes (the
// enumeration PTR of a service type with other services) are kept.
func (r *Responder) goodbye(ents []*entity) {
	gone := map[*entity]bool{}
	var owed []*entity
	for _, e := range ents {
		gone[e] = true
		if e.announced && e.state != stateRemoved {
			owed = append(owed, e)
		}
	}
	if len(owed) == 0 {
		return
	}
	withdrawn := map[string]bool{}
	owedInst := map[string]bool{}
	for _, e := range owed {
		if e.kind == kindService {
			owedInst[e.svc.instanceName(e.label)] = true
		}
	}
	for _, t := range r.targets() {
		keep := r.keptRecords(t.ifc, gone, owedInst)
		m := newResponse()
		seen := map[string]bool{}
		for _, e := range owed {
			for _, rc := range r.recordsOf(e, t.ifc) {
				k := dnsname.RRKey(rc.rr)
				if keep[k] || seen[k] {
					continue
				}
				seen[k] = true
				withdrawn[k] = true
				m.Answer = append(m.Answer, prepare(rc, 0, true))
			}
		}
		if len(m.Answer) > 0 {
			r.multicast(t, m, false)
		}
	}
	// A record withdrawn and published again must be announced again at
	// once, so forget when it was last multicast.
	for k := range r.lastMC {
		if withdrawn[k.rr] {
			delete(r.lastMC, k)
		}
	}
	r.invalidateQuick()
	for _, e := range owed {
		e.announced = false
	}
}

// keptRecords returns the keys of the records that the entities staying
// on (announced, not removed, not in gone) publish on ifc and that an
// entity in gone may share, so that goodbye leaves them alone. Only a
// shared record can be published by two entities (a unique record's name
// is claimed by one, RFC 6762 section 8), and of a service's shared
// records only the service enumeration PTR (RFC 6763 section 9) names
// nothing of its own instance: for a service whose instance name is not
// among owedInst that PTR is all that is computed. Every other entity
// (the host, proxied hosts, a service sharing an instance name with one
// going) contributes all its records. This keeps the withdrawal of one
// service among n at O(n) cheap steps instead of building every record of
// every other service (a gateway withdrawing 1,000 proxies one by one
// took 15 s).
func (r *Responder) keptRecords(ifc mdns.Interface, gone map[*entity]bool, owedInst map[string]bool) map[string]bool {
	keep := map[string]bool{}
	enum := map[string]bool{} // type name + domain already counted
	for _, x := range r.entities() {
		if gone[x] || !x.announced || x.state == stateRemoved {
			continue
		}
		if x.kind == kindService && !owedInst[x.svc.instanceName(x.label)] {
			if x.scope != 0 && x.scope != ifc.Index {
				continue
			}
			typ := x.svc.typeName()
			if !enum[typ] {
				enum[typ] = true
				keep[dnsname.RRKey(x.svc.enumerationPTR(r.ttl.other))] = true
			}
			continue
		}
		for _, rc := range r.recordsOf(x, ifc) {
			keep[dnsname.RRKey(rc.rr)] = true
		}
	}
	return keep
}

// goodbyeOn multicasts goodbyes (TTL 0, RFC 6762 section 10.1) for recs
// on interface ifc over each of fams, as far as the transport can still
// send there: a send that fails is only logged at debug level (an
// interface going away may refuse). The records count as not multicast
// there since, so that they are announced at once if they come back.
func (r *Responder) goodbyeOn(ifc mdns.Interface, fams []mdns.Family, recs []rec) {
	if len(recs) == 0 {
		return
	}
	m := newResponse()
	seen := map[string]bool{}
	for _, rc := range recs {
		rc = keyed(rc)
		if seen[rc.key] {
			continue
		}
		seen[rc.key] = true
		m.Answer = append(m.Answer, prepare(rc, 0, true))
	}
	for _, f := range fams {
		r.multicast(target{ifc: ifc, fam: f}, m, false)
	}
	for k := range r.lastMC {
		if k.t.ifIndex == ifc.Index && seen[k.rr] {
			delete(r.lastMC, k)
		}
	}
	r.invalidateQuick()
}

// removeEntity withdraws e: goodbyes for whatever it announced, then it is
// forgotten. Anyone waiting for it gets ErrRemoved; its events end.
func (r *Responder) removeEntity(e *entity) {
	if e.state == stateRemoved {
		return
	}
	name := r.nameOf(e)
	r.retire([]*entity{e})
	r.log.Info("mdns: service removed", "name", name)
	r.emit(e, Event{Kind: EventRemoved, Old: name, New: name, Reason: "removed; goodbye sent (RFC 6762 section 10.1)"})
	if e.handle != nil {
		e.handle.setErr(errRemoved)
		e.handle.st.Close()
	}
}

// retire withdraws ents: goodbyes for whatever they announced, all in one
// message per interface and family (RFC 6762 section 10.1), then they are
// forgotten. Anyone waiting for one gets ErrRemoved. Their handles are
// left to the caller.
func (r *Responder) retire(ents []*entity) {
	ents = slices.DeleteFunc(slices.Clone(ents), func(e *entity) bool { return e == nil || e.state == stateRemoved })
	if len(ents) == 0 {
		return
	}
	for _, e := range ents {
		r.leaveRun(e)
		e.deferred.cancel()
		e.deferred = nil
		e.reprobe = nil
	}
	r.goodbye(ents)
	for _, e := range ents {
		e.state = stateRemoved
		r.names.remove(r, e)
		e.annGen++
		e.txtGen++
		for _, w := range e.waiters {
			w <- errRemoved
		}
		e.waiters = nil
		if e.scope != 0 {
			r.forgetProxied(e)
		}
	}
	r.changed()
	gone := func(x *entity) bool { return x.state == stateRemoved }
	r.services = slices.DeleteFunc(r.services, gone)
	r.proxied = slices.DeleteFunc(r.proxied, gone)
}

// goodbyeAll withdraws everything on shutdown.
func (r *Responder) goodbyeAll() {
	all := append(slices.Clone(r.services), r.proxied...)
	all = append(all, r.host)
	r.goodbye(all)
	for _, e := range all {
		r.leaveRun(e)
		e.deferred.cancel()
		e.state = stateRemoved
		r.names.remove(r, e)
	}
	r.changed()
}
