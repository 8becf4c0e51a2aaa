package wide

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
)

// Claiming a name: writing a service's records under its instance name,
// or a new one on a conflict. claim runs these steps, each a function of
// its own:
//
//  1. planClaim (owner): stop if the registrar is closing; take a name no
//     other service of this registrar holds (renaming, or a
//     *ConflictError with NoRename); build the records for it, with the
//     TTLs of the shared RRsets (sharedTTLs; those not known yet are
//     looked up, then the step runs again).
//  2. claimUpdate: the UPDATE that adds the records under what we presume
//     of the name (ownership.prerequisites): that it is free (RFC 2136
//     section 2.4.5) or holds our SRV and TXT (sections 2.4.2, 2.4.3).
//  3. classifyUpdate: the server's answer: applied, not as presumed
//     (YXDOMAIN, YXRRSET, NXRRSET), or failed.
//  4. When not as presumed, read the SRV and TXT records at the name;
//     judgeName says whether they are ours.
//  5. nextMove chooses: adopt the name (ours: send again presuming our
//     records), retry (nothing there: send again presuming the name
//     free, twice at most), rename ("Name (2)"), or fail (NoRename).
//
// commitClaim (owner) records what an applied UPDATE wrote.

// ownership is what an UPDATE of a claim presumes about the instance
// name: nothing there (RFC 2136 section 2.4.5), or our records: the SRV
// and TXT RRsets exactly ours (section 2.4.2) or, where we saw none,
// absent (section 2.4.3).
type ownership struct {
	owned    bool
	srv, txt bool // when owned: whether our SRV, our TXT is there
}

// ours is the ownership of a name that holds all our records.
var ours = ownership{owned: true, srv: true, txt: true}

// prerequisites adds own's prerequisites for recs to m.
func (own ownership) prerequisites(m *dns.Msg, recs *Records) {
	if !own.owned {
		m.NameNotUsed([]dns.RR{recs.SRV}) // RFC 2136 section 2.4.5
		return
	}
	for _, p := range []struct {
		rr      dns.RR
		present bool
	}{{recs.SRV, own.srv}, {recs.TXT, own.txt}} {
		if p.present {
			m.Used(copies(p.rr)) // RFC 2136 section 2.4.2
		} else {
			m.RRsetNotUsed([]dns.RR{p.rr}) // RFC 2136 section 2.4.3
		}
	}
}

// claimState is where a claim stands between its exchanges.
type claimState struct {
	asked  string    // the name when the claim began
	own    ownership // what the next UPDATE presumes
	reason string    // why the name changed, when it did
	empty  int       // times the name held neither SRV nor TXT after a failed UPDATE
	steps  int       // UPDATEs sent and local renames
}

// claim writes e's records under its name, or a new one on a conflict
// (see the steps above). own is what the first UPDATE presumes: a refresh
// presumes our records are there, a new registration that the name is
// free. The caller has e's turn.
func (r *Registrar) claim(ctx context.Context, e *entry, own ownership) error {
	if err := r.acquireHost(ctx, e); err != nil {
		return err
	}
	c := &claimState{asked: e.reg.Name(), own: own}
	for c.steps < maxClaimSteps {
		recs, err := r.claimRecords(ctx, e, c) // step 1
		if err != nil {
			return err
		}
		c.steps++
		resp, err := e.x.exchange(ctx, claimUpdate(r.zone, r.lease, c.own, recs), "update") // step 2
		if err != nil {
			return err
		}
		switch classifyUpdate(resp) { // step 3
		case updateApplied:
			return r.commitClaim(e, c, recs, grantedLease(resp))
		case updateFailed:
			return e.x.serverError("update", resp.Rcode)
		}
		srvs, err := e.x.query(ctx, recs.Instance, dns.TypeSRV) // step 4
		if err != nil {
			return err
		}
		txts, err := e.x.query(ctx, recs.Instance, dns.TypeTXT)
		if err != nil {
			return err
		}
		existing, found := judgeName(recs, srvs, txts)
		switch nextMove(found, existing, c.empty, r.noRename) { // step 5
		case moveAdopt:
			c.own = found
		case moveRetry:
			c.empty++
			c.own = ownership{}
		case moveConflict:
			return &ConflictError{Name: recs.Instance, Server: e.x.server, Existing: existing}
		case moveRename:
			held := heldBy(existing)
			c.reason = fmt.Sprintf("name %q is taken in zone %s by %s", recs.Instance, r.zone, held)
			r.log.Info("zone: name conflict, renaming", "name", recs.Instance, "existing", held)
			_ = r.call(func() { e.label = dnsname.NextInstanceLabel(e.label) })
			c.own, c.empty = ownership{}, 0
		}
	}
	return fmt.Errorf("no free instance name after %d updates", maxClaimSteps)
}

// claimRecords is step 1: planClaim on the owner, with the lookups of
// TTLs it asks for done here, until the records are ready.
func (r *Registrar) claimRecords(ctx context.Context, e *entry, c *claimState) (*Records, error) {
	for {
		var (
			recs *Records
			ask  []dns.RR
			wait []chan struct{}
			err  error
		)
		if cerr := r.call(func() { recs, ask, wait, err = r.planClaim(e, c) }); cerr != nil {
			return nil, cerr
		}
		if err != nil {
			return nil, err
		}
		if len(ask) == 0 && len(wait) == 0 {
			return recs, nil
		}
		if err := r.lookUpTTLs(ctx, e.x, ask, wait); err != nil {
			return nil, err
		}
	}
}

// planClaim is the owner's part of step 1. Stopping when the registrar
// is closed, here before every UPDATE, is what keeps an Add that Close
// overtook from writing. Owner only.
func (r *Registrar) planClaim(e *entry, c *claimState) (*Records, []dns.RR, []chan struct{}, error) {
	if r.st.closed {
		return nil, nil, nil, ErrClosed
	}
	for {
		name := e.svc.instanceName(e.label)
		if r.reserve(name, e) {
			break
		}
		if r.noRename {
			return nil, nil, nil, &ConflictError{Name: name, Server: e.x.server, Local: true}
		}
		if c.steps++; c.steps >= maxClaimSteps {
			return nil, nil, nil, fmt.Errorf("no free instance name after %d updates", maxClaimSteps)
		}
		c.reason = fmt.Sprintf("name %q is already registered by this registrar", name)
		e.label = dnsname.NextInstanceLabel(e.label)
		c.own = ownership{}
	}
	recs := e.svc.records(e.label)
	ask, wait := r.sharedTTLs(recs)
	return recs, ask, wait, nil
}

// commitClaim records what an applied UPDATE wrote, renaming the
// registration if the name changed. It records even when the registrar
// is closing, so that Close deletes what was written.
func (r *Registrar) commitClaim(e *entry, c *claimState, recs *Records, granted time.Duration) error {
	return r.call(func() {
		e.recs, e.granted = recs, granted
		if e.hostRef {
			r.st.host.written = true
		}
		name := recs.Instance
		if dnsname.Equal(name, c.asked) {
			e.reg.st.SetName(name)
			return
		}
		reason := c.reason
		if reason == "" {
			reason = fmt.Sprintf("name %q was taken", c.asked)
		}
		e.reg.st.SetRenamed(name, reason)
		e.reg.st.Deliver(sd.RegistrationEvent{Kind: sd.Renamed, Old: c.asked, New: name, Reason: reason})
	})
}

// newUpdate returns an UPDATE for zone (RFC 2136 section 2.3) with the
// Update Lease option (RFC 9664) asking for lease, when lease > 0.
func newUpdate(zone string, lease time.Duration) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(ednsSize)
	if lease > 0 {
		secs := uint32(min(lease/time.Second, 1<<32-1))
		opt.Option = append(opt.Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: secs})
	}
	m.Extra = append(m.Extra, opt)
	return m
}

// claimUpdate is step 2: the UPDATE that adds recs (RFC 2136 section
// 2.5.1) provided the name is as own presumes, asking for lease.
func claimUpdate(zone string, lease time.Duration, own ownership, recs *Records) *dns.Msg {
	m := newUpdate(zone, lease)
	own.prerequisites(m, recs)
	m.Insert(copies(recs.RRs()...))
	return m
}

// txtUpdate is the UPDATE that replaces the TXT record of old by that of
// updated, provided old's SRV and TXT are still there (RFC 2136 section
// 2.4.2): delete the old TXT RR (section 2.5.4), add the new one (2.5.1).
func txtUpdate(zone string, lease time.Duration, old, updated *Records) *dns.Msg {
	m := newUpdate(zone, lease)
	m.Used(copies(old.SRV, old.TXT))
	m.Remove(copies(old.TXT))
	m.Insert(copies(updated.TXT))
	return m
}

// removal is the UPDATE that deletes exactly rrs, one RR at a time (RFC
// 2136 section 2.5.4), so that other RRs of their RRsets stay.
func removal(zone string, rrs []dns.RR) *dns.Msg {
	m := newUpdate(zone, 0)
	m.Remove(copies(rrs...))
	return m
}

// enumerationRemoval is the UPDATE that deletes the shared service type
// enumeration PTR of recs only if no instance of the type is left: RFC
// 2136 section 2.4.3, "RRset does not exist", makes the check and the
// deletion one atomic update. YXRRSET means other instances remain.
func enumerationRemoval(zone string, recs *Records) *dns.Msg {
	m := newUpdate(zone, 0)
	m.RRsetNotUsed([]dns.RR{recs.PTR})
	m.Remove(copies(recs.ServicesPTR))
	return m
}

// grantedLease returns the lease in an UPDATE response's Update Lease
// option (RFC 9664), or 0 when the server granted none.
func grantedLease(m *dns.Msg) time.Duration {
	opt := m.IsEdns0()
	if opt == nil {
		return 0
	}
	for _, o := range opt.Option {
		if ul, ok := o.(*dns.EDNS0_UL); ok {
			return time.Duration(ul.Lease) * time.Second
		}
	}
	return 0
}

// copies returns deep copies of rrs: miekg/dns's update helpers change the
// headers of what they are given.
func copies(rrs ...dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

// updateOutcome is what the answer to a claim's UPDATE says.
type updateOutcome int

const (
	// updateApplied: NOERROR, the records are in the zone.
	updateApplied updateOutcome = iota
	// updateNotAsPresumed: a prerequisite failed (RFC 2136 section 3.2:
	// YXDOMAIN, YXRRSET, NXRRSET): the name is in use, by us after a
	// crash or a restart or by someone else, or our records changed
	// since we looked.
	updateNotAsPresumed
	// updateFailed: any other RCODE: an error to report.
	updateFailed
)

// classifyUpdate is step 3.
func classifyUpdate(resp *dns.Msg) updateOutcome {
	switch resp.Rcode {
	case dns.RcodeSuccess:
		return updateApplied
	case dns.RcodeYXDomain, dns.RcodeNXRrset, dns.RcodeYXRrset:
		return updateNotAsPresumed
	}
	return updateFailed
}

// judgeName is step 4: it reads the SRV and TXT records found under
// recs.Instance. The name is ours when it holds at least one of them and
// every SRV and TXT there is exactly ours (rdata compared, TTLs and the
// case of names ignored): a registration of ours, or its remains. It
// returns the records found and what the next UPDATE may presume: our
// records (those present) when the name is ours, else nothing.
func judgeName(recs *Records, srvs, txts []dns.RR) ([]dns.RR, ownership) {
	var existing []dns.RR
	own := ownership{owned: true}
	for _, p := range []struct {
		want dns.RR
		got  []dns.RR
	}{{recs.SRV, srvs}, {recs.TXT, txts}} {
		existing = append(existing, p.got...)
		switch {
		case len(p.got) == 0:
		case len(p.got) == 1 && dnsname.RRKey(p.got[0]) == dnsname.RRKey(p.want):
			if p.want.Header().Rrtype == dns.TypeSRV {
				own.srv = true
			} else {
				own.txt = true
			}
		default:
			own.owned = false
		}
	}
	if len(existing) == 0 || !own.owned {
		return existing, ownership{}
	}
	return existing, own
}

// move is what a claim does after an UPDATE whose presumption failed.
type move int

const (
	// moveAdopt: the name holds our records: send again presuming them.
	moveAdopt move = iota
	// moveRetry: the name holds neither SRV nor TXT (it is free now, or
	// holds other records): send again presuming it free.
	moveRetry
	// moveRename: someone else holds the name: try the next one.
	moveRename
	// moveConflict: someone else holds the name and renaming is off.
	moveConflict
)

// maxEmptyRetries is how often a claim sends again to a name that looked
// free after its UPDATE failed, before taking it as someone else's.
const maxEmptyRetries = 2

// nextMove is step 5: found is judgeName's verdict on the records
// existing at the name, empties the retries already made.
func nextMove(found ownership, existing []dns.RR, empties int, noRename bool) move {
	switch {
	case found.owned:
		return moveAdopt
	case len(existing) == 0 && empties < maxEmptyRetries:
		return moveRetry
	case noRename:
		return moveConflict
	}
	return moveRename
}

// heldBy names what holds a name, for messages: the records found, or
// "other records" when none of them is an SRV or TXT.
func heldBy(existing []dns.RR) string {
	if len(existing) == 0 {
		return "other records"
	}
	parts := make([]string, len(existing))
	for i, rr := range existing {
		parts[i] = rrData(rr)
	}
	return strings.Join(parts, ", ")
}
