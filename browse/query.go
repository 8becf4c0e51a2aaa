package browse

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// Query timing (RFC 6762 section 5.2).
const (
	// firstDelayMin and firstDelayMax bound the random delay before the
	// first query: "the first query should be delayed by a random amount in
	// the range 20-120 ms".
	firstDelayMin = 20 * time.Millisecond
	firstDelayMax = 120 * time.Millisecond
	// firstInterval is the wait between the first two queries: "MUST be at
	// least one second".
	firstInterval = time.Second
	// maxInterval caps the doubling: "until the interval reaches a maximum
	// of 60 minutes".
	maxInterval = 60 * time.Minute
	// aggregateWindow lets resolution and refresh questions due a little
	// later ride in the packet of questions due now. Continuous (browse)
	// questions are never sent early: their intervals are MUSTs.
	aggregateWindow = 100 * time.Millisecond
	// maxPerRound bounds the resolution and refresh questions asked at
	// once; the rest wait a second. A flood of PTR records naming instances
	// that do not exist thus costs at most this many questions a second.
	maxPerRound = 256
	// postpone is how long questions beyond maxPerRound wait.
	postpone = time.Second
	// addressWait is the resolution window of an instance found with its
	// SRV and TXT records but no address of its SRV target: its A and AAAA
	// questions go out within 120 ms, then 1 s and 3 s later (doubling
	// intervals); half a second after the third, the instance is reported
	// without address (engine.Config.AddressWait).
	addressWait = firstDelayMax + firstInterval + 2*firstInterval + 500*time.Millisecond
)

// qKey identifies a question: name key and type (class IN).
type qKey struct {
	name  string
	qtype uint16
}

// question is one question the querier asks, with its schedule.
//
// A question can be continuous (a browse or enumeration PTR question,
// asked forever at doubling intervals, RFC 6762 section 5.2), a resolution
// question (SRV/TXT of an instance, A/AAAA of its host, asked at doubling
// intervals while the answer is missing), and can carry a pending one-shot
// refresh (cache maintenance at 80-95% of a record's TTL).
type question struct {
	key   qKey
	name  string // presentation form, as sent
	qtype uint16

	continuous bool
	resolve    bool
	// next is when the continuous or resolution schedule asks next (zero:
	// no schedule); interval the wait after that.
	next     time.Time
	interval time.Duration
	// oneShot is a pending refresh query (zero: none).
	oneShot time.Time

	sent     int       // transmissions of the schedule (suppressed ones count)
	lastSent time.Time // last transmission, zero if none
}

// due returns when q must be asked next (zero when never).
func (q *question) due() time.Time {
	switch {
	case q.next.IsZero():
		return q.oneShot
	case q.oneShot.IsZero():
		return q.next
	case q.oneShot.Before(q.next):
		return q.oneShot
	}
	return q.next
}

// firstDelay returns a random delay in [20 ms, 120 ms].
func firstDelay(rnd *rand.Rand) time.Duration {
	return firstDelayMin + time.Duration(rnd.Int64N(int64(firstDelayMax-firstDelayMin)+1))
}

// scheduler holds the questions and builds and sends the queries.
type scheduler struct {
	qs  map[qKey]*question
	rnd *rand.Rand
	// dup records, per interface, when another querier was last seen
	// asking one of our questions as QM with known answers we would all
	// give too (RFC 6762 section 7.3).
	dup map[dupKey]time.Time
	// lastQU is when a query with a QU question was last sent, per
	// interface: unicast responses are accepted for two seconds after it
	// (RFC 6762 section 5.4 and 6).
	lastQU map[int]time.Time
}

type dupKey struct {
	ifIndex int
	q       qKey
}

// maxDup bounds the duplicate-question table (one entry per interface and
// question of ours, so this is only reached with very many of both).
const maxDup = 4096

func newScheduler(rnd *rand.Rand) *scheduler {
	return &scheduler{qs: map[qKey]*question{}, rnd: rnd, dup: map[dupKey]time.Time{}, lastQU: map[int]time.Time{}}
}

// get returns the question for name/qtype, creating it without schedule.
func (s *scheduler) get(name string, qtype uint16) *question {
	k := qKey{name: dnsname.MustKey(name), qtype: qtype}
	q := s.qs[k]
	if q == nil {
		q = &question{key: k, name: dns.Fqdn(name), qtype: qtype}
		s.qs[k] = q
	}
	return q
}

// addContinuous starts continuous querying for name/qtype: first query at
// start (see querier.begin for when that is), then every 1 s, 2 s, 4 s, ...
// up to 60 minutes (RFC 6762 section 5.2).
func (s *scheduler) addContinuous(name string, qtype uint16, start time.Time) *question {
	q := s.get(name, qtype)
	if !q.continuous {
		q.continuous = true
		if q.next.IsZero() || start.Before(q.next) {
			q.next = start
		}
		q.interval = firstInterval
	}
	return q
}

// restart makes every continuous question ask again at 1 s intervals (a
// new interface appeared), first after a random 20-120 ms: an interface
// coming up is a trigger other hosts may see too (RFC 6762 section 5.2).
func (s *scheduler) restart(now time.Time) {
	at := now.Add(firstDelay(s.rnd))
	for _, q := range s.qs {
		if q.continuous {
			q.next, q.interval = at, firstInterval
		}
	}
}

// addResolve asks name/qtype until told it is no longer needed: first at
// at, then at doubling intervals from 1 s.
func (s *scheduler) addResolve(name string, qtype uint16, at time.Time) {
	q := s.get(name, qtype)
	if q.resolve || q.continuous {
		return
	}
	q.resolve = true
	if q.next.IsZero() || at.Before(q.next) {
		q.next = at
	}
	q.interval = firstInterval
}

// addRefresh schedules a one-shot query for name/qtype at now (cache
// maintenance, RFC 6762 section 5.2).
func (s *scheduler) addRefresh(name string, qtype uint16, now time.Time) {
	q := s.get(name, qtype)
	if q.oneShot.IsZero() || now.Before(q.oneShot) {
		q.oneShot = now
	}
}

// next returns the earliest due time of any question.
func (s *scheduler) next() (time.Time, bool) {
	var t time.Time
	for _, q := range s.qs {
		d := q.due()
		if d.IsZero() {
			continue
		}
		if t.IsZero() || d.Before(t) {
			t = d
		}
	}
	return t, !t.IsZero()
}

// collect returns the questions to ask at now, in a stable order:
// continuous ones due now, and resolution and refresh ones due within
// aggregateWindow. needed reports whether a resolution question is still
// wanted; those that are not lose their schedule (and are deleted when
// nothing else is left on them).
func (s *scheduler) collect(now time.Time, needed func(*question) bool) []*question {
	var out []*question
	for k, q := range s.qs {
		if q.resolve && !q.continuous && !needed(q) {
			q.resolve = false
			q.next = time.Time{}
		}
		if !q.continuous && !q.resolve && q.oneShot.IsZero() {
			delete(s.qs, k)
			continue
		}
		d := q.due()
		if d.IsZero() {
			continue
		}
		limit := now
		if !q.continuous {
			limit = now.Add(aggregateWindow)
		}
		if !d.After(limit) {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b *question) int {
		if c := a.due().Compare(b.due()); c != 0 {
			return c
		}
		if a.key.name != b.key.name {
			if a.key.name < b.key.name {
				return -1
			}
			return 1
		}
		return int(a.qtype) - int(b.qtype)
	})
	n := 0
	kept := out[:0]
	for _, q := range out {
		if !q.continuous {
			n++
			if n > maxPerRound {
				if !q.next.IsZero() {
					q.next = now.Add(postpone)
				}
				if !q.oneShot.IsZero() {
					q.oneShot = now.Add(postpone)
				}
				continue
			}
		}
		kept = append(kept, q)
	}
	return kept
}

// acceptsUnicast reports whether a unicast response that arrived on
// ifIndex at now may be accepted: RFC 6762 section 6, "a Multicast DNS
// querier MUST only accept unicast responses if they answer a recently sent
// query (e.g., sent in the last two seconds) that explicitly requested
// unicast responses".
func (s *scheduler) acceptsUnicast(ifIndex int, now time.Time) bool {
	t, ok := s.lastQU[ifIndex]
	return ok && now.Sub(t) <= unicastWindow
}

// unicastWindow is how long after a QU query unicast responses are accepted.
const unicastWindow = 2 * time.Second

// qclass returns the class to ask q with: QU (the unicast-response bit,
// RFC 6762 section 5.4) on its first transmission, QM after that.
func qclass(q *question) uint16 {
	if q.lastSent.IsZero() {
		return dns.ClassINET | dnsname.QU
	}
	return dns.ClassINET
}

// sent advances the schedule of questions just asked (or suppressed) at now.
func (s *scheduler) sent(qs []*question, now time.Time) {
	for _, q := range qs {
		q.lastSent = now
		if !q.oneShot.IsZero() && !q.oneShot.After(now.Add(aggregateWindow)) {
			q.oneShot = time.Time{}
		}
		if (q.continuous || q.resolve) && !q.next.IsZero() && !q.next.After(now.Add(aggregateWindow)) {
			q.sent++
			q.next = now.Add(q.interval)
			// RFC 6762 section 5.2: intervals at least double, up to 60 min.
			q.interval = min(q.interval*2, maxInterval)
		}
	}
}

// suppressed reports whether q need not be asked on ifIndex at now because
// another querier asked it recently enough (RFC 6762 section 7.3: a host
// that sees another host ask the same QM question, with no known answer it
// would not give itself, "SHOULD treat its own query as having been
// sent"). Recently enough is in the second half of the wait since our own
// last transmission (within 500 ms before our first one): our own query,
// looped back just after it was sent, lies in the first half and never
// suppresses the next one. For a refresh (no scheduled query due) the
// window is at most one second.
func (s *scheduler) suppressed(q *question, ifIndex int, now time.Time) bool {
	t, ok := s.dup[dupKey{ifIndex: ifIndex, q: q.key}]
	if !ok {
		return false
	}
	window := 500 * time.Millisecond
	if !q.lastSent.IsZero() {
		window = now.Sub(q.lastSent) / 2
	}
	if q.next.IsZero() || q.next.After(now.Add(aggregateWindow)) {
		window = min(window, time.Second)
	}
	return t.After(now.Add(-window))
}

// sawDuplicate records that another querier asked q on ifIndex at now.
func (s *scheduler) sawDuplicate(k qKey, ifIndex int, now time.Time) {
	if len(s.dup) >= maxDup {
		clear(s.dup)
	}
	s.dup[dupKey{ifIndex: ifIndex, q: k}] = now
}

// buildQueries builds the query messages asking qs with the known answers
// ka on a link whose packets may hold limit bytes. A question's first
// transmission is QU, later ones QM (see qclass and the package
// documentation), and the header ID is 0 (RFC 6762 section 18.1). Known answers go into the
// Answer section (section 7.1); when they do not all fit, the packet gets
// the TC bit and the rest follow in further packets holding only known
// answers, every one but the last with TC set (section 7.2: the querier
// "MUST set the TC bit ... and send the remaining known answers in one or
// more subsequent packets"). When even the questions do not fit, they are
// spread over separate queries.
func buildQueries(qs []*question, ka func([]*question) []dns.RR, limit int) []*dns.Msg {
	newMsg := func() *dns.Msg {
		m := new(dns.Msg)
		m.Id = 0
		m.Compress = true
		return m
	}
	var out []*dns.Msg
	// Questions take at most half a packet so that known answers have room.
	var chunks [][]*question
	cur := newMsg()
	var chunk []*question
	for _, q := range qs {
		cur.Question = append(cur.Question, dns.Question{Name: q.name, Qtype: q.qtype, Qclass: qclass(q)})
		if len(chunk) > 0 && cur.Len() > limit/2 {
			chunks = append(chunks, chunk)
			cur = newMsg()
			cur.Question = append(cur.Question, dns.Question{Name: q.name, Qtype: q.qtype, Qclass: qclass(q)})
			chunk = nil
		}
		chunk = append(chunk, q)
	}
	if len(chunk) > 0 {
		chunks = append(chunks, chunk)
	}
	for _, ch := range chunks {
		m := newMsg()
		for _, q := range ch {
			m.Question = append(m.Question, dns.Question{Name: q.name, Qtype: q.qtype, Qclass: qclass(q)})
		}
		msgs := []*dns.Msg{m}
		exact := m.Len()
		pending := 0 // upper bound of bytes added since exact was measured
		for _, rr := range ka(ch) {
			m.Answer = append(m.Answer, rr)
			pending += dns.Len(rr)
			if exact+pending <= limit {
				continue
			}
			exact, pending = m.Len(), 0
			if exact <= limit || len(m.Answer) == 1 && len(m.Question) == 0 {
				continue
			}
			// Does not fit: this packet is truncated, the record opens the next.
			m.Answer = m.Answer[:len(m.Answer)-1]
			m.Truncated = true
			m = newMsg()
			m.Answer = append(m.Answer, rr)
			msgs = append(msgs, m)
			exact, pending = m.Len(), 0
		}
		out = append(out, msgs...)
	}
	return out
}

// sendQueries asks qs on every interface and family of tr at now, leaving
// out on each interface the questions another querier just asked there
// (RFC 6762 section 7.3). It returns the number of packets sent, how many
// had TC set, and how many question transmissions were suppressed.
func (s *scheduler) sendQueries(ctx context.Context, tr transport, qs []*question, ka func(ifIndex int, qs []*question) []dns.RR, now time.Time, logf func(msg string, args ...any)) (packets, truncated, suppressed int) {
	fams := tr.Families()
	for _, ifc := range tr.Interfaces() {
		var ask []*question
		for _, q := range qs {
			if s.suppressed(q, ifc.Index, now) {
				suppressed++
				continue
			}
			ask = append(ask, q)
		}
		if len(ask) == 0 {
			continue
		}
		for _, f := range fams {
			if !ifc.HasFamily(f) {
				continue
			}
			msgs := buildQueries(ask, func(ch []*question) []dns.RR { return ka(ifc.Index, ch) }, mdns.PacketLimit(ifc.MTU, f))
			for _, m := range msgs {
				if err := tr.SendMulticast(ctx, m, ifc.Index, f); err != nil {
					logf("browse: sending query", "iface", ifc.Name, "family", f, "err", err)
					continue
				}
				packets++
				for _, qq := range m.Question {
					if qq.Qclass&dnsname.QU != 0 {
						s.lastQU[ifc.Index] = now
						break
					}
				}
				if m.Truncated {
					truncated++
				}
			}
		}
	}
	return packets, truncated, suppressed
}
