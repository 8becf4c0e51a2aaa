package browse

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// resolveGrace is how long ResolveAll waits, after the first interface
// gave a complete instance, for the others to give theirs. The responders
// of every link answer the same queries (unique records at once, shared
// ones within 20-120 ms, RFC 6762 section 6), but an answer can be lost or
// come late or go to another process sharing port 5353 (a QU answer); the
// second query of the series, QM, goes out one second after the first
// (section 5.4), so the grace covers its answers too.
const resolveGrace = 2 * time.Second

// Resolve looks up one service instance by name, "Office
// TZ._timezone._tcp.local." (see ParseInstanceName), asking for its SRV and
// TXT records and its host's addresses until it is complete (with at least
// one address), and returns it with its verdict. Multicast DNS names are
// per link: when the name is announced on several of the interfaces used,
// each link's is an instance of its own, and Resolve returns the first
// that is complete (ResolveAll returns every link's; Options.Interfaces
// picks one). When ctx ends first the error wraps a *ResolveError naming
// what was missing (which wraps ctx's error); a name that does not parse
// wraps ErrBadName.
func Resolve(ctx context.Context, instanceName string, opts Options) (Instance, error) {
	ins, err := resolve(ctx, instanceName, opts, false)
	if err != nil {
		return Instance{}, err
	}
	return ins[0], nil
}

// ResolveAll is Resolve for every link: it returns one complete instance
// per interface the name was found on, sorted by interface name, each with
// that link's addresses, port, TXT record and verdict. It returns as soon
// as every interface used has given a complete instance, or 2 s after the
// first did (the other links' answers to the first two queries come within
// that time), or when ctx ends after one was found. Errors are those of Resolve.
func ResolveAll(ctx context.Context, instanceName string, opts Options) ([]Instance, error) {
	return resolve(ctx, instanceName, opts, true)
}

// resolve runs Resolve (all false: return the first complete instance) and
// ResolveAll.
func resolve(ctx context.Context, instanceName string, opts Options, all bool) ([]Instance, error) {
	name, _, _, err := ParseInstanceName(instanceName)
	if err != nil {
		return nil, err
	}
	// found holds the complete instances by interface, in the order they
	// were found; the sink runs on the loop, which owns it.
	type entry struct {
		iface string
		in    Instance
	}
	var found []entry
	ready := make(chan struct{}, 1)
	q, err := newQuerier(opts, func(ev Event) {
		in := ev.Instance
		iface := ""
		if len(in.Ifaces) > 0 {
			iface = in.Ifaces[0]
		}
		i := slices.IndexFunc(found, func(f entry) bool { return f.iface == iface })
		switch {
		case ev.Kind != Remove && len(in.Addrs) > 0:
			if i >= 0 {
				found[i].in = in
			} else {
				found = append(found, entry{iface, in})
			}
			select {
			case ready <- struct{}{}:
			default:
			}
		case i >= 0:
			// Removed, or reported without address: not resolved there.
			found = slices.Delete(found, i, i+1)
		}
	})
	if err != nil {
		return nil, err
	}
	q.e.Pin(name)
	q.everyLink = all
	// ctx bounds the opening and the wait below; the browser runs until
	// Close.
	b, err := open(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// snapshot returns the instances found and whether every interface
	// used has given one.
	snapshot := func() ([]Instance, bool) {
		var out []Instance
		done := false
		b.loop.Do(func() {
			for _, f := range found {
				out = append(out, f.in)
			}
			done = len(found) >= len(q.tr.Interfaces())
		})
		return out, done
	}
	var grace <-chan time.Time
	for {
		select {
		case <-ready:
			ins, done := snapshot()
			if len(ins) == 0 {
				continue
			}
			if !all {
				return ins[:1], nil
			}
			if done {
				return sortByIface(ins), nil
			}
			if grace == nil {
				grace = time.After(resolveGrace)
			}
		case <-grace:
			ins, _ := snapshot()
			if len(ins) > 0 {
				return sortByIface(ins), nil
			}
			grace = nil
		case <-b.loop.Done():
			return nil, b.Err()
		case <-ctx.Done():
			if ins, _ := snapshot(); len(ins) > 0 {
				return sortByIface(ins), nil
			}
			var miss []string
			b.loop.Do(func() { miss = q.e.Missing(name) })
			return nil, fmt.Errorf("browse: %w", &ResolveError{Name: name, Missing: miss, Err: ctx.Err()})
		}
	}
}

// sortByIface sorts instances by their interface's name.
func sortByIface(ins []Instance) []Instance {
	slices.SortStableFunc(ins, func(a, b Instance) int { return slices.Compare(a.Ifaces, b.Ifaces) })
	return ins
}
