package announce

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// The query fast path. A flood of multicast queries for our records
// (60,000 a second on a LAN is easy to send) would otherwise have every
// datagram unpacked, queued twice and handled on the event loop, only for
// RFC 6762 section 6.2 to forbid the answer: "a Multicast DNS responder
// MUST NOT (except in the one special case of answering probe queries)
// multicast a record on a given interface until at least one second has
// elapsed since the last time that record was multicast on that particular
// interface". quickFilter decides that on the datagram's bytes, in the
// transport's read loop, without allocating: a query whose every question
// the rate limit (or the absence of any record of ours) leaves unanswered
// is dropped there, before it is unpacked (and so is one whose answers
// already wait in a delayed response, section 6.4). Everything else takes the full
// path, which stays the only place that answers.
//
// Only the plainest queries are decided here; the full path gets:
//   - responses (QR set);
//   - a query from a port other than 5353: legacy unicast, answered by
//     unicast without a rate limit (section 6.7);
//   - a query sent to a unicast address (section 5.5: answered by unicast);
//   - a question with the unicast-response bit (QU, section 5.4): its
//     answer goes by unicast when the record was multicast recently;
//   - a query with the TC bit, or with known answers (section 7.1, 7.2),
//     and any packet while a truncated query awaits its known answers;
//   - a query with an Authority section: a probe (section 8.2), whose
//     tie-break and conflict handling must run, and which is answered
//     within 250 ms (section 6.2's special case);
//   - an Additional section, a name that is compressed forward or runs
//     past the end, more than maxQuestionsPerPacket questions, trailing
//     bytes: anything the full path would judge for itself;
//   - any query while the filter's index is being rebuilt after a change.

// quickFilter is the query fast path's state, shared by the event loop,
// which publishes it, and the transport's read loop, which consults it.
type quickFilter struct {
	epoch     time.Time // times below are monotonic nanoseconds since epoch
	ix        atomic.Pointer[quickIndex]
	tcWaiting atomic.Bool // a truncated query awaits its known answers (section 7.2)
	dropped   atomic.Uint64
	// passPTR: a query with a PTR or ANY question goes to the full path
	// (Options.OnQuestion is to see it); set before the filter is used.
	passPTR bool
}

func newQuickFilter() *quickFilter { return &quickFilter{epoch: time.Now()} }

// since returns t as nanoseconds since q.epoch (monotonic).
func (q *quickFilter) since(t time.Time) int64 { return int64(t.Sub(q.epoch)) }

// quickIndex is what the responder answers with on each interface, as the
// fast path needs it. It is immutable once published but for the
// last-multicast times.
type quickIndex struct {
	ifs map[int]*quickIf
}

// quickIf is one interface's share of a quickIndex.
type quickIf struct {
	// names maps a name in wire form, ASCII letters lowered (RFC 6762
	// section 16), to what a question for it is answered with.
	names map[string]quickName
	// slots numbers the records by dnsname.RRKey.
	slots map[string]int
	// last holds, per family and record slot, when the record was last
	// multicast (quickFilter.since; 0: never, or not known).
	last [2][]atomic.Int64
	// pend holds, per family and record slot, until when the record is in
	// a delayed multicast response (section 6) that has not gone yet: a
	// query for it adds nothing (the response is aggregated, section
	// 6.4), so it is dropped like one the rate limit refuses.
	pend [2][]atomic.Int64
}

// quickName is the records under one name, and the owner's NSEC record
// (slot, or -1) given for a type it lacks (RFC 6762 section 6.1).
type quickName struct {
	recs []quickRec
	nsec int
}

// quickRec is one record of a name: its type and slot.
type quickRec struct {
	rrtype uint16
	slot   int
}

// famIndex returns the index of f in quickIf.last.
func famIndex(f mdns.Family) int {
	if f == mdns.IPv6 {
		return 1
	}
	return 0
}

// wireKey returns name in wire form with ASCII letters lowered, or "" when
// it cannot be packed.
func wireKey(name string) string {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return ""
	}
	lowerASCII(buf[:n])
	return string(buf[:n])
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// rebuildQuick publishes a new quickIndex from the record indexes of every
// interface and the multicast history. Event loop only.
func (r *Responder) rebuildQuick() {
	r.quickDirty = false
	qix := &quickIndex{ifs: map[int]*quickIf{}}
	for _, ifc := range r.tr.Interfaces() {
		ix := r.index(ifc)
		qi := &quickIf{names: map[string]quickName{}, slots: map[string]int{}}
		slot := func(rc rec) int {
			rc = keyed(rc)
			s, ok := qi.slots[rc.key]
			if !ok {
				s = len(qi.slots)
				qi.slots[rc.key] = s
			}
			return s
		}
		for _, recs := range ix.byName {
			if len(recs) == 0 {
				continue
			}
			k := wireKey(recs[0].rr.Header().Name)
			if k == "" {
				r.log.Debug("mdns: query fast path off: a name does not pack", "name", recs[0].rr.Header().Name)
				r.quick.ix.Store(nil)
				return
			}
			qn := quickName{nsec: -1}
			for _, rc := range recs {
				qn.recs = append(qn.recs, quickRec{rrtype: rc.rr.Header().Rrtype, slot: slot(rc)})
			}
			qi.names[k] = qn
		}
		for _, e := range ix.owners {
			nsec, ok := ix.nsec[e]
			if !ok {
				continue
			}
			k := wireKey(nsec.rr.Header().Name)
			if k == "" {
				r.quick.ix.Store(nil)
				return
			}
			qn, ok := qi.names[k]
			if !ok {
				qn = quickName{nsec: -1}
			}
			qn.nsec = slot(nsec)
			qi.names[k] = qn
		}
		for i := range qi.last {
			qi.last[i] = make([]atomic.Int64, len(qi.slots))
			qi.pend[i] = make([]atomic.Int64, len(qi.slots))
			tk := targetKey{ifc.Index, mdns.IPv4}
			if i == 1 {
				tk.fam = mdns.IPv6
			}
			for k, s := range qi.slots {
				if at, ok := r.lastMC[mcKey{k, tk}]; ok {
					qi.last[i][s].Store(max(r.quick.since(at), 1))
				}
			}
			if pr := r.pending[tk]; pr != nil {
				for _, rc := range pr.answers {
					if s, ok := qi.slots[rc.key]; ok {
						qi.pend[i][s].Store(r.quick.since(pr.first.Add(aggregateMax)))
					}
				}
			}
		}
		qix.ifs[ifc.Index] = qi
	}
	r.quick.ix.Store(qix)
}

// quickMark records in the published index that the record with
// dnsname.RRKey k was multicast on t at now. Event loop only.
func (r *Responder) quickMark(t targetKey, k string, now time.Time) {
	qix := r.quick.ix.Load()
	if qix == nil {
		return
	}
	qi := qix.ifs[t.ifIndex]
	if qi == nil {
		return
	}
	if s, ok := qi.slots[k]; ok {
		qi.last[famIndex(t.fam)][s].Store(max(r.quick.since(now), 1))
	}
}

// quickPend records in the published index that the record with
// dnsname.RRKey k is in t's delayed response, which goes by until at the
// latest. Event loop only.
func (r *Responder) quickPend(t targetKey, k string, until time.Time) {
	qix := r.quick.ix.Load()
	if qix == nil {
		return
	}
	qi := qix.ifs[t.ifIndex]
	if qi == nil {
		return
	}
	if s, ok := qi.slots[k]; ok {
		qi.pend[famIndex(t.fam)][s].Store(r.quick.since(until))
	}
}

// quickRebuildShare bounds the time spent rebuilding the fast path's
// index: after a rebuild that took d, the next one waits until
// quickRebuildShare*d has passed, so rebuilds use at most 1/quickRebuildShare
// of the event loop however fast what we answer with changes.
const quickRebuildShare = 10

// afterEvent brings the fast path up to date after the event loop handled
// one event. While the index is stale it is withdrawn (every query takes
// the full path, which stays correct, only slower) and rebuilt here, at
// most as often as quickRebuildShare allows: a rebuild costs O(records),
// and a burst of changes (a gateway withdrawing 1,000 proxies one by one)
// rebuilt it after each of them, 75 % of the gateway's CPU and 14 s for
// the burst.
func (r *Responder) afterEvent() {
	r.quick.tcWaiting.Store(len(r.tcWait) > 0)
	if !r.quickDirty {
		return
	}
	now := time.Now()
	if now.Before(r.quickNext) {
		if r.quickWake == nil {
			r.quickWake = r.after(r.quickNext.Sub(now), func() { r.quickWake = nil })
		}
		return
	}
	r.rebuildQuick()
	r.quickNext = now.Add(quickRebuildShare * time.Since(now))
}

// invalidateQuick withdraws the fast path's index until the next
// afterEvent. It is called wherever what we answer with changes, and
// wherever the multicast history forgets a record.
func (r *Responder) invalidateQuick() {
	r.quickDirty = true
	r.quick.ix.Store(nil)
}

// drop reports whether the datagram b, received on interface ifIndex over
// family f from src to dst, is a query the responder would not answer at
// all, as decided on its bytes (see the comment at the top of this file).
// It is safe for concurrent use, does not retain b and does not allocate.
func (q *quickFilter) drop(b []byte, ifIndex int, f mdns.Family, src netip.AddrPort, dst netip.Addr) bool {
	qix := q.ix.Load()
	if qix == nil || q.tcWaiting.Load() {
		return false
	}
	qi := qix.ifs[ifIndex]
	if qi == nil || src.Port() != mdns.Port || !dst.IsMulticast() || len(b) < 12 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	const qr, tc, opcode, rcode = 1 << 15, 1 << 9, 0xf << 11, 0xf
	if flags&(qr|tc) != 0 {
		return false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	if qd == 0 || qd > maxQuestionsPerPacket || binary.BigEndian.Uint16(b[6:]) != 0 ||
		binary.BigEndian.Uint16(b[8:]) != 0 || binary.BigEndian.Uint16(b[10:]) != 0 {
		return false
	}
	if flags&(opcode|rcode) != 0 {
		return false // the full path ignores it (sections 18.3, 18.11)
	}
	fi := famIndex(f)
	now := q.since(time.Now())
	var name [256]byte
	off := 12
	answered := false
	for range qd {
		n, next, ok := readName(b, off, &name)
		if !ok || next+4 > len(b) {
			return false
		}
		qtype := binary.BigEndian.Uint16(b[next:])
		qclass := binary.BigEndian.Uint16(b[next+2:])
		off = next + 4
		if qclass&dnsname.QU != 0 {
			return false // section 5.4
		}
		if q.passPTR && (qtype == dns.TypePTR || qtype == dns.TypeANY) {
			return false // Options.OnQuestion
		}
		if !answered && !qi.suppressed(name[:n], qtype, qclass, fi, now) {
			answered = true
		}
	}
	if off != len(b) {
		return false
	}
	if answered {
		// A plain QM query the full path will answer: until it has (and
		// marked its answers pending or multicast), the same questions
		// from the same batch of datagrams, or arriving meanwhile, would
		// only be aggregated into that answer (sections 6.4, 7.3); they
		// are dropped here for up to claimGrace.
		q.claim(b, qi, qd, fi, now)
		return false
	}
	q.dropped.Add(1)
	return true
}

// claimGrace is how long the records a query passed to the full path will
// be answered with count as pending in a response (quickIf.pend), until
// the full path marks them itself: the time for the query to reach the
// event loop, a few microseconds when the host is idle.
const claimGrace = 50 * time.Millisecond

// claim marks, for claimGrace, as pending in a response on interface qi
// and family fi the records that the qd questions of the query b (checked
// by drop) will be answered with.
func (q *quickFilter) claim(b []byte, qi *quickIf, qd, fi int, now int64) {
	until := now + int64(claimGrace)
	var name [256]byte
	off := 12
	for range qd {
		n, next, _ := readName(b, off, &name)
		qtype := binary.BigEndian.Uint16(b[next:])
		qclass := binary.BigEndian.Uint16(b[next+2:])
		off = next + 4
		qi.pendUntil(name[:n], qtype, qclass, fi, until)
	}
}

// suppressed reports whether a QM question for name (wire form, lowered)
// gets no multicast answer from us: we have no record for it here, or
// every record it would be answered with was multicast on this interface
// and family less than a second ago (RFC 6762 section 6.2), or waits in a
// delayed response there that will carry it (section 6.4). It mirrors
// answersFor.
func (qi *quickIf) suppressed(name []byte, qtype, qclass uint16, fi int, now int64) bool {
	if qclass != dns.ClassINET && qclass != dns.ClassANY {
		return true // answersFor: nothing
	}
	qn, ok := qi.names[string(name)]
	if !ok {
		return true // not ours, or not answered here
	}
	recent := func(slot int) bool {
		at := qi.last[fi][slot].Load()
		return at != 0 && now-at < int64(rateLimit) || now < qi.pend[fi][slot].Load()
	}
	matched := false
	for _, rc := range qn.recs {
		if qtype == dns.TypeANY || qtype == rc.rrtype {
			matched = true
			if !recent(rc.slot) {
				return false
			}
		}
	}
	if !matched && qtype != dns.TypeANY && qn.nsec >= 0 {
		return recent(qn.nsec) // section 6.1: the NSEC is the answer
	}
	return true
}

// pendUntil raises to until the pending mark (quickIf.pend) of every
// record a QM question for name (wire form, lowered) is answered with on
// this interface and family fi. It mirrors suppressed.
func (qi *quickIf) pendUntil(name []byte, qtype, qclass uint16, fi int, until int64) {
	if qclass != dns.ClassINET && qclass != dns.ClassANY {
		return
	}
	qn, ok := qi.names[string(name)]
	if !ok {
		return
	}
	mark := func(slot int) {
		if p := &qi.pend[fi][slot]; p.Load() < until {
			p.Store(until)
		}
	}
	matched := false
	for _, rc := range qn.recs {
		if qtype == dns.TypeANY || qtype == rc.rrtype {
			matched = true
			mark(rc.slot)
		}
	}
	if !matched && qtype != dns.TypeANY && qn.nsec >= 0 {
		mark(qn.nsec)
	}
}

// readName reads the name at off in message b into buf in wire form,
// uncompressed, with ASCII letters lowered. It returns the name's length
// in buf, the offset after the name in b, and false for anything the full
// path should judge: a compression pointer that does not point backwards,
// an extended label type, a name over 255 bytes or past the end.
func readName(b []byte, off int, buf *[256]byte) (n, next int, ok bool) {
	next = -1
	pos, start := off, off
	for {
		if pos >= len(b) {
			return 0, 0, false
		}
		c := int(b[pos])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if n >= len(buf) {
					return 0, 0, false
				}
				buf[n] = 0
				n++
				if next < 0 {
					next = pos + 1
				}
				return n, next, true
			}
			if pos+1+c > len(b) || n+1+c > 255 {
				return 0, 0, false
			}
			buf[n] = byte(c)
			copy(buf[n+1:], b[pos+1:pos+1+c])
			lowerASCII(buf[n+1 : n+1+c])
			n += 1 + c
			pos += 1 + c
		case 0xc0:
			if pos+1 >= len(b) {
				return 0, 0, false
			}
			ptr := int(binary.BigEndian.Uint16(b[pos:]) & 0x3fff)
			if ptr >= start {
				return 0, 0, false // not strictly backwards: a loop is possible
			}
			start = ptr
			if next < 0 {
				next = pos + 2
			}
			pos = ptr
		default:
			return 0, 0, false
		}
	}
}
