package announce

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
)

// announceIntervals are the waits between unsolicited announcements
// (RFC 6762 section 8.3: at least two, one second apart; up to eight if
// the interval at least doubles each time). We send three: at 0 s, 1 s and
// 3 s, which tolerates the loss of any single packet.
var announceIntervals = []time.Duration{time.Second, 2 * time.Second}

// annMember is one name in an announcement sequence: the sequence goes on
// for it while its annGen is still gen, on the interfaces of scope (nil:
// all of them).
type annMember struct {
	e     *entity
	gen   int
	scope map[int]bool
}

// covers reports whether m is announced on interface idx now.
func (m annMember) covers(idx int) bool {
	return (m.scope == nil || m.scope[idx]) && m.e.answerableOn(idx)
}

// startAnnouncing is called when e's name has been won: see
// startAnnouncingAll.
func (r *Responder) startAnnouncing(e *entity) { r.startAnnouncingAll([]*entity{e}) }

// startAnnouncingAll is called when the names of es have been won (by one
// probe run): it sends their first announcement at once, together, in as
// few packets as their records fit (RFC 6762 section 8.3), schedules the
// others, and releases whoever waits for the names to be final.
func (r *Responder) startAnnouncingAll(es []*entity) {
	seq := make([]annMember, 0, len(es))
	for _, e := range es {
		e.state = stateAnnouncing
		e.annGen++
		seq = append(seq, annMember{e: e, gen: e.annGen})
		if e.kind == kindHost {
			r.setHostName()
		}
	}
	r.changed()
	r.announceStep(seq, 0)
	var retarget []*entity
	for _, e := range es {
		name := r.nameOf(e)
		if e.handle != nil {
			e.handle.st.SetName(name)
		}
		r.log.Info("mdns: name established", "name", name)
		reason := "probing succeeded; announced (RFC 6762 section 8.3)"
		if e.scope != 0 {
			reason = fmt.Sprintf("probing succeeded on %s; announced there (RFC 6762 section 8.3)", r.ifName(e.scope))
		}
		r.emit(e, Event{Kind: EventAnnounced, Old: name, New: name, Reason: reason})
		for _, w := range e.waiters {
			w <- nil
		}
		e.waiters = nil
		if e.kind == kindHost && e.retarget {
			// The host was renamed: SRV records pointing at it changed, so
			// the services must announce their new data (RFC 6762 section
			// 8.4), unless they have just been announced with it.
			e.retarget = false
			for _, s := range r.services {
				if s.svc.host == "" && s.answerable() && !slices.Contains(es, s) {
					retarget = append(retarget, s)
				}
			}
		}
	}
	if len(retarget) > 0 {
		r.startAnnouncingAll(retarget)
	}
}

// announceAgain is called when names already held have been probed again
// on some interfaces after a link change (Responder.reprobe): they are
// announced there as at start-up (RFC 6762 section 8.3), unique records
// with the cache-flush bit so that caches on that link hold exactly the
// new set (section 10.2), and answered there again. The sequence runs
// beside any other of theirs: it cancels none.
func (r *Responder) announceAgain(es []*entity) {
	seq := make([]annMember, 0, len(es))
	for _, e := range es {
		seq = append(seq, annMember{e: e, gen: e.annGen, scope: e.reprobe})
		e.reprobe = nil
	}
	r.changed()
	r.announceStep(seq, 0)
	for _, m := range seq {
		name := r.nameOf(m.e)
		var ifs []string
		for _, ifc := range r.tr.Interfaces() {
			if m.scope[ifc.Index] {
				ifs = append(ifs, ifc.Name)
			}
		}
		r.log.Info("mdns: name probed again and announced after a link change", "name", name, "if", ifs)
		r.emit(m.e, Event{Kind: EventAnnounced, Old: name, New: name,
			Reason: fmt.Sprintf("probed again and announced on %s after a link change (RFC 6762 section 8)", strings.Join(ifs, ", "))})
	}
}

// announceStep sends announcement number step of a sequence, for the
// members still in it.
func (r *Responder) announceStep(seq []annMember, step int) {
	var live []annMember
	for _, m := range seq {
		if m.e.annGen == m.gen && m.e.answerable() {
			live = append(live, m)
		}
	}
	if len(live) == 0 {
		return
	}
	for _, t := range r.targets() {
		var es []*entity
		for _, m := range live {
			if m.covers(t.ifc.Index) {
				es = append(es, m.e)
			}
		}
		if len(es) == 0 {
			continue
		}
		m := r.announcement(es, t, step > 0)
		if len(m.Answer) > 0 {
			r.multicast(t, m, true)
		}
	}
	for _, m := range live {
		m.e.announced = true
	}
	if step < len(announceIntervals) {
		r.after(announceIntervals[step], func() { r.announceStep(live, step+1) })
		return
	}
	for _, m := range live {
		if m.scope == nil {
			m.e.state = stateEstablished
		}
	}
}

// announcement builds an unsolicited response with all records of es on
// t (RFC 6762 section 8.3): unique records with the cache-flush bit, shared
// ones without (section 10.2); for a service, the target host's addresses
// and the NSEC records as additional records (RFC 6763 section 12.1).
// With limit, records multicast on t less than a second ago are left out
// (RFC 6762 section 6.2). multicast splits it over as many packets as
// needed, each answer with its additional records (RFC 6762 section 17).
func (r *Responder) announcement(es []*entity, t target, limit bool) *dns.Msg {
	m := newResponse()
	seen := map[string]bool{}
	var answers []rec
	host := false
	var proxyHosts []*entity
	for _, e := range es {
		host = host || e.kind == kindHost
		if e.kind == kindProxyHost {
			proxyHosts = append(proxyHosts, e)
		}
		for _, rc := range r.recordsOf(e, t.ifc) {
			rc = keyed(rc)
			k := rc.key
			if limit && r.multicastWithin(t.key(), k, time.Second) {
				continue
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			answers = append(answers, rc)
			m.Answer = append(m.Answer, prepare(rc, rc.rr.Header().Ttl, true))
		}
	}
	if len(answers) == 0 {
		return m
	}
	for _, rc := range r.additionals(answers, t.ifc, seen) {
		m.Extra = append(m.Extra, prepare(rc, rc.rr.Header().Ttl, true))
	}
	if n := r.index(t.ifc).hostNSEC; host && n != nil && !seen[n.key] {
		m.Extra = append(m.Extra, prepare(*n, n.rr.Header().Ttl, true))
	}
	for _, e := range proxyHosts {
		// An origin host lacking A or AAAA (proxy.go): its NSEC says so
		// (RFC 6762 section 6.1).
		if n, ok := r.index(t.ifc).nsec[e]; ok && len(r.typesOf(e, t.ifc)) < 2 && !seen[n.key] {
			seen[n.key] = true
			m.Extra = append(m.Extra, prepare(n, n.rr.Header().Ttl, true))
		}
	}
	return m
}

// reannounceTXT announces a service's new TXT record (RFC 6762 section
// 8.4: a record with new data MUST be announced again; with the cache-flush
// bit set the old data is flushed from caches). Only rdata changed, the name
// stays ours, so no probing is needed.
func (r *Responder) reannounceTXT(e *entity) {
	e.txtGen++
	r.txtStep(e, e.txtGen, 0)
}

// txtStep sends TXT announcement number step of sequence gen.
func (r *Responder) txtStep(e *entity, gen, step int) {
	if e.txtGen != gen || !e.answerable() {
		return
	}
	inst := r.nameOf(e)
	rc := keyed(rec{rr: e.svc.txtRR(inst, r.ttl.other), unique: true})
	for _, t := range r.targets() {
		if !e.answerableOn(t.ifc.Index) {
			continue // being probed again there; announced with the new data after
		}
		if step > 0 && r.multicastWithin(t.key(), rc.key, time.Second) {
			continue
		}
		m := newResponse()
		m.Answer = append(m.Answer, prepare(rc, r.ttl.other, true))
		r.multicast(t, m, true)
	}
	if step < len(announceIntervals) {
		r.after(announceIntervals[step], func() { r.txtStep(e, gen, step+1) })
	}
}

// hostNSEC returns the host's NSEC record on ifc when one of A and AAAA is
// missing there, asserting its absence (RFC 6762 section 6.1), else nil.
func (r *Responder) hostNSEC(ifc mdns.Interface) dns.RR {
	if !r.host.answerableOn(ifc.Index) {
		return nil
	}
	if ifc.HasFamily(mdns.IPv4) && ifc.HasFamily(mdns.IPv6) {
		return nil
	}
	return r.nsecFor(r.host, ifc)
}
