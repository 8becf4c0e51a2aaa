package announce

import (
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// Answering limits and timings (RFC 6762 sections 6 and 7).
const (
	// Work per received packet is bounded: at most this many questions and
	// records of one packet are looked at.
	maxQuestionsPerPacket = 256
	maxRecordsPerPacket   = 512
	// sharedDelayMin and sharedDelayMax bound the random delay of a
	// response holding shared records (section 6).
	sharedDelayMin = 20 * time.Millisecond
	sharedDelayMax = 120 * time.Millisecond
	// aggregateMax bounds how long an aggregated response may be held
	// back (section 6.4: no more than 500 ms).
	aggregateMax = 500 * time.Millisecond
	// rateLimit is the least interval between two multicasts of a record
	// on one interface; probeRateLimit when defending against a probe
	// (section 6.2).
	rateLimit      = time.Second
	probeRateLimit = 250 * time.Millisecond
	// minPendingAnswers is the least bound of an aggregated response; the
	// bound is the number of records we answer with on the interface, when
	// larger (enqueue), so that one query for a type of 10,000 instances
	// is answered whole.
	minPendingAnswers = 1024
)

// recIndex is every answerable record on one interface, by name, with the
// dnsname.RRKey of each record computed once. It is built when first
// needed after a change (Responder.changed) and reused for every packet
// until the next one, so that the work per question is a map look-up.
type recIndex struct {
	byName map[string][]rec
	owners map[string]*entity // unique names and their owners
	keys   map[string]bool    // dnsname.RRKey of every record
	nsec   map[*entity]rec    // NSEC of each owner that has records here
	// hostNSEC is the host's NSEC as an additional record, when it lacks
	// A or AAAA here (Responder.hostNSEC); nil otherwise.
	hostNSEC *rec
	addrs    []netip.Addr // the interface's addresses it was built for
}

// index returns the record index for ifc: only names whose probing has
// completed are answered (RFC 6762 section 8.1).
func (r *Responder) index(ifc mdns.Interface) *recIndex {
	if ix := r.ixCache[ifc.Index]; ix != nil && slices.Equal(ix.addrs, ifc.Addrs) {
		return ix
	}
	ix := &recIndex{byName: map[string][]rec{}, owners: map[string]*entity{}, keys: map[string]bool{},
		nsec: map[*entity]rec{}, addrs: slices.Clone(ifc.Addrs)}
	for _, e := range r.entities() {
		if !e.answerableOn(ifc.Index) {
			continue
		}
		ix.owners[dnsname.MustKey(r.nameOf(e))] = e
		if n := r.nsecFor(e, ifc); n != nil {
			ix.nsec[e] = keyed(rec{rr: n, unique: true, expires: unixExpiry(r.expiryOf(e))})
		}
		for _, rc := range r.recordsOf(e, ifc) {
			rc = keyed(rc)
			if ix.keys[rc.key] {
				continue // the enumeration PTR is shared by services of one type
			}
			ix.keys[rc.key] = true
			n := dnsname.MustKey(rc.rr.Header().Name)
			ix.byName[n] = append(ix.byName[n], rc)
		}
	}
	if n := r.hostNSEC(ifc); n != nil {
		rc := keyed(rec{rr: n, unique: true})
		ix.hostNSEC = &rc
	}
	if r.ixCache == nil {
		r.ixCache = map[int]*recIndex{}
	}
	r.ixCache[ifc.Index] = ix
	return ix
}

// changed drops the cached record indexes. It is called wherever what we
// answer with changes: a name's state or label, a service added, removed
// or given a new TXT record, the interfaces.
func (r *Responder) changed() {
	r.ixCache, r.ownCache = nil, nil
	r.invalidateQuick()
}

// answersFor returns our answers to question q on ifc: records whose name
// matches and whose type matches (or q is ANY), class IN or ANY (RFC 6762
// section 6); and for a name we own that has no record of the type asked
// for, an NSEC record asserting so (section 6.1).
func (r *Responder) answersFor(q dns.Question, ix *recIndex, ifc mdns.Interface) []rec {
	cls := q.Qclass &^ dnsname.QU
	if cls != dns.ClassINET && cls != dns.ClassANY {
		return nil
	}
	n := dnsname.MustKey(q.Name)
	var out []rec
	for _, rc := range ix.byName[n] {
		if q.Qtype == dns.TypeANY || q.Qtype == rc.rr.Header().Rrtype {
			out = append(out, rc)
		}
	}
	if e := ix.owners[n]; e != nil && q.Qtype != dns.TypeANY && len(out) == 0 {
		if nsec, ok := ix.nsec[e]; ok {
			out = append(out, nsec)
		}
	}
	return out
}

// additionals returns the additional records for a set of answers
// (RFC 6763 section 12): for a PTR to one of our instances its SRV, TXT
// and NSEC and the target host's addresses (12.1); for an SRV the target's
// addresses (12.2); for an address record the host's other addresses
// (12.4); with the host's NSEC when it lacks A or AAAA on ifc (RFC 6762
// section 6.1). seen holds the keys already in the message and is updated.
func (r *Responder) additionals(answers []rec, ifc mdns.Interface, seen map[string]bool) []rec {
	ix := r.index(ifc)
	var out []rec
	add := func(rc rec) {
		k := rc.keyOf()
		if !seen[k] {
			seen[k] = true
			out = append(out, rc)
		}
	}
	addHost := func(name string) {
		n := dnsname.MustKey(name)
		e := ix.owners[n]
		if e == nil || (e.kind != kindHost && e.kind != kindProxyHost) {
			return
		}
		for _, rc := range ix.byName[n] {
			add(rc)
		}
		if e.kind == kindProxyHost {
			// An origin host (proxy.go) lacking A or AAAA: its NSEC
			// says so (RFC 6762 section 6.1).
			if nsec, ok := ix.nsec[e]; ok && len(r.typesOf(e, ifc)) < 2 {
				add(nsec)
			}
			return
		}
		if ix.hostNSEC != nil {
			add(*ix.hostNSEC)
		}
	}
	for _, a := range answers {
		switch v := a.rr.(type) {
		case *dns.PTR:
			e := ix.owners[dnsname.MustKey(v.Ptr)]
			if e == nil || e.kind != kindService {
				continue
			}
			for _, rc := range ix.byName[dnsname.MustKey(v.Ptr)] {
				add(rc)
			}
			if nsec, ok := ix.nsec[e]; ok {
				add(nsec)
			}
			addHost(r.targetOf(e))
		case *dns.SRV:
			addHost(v.Target)
		case *dns.A, *dns.AAAA:
			addHost(v.Header().Name)
		}
	}
	return out
}

// handleQuery handles a query (QR clear).
func (r *Responder) handleQuery(p *mdns.Packet) {
	m := p.Msg
	// RFC 6762 section 18.3 and 18.11: messages with a non-zero opcode or
	// response code MUST be silently ignored.
	if m.Opcode != dns.OpcodeQuery || m.Rcode != dns.RcodeSuccess {
		return
	}
	if r.opts.OnQuestion != nil && len(m.Ns) == 0 && len(m.Question) > 0 {
		r.reportQuestions(p)
	}
	if p.Src.Port() != mdns.Port {
		r.handleLegacy(p) // RFC 6762 section 6.7
		return
	}
	if len(m.Ns) > 0 {
		r.handleProbe(p)
		if r.ownProbe(p) {
			// Our own probe, looped back or heard through another of our
			// interfaces on the same link: our own data is no conflict
			// (RFC 6762 section 9), and needs no defence.
			return
		}
	}
	if r.continueTC(p) {
		return // known answers for an earlier truncated query (section 7.2)
	}
	if m.Truncated {
		r.waitTC(p)
		return
	}
	r.answer(p, m.Question, m.Answer)
}

// reportQuestions hands the questions of p, a query that is not a probe,
// to Options.OnQuestion, unless p is one of our own (its source is an
// address of the interface it arrived on).
func (r *Responder) reportQuestions(p *mdns.Packet) {
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	src := p.Src.Addr().WithZone("")
	for _, a := range ifc.Addrs {
		if a.WithZone("") == src {
			return
		}
	}
	for i, q := range p.Msg.Question {
		if i >= maxQuestionsPerPacket {
			break
		}
		r.opts.OnQuestion(ReceivedQuestion{Name: q.Name, Type: q.Qtype, Unicast: q.Qclass&dnsname.QU != 0, Iface: ifc.Name, Src: p.Src})
	}
}

// answer answers questions received in p, suppressing the known answers
// (RFC 6762 section 7.1), by unicast or multicast as sections 5.4 and 5.5
// say, shared answers after a random delay and aggregated, unique answers
// at once (section 6).
func (r *Responder) answer(p *mdns.Packet, questions []dns.Question, known []dns.RR) {
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	t := target{ifc: ifc, fam: p.Family}
	direct := !p.Multicast()
	if direct && !ifc.OnLink(p.Src.Addr()) {
		// RFC 6762 section 5.5 and 11: unicast queries from off the local
		// link are not answered.
		return
	}
	ix := r.index(ifc)
	ka := newKnownAnswers(known)
	probe := len(p.Msg.Ns) > 0
	var mc, uc []rec
	mcSeen, ucSeen := map[string]bool{}, map[string]bool{}
	for i, q := range questions {
		if i >= maxQuestionsPerPacket {
			break
		}
		qu := q.Qclass&dnsname.QU != 0
		for _, rc := range r.answersFor(q, ix, ifc) {
			k := rc.keyOf()
			if ka.suppresses(k, rc.ttl()) {
				continue // RFC 6762 section 7.1
			}
			quarter := time.Duration(rc.ttl()) * time.Second / 4
			toUC, toMC := false, true
			switch {
			case direct:
				// RFC 6762 section 5.5: a unicast query is answered by unicast.
				toUC, toMC = true, false
			case qu && probe:
				// Section 5.4: a probe's QU question always gets the
				// unicast response; a multicast one too when the record
				// was not multicast within a quarter of its TTL.
				toUC = true
				toMC = !r.multicastWithin(t.key(), k, quarter)
			case qu:
				// Section 5.4: QU is answered by unicast, unless the
				// record was not multicast within a quarter of its TTL,
				// in which case it is multicast to refresh all caches.
				if r.multicastWithin(t.key(), k, quarter) {
					toUC, toMC = true, false
				}
			}
			if toUC && !ucSeen[k] {
				ucSeen[k] = true
				uc = append(uc, rc)
			}
			if toMC && !mcSeen[k] {
				limit := rateLimit
				if probe {
					limit = probeRateLimit
				}
				// Section 6.2: a record is multicast at most once per
				// second per interface (every 250 ms to defend against
				// a probe).
				if r.multicastWithin(t.key(), k, limit) {
					continue
				}
				mcSeen[k] = true
				mc = append(mc, rc)
			}
		}
	}
	if len(uc) > 0 {
		m := newResponse()
		for _, rc := range uc {
			m.Answer = append(m.Answer, prepare(rc, rc.rr.Header().Ttl, true))
		}
		for _, rc := range r.additionals(uc, ifc, ucSeen) {
			m.Extra = append(m.Extra, prepare(rc, rc.rr.Header().Ttl, true))
		}
		r.unicast(p.Src, p.IfIndex, m, packetLimit(ifc.MTU, p.Family))
	}
	if len(mc) == 0 {
		return
	}
	shared := false
	for _, rc := range mc {
		if !rc.unique {
			shared = true
		}
	}
	if !shared {
		// Section 6: when every answer is unique the response is sent
		// without delay.
		r.sendAnswers(t, mc)
		return
	}
	// Section 6: responses with shared records are delayed by a random
	// 20-120 ms, so that responses from several hosts do not collide.
	r.enqueue(t, mc, randDuration(sharedDelayMin, sharedDelayMax))
}

// sendAnswers multicasts answers with their additional records on t.
func (r *Responder) sendAnswers(t target, answers []rec) {
	m := newResponse()
	seen := map[string]bool{}
	for _, rc := range answers {
		seen[rc.keyOf()] = true
		m.Answer = append(m.Answer, prepare(rc, rc.rr.Header().Ttl, true))
	}
	for _, rc := range r.additionals(answers, t.ifc, seen) {
		m.Extra = append(m.Extra, prepare(rc, rc.rr.Header().Ttl, true))
	}
	r.multicast(t, m, true)
}

// pendingResp is a delayed multicast response on one target, aggregating
// the answers due in its window (RFC 6762 section 6.4).
type pendingResp struct {
	t       target
	answers []rec
	keys    map[string]bool
	first   time.Time
	task    *task
}

// enqueue adds answers to t's pending response, creating it to be sent
// after delay. Answers joining an existing one are sent with it, delayed
// a little if needed so that they too wait at least 20 ms, but never more
// than 500 ms after the first (section 6.4).
func (r *Responder) enqueue(t target, answers []rec, delay time.Duration) {
	k := t.key()
	now := time.Now()
	pr := r.pending[k]
	if pr == nil {
		pr = &pendingResp{t: t, keys: map[string]bool{}, first: now}
		r.pending[k] = pr
		pr.task = r.after(delay, func() { r.flushPending(k) })
	} else if at := now.Add(sharedDelayMin); at.After(pr.task.at) && at.Sub(pr.first) <= aggregateMax {
		pr.task.cancel()
		pr.task = r.after(sharedDelayMin, func() { r.flushPending(k) })
	}
	// Every pending answer is one of our records (distinct keys), so this
	// bound only caps what a stale index could add.
	limit := max(minPendingAnswers, len(r.index(t.ifc).keys))
	for _, rc := range answers {
		rc = keyed(rc)
		rk := rc.key
		if pr.keys[rk] || len(pr.answers) >= limit {
			continue
		}
		pr.keys[rk] = true
		pr.answers = append(pr.answers, rc)
		r.quickPend(k, rk, pr.first.Add(aggregateMax))
	}
}

// flushPending sends t's pending response: the answers that are still
// ours and were not multicast in the last second in the meantime.
func (r *Responder) flushPending(k targetKey) {
	pr := r.pending[k]
	if pr == nil {
		return
	}
	delete(r.pending, k)
	ifc, ok := r.tr.Interface(k.ifIndex)
	if !ok {
		return
	}
	t := target{ifc: ifc, fam: k.fam}
	ix := r.index(ifc)
	var answers []rec
	for _, rc := range pr.answers {
		if ix.keys[rc.key] && !r.multicastWithin(k, rc.key, rateLimit) {
			answers = append(answers, rc)
		} else if rc.rr.Header().Rrtype == dns.TypeNSEC {
			// The types we have under a name may have changed meanwhile.
			if nsec, ok := ix.nsec[ix.owners[dnsname.MustKey(rc.rr.Header().Name)]]; ok && !r.multicastWithin(k, nsec.key, rateLimit) {
				answers = append(answers, nsec)
			}
		}
	}
	if len(answers) > 0 {
		r.sendAnswers(t, answers)
	}
}

// suppressDuplicates drops from t's pending response the answers another
// responder has just multicast with a TTL at least ours, and counts them
// as sent (RFC 6762 section 7.4, duplicate answer suppression).
func (r *Responder) suppressDuplicates(t targetKey, rrs []dns.RR) {
	pr := r.pending[t]
	if pr == nil {
		return
	}
	now := time.Now()
	for _, rr := range rrs {
		k := dnsname.RRKey(rr)
		if !pr.keys[k] {
			continue
		}
		for i, rc := range pr.answers {
			if rc.key == k && rr.Header().Ttl >= rc.ttl() {
				pr.answers = append(pr.answers[:i], pr.answers[i+1:]...)
				delete(pr.keys, k)
				r.markMulticast(t, rc.rr, now)
				break
			}
		}
	}
}
