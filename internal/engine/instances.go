package engine

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// instKey keys a followed instance: the interface its records arrived on
// and the key of its name. Multicast DNS names are per link (RFC 6762
// section 1: "local." names are meaningful only on the link where they
// are announced), so the same name seen on two interfaces is two
// instances. The unicast DNS poller caches everything on one interface
// (its servers), where an instance is its name alone.
type instKey struct {
	ifIndex int
	name    string
}

// compareInstKeys orders keys by name, then interface.
func compareInstKeys(a, b instKey) int {
	if c := compareStrings(a.name, b.name); c != 0 {
		return c
	}
	return a.ifIndex - b.ifIndex
}

// tracked is an instance the engine follows on one interface: named by a
// PTR record received there under a browsed type, or pinned by resolution
// and seen there (its SRV or TXT record arrived there).
type tracked struct {
	key    instKey
	name   string // presentation form as first seen
	pinned bool   // resolution: followed without a PTR record
	// ptrs are the cached PTR records of its interface (under any browsed
	// type or subtype) that point at the instance.
	ptrs map[*Entry]struct{}
	// host is the key of the SRV target last seen, "" if none.
	host string
	// last is the instance as last reported by Add or Update; nil while it
	// was never reported (or since it was removed).
	last *sd.Instance
	// noAddrSince is when the instance was first found with its SRV and
	// TXT records but without an address, before it was reported; zero
	// otherwise. It is reported without address once Config.AddressWait
	// has passed since.
	noAddrSince time.Time
}

// present reports whether t is still announced on its interface: a PTR
// record names it, or it is pinned and its SRV or TXT record is there.
func (e *Engine) present(t *tracked) bool {
	if len(t.ptrs) > 0 {
		return true
	}
	return t.pinned && (e.cache.hasOn(t.key.ifIndex, setKey{name: t.key.name, rrtype: dns.TypeSRV}) ||
		e.cache.hasOn(t.key.ifIndex, setKey{name: t.key.name, rrtype: dns.TypeTXT}))
}

// get returns the instance followed under k, nil if none.
func (e *Engine) get(k instKey) *tracked { return e.tracked[k.name][k.ifIndex] }

// track returns the instance name followed on ifIndex, creating it.
func (e *Engine) track(ifIndex int, name string) *tracked {
	k := instKey{ifIndex: ifIndex, name: dnsname.MustKey(name)}
	if t := e.get(k); t != nil {
		return t
	}
	t := &tracked{key: k, name: name, ptrs: map[*Entry]struct{}{}}
	_, t.pinned = e.pins[k.name]
	m := e.tracked[k.name]
	if m == nil {
		m = map[int]*tracked{}
		e.tracked[k.name] = m
	}
	m[ifIndex] = t
	return t
}

// untrack forgets t.
func (e *Engine) untrack(t *tracked) {
	e.setHost(t, "")
	delete(e.waiting, t.key)
	if m := e.tracked[t.key.name]; m != nil {
		delete(m, t.key.ifIndex)
		if len(m) == 0 {
			delete(e.tracked, t.key.name)
		}
	}
}

// eachTracked calls f for every followed instance, in no particular order.
func (e *Engine) eachTracked(f func(*tracked)) {
	for _, m := range e.tracked {
		for _, t := range m {
			f(t)
		}
	}
}

// recordChanged notes that en was added to the cache (or its data changed),
// marking the instances it belongs to, on its interface, for
// recomputation.
func (e *Engine) recordChanged(en *Entry, added bool) {
	switch en.set.rrtype {
	case dns.TypePTR:
		e.ptrChanged(en, added)
	case dns.TypeSRV, dns.TypeTXT:
		k := instKey{ifIndex: en.ifIndex, name: en.set.name}
		if e.get(k) != nil {
			e.dirty[k] = true
		} else if name, ok := e.pins[en.set.name]; ok && added {
			// A pinned instance is followed on every interface its
			// records arrive on.
			e.track(en.ifIndex, name)
			e.dirty[k] = true
		}
	case dns.TypeA, dns.TypeAAAA:
		for k := range e.hostIdx[en.set.name] {
			if k.ifIndex == en.ifIndex {
				e.dirty[k] = true
			}
		}
	}
}

// goodbyeSeen marks for recomputation the instance that en, a PTR or SRV
// record just said goodbye to, names or belongs to on its interface
// (Config.RemoveOnGoodbye; see leaving).
func (e *Engine) goodbyeSeen(en *Entry) {
	var k instKey
	switch en.set.rrtype {
	case dns.TypePTR:
		ptr, ok := en.rr.(*dns.PTR)
		if !ok {
			return
		}
		k = instKey{ifIndex: en.ifIndex, name: dnsname.MustKey(ptr.Ptr)}
	case dns.TypeSRV:
		k = instKey{ifIndex: en.ifIndex, name: en.set.name}
	default:
		return
	}
	if e.get(k) != nil {
		e.dirty[k] = true
	}
}

// leaving reports whether t is said goodbye to, under
// Config.RemoveOnGoodbye: every PTR record naming it, or every SRV record
// of it, on its interface had a goodbye (TTL 0) and has not been announced
// again since. Those records are cached for one more second (RFC 6762
// section 10.1); a leaving instance is not reported meanwhile.
func (e *Engine) leaving(t *tracked, srv *Entry) bool {
	if !e.earlyGoodbye {
		return false
	}
	if srv != nil && srv.goodbye {
		return true // bestSRV prefers live records: every SRV is going
	}
	if len(t.ptrs) == 0 {
		return false
	}
	for en := range t.ptrs {
		if !en.goodbye {
			return false
		}
	}
	return true
}

// entryRemoved is called by the cache for every record that leaves it.
func (e *Engine) entryRemoved(en *Entry) { e.recordChanged(en, false) }

// ptrChanged handles a PTR record: under a browsed type it names an
// instance on its interface; under the enumeration name it names a
// service type.
func (e *Engine) ptrChanged(en *Entry, added bool) {
	ptr, ok := en.rr.(*dns.PTR)
	if !ok {
		return
	}
	if en.set.name == servicesKey {
		if added && e.enumerating {
			e.typeSeen(ptr.Ptr, en.received)
		}
		return
	}
	if _, browsed := e.types[en.set.name]; !browsed {
		return
	}
	tk := instKey{ifIndex: en.ifIndex, name: dnsname.MustKey(ptr.Ptr)}
	t := e.get(tk)
	if added {
		if t == nil {
			t = e.track(en.ifIndex, ptr.Ptr)
		}
		t.ptrs[en] = struct{}{}
	} else if t != nil {
		delete(t.ptrs, en)
	}
	if t != nil {
		e.dirty[tk] = true
	}
}

// setHost points t at host key h in the host index.
func (e *Engine) setHost(t *tracked, h string) {
	if t.host == h {
		return
	}
	if t.host != "" {
		if m := e.hostIdx[t.host]; m != nil {
			delete(m, t.key)
			if len(m) == 0 {
				delete(e.hostIdx, t.host)
			}
		}
	}
	t.host = h
	if h != "" {
		m := e.hostIdx[h]
		if m == nil {
			m = map[instKey]bool{}
			e.hostIdx[h] = m
		}
		m[t.key] = true
	}
}

// flushDirty recomputes every instance marked dirty and queues its events:
//
//   - Add when it becomes reportable: complete (SRV, TXT, an address), or
//     with SRV and TXT but no address once Config.AddressWait has passed
//     since it was first found so (then with empty Addrs and a warning
//     naming the host without address, see noAddressFinding);
//   - Update when its TXT record, port, target, addresses or the address
//     families it was seen over change (a reported instance that loses
//     its last address is updated at once, not held back);
//   - Remove when it stops being reportable: its PTR record is gone
//     (goodbye, expiry, flush, or its interface went away), or it lost its
//     SRV or TXT record.
//
// Then it asks for what the pinned instances not yet seen anywhere lack.
func (e *Engine) flushDirty(now time.Time) {
	if len(e.dirty) > 0 {
		keys := make([]instKey, 0, len(e.dirty))
		for k := range e.dirty {
			keys = append(keys, k)
		}
		clear(e.dirty)
		slices.SortFunc(keys, compareInstKeys)
		for _, k := range keys {
			if t := e.get(k); t != nil {
				e.settleOne(t, now)
			}
		}
	}
	if len(e.pinAsk) > 0 {
		keys := make([]string, 0, len(e.pinAsk))
		for k := range e.pinAsk {
			keys = append(keys, k)
		}
		clear(e.pinAsk)
		slices.Sort(keys)
		for _, k := range keys {
			if len(e.tracked[k]) == 0 {
				// Seen on no interface yet: its SRV and TXT records, by
				// name, on every interface.
				name := e.pins[k]
				e.ask.Resolve([]Question{{Name: name, Type: dns.TypeSRV}, {Name: name, Type: dns.TypeTXT}}, now)
			}
		}
	}
}

// settleOne recomputes t and queues its event (see flushDirty).
func (e *Engine) settleOne(t *tracked, now time.Time) {
	inst, st, host := e.assemble(t)
	e.setHost(t, host)
	delete(e.waiting, t.key)
	report := false
	switch st {
	case stateComplete:
		report = true
		t.noAddrSince = time.Time{}
	case stateNoAddress:
		if t.noAddrSince.IsZero() {
			t.noAddrSince = now
		}
		due := t.noAddrSince.Add(e.addrWait)
		// A reported instance that lost its addresses is updated at once;
		// a new one waits for the resolution window.
		if t.last != nil || !now.Before(due) {
			report = true
			inst.Report.Findings = append([]*txt.Error{noAddressFinding(inst.Host)}, inst.Report.Findings...)
			if t.last == nil || len(t.last.Addrs) > 0 {
				e.log.Debug("browse: reporting instance without address", "name", inst.Name, "iface", e.ask.IfaceName(t.key.ifIndex), "host", inst.Host)
			}
		} else {
			e.waiting[t.key] = due
			e.log.Debug("browse: instance without address, waiting", "name", inst.Name, "iface", e.ask.IfaceName(t.key.ifIndex), "host", inst.Host, "until", due)
		}
	default:
		t.noAddrSince = time.Time{}
	}
	switch {
	case report && t.last == nil:
		t.last = &inst
		e.emit(sd.Event{Kind: sd.Add, Instance: inst, Time: now})
	case report && changed(*t.last, inst):
		t.last = &inst
		e.emit(sd.Event{Kind: sd.Update, Instance: inst, Time: now})
	case report:
		// Only the TTL changed: no event.
		t.last = &inst
	case t.last != nil:
		last := *t.last
		t.last = nil
		e.emit(sd.Event{Kind: sd.Remove, Instance: last, Time: now})
	}
	present := e.present(t)
	if st != stateComplete && present {
		e.askMissing(t, now)
	}
	if !present && t.last == nil {
		e.untrack(t)
		if _, ok := e.pins[t.key.name]; ok {
			e.pinAsk[t.key.name] = true
		}
	}
}

// noAddressFinding is the warning an instance reported without address
// carries in its Report: its SRV target has no A or AAAA record.
func noAddressFinding(host string) *txt.Error {
	return &txt.Error{
		Severity: txt.Warning,
		Offset:   -1,
		Rule:     "RFC 6763 section 5",
		Reason:   fmt.Sprintf("no address for host %q", host),
	}
}

// emit queues ev for delivery, or gives it to the sink.
func (e *Engine) emit(ev sd.Event) {
	if e.sink != nil {
		e.sink(ev)
		return
	}
	e.pending = append(e.pending, ev)
}

// changed reports whether b differs from a in what an Update reports:
// TXT record, port, target host, addresses, and the address families the
// instance was seen over (Seen).
func changed(a, b sd.Instance) bool {
	if a.Port != b.Port || !dnsname.Equal(a.Host, b.Host) {
		return true
	}
	if !slices.Equal(a.Addrs, b.Addrs) || !slices.Equal(a.Seen, b.Seen) {
		return true
	}
	wa, _ := a.TXT.Encode()
	wb, _ := b.TXT.Encode()
	return !bytes.Equal(wa, wb)
}

// Instances returns the reported instances, sorted by name, then
// interface.
func (e *Engine) Instances() []sd.Instance {
	var out []sd.Instance
	e.eachTracked(func(t *tracked) {
		if t.last != nil {
			out = append(out, *t.last)
		}
	})
	slices.SortFunc(out, compareInstances)
	return out
}

// compareInstances orders instances by name, then interface.
func compareInstances(a, b sd.Instance) int {
	if c := compareStrings(a.Name, b.Name); c != 0 {
		return c
	}
	return slices.Compare(a.Ifaces, b.Ifaces)
}
