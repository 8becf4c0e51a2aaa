package announce

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// Known-answer limits and timings (RFC 6762 section 7.2).
const (
	// tcDelayMin and tcDelayMax bound the wait for the rest of the known
	// answers after a query with the TC bit (section 7.2: 400-500 ms).
	tcDelayMin = 400 * time.Millisecond
	tcDelayMax = 500 * time.Millisecond
	// tcMaxWait bounds the whole wait however many truncated packets come.
	tcMaxWait = 2 * time.Second
	// maxTCWaits bounds the number of queriers waited for at once, and
	// maxKnownAnswers the known answers kept for one of them, or the
	// number of records we answer with on the interface when larger
	// (mergeTC keeps only known answers that are records of ours: nothing
	// else can suppress an answer), so that a querier that already has
	// all of 10,000 instances gets none of them again.
	maxTCWaits      = 64
	maxKnownAnswers = 2048
)

// knownAnswers are the records a querier says it already has, with the
// largest TTL it gave for each.
type knownAnswers map[string]uint32

// newKnownAnswers indexes the Answer section of a query: one packet's, or
// those mergeTC gathered (both bounded).
func newKnownAnswers(rrs []dns.RR) knownAnswers {
	ka := knownAnswers{}
	for _, rr := range rrs {
		k := dnsname.RRKey(rr)
		if ttl := rr.Header().Ttl; ttl >= ka[k] {
			ka[k] = ttl
		}
	}
	return ka
}

// suppresses reports whether our record whose dnsname.RRKey is k, given
// with TTL ours, must not be given because the querier listed it with at
// least half that TTL (RFC 6762 section 7.1: a responder MUST NOT answer
// with a record already in the Answer section with a TTL of at least half
// the correct value).
func (ka knownAnswers) suppresses(k string, ours uint32) bool {
	if len(ka) == 0 {
		return false
	}
	ttl, ok := ka[k]
	return ok && uint64(ttl)*2 >= uint64(ours)
}

// tcKey identifies a querier sending a multi-packet query.
type tcKey struct {
	src     netip.AddrPort
	ifIndex int
}

// tcEntry is a truncated query waiting for its known answers.
type tcEntry struct {
	p         *mdns.Packet
	questions []dns.Question
	known     []dns.RR
	first     time.Time
	task      *task
}

// waitTC holds a query with the TC bit set: its known answers continue
// in following packets, so the answer waits 400-500 ms for them (RFC 6762
// section 7.2).
func (r *Responder) waitTC(p *mdns.Packet) {
	k := tcKey{src: p.Src, ifIndex: p.IfIndex}
	if len(r.tcWait) >= maxTCWaits {
		// Too many at once: answer now rather than remember more.
		r.answer(p, p.Msg.Question, p.Msg.Answer)
		return
	}
	e := &tcEntry{p: p, first: time.Now()}
	r.tcWait[k] = e
	r.mergeTC(e, p)
	e.task = r.after(randDuration(tcDelayMin, tcDelayMax), func() { r.finishTC(k) })
}

// continueTC adds p to a waiting truncated query from the same querier
// and reports whether it did.
func (r *Responder) continueTC(p *mdns.Packet) bool {
	k := tcKey{src: p.Src, ifIndex: p.IfIndex}
	e := r.tcWait[k]
	if e == nil {
		return false
	}
	r.mergeTC(e, p)
	if p.Msg.Truncated {
		// More is coming: wait again, within the overall bound.
		if d := randDuration(tcDelayMin, tcDelayMax); time.Since(e.first)+d <= tcMaxWait {
			e.task.cancel()
			e.task = r.after(d, func() { r.finishTC(k) })
		}
	}
	return true
}

// mergeTC adds p's questions and known answers to e (bounded): only the
// known answers that are records we answer with on p's interface, the
// only ones that can suppress an answer of ours (section 7.1).
func (r *Responder) mergeTC(e *tcEntry, p *mdns.Packet) {
	for _, q := range p.Msg.Question {
		if len(e.questions) >= maxQuestionsPerPacket {
			break
		}
		e.questions = append(e.questions, q)
	}
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	ix := r.index(ifc)
	limit := max(maxKnownAnswers, len(ix.keys))
	for _, rr := range p.Msg.Answer {
		if len(e.known) >= limit {
			break
		}
		if ix.keys[dnsname.RRKey(rr)] {
			e.known = append(e.known, rr)
		}
	}
}

// finishTC answers a truncated query with all known answers gathered.
func (r *Responder) finishTC(k tcKey) {
	e := r.tcWait[k]
	if e == nil {
		return
	}
	delete(r.tcWait, k)
	r.answer(e.p, e.questions, e.known)
}
