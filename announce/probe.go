package announce

import (
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// Probing timings (RFC 6762 section 8.1 and 8.2).
const (
	probeJitter   = 250 * time.Millisecond // random wait before the first probe
	probeInterval = 250 * time.Millisecond // between probes, and after the last
	probeCount    = 3                      // probes per attempt
	tieBreakDefer = time.Second            // wait after losing a tie-break (8.2)
	// After conflictBurst conflicts within conflictWindow, wait
	// conflictBackoff before each further probe attempt (8.1).
	conflictBurst   = 15
	conflictWindow  = 10 * time.Second
	conflictBackoff = 5 * time.Second
)

// probeRun is one probing attempt: three probes 250 ms apart for a set of
// names, sent together in one query per interface and family (RFC 6762
// section 8.1: a host probing several names SHOULD put them in one packet).
// Each member is probed where entity.probesOn says: on every interface
// while it claims its name, on some only when it probes again after a link
// change.
type probeRun struct {
	members []*entity
	sent    int
	task    *task
}

// startProbing (re)starts claiming e's name after an extra wait: nothing
// of e is answered until probing succeeds (RFC 6762 section 8.1). With no
// extra wait, e joins a run that has not sent its first probe yet.
func (r *Responder) startProbing(e *entity, extra time.Duration) {
	r.leaveRun(e)
	e.deferred.cancel()
	e.deferred = nil
	e.reprobe = nil // probing everywhere covers it
	e.state = stateProbing
	r.changed()
	e.annGen++ // stop announcements in progress
	e.txtGen++
	if r.conflictStorm() && extra < conflictBackoff {
		// RFC 6762 section 8.1: after 15 conflicts in 10 s, wait at least
		// 5 s before each further probe attempt.
		extra = conflictBackoff
	}
	if extra > 0 {
		e.deferred = r.after(extra, func() {
			e.deferred = nil
			r.joinRun(e)
		})
		return
	}
	r.joinRun(e)
}

// reprobe probes the name of e, which it holds, again on the interfaces
// idxs (added to those it is probing again already), after an extra wait,
// then announces it there (RFC 6762 section 8: a link change, or any other
// reason to believe connectivity changed, MUST lead to probing and
// announcing). e is answered everywhere else meanwhile. With no extra wait
// e joins a run that has not sent its first probe yet; one that has sent
// probes is left, so that every interface gets all three. A name still
// being claimed everywhere (stateProbing) is left alone: its probes cover
// every interface.
func (r *Responder) reprobe(e *entity, extra time.Duration, idxs ...int) {
	if e.state == stateRemoved || e.state == stateProbing {
		return
	}
	if e.reprobe == nil {
		e.reprobe = map[int]bool{}
	}
	for _, i := range idxs {
		if e.scope == 0 || e.scope == i {
			e.reprobe[i] = true
		}
	}
	if len(e.reprobe) == 0 {
		return
	}
	r.changed()
	if extra == 0 && (e.deferred != nil || (e.run != nil && e.run.sent == 0)) {
		return // its next probe is still to come, and covers idxs
	}
	r.leaveRun(e)
	e.deferred.cancel()
	e.deferred = nil
	if r.conflictStorm() && extra < conflictBackoff {
		extra = conflictBackoff // RFC 6762 section 8.1, as in startProbing
	}
	if extra > 0 {
		e.deferred = r.after(extra, func() {
			e.deferred = nil
			r.joinRun(e)
		})
		return
	}
	r.joinRun(e)
}

// probeAgain restarts the probing e is in after an extra wait (a lost
// tie-break): everywhere, or on the interfaces it is probing again.
func (r *Responder) probeAgain(e *entity, extra time.Duration) {
	if e.state == stateProbing {
		r.startProbing(e, extra)
		return
	}
	r.reprobe(e, extra)
}

// joinRun puts e into the probe run that has not sent its first probe
// yet, or starts a new run after a random 0-250 ms wait (RFC 6762
// section 8.1).
func (r *Responder) joinRun(e *entity) {
	if run := r.forming; run != nil {
		run.members = append(run.members, e)
		e.run = run
		return
	}
	run := &probeRun{members: []*entity{e}}
	e.run = run
	r.forming = run
	run.task = r.after(randDuration(0, probeJitter), func() { r.probeStep(run) })
}

// leaveRun takes e out of its probe run.
func (r *Responder) leaveRun(e *entity) {
	run := e.run
	if run == nil {
		return
	}
	e.run = nil
	run.members = slices.DeleteFunc(run.members, func(x *entity) bool { return x == e })
	if len(run.members) == 0 {
		run.task.cancel()
		if r.forming == run {
			r.forming = nil
		}
	}
}

// probeStep sends one probe of run and schedules the next step.
func (r *Responder) probeStep(run *probeRun) {
	if r.forming == run {
		r.forming = nil
	}
	if len(run.members) == 0 {
		return
	}
	for _, t := range r.targets() {
		var members []*entity
		for _, e := range run.members {
			if e.probesOn(t.ifc.Index) {
				members = append(members, e)
			}
		}
		if len(members) == 0 {
			continue
		}
		for _, m := range r.probeMessages(members, t, run.sent == 0) {
			r.multicast(t, m, false)
		}
	}
	run.sent++
	if run.sent < probeCount {
		run.task = r.after(probeInterval, func() { r.probeStep(run) })
		return
	}
	// RFC 6762 section 8.1: if no conflicting response arrives within
	// 250 ms of the third probe, the names are ours.
	run.task = r.after(probeInterval, func() { r.probeDone(run) })
}

// probeDone moves every member of a successful run on to announcing:
// everywhere for the names claimed, on the interfaces probed again for the
// others.
func (r *Responder) probeDone(run *probeRun) {
	members := run.members
	run.members = nil
	var claimed, again []*entity
	for _, e := range members {
		e.run = nil
		if e.state == stateProbing {
			claimed = append(claimed, e)
		} else if len(e.reprobe) > 0 {
			again = append(again, e)
		}
	}
	if len(claimed) > 0 {
		r.startAnnouncingAll(claimed)
	}
	if len(again) > 0 {
		r.announceAgain(again)
	}
}

// probeMessage builds the probe for a set of names on one interface
// (RFC 6762 section 8.1): a query with one question of type ANY per name
// and the proposed unique records in the Authority section (section 8.2),
// so that simultaneous probes can be tie-broken. The first probe of a run
// sets the unicast-response bit (section 8.1 SHOULD: a defender can then
// answer at once, without waiting for its multicast rate limit); the
// following ones do not, so that their answers are multicast and reach
// every socket on this host, even when several responders share port
// 5353 and a unicast answer would reach only one of them.
//
// A run with many names is spread over as many probe packets as needed to
// fit t's MTU (RFC 6762 section 17), each name's question in the same
// packet as all of its proposed records, so that each packet can be
// tie-broken on its own (section 8.2).
func (r *Responder) probeMessages(members []*entity, t target, first bool) []*dns.Msg {
	limit := packetLimit(t.ifc.MTU, t.fam)
	qclass := uint16(dns.ClassINET)
	if first {
		qclass |= dnsname.QU
	}
	newMsg := func() *dns.Msg {
		m := new(dns.Msg)
		m.Opcode = dns.OpcodeQuery
		m.Compress = true
		return m
	}
	m := newMsg()
	out := []*dns.Msg{m}
	for _, e := range members {
		q := dns.Question{Name: r.nameOf(e), Qtype: dns.TypeANY, Qclass: qclass}
		var ns []dns.RR
		for _, rr := range r.uniqueRecords(e, t.ifc) {
			ns = append(ns, prepare(rec{rr: rr, unique: true}, rr.Header().Ttl, false))
		}
		nq, nns := len(m.Question), len(m.Ns)
		m.Question = append(m.Question, q)
		m.Ns = append(m.Ns, ns...)
		if nq > 0 && m.Len() > limit {
			m.Question, m.Ns = m.Question[:nq], m.Ns[:nns]
			m = newMsg()
			m.Question = append(m.Question, q)
			m.Ns = append(m.Ns, ns...)
			out = append(out, m)
		}
	}
	return out
}

// handleProbe looks at the Authority section of a query: a probe from
// another host for a name we are probing ourselves is a simultaneous probe,
// tie-broken by RFC 6762 section 8.2. (Probes for names we already hold
// are answered as ordinary queries: that answer is the defence.)
func (r *Responder) handleProbe(p *mdns.Packet) {
	byName := map[string][]dns.RR{}
	var order []string
	for i, rr := range p.Msg.Ns {
		if i >= maxRecordsPerPacket {
			break
		}
		k := dnsname.MustKey(rr.Header().Name)
		if _, ok := byName[k]; !ok {
			order = append(order, k)
		}
		byName[k] = append(byName[k], rr)
	}
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	r.noteLink(p)
	owners := r.owners()
	for _, k := range order {
		theirs := byName[k]
		e := r.ownerOn(owners, k, p.IfIndex)
		if e == nil || e.run == nil || !e.probesOn(p.IfIndex) {
			continue
		}
		ours := r.uniqueRecords(e, ifc)
		c := compareSets(ours, theirs)
		if c == 0 {
			continue // identical data: our own probe looped back, or no conflict
		}
		if r.allOwn(e, theirs) {
			// Our own probe heard on another interface of ours on the same
			// link, or proposing records we published until lately (RFC
			// 6762 section 9: our own data is no conflict).
			r.log.Debug("mdns: own probe seen; no tie-break", "name", r.nameOf(e), "from", p.Src, "if", ifc.Name)
			continue
		}
		if c > 0 {
			r.log.Debug("mdns: simultaneous probe, we win", "name", r.nameOf(e), "from", p.Src)
			continue
		}
		name := r.nameOf(e)
		if e.scope != 0 {
			// Another host's name, proxied: never claimed against a
			// host that wins the tie-break (proxy.go).
			r.proxyConflict(e, fmt.Sprintf("lost the simultaneous probe tie-break for %q on %s to %s, which proposes %s (RFC 6762 section 8.2)", name, ifc.Name, p.Src.Addr(), describeRRs(theirs)))
			continue
		}
		// RFC 6762 section 8.2: our data is lexicographically earlier:
		// defer by waiting one second, then probe again.
		r.log.Info("mdns: simultaneous probe lost; probing again in 1s", "name", name, "from", p.Src)
		r.emit(e, Event{Kind: EventDeferred, Old: name, New: name, Reason: "lost simultaneous probe tie-break to " + p.Src.Addr().String() + " (RFC 6762 section 8.2)"})
		r.probeAgain(e, tieBreakDefer)
	}
}

// allOwn reports whether every record of rrs is one of e's own records,
// on any interface, or one we published until lately (Responder.wasOurs).
func (r *Responder) allOwn(e *entity, rrs []dns.RR) bool {
	own := r.ownKeys(e)
	for _, rr := range rrs {
		if k := dnsname.RRKey(rr); !own[k] && !r.wasOurs(k) {
			return false
		}
	}
	return true
}

// ownProbe reports whether p is a probe of ours: every record it proposes
// is a record of ours (Responder.allOwn) under a name we hold or claim.
// It is our own probe looped back, or heard through another interface of
// ours on the same link (a second NIC), or one of identical data.
func (r *Responder) ownProbe(p *mdns.Packet) bool {
	if len(p.Msg.Ns) == 0 || len(p.Msg.Ns) > maxRecordsPerPacket {
		return false
	}
	owners := r.owners()
	byOwner := map[*entity][]dns.RR{}
	for _, rr := range p.Msg.Ns {
		e := r.ownerOn(owners, dnsname.MustKey(rr.Header().Name), p.IfIndex)
		if e == nil {
			return false
		}
		byOwner[e] = append(byOwner[e], rr)
	}
	for e, rrs := range byOwner {
		if !r.allOwn(e, rrs) {
			return false
		}
	}
	return true
}
