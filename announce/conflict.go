package announce

import (
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// handleResponse looks at a response from the link: records for names we
// are probing or hold mean a conflict (RFC 6762 sections 8.1 and 9),
// answers we were about to give are suppressed (section 7.4), and records
// of ours that another host said goodbye to or flushed are multicast again
// (sections 10.1 and 10.2, rescue.go).
func (r *Responder) handleResponse(p *mdns.Packet) {
	m := p.Msg
	// RFC 6762 section 6: responses whose source port is not 5353 MUST be
	// silently ignored; section 18.11: so must non-zero response codes.
	if p.Src.Port() != mdns.Port || m.Rcode != dns.RcodeSuccess || m.Opcode != dns.OpcodeQuery {
		return
	}
	r.noteLink(p)
	rrs := make([]dns.RR, 0, len(m.Answer)+len(m.Extra))
	rrs = append(rrs, m.Answer...)
	rrs = append(rrs, m.Extra...)
	if len(rrs) > maxRecordsPerPacket {
		rrs = rrs[:maxRecordsPerPacket]
	}
	hit := map[*entity]bool{}
	owners := r.owners()
	own := map[*entity]map[string]bool{}
	stale := map[*entity]bool{}
	// ours reports whether rr is e's own data: one of its records now (on
	// any interface: a host on two links, or with two NICs on one, hears
	// its own records from the other), or one it published until lately
	// and that is still echoed (our own announcement looped back late, or
	// repeated by a peer). Neither is a conflict (RFC 6762 section 9).
	ours := func(e *entity, rr dns.RR) bool {
		if own[e] == nil {
			own[e] = r.ownKeys(e)
		}
		k := dnsname.RRKey(rr)
		if own[e][k] {
			return true
		}
		if r.wasOurs(k) {
			if rr.Header().Class&dnsname.CacheFlush != 0 {
				stale[e] = true
			}
			return true
		}
		return false
	}
	for _, rr := range rrs {
		h := rr.Header()
		if h.Ttl == 0 || h.Rrtype == dns.TypeOPT {
			continue // a goodbye claims nothing
		}
		if cls := h.Class &^ dnsname.CacheFlush; cls != dns.ClassINET && cls != dns.ClassANY {
			continue
		}
		e := r.ownerOn(owners, dnsname.MustKey(h.Name), p.IfIndex)
		if e == nil || hit[e] || e.state == stateRemoved {
			continue
		}
		switch {
		case e.probesOn(p.IfIndex):
			// RFC 6762 section 8.1: a response with a record of any type
			// for a name being probed is a conflict (unless it is our own
			// data, which is no conflict, section 9).
			if ours(e, rr) {
				continue
			}
			hit[e] = true
			// The name is given as we hold it (h.Name is in miekg/dns's
			// escaped presentation form: "Office\ TZ...").
			if e.scope != 0 {
				r.proxyConflict(e, fmt.Sprintf("%s from %s on %s while probing (RFC 6762 section 8.1)", describeRRs([]dns.RR{rr}), p.Src.Addr(), r.ifName(p.IfIndex)))
				continue
			}
			r.probeConflict(e, fmt.Sprintf("%s record for %q from %s while probing (RFC 6762 section 8.1)", dns.TypeToString[h.Rrtype], r.nameOf(e), p.Src.Addr()))
		case e.answerable():
			// RFC 6762 section 9: a record with the same name, type and
			// class as one of our unique records but different rdata is
			// a conflict; an identical record is not.
			if !r.hasType(e, h.Rrtype) || ours(e, rr) {
				continue
			}
			hit[e] = true
			if e.scope != 0 {
				r.proxyConflict(e, fmt.Sprintf("%s with other data from %s on %s (RFC 6762 section 9)", describeRRs([]dns.RR{rr}), p.Src.Addr(), r.ifName(p.IfIndex)))
				continue
			}
			r.ongoingConflict(e, fmt.Sprintf("%s record for %q with other data from %s (RFC 6762 section 9)", dns.TypeToString[h.Rrtype], r.nameOf(e), p.Src.Addr()))
		}
	}
	for e := range stale {
		r.reassert(e, p)
	}
	r.suppressDuplicates(targetKey{p.IfIndex, p.Family}, m.Answer)
	// Goodbyes and cache flushes from others for records of ours are
	// answered by multicasting them again (RFC 6762 sections 10.1, 10.2).
	r.rescue(p, rrs)
}

// formerMax bounds the records remembered by markFormer.
const formerMax = 1024

// markFormer remembers recs, records we stop publishing (the address
// records of an address or an interface gone), for as long as a cache may
// hold them (their TTL): seen again meanwhile, they are our own data, not
// a conflict (RFC 6762 section 9). An interface that flaps, or an address
// that changes, thus never makes us rename ourselves.
func (r *Responder) markFormer(recs []rec) {
	if len(recs) == 0 {
		return
	}
	now := time.Now()
	if r.former == nil {
		r.former = map[string]time.Time{}
	}
	if len(r.former)+len(recs) > formerMax {
		for k, until := range r.former {
			if now.After(until) {
				delete(r.former, k)
			}
		}
		if len(r.former)+len(recs) > formerMax {
			clear(r.former)
		}
	}
	for _, rc := range recs {
		r.former[keyed(rc).key] = now.Add(ttlOf(rc.rr))
	}
}

// wasOurs reports whether the record with dnsname.RRKey k is one we
// published until lately (markFormer).
func (r *Responder) wasOurs(k string) bool {
	until, ok := r.former[k]
	if !ok {
		return false
	}
	if time.Now().After(until) {
		delete(r.former, k)
		return false
	}
	return true
}

// reassert answers a stale record of e that arrived in p with the
// cache-flush bit, which would flush e's current records from the caches
// of that link: e's unique records there are multicast at once (unless
// they were in the last second, RFC 6762 section 6.2), with the cache-flush
// bit, so that caches hold the current set again.
func (r *Responder) reassert(e *entity, p *mdns.Packet) {
	if !e.answerableOn(p.IfIndex) {
		return // being claimed there: announced once won
	}
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	t := target{ifc: ifc, fam: p.Family}
	var recs []rec
	for _, rc := range r.recordsOf(e, ifc) {
		if rc = keyed(rc); rc.unique && !r.multicastWithin(t.key(), rc.key, rateLimit) {
			recs = append(recs, rc)
		}
	}
	if len(recs) == 0 {
		return
	}
	r.log.Debug("mdns: stale record of ours seen; not a conflict; current records multicast", "name", r.nameOf(e), "from", p.Src, "if", ifc.Name)
	r.sendAnswers(t, recs)
}

// hasType reports whether e has a unique record of type t (on any interface).
func (r *Responder) hasType(e *entity, t uint16) bool {
	if e.kind == kindService {
		return t == dns.TypeSRV || t == dns.TypeTXT
	}
	return t == dns.TypeA || t == dns.TypeAAAA
}

// probeConflict renames e after a conflict during probing and probes the
// new name (RFC 6762 section 9: choose a new name and probe again).
func (r *Responder) probeConflict(e *entity, why string) {
	r.noteConflict()
	old := r.nameOf(e)
	r.rename(e)
	name := r.nameOf(e)
	r.log.Warn("mdns: name conflict; renamed", "old", old, "new", name, "reason", why)
	reason := fmt.Sprintf("name conflict: %s", why)
	if e.handle != nil {
		e.handle.st.SetRenamed(name, reason)
	}
	r.emit(e, Event{Kind: EventRenamed, Old: old, New: name, Reason: reason})
	r.startProbing(e, 0)
}

// ongoingConflict resets e to probing after another host answered with
// different data for one of our unique records (RFC 6762 section 9: the
// host MUST immediately reset to probing; a conflict found while probing
// then renames it).
func (r *Responder) ongoingConflict(e *entity, why string) {
	r.noteConflict()
	name := r.nameOf(e)
	r.log.Warn("mdns: conflicting record seen; probing again", "name", name, "reason", why)
	r.emit(e, Event{Kind: EventConflict, Old: name, New: name, Reason: why})
	r.startProbing(e, 0)
}

// noteConflict records a conflict for the rate limit of RFC 6762 section 8.1.
func (r *Responder) noteConflict() {
	now := time.Now()
	r.conflicts = append(r.conflicts, now)
	if len(r.conflicts) > conflictBurst {
		r.conflicts = r.conflicts[len(r.conflicts)-conflictBurst:]
	}
}

// conflictStorm reports whether 15 conflicts happened within the last
// 10 seconds (RFC 6762 section 8.1).
func (r *Responder) conflictStorm() bool {
	if len(r.conflicts) < conflictBurst {
		return false
	}
	return time.Since(r.conflicts[len(r.conflicts)-conflictBurst]) <= conflictWindow
}

// rename gives e the next free name: "Name (2)", "Name (3)", ... for a
// service instance, "host-2", "host-3", ... for the host, skipping names
// this responder already uses.
func (r *Responder) rename(e *entity) {
	if e.kind == kindHost {
		// The SRV records pointing at the old name are our own data still
		// held in caches: seen again, they are no conflict for the
		// services (RFC 6762 section 9), which would otherwise be renamed
		// in turn.
		var srvs []rec
		for _, s := range r.services {
			if s.svc.host == "" && s.state != stateRemoved {
				for _, rc := range r.serviceRecords(s) {
					if rc.rr.Header().Rrtype == dns.TypeSRV {
						srvs = append(srvs, rc)
					}
				}
			}
		}
		r.markFormer(srvs)
	}
	label := e.label
	for range 10000 {
		if e.kind == kindHost {
			label = dnsname.NextHostLabel(label)
		} else {
			label = dnsname.NextInstanceLabel(label)
		}
		if !r.nameInUse(e, label) {
			break
		}
	}
	r.names.remove(r, e)
	e.label = label
	r.names.add(r, e)
	r.changed()
	if e.kind == kindHost {
		// Services that point at the host are re-announced once the new
		// name is established (RFC 6762 section 8.4).
		e.retarget = true
		r.setHostName()
	}
}
