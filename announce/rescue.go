package announce

import (
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
)

// Goodbye rescue (RFC 6762 sections 10.1 and 10.2). A querier that hears a
// goodbye (TTL 0) does not delete the record at once: it keeps it for one
// more second, "to give the other cooperating responders one second to
// send out their own response to 'rescue' the records before they expire
// and are deleted" (section 10.1). Likewise a record with the cache-flush
// bit makes a querier expire, one second later, the other records of its
// RRset received more than a second before (section 10.2). So another host
// on the link (a buggy responder, a former owner, or a spoofer) can make
// every browser there drop one of our records, unless we multicast it
// again within that second. The responder does, on the interface and
// address family the packet came in on:
//
//   - for a goodbye of a record we own and answer with there (same name,
//     type, class and rdata, compared as dnsname.RRKey), unique or shared;
//   - for a record with the cache-flush bit whose RRset (name and type) is
//     one of our shared RRsets (the PTR records of DNS-SD) and which
//     carries other data, for each of our records of that RRset that the
//     packet does not hold itself (section 10.2: records of one packet do
//     not flush each other). The same on one of our unique RRsets is a
//     conflict (section 9) and stays conflict.go's business: the name is
//     probed again, and the records are not answered meanwhile.
//
// Our own packets are never rescued: neither a packet from one of our own
// addresses (our goodbyes, looped back or heard through another of our
// interfaces on the same link) nor a goodbye for a record we no longer
// answer with there (a service removed, an address gone, a name being
// probed again). Linux drops, as a martian, a packet from the network whose
// source is one of the receiving host's own addresses, so a spoofer cannot
// pass for us this way.
//
// Timing and the rate limit. A record is multicast at most once per second
// per interface (section 6.2: a MUST, whose only exception is the defence
// against a probe). A rescued unique record goes out at once, a shared one
// after the random 20-120 ms of section 6 (several hosts may own it, the
// enumeration PTR for instance: the delay lets duplicate answer suppression,
// section 7.4, keep all but one of their rescues), unless it was multicast
// on that interface less than a second before. Then it goes out exactly one
// second after that last multicast, which is still before the goodbye's
// second runs out, since that multicast came before the goodbye: the margin
// is the time between the two. So only a goodbye sent within a few
// milliseconds after our own multicast can make a browser drop the record
// (when our rescue reaches it later than that margin; it then learns the
// record again from the rescue, a moment later). A spoofer that times its
// goodbyes so can win that race every time: the price of the MUST of
// section 6.2, which this responder keeps. A record multicast again for
// another reason after the goodbye (an answer to a query) needs no rescue
// any more.
//
// Section 6.6 also asks a responder to announce again a record of its that
// another host sends with less than half its TTL; only the goodbye (TTL 0)
// is handled here.

// rescueEntry is one record of ours waiting for the rate limit to allow
// its rescue on one interface and family.
type rescueEntry struct {
	rc   rec
	seen time.Time // when the last goodbye or cache-flush record for it came
}

// rescueBatch holds the rescues waiting on one interface and family, sent
// by one timer: at most one entry per record of ours, however many goodbyes
// come.
type rescueBatch struct {
	recs map[string]rescueEntry // by rec.key
	task *task
}

// rescue looks at response p, from the link (its records rrs), for
// goodbyes and cache-flush records that would make the caches there lose
// records of ours, and multicasts those again (see above).
func (r *Responder) rescue(p *mdns.Packet, rrs []dns.RR) {
	if !p.Multicast() || r.fromUs(p) {
		return
	}
	ifc, ok := r.tr.Interface(p.IfIndex)
	if !ok {
		return
	}
	ix := r.index(ifc)
	var found []rec
	picked := map[string]bool{}
	// The RRsets of ours that p flushes, with the keys of the records of
	// each it holds itself.
	type rrset struct {
		name string
		typ  uint16
	}
	var flushed map[rrset]map[string]bool
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT || h.Class&^dnsname.CacheFlush != dns.ClassINET {
			continue
		}
		nk, ok := dnsname.Key(h.Name)
		if !ok {
			continue
		}
		ours := ix.byName[nk]
		if len(ours) == 0 {
			continue
		}
		switch {
		case h.Ttl == 0:
			// RFC 6762 section 10.1: a goodbye for one of our records.
			k := dnsname.RRKey(rr)
			if i := slices.IndexFunc(ours, func(rc rec) bool { return rc.key == k }); i >= 0 && !picked[k] {
				picked[k] = true
				found = append(found, ours[i])
			}
		case h.Class&dnsname.CacheFlush != 0:
			// Section 10.2: a cache-flush record for one of our shared
			// RRsets flushes our records of it that it does not hold.
			if !slices.ContainsFunc(ours, func(rc rec) bool { return !rc.unique && rc.rr.Header().Rrtype == h.Rrtype }) {
				continue // none, or one of our unique RRsets: section 9
			}
			s := rrset{nk, h.Rrtype}
			if flushed == nil {
				flushed = map[rrset]map[string]bool{}
			}
			if flushed[s] == nil {
				flushed[s] = map[string]bool{}
			}
			flushed[s][dnsname.RRKey(rr)] = true
		}
	}
	for s, held := range flushed {
		for _, rc := range ix.byName[s.name] {
			if !rc.unique && rc.rr.Header().Rrtype == s.typ && !held[rc.key] && !picked[rc.key] {
				picked[rc.key] = true
				found = append(found, rc)
			}
		}
	}
	if len(found) == 0 {
		return
	}
	t := target{ifc: ifc, fam: p.Family}
	now := time.Now()
	var unique, shared, later []rec
	for _, rc := range found {
		if at, ok := r.lastMC[mcKey{rc.key, t.key()}]; ok && now.Sub(at) < rateLimit {
			// Section 6.2: not before a second since its last multicast.
			r.deferRescue(t.key(), rc, now, at.Add(rateLimit))
			later = append(later, rc)
			continue
		}
		if rc.unique {
			unique = append(unique, rc)
		} else {
			shared = append(shared, rc)
		}
	}
	r.log.Debug("mdns: goodbye or cache flush from another host for records of ours; multicasting them again (RFC 6762 sections 10.1, 10.2)",
		"from", p.Src, "if", ifc.Name, "family", int(p.Family), "now", recNames(append(unique, shared...)), "after rate limit", recNames(later))
	if len(unique) > 0 {
		r.sendAnswers(t, unique)
	}
	if len(shared) > 0 {
		// Section 6: shared records after 20-120 ms, aggregated with any
		// answer pending there.
		r.enqueue(t, shared, randDuration(sharedDelayMin, sharedDelayMax))
	}
}

// deferRescue schedules the rescue of rc on tk at due (or earlier, with
// others): a goodbye for it was seen at seen.
func (r *Responder) deferRescue(tk targetKey, rc rec, seen, due time.Time) {
	if r.rescues == nil {
		r.rescues = map[targetKey]*rescueBatch{}
	}
	b := r.rescues[tk]
	if b == nil {
		b = &rescueBatch{recs: map[string]rescueEntry{}}
		r.rescues[tk] = b
	}
	// The latest goodbye counts: a multicast before it rescued only the
	// earlier ones.
	b.recs[rc.key] = rescueEntry{rc: rc, seen: seen}
	if b.task == nil || due.Before(b.task.at) {
		b.task.cancel()
		b.task = r.after(time.Until(due), func() { r.rescueDue(tk) })
	}
}

// rescueDue multicasts the rescues waiting on tk that the rate limit now
// allows, forgets those no longer needed (the record is no longer ours
// there, or was multicast since the goodbye) and waits for the others.
func (r *Responder) rescueDue(tk targetKey) {
	b := r.rescues[tk]
	if b == nil {
		return
	}
	b.task = nil
	ifc, ok := r.tr.Interface(tk.ifIndex)
	if !ok {
		delete(r.rescues, tk)
		return
	}
	ix := r.index(ifc)
	now := time.Now()
	var send []rec
	var next time.Time
	for k, en := range b.recs {
		at, sent := r.lastMC[mcKey{k, tk}]
		switch {
		case !ix.keys[k], sent && at.After(en.seen):
			delete(b.recs, k)
		case sent && now.Sub(at) < rateLimit:
			if due := at.Add(rateLimit); next.IsZero() || due.Before(next) {
				next = due
			}
		default:
			send = append(send, en.rc)
			delete(b.recs, k)
		}
	}
	if len(send) > 0 {
		slices.SortFunc(send, func(a, b rec) int { return strings.Compare(a.key, b.key) })
		r.log.Debug("mdns: rescuing records of ours once the rate limit allows (RFC 6762 sections 6.2, 10.1)", "if", ifc.Name, "family", int(tk.fam), "records", recNames(send))
		r.sendAnswers(target{ifc: ifc, fam: tk.fam}, send)
	}
	switch {
	case len(b.recs) == 0:
		delete(r.rescues, tk)
	case !next.IsZero():
		b.task = r.after(time.Until(next), func() { r.rescueDue(tk) })
	}
}

// fromUs reports whether p came from one of our own addresses: our own
// multicast, looped back or heard through another of our interfaces.
func (r *Responder) fromUs(p *mdns.Packet) bool {
	src := p.Src.Addr().Unmap().WithZone("")
	for _, ifc := range r.tr.Interfaces() {
		for _, a := range ifc.Addrs {
			if a.Unmap().WithZone("") == src {
				return true
			}
		}
	}
	return false
}

// recNames describes records for the logs: "name/TYPE" each.
func recNames(recs []rec) []string {
	out := make([]string, 0, len(recs))
	for _, rc := range recs {
		h := rc.rr.Header()
		out = append(out, h.Name+"/"+dns.TypeToString[h.Rrtype])
	}
	return out
}
