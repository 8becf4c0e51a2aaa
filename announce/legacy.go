package announce

import (
	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/mdns"
)

// legacyTTL caps the TTLs given to legacy resolvers (RFC 6762 section 6.7:
// SHOULD NOT be greater than ten seconds).
const legacyTTL = 10

// handleLegacy answers a query from a source port other than 5353: a
// "legacy" resolver that is not a full mDNS querier (RFC 6762 section 6.7).
// It gets a conventional unicast DNS response to the address and port it
// came from: the query's ID, the question repeated, TTLs of at most ten
// seconds, and no cache-flush bits (which it would take for a class). It
// is answered at once: it cannot receive a multicast reply.
func (r *Responder) handleLegacy(p *mdns.Packet) {
	q := p.Msg
	if len(q.Question) == 0 {
		return
	}
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	if !p.Multicast() && !ifc.OnLink(p.Src.Addr()) {
		return // RFC 6762 section 5.5 and 11
	}
	ix := r.index(ifc)
	ka := newKnownAnswers(q.Answer)
	m := new(dns.Msg)
	m.Id = q.Id
	m.Response = true
	m.Authoritative = true
	m.Opcode = dns.OpcodeQuery
	m.RecursionDesired = q.RecursionDesired
	m.Compress = true
	seen := map[string]bool{}
	var answers []rec
	for i, qq := range q.Question {
		if i >= maxQuestionsPerPacket {
			break
		}
		m.Question = append(m.Question, qq)
		for _, rc := range r.answersFor(qq, ix, ifc) {
			k := rc.keyOf()
			if seen[k] || ka.suppresses(k, rc.ttl()) {
				continue
			}
			seen[k] = true
			answers = append(answers, rc)
			m.Answer = append(m.Answer, legacyRR(rc))
		}
	}
	if len(m.Answer) == 0 {
		return
	}
	for _, rc := range r.additionals(answers, ifc, seen) {
		m.Extra = append(m.Extra, legacyRR(rc))
	}
	// A legacy resolver takes 512 bytes, or what its EDNS0 OPT record
	// says; over that, additional records go first, then the TC bit is set.
	limit := dns.MinMsgSize
	if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > limit {
		limit = int(opt.UDPSize())
	}
	limit = min(limit, packetLimit(ifc.MTU, p.Family))
	if m.Len() > limit {
		m.Extra = nil
		m.Truncate(limit)
		m.Compress = true
	}
	if err := r.tr.SendUnicast(r.ctx, m, p.Src, p.IfIndex); err != nil {
		r.log.Debug("mdns: legacy unicast response failed", "to", p.Src, "err", err)
	}
}

// legacyRR prepares a record for a legacy response: TTL capped at ten
// seconds and no cache-flush bit (RFC 6762 section 6.7).
func legacyRR(rc rec) dns.RR {
	return prepare(rc, min(rc.ttl(), legacyTTL), false)
}
