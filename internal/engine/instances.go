package engine

import (
	"bytes"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
)

// tracked is an instance the engine follows: named by a PTR record under
// a browsed type, or pinned by resolution.
type tracked struct {
	key    string // dnsname.Key of the instance name
	name   string // presentation form as first seen
	pinned bool   // resolution: followed without a PTR record
	// ptrs are the cached PTR records (on any interface, under any browsed
	// type or subtype) that point at the instance.
	ptrs map[*Entry]struct{}
	// host is the key of the SRV target last seen, "" if none.
	host string
	// last is the instance as last reported by Add or Update; nil while it
	// is not complete (never reported, or removed).
	last *sd.Instance
}

// present reports whether the instance is still announced.
func (t *tracked) present() bool { return t.pinned || len(t.ptrs) > 0 }

// track returns the tracked instance for name, creating it.
func (e *Engine) track(name string) *tracked {
	k := dnsname.MustKey(name)
	t := e.tracked[k]
	if t == nil {
		t = &tracked{key: k, name: name, ptrs: map[*Entry]struct{}{}}
		e.tracked[k] = t
	}
	return t
}

// recordChanged notes that en was added to the cache (or its data changed),
// marking the instances it belongs to for recomputation.
func (e *Engine) recordChanged(en *Entry, added bool) {
	switch en.set.rrtype {
	case dns.TypePTR:
		e.ptrChanged(en, added)
	case dns.TypeSRV, dns.TypeTXT:
		if _, ok := e.tracked[en.set.name]; ok {
			e.dirty[en.set.name] = true
		}
	case dns.TypeA, dns.TypeAAAA:
		for k := range e.hostIdx[en.set.name] {
			e.dirty[k] = true
		}
	}
}

// entryRemoved is called by the cache for every record that leaves it.
func (e *Engine) entryRemoved(en *Entry) { e.recordChanged(en, false) }

// ptrChanged handles a PTR record: under a browsed type it names an
// instance; under the enumeration name it names a service type.
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
	tk := dnsname.MustKey(ptr.Ptr)
	t := e.tracked[tk]
	if added {
		if t == nil {
			t = e.track(ptr.Ptr)
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
			m = map[string]bool{}
			e.hostIdx[h] = m
		}
		m[t.key] = true
	}
}

// flushDirty recomputes every instance marked dirty and queues its events:
// Add when it becomes complete, Update when its TXT record, port, target or
// addresses change, Remove when it stops being complete (goodbye, expiry,
// or flushed records).
func (e *Engine) flushDirty(now time.Time) {
	if len(e.dirty) == 0 {
		return
	}
	keys := make([]string, 0, len(e.dirty))
	for k := range e.dirty {
		keys = append(keys, k)
	}
	clear(e.dirty)
	slices.Sort(keys)
	for _, k := range keys {
		t := e.tracked[k]
		if t == nil {
			continue
		}
		inst, complete, host := e.assemble(t)
		e.setHost(t, host)
		switch {
		case complete && t.last == nil:
			t.last = &inst
			e.emit(sd.Event{Kind: sd.Add, Instance: inst, Time: now})
		case complete && changed(*t.last, inst):
			t.last = &inst
			e.emit(sd.Event{Kind: sd.Update, Instance: inst, Time: now})
		case complete:
			// Only TTL, interfaces or sources changed: no event.
			t.last = &inst
		case t.last != nil:
			last := *t.last
			t.last = nil
			e.emit(sd.Event{Kind: sd.Remove, Instance: last, Time: now})
		}
		if !complete && t.present() {
			e.askMissing(t, now)
		}
		if !t.present() && t.last == nil {
			e.setHost(t, "")
			delete(e.tracked, k)
		}
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
// TXT record, port, target host, addresses.
func changed(a, b sd.Instance) bool {
	if a.Port != b.Port || !dnsname.Equal(a.Host, b.Host) {
		return true
	}
	if !slices.Equal(a.Addrs, b.Addrs) {
		return true
	}
	wa, _ := a.TXT.Encode()
	wb, _ := b.TXT.Encode()
	return !bytes.Equal(wa, wb)
}

// Instances returns the complete instances, sorted by name.
func (e *Engine) Instances() []sd.Instance {
	var out []sd.Instance
	for _, t := range e.tracked {
		if t.last != nil {
			out = append(out, *t.last)
		}
	}
	slices.SortFunc(out, func(a, b sd.Instance) int { return compareStrings(a.Name, b.Name) })
	return out
}
