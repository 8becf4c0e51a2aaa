package announce

import (
	"net/netip"
	"slices"

	"github.com/lansd/lansd/internal/mdns"
)

// Interfaces and addresses that change (RFC 6762 sections 8 and 10). The
// transport reports what changed (mdns.InterfaceChange); the responder
// reacts on the interfaces concerned only, and the others keep answering:
//
//   - an interface that comes up: every name is probed there and then
//     announced there (section 8: a link change MUST lead to probing and
//     announcing), all names in shared probe packets as at start-up;
//   - an address added: the host name's new set of address records is
//     probed on that interface and announced there with the cache-flush
//     bit, so that caches replace the old set (sections 8 and 10.2); an
//     interface that gains an address family is a new path for every name,
//     probed and announced like an interface that comes up;
//   - an address removed: a goodbye (TTL 0) for its A or AAAA record on
//     that interface (section 10.1), so that a replaced address leaves the
//     caches within a second while its successor is announced;
//   - an interface that goes: goodbyes for what was announced there, as
//     far as the transport can still send (best effort), then everything
//     kept for it is forgotten.
//
// Addresses that must not be advertised (tentative, deprecated,
// temporary) never reach the responder: the transport leaves them out of
// mdns.Interface.Addrs, and the responder advertises exactly those.

// interfacesChanged reacts to one report of the transport: interfaces
// gone first (their goodbyes go out before anything else), then address
// changes, then new interfaces.
func (r *Responder) interfacesChanged(c mdns.InterfaceChange) {
	for _, ifc := range c.Removed {
		r.interfaceRemoved(ifc)
	}
	for _, ac := range c.Changed {
		r.addrsChanged(ac)
	}
	for _, ifc := range c.Added {
		r.interfaceAdded(ifc)
	}
	r.changed()
}

// interfaceAdded probes every name on a new interface, then announces it
// there (RFC 6762 section 8). Names still being claimed everywhere are
// probed there with the others; a probe run that already sent probes
// starts again, so that the new link too gets all three.
func (r *Responder) interfaceAdded(ifc mdns.Interface) {
	r.log.Debug("mdns: interface up; probing and announcing every name there (RFC 6762 section 8)", "if", ifc.Name, "index", ifc.Index, "addrs", ifc.Addrs)
	r.reprobeAll(ifc.Index)
}

// reprobeAll probes every name again on interface idx.
func (r *Responder) reprobeAll(idx int) {
	for _, e := range r.entities() {
		switch {
		case e.state == stateRemoved:
		case e.state == stateProbing:
			if e.run != nil && e.run.sent > 0 {
				r.startProbing(e, 0)
			}
		default:
			r.reprobe(e, 0, idx)
		}
	}
}

// addrsChanged reacts to a change of the addresses of an interface kept:
// goodbyes for the addresses gone (RFC 6762 section 10.1), probing and
// announcing of the new set when addresses came (section 8).
func (r *Responder) addrsChanged(ac mdns.AddrChange) {
	ifc := ac.Interface
	// What the interface had before the change.
	old := ifc
	old.Addrs = nil
	for _, a := range ifc.Addrs {
		if !slices.Contains(ac.Added, a) {
			old.Addrs = append(old.Addrs, a)
		}
	}
	old.Addrs = append(old.Addrs, ac.Removed...)
	r.log.Debug("mdns: addresses changed", "if", ifc.Name, "index", ifc.Index, "added", ac.Added, "removed", ac.Removed, "now", ifc.Addrs)
	if len(ac.Removed) > 0 {
		gone := r.hostAddrRecords(ac.Removed)
		r.markFormer(gone)
		if r.host.announced {
			r.log.Debug("mdns: address gone; goodbye for its record (RFC 6762 section 10.1)", "if", ifc.Name, "addrs", ac.Removed)
			r.goodbyeOn(ifc, r.familiesOf(ifc, old), gone)
		}
	}
	if len(ac.Added) == 0 {
		return
	}
	for _, f := range r.families {
		if ifc.HasFamily(f) && !old.HasFamily(f) {
			// A new path to the link for every name: as a new interface.
			r.log.Debug("mdns: interface gained an address family; probing and announcing every name there", "if", ifc.Name, "family", int(f))
			r.reprobeAll(ifc.Index)
			return
		}
	}
	r.log.Debug("mdns: address added; probing the host name's new address set there, then announcing it (RFC 6762 section 8)", "if", ifc.Name, "addrs", ac.Added)
	if r.host.state != stateProbing {
		r.reprobe(r.host, 0, ifc.Index)
	}
}

// interfaceRemoved says goodbye on an interface the transport forgot, as
// far as it can still send there (best effort: a link that is down
// refuses, and errors are only logged at debug level), then forgets
// everything kept for it. When the interface shares its link with another
// of ours, the records that the other still publishes there (everything
// but this interface's own addresses) are not withdrawn.
func (r *Responder) interfaceRemoved(ifc mdns.Interface) {
	r.log.Debug("mdns: interface gone; goodbyes where still possible, then forgotten", "if", ifc.Name, "index", ifc.Index)
	addrs := r.hostAddrRecords(ifc.Addrs)
	r.markFormer(addrs)
	var recs []rec
	if r.host.announced && r.host.state != stateRemoved {
		recs = append(recs, addrs...)
	}
	if shared := r.sharesLink(ifc.Index); shared {
		r.log.Debug("mdns: interface shares its link with another of ours; withdrawing its addresses only", "if", ifc.Name)
	} else {
		for _, e := range append(slices.Clone(r.services), r.proxied...) {
			if e.announced && e.state != stateRemoved {
				recs = append(recs, r.recordsOf(e, ifc)...)
			}
		}
	}
	r.goodbyeOn(ifc, r.familiesOf(ifc), recs)
	r.forgetInterface(ifc.Index)
}

// forgetInterface drops everything kept for interface idx: delayed
// answers, known-answer waits, multicast history, probing there, and what
// was learnt of its link.
func (r *Responder) forgetInterface(idx int) {
	for k, pr := range r.pending {
		if k.ifIndex == idx {
			pr.task.cancel()
			delete(r.pending, k)
		}
	}
	for k, tc := range r.tcWait {
		if k.ifIndex == idx {
			tc.task.cancel()
			delete(r.tcWait, k)
		}
	}
	for k := range r.lastMC {
		if k.t.ifIndex == idx {
			delete(r.lastMC, k)
		}
	}
	r.invalidateQuick()
	for k := range r.sameLink {
		if k[0] == idx || k[1] == idx {
			delete(r.sameLink, k)
		}
	}
	for _, e := range r.entities() {
		if !e.reprobe[idx] {
			continue
		}
		delete(e.reprobe, idx)
		if len(e.reprobe) == 0 {
			// Nowhere left to probe again.
			r.leaveRun(e)
			e.deferred.cancel()
			e.deferred = nil
		}
	}
	r.changed()
}

// familiesOf returns the configured families of which any of ifcs has an
// address: those a message about them may go out over.
func (r *Responder) familiesOf(ifcs ...mdns.Interface) []mdns.Family {
	var out []mdns.Family
	for _, f := range r.families {
		for _, ifc := range ifcs {
			if ifc.HasFamily(f) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// entities returns the host name, every service and every proxied name
// (proxy.go).
func (r *Responder) entities() []*entity {
	out := make([]*entity, 0, 1+len(r.services)+len(r.proxied))
	out = append(out, r.host)
	out = append(out, r.services...)
	return append(out, r.proxied...)
}

// noteLink notes, from a multicast that one of our interfaces sent and
// another received, that the two share a link (a host with two NICs on one
// LAN). Only responses and probes are looked at: that is what we send.
func (r *Responder) noteLink(p *mdns.Packet) {
	if !p.Multicast() {
		return
	}
	src := p.Src.Addr().Unmap().WithZone("")
	from := 0
	for _, ifc := range r.tr.Interfaces() {
		if !slices.ContainsFunc(ifc.Addrs, func(a netip.Addr) bool { return a.Unmap().WithZone("") == src }) {
			continue
		}
		if ifc.Index == p.IfIndex {
			return // looped back on the interface that sent it (or an address both have)
		}
		if from == 0 {
			from = ifc.Index
		}
	}
	if from == 0 {
		return
	}
	k := [2]int{min(from, p.IfIndex), max(from, p.IfIndex)}
	if r.sameLink[k] {
		return
	}
	if r.sameLink == nil {
		r.sameLink = map[[2]int]bool{}
	}
	r.sameLink[k] = true
	r.log.Debug("mdns: two of our interfaces share a link", "a", k[0], "b", k[1])
}

// sharesLink reports whether interface idx was seen to share its link
// with another interface of ours that is still there.
func (r *Responder) sharesLink(idx int) bool {
	for k := range r.sameLink {
		other := k[0]
		if other == idx {
			other = k[1]
		} else if k[1] != idx {
			continue
		}
		if _, ok := r.tr.Interface(other); ok {
			return true
		}
	}
	return false
}
