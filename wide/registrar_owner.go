package wide

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
)

// The registrar's state and the goroutine that owns it. Everything here
// that is not a method of Registrar taking a context runs on the owner
// (loop), through call; the methods that take a context run in the
// caller's goroutine, do the network I/O, and bring the results back
// through call.

// state is what the owner goroutine owns.
type state struct {
	closed  bool
	entries map[*entry]bool
	names   map[string]*entry   // dnsname.MustKey of each instance name held or being claimed
	ttls    map[string]*ttlSlot // TTLs of shared RRsets in the zone, by ttlKey
	host    hostState

	primary string        // the server found, once found
	finding chan struct{} // closed when the lookup of the server in flight ends; nil when none
}

// newState returns the state of a new registrar.
func newState() state {
	return state{entries: map[*entry]bool{}, names: map[string]*entry{}, ttls: map[string]*ttlSlot{}}
}

// list returns the entries.
func (st *state) list() []*entry {
	out := make([]*entry, 0, len(st.entries))
	for e := range st.entries {
		out = append(out, e)
	}
	return out
}

// entry is one service a Registrar publishes. r, reg and x are set when
// it is made; the rest is the owner's.
type entry struct {
	r   *Registrar
	reg *Registration
	x   *exchanger

	svc      *service
	label    string   // current instance label
	recs     *Records // the records in the zone, nil until registered
	granted  time.Duration
	hostRef  bool // holds a reference on the host's address records
	removed  bool
	timer    *time.Timer
	reserved string // dnsname.MustKey of the name held in state.names

	busy  bool            // an operation has the turn
	queue []chan struct{} // operations waiting for the turn, first first
}

// ttlSlot is what is known of the TTL of one shared RRset in the zone.
type ttlSlot struct {
	known  bool
	exists bool
	ttl    uint32
	asking chan struct{} // closed when the query in flight ends; nil when none
}

// hostState tracks the registrar's host address records, which every
// service pointing at the host shares.
type hostState struct {
	refs     int             // services using the records
	had      map[string]bool // dnsname.RRKey of address records in the zone before we wrote them; nil until looked up
	asking   chan struct{}   // closed when the lookup of had in flight ends; nil when none
	written  bool            // we wrote them and have not deleted them
	deleting chan struct{}   // closed when their deletion in flight ends; nil when none
}

// loop is the owner goroutine: it runs commands, one at a time, until the
// registrar is closed and holds no service.
func (r *Registrar) loop() {
	defer close(r.done)
	for {
		fn := <-r.cmds
		fn()
		if r.st.closed && len(r.st.entries) == 0 {
			return
		}
	}
}

// call runs fn on the owner goroutine and returns once it has run. fn
// must not block: no I/O, no waiting. call returns ErrClosed, without
// running fn, when the owner has ended.
func (r *Registrar) call(fn func()) error {
	ran := make(chan struct{})
	select {
	case r.cmds <- func() { fn(); close(ran) }:
		<-ran
		return nil
	case <-r.done:
		return ErrClosed
	}
}

// admit takes e in and gives it the turn, in one step: a Close after it
// finds e and waits for its Add. It returns false when the registrar is
// closed.
func (r *Registrar) admit(e *entry) bool {
	ok := false
	_ = r.call(func() {
		if r.st.closed {
			return
		}
		r.st.entries[e] = true
		e.busy = true
		ok = true
	})
	return ok
}

// entries returns the registrar's entries, or none once it has ended.
func (r *Registrar) entries() []*entry {
	var out []*entry
	_ = r.call(func() { out = r.st.list() })
	return out
}

// take waits for e's turn: the operations on one service (adding,
// refreshing, updating the TXT record, removing) run one at a time, in
// the order they asked. It fails with ctx's error when ctx ends first,
// and with ErrClosed when the owner has ended (e is gone).
func (r *Registrar) take(ctx context.Context, e *entry) error {
	var turn chan struct{}
	if err := r.call(func() {
		if !e.busy {
			e.busy = true
			return
		}
		turn = make(chan struct{})
		e.queue = append(e.queue, turn)
	}); err != nil {
		return err
	}
	if turn == nil {
		return nil
	}
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
	}
	_ = r.call(func() {
		if i := slices.Index(e.queue, turn); i >= 0 {
			e.queue = slices.Delete(e.queue, i, i+1)
		} else {
			r.release(e) // given to us meanwhile: pass it on
		}
	})
	return fmt.Errorf("waiting for the operation in progress on %q: %w", e.reg.Name(), context.Cause(ctx))
}

// release ends the turn of the operation on e: the next one waiting gets
// it. Owner only.
func (r *Registrar) release(e *entry) {
	if len(e.queue) > 0 {
		next := e.queue[0]
		e.queue = e.queue[1:]
		close(next)
		return
	}
	e.busy = false
}

// finish runs fn on the owner and ends the operation's turn on e.
func (r *Registrar) finish(e *entry, fn func()) {
	_ = r.call(func() {
		if fn != nil {
			fn()
		}
		r.release(e)
	})
}

// forget drops e from the registrar's tables. Owner only.
func (r *Registrar) forget(e *entry) {
	delete(r.st.entries, e)
	if e.reserved != "" && r.st.names[e.reserved] == e {
		delete(r.st.names, e.reserved)
	}
	e.reserved = ""
}

// reserve claims name for e within the registrar: it fails when another
// of our services holds it. A service moving to a new name gives up its
// old one. Owner only.
func (r *Registrar) reserve(name string, e *entry) bool {
	k := dnsname.MustKey(name)
	if o, ok := r.st.names[k]; ok && o != e {
		return false
	}
	if e.reserved != "" && e.reserved != k && r.st.names[e.reserved] == e {
		delete(r.st.names, e.reserved)
	}
	r.st.names[k], e.reserved = e, k
	return true
}

// schedule arms e's refresh timer (see refreshAfter); no refresh when
// leases are off. Owner only.
func (r *Registrar) schedule(e *entry, failed bool) {
	if r.lease == 0 || e.removed {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(refreshAfter(e.granted, r.lease, failed), func() {
		// Not bounded by a context: every wait in a refresh ends by
		// itself, and Close stops it before its next UPDATE.
		_ = r.refresh(context.Background(), e)
	})
}

// refreshAfter returns the wait before the next refresh: about 80% of the
// lease granted or, when the server grants none, of the lease asked for
// (RFC 9664: refresh before the lease ends), spread over 75-80% so that
// many registrars do not refresh in step; at most retryRefresh after a
// failure; never less than minRefresh.
func refreshAfter(granted, asked time.Duration, failed bool) time.Duration {
	base := granted
	if base <= 0 {
		base = asked
	}
	d := base*4/5 - time.Duration(rand.Int64N(int64(base/20)+1))
	if failed {
		d = min(d, retryRefresh)
	}
	return max(d, minRefresh)
}

// waitFor waits for ch to be closed, or ctx to end.
func waitFor(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
	}
}

// primaryAddr is Primary without the package prefix on errors. One
// caller looks the server up; the others wait for it.
func (r *Registrar) primaryAddr(ctx context.Context) (string, error) {
	if r.server != "" {
		return r.server, nil
	}
	for {
		var p string
		var wait chan struct{}
		if err := r.call(func() {
			switch {
			case r.st.primary != "":
				p = r.st.primary
			case r.st.finding != nil:
				wait = r.st.finding
			default:
				r.st.finding = make(chan struct{})
			}
		}); err != nil {
			return "", err
		}
		if p != "" {
			return p, nil
		}
		if wait != nil {
			if err := waitFor(ctx, wait, "the lookup of the zone's primary server"); err != nil {
				return "", err
			}
			continue
		}
		p, err := r.findPrimary(ctx)
		_ = r.call(func() {
			if err == nil {
				r.st.primary = p
			}
			close(r.st.finding)
			r.st.finding = nil
		})
		if err != nil {
			return "", err
		}
		r.log.Info("zone: updates go to the zone's primary server", "zone", r.zone, "server", p)
		return p, nil
	}
}

// findPrimary looks the zone's primary server up through the resolvers.
func (r *Registrar) findPrimary(ctx context.Context) (string, error) {
	resolvers := r.resolve
	if resolvers == nil {
		var err error
		if resolvers, err = systemResolvers(); err != nil {
			return "", err
		}
	}
	return findPrimary(ctx, r.zone, resolvers, r.timeout)
}

// acquireHost takes a reference on the host's address records for e,
// first noting which of them the zone already has (those are never
// deleted): one caller looks, the others wait for it. It waits for a
// deletion of the records in flight, which the records e's UPDATE adds
// must follow. Nothing happens when e holds a reference or writes no
// address records. An Add or refresh overtaken by Close stops here.
func (r *Registrar) acquireHost(ctx context.Context, e *entry) error {
	for {
		var wait chan struct{}
		var done bool
		var err error
		if cerr := r.call(func() {
			h := &r.st.host
			switch {
			case e.hostRef || len(e.svc.addrs) == 0:
				done = true
			case r.st.closed:
				err = ErrClosed
			case h.deleting != nil:
				wait = h.deleting
			case h.had != nil:
				h.refs++
				e.hostRef, done = true, true
			case h.asking != nil:
				wait = h.asking
			default:
				h.asking = make(chan struct{}) // this caller looks
			}
		}); cerr != nil {
			return cerr
		}
		switch {
		case err != nil:
			return err
		case done:
			return nil
		case wait != nil:
			if err := waitFor(ctx, wait, "the host's address records"); err != nil {
				return err
			}
			continue
		}
		had, err := hostHad(ctx, e.x, r.hostName)
		_ = r.call(func() {
			h := &r.st.host
			if err == nil {
				h.had = had
			}
			close(h.asking)
			h.asking = nil
		})
		if err != nil {
			return err
		}
	}
}

// hostHad asks which address records host has in the zone.
func hostHad(ctx context.Context, x *exchanger, host string) (map[string]bool, error) {
	had := map[string]bool{}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		got, err := x.query(ctx, host, qt)
		if err != nil {
			return nil, err
		}
		for _, rr := range got {
			had[dnsname.RRKey(rr)] = true
		}
	}
	return had, nil
}

// releaseHost gives up e's reference on the host's address records and,
// if it was the last, deletes those we wrote (RFC 2136 section 2.5.4);
// references taken meanwhile wait for the deletion.
func (r *Registrar) releaseHost(ctx context.Context, e *entry) error {
	var del []dns.RR
	if err := r.call(func() {
		if !e.hostRef {
			return
		}
		e.hostRef = false
		h := &r.st.host
		h.refs--
		if h.refs > 0 || !h.written {
			return
		}
		for _, rr := range addrRRs(r.hostName, r.addrs, r.ttl) {
			if !h.had[dnsname.RRKey(rr)] {
				del = append(del, rr)
			}
		}
		if len(del) > 0 {
			h.deleting = make(chan struct{})
		}
	}); err != nil || len(del) == 0 {
		return err
	}
	resp, err := e.x.exchange(ctx, removal(r.zone, del), "update")
	if err == nil && resp.Rcode != dns.RcodeSuccess {
		err = e.x.serverError("update", resp.Rcode)
	}
	_ = r.call(func() {
		h := &r.st.host
		if err == nil {
			h.written = false
		}
		close(h.deleting)
		h.deleting = nil
	})
	if err != nil {
		return fmt.Errorf("deleting the address records of %s: %w", r.hostName, err)
	}
	return nil
}

// ttlKey is the key of the RRset of name and type t in state.ttls.
func ttlKey(name string, t uint16) string {
	return dnsname.MustKey(name) + "/" + dns.TypeToString[t]
}

// sharedTTLs gives recs' shared records (the PTRs other instances share,
// the host's addresses) the TTL their RRset already has in the zone:
// adding an RR with another TTL would change the whole RRset's TTL (BIND
// does), and the zone would not be left as we found it. It returns the
// RRsets whose TTL nobody has asked yet, now marked as being asked by
// the caller, and the lookups of others to wait for. Owner only.
func (r *Registrar) sharedTTLs(recs *Records) (ask []dns.RR, wait []chan struct{}) {
	shared := []dns.RR{recs.ServicesPTR, recs.PTR}
	for _, p := range recs.SubtypePTRs {
		shared = append(shared, p)
	}
	shared = append(shared, recs.Addrs...)
	for _, rr := range shared {
		h := rr.Header()
		k := ttlKey(h.Name, h.Rrtype)
		slot := r.st.ttls[k]
		if slot == nil {
			slot = &ttlSlot{}
			r.st.ttls[k] = slot
		}
		switch {
		case slot.known:
			if slot.exists {
				h.Ttl = slot.ttl
			}
		case slot.asking != nil:
			wait = append(wait, slot.asking)
		default:
			slot.asking = make(chan struct{})
			ask = append(ask, rr)
		}
	}
	return ask, wait
}

// lookUpTTLs asks the server for the RRsets of ask (marked as being asked
// by sharedTTLs) and records what it finds, then waits for the lookups of
// others. Each RRset is looked up once per registrar.
func (r *Registrar) lookUpTTLs(ctx context.Context, x *exchanger, ask []dns.RR, wait []chan struct{}) error {
	for i, rr := range ask {
		h := rr.Header()
		got, err := x.query(ctx, h.Name, h.Rrtype)
		rest := ask[i+1:]
		_ = r.call(func() {
			slot := r.st.ttls[ttlKey(h.Name, h.Rrtype)]
			if err == nil {
				slot.known = true
				if len(got) > 0 {
					slot.exists, slot.ttl = true, got[0].Header().Ttl
				}
			}
			close(slot.asking)
			slot.asking = nil
			if err != nil {
				// Give up the others too: their waiters ask themselves.
				for _, rr := range rest {
					s := r.st.ttls[ttlKey(rr.Header().Name, rr.Header().Rrtype)]
					close(s.asking)
					s.asking = nil
				}
			}
		})
		if err != nil {
			return err
		}
	}
	for _, w := range wait {
		if err := waitFor(ctx, w, "the TTLs of the zone's shared records"); err != nil {
			return err
		}
	}
	return nil
}
