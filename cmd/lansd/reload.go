package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// pubHandle is a published service: an *announce.Handle (Multicast DNS)
// or a *wide.Registration (unicast DNS).
type pubHandle interface {
	Name() string
	Renamed() (bool, string)
	Events() <-chan sd.RegistrationEvent
	UpdateTXT(ctx context.Context, rec txt.Record) error
	Remove(ctx context.Context) error
}

// published is one service lansd announce publishes: as the --config file
// described it, and its handle.
type published struct {
	svc announce.Service
	h   pubHandle
}

// reloader reloads the --config file of lansd announce on SIGHUP.
type reloader struct {
	path string                            // the --config file; "" without one
	hup  <-chan os.Signal                  // SIGHUP; nil when not subscribed (tests)
	load func() ([]announce.Service, bool) // reads and checks path, printing its problems
}

// publisher is what applying a reload needs of a publisher.
type publisher struct {
	// add publishes a service and returns the line that tells it.
	add func(ctx context.Context, s announce.Service) (pubHandle, string, error)
	// gone is the word of a withdrawn service's line: "goodbye" (mDNS) or
	// "removed" (unicast DNS), as at shutdown.
	gone string
	// watch prints h's events after since.
	watch func(h pubHandle, since time.Time)
}

// reload handles one SIGHUP: with a --config file, it reads and checks
// the whole file, as at start; on any problem it prints it and keeps cur;
// otherwise it applies the difference (announce.PlanReload) and returns
// the new set. Without --config it says that SIGHUP is ignored.
func reload(ctx context.Context, env *cliEnv, out *syncWriter, rl *reloader, p publisher, cur []published) []published {
	if rl.path == "" {
		fmt.Fprintln(env.stderr, "lansd announce: SIGHUP ignored: there is no --config file to reload")
		return cur
	}
	next, ok := rl.load()
	if !ok {
		fmt.Fprintf(env.stderr, "lansd announce: reload of %s refused; the %d services published before stay as they are\n", rl.path, len(cur))
		return cur
	}
	old := make([]announce.Service, len(cur))
	for i, c := range cur {
		old[i] = c.svc
	}
	plan := announce.PlanReload(old, next)
	var kept []published // in the order of next, then what could not be removed
	slot := make([]*published, len(next))
	var count [announce.ChangeRemove + 1]int
	// Withdrawals first, so that the names they free are free for the
	// services added.
	for _, c := range plan {
		count[c.Kind]++
		if c.Kind != announce.ChangeRemove && c.Kind != announce.ChangeReplace {
			continue
		}
		h := cur[c.Old].h
		name := h.Name()
		if err := h.Remove(ctx); err != nil {
			fmt.Fprintf(env.stderr, "lansd announce: reload: removing %q: %v\n", name, err)
			kept = append(kept, cur[c.Old])
			continue
		}
		if c.Kind == announce.ChangeReplace {
			out.printf("%s %q (replaced: its type, port, host, subtypes or domain changed)", p.gone, name)
		} else {
			out.printf("%s %q (no longer in %s)", p.gone, name, rl.path)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range plan {
		switch c.Kind {
		case announce.ChangeKeep:
			slot[c.New] = &cur[c.Old]
		case announce.ChangeUpdateTXT:
			pc := cur[c.Old]
			if err := pc.h.UpdateTXT(ctx, next[c.New].TXT); err != nil {
				fmt.Fprintf(env.stderr, "lansd announce: reload: updating the TXT record of %q: %v\n", pc.h.Name(), err)
			} else {
				pc.svc = next[c.New]
				out.printf("updated TXT of %q", pc.h.Name())
			}
			slot[c.New] = &pc
		case announce.ChangeAdd, announce.ChangeReplace:
			// Added together: their probes share packets (RFC 6762
			// section 8.1).
			wg.Go(func() {
				s := next[c.New]
				h, line, err := p.add(ctx, s)
				if err != nil {
					fmt.Fprintf(env.stderr, "lansd announce: reload: %v\n", err)
					return
				}
				since := time.Now()
				out.printf("%s", line)
				p.watch(h, since)
				mu.Lock()
				slot[c.New] = &published{svc: s, h: h}
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	var now []published
	for _, s := range slot {
		if s != nil {
			now = append(now, *s)
		}
	}
	now = append(now, kept...)
	fmt.Fprintf(env.stderr, "lansd announce: reloaded %s: %d added, %d updated, %d replaced, %d removed, %d unchanged\n",
		rl.path, count[announce.ChangeAdd], count[announce.ChangeUpdateTXT], count[announce.ChangeReplace],
		count[announce.ChangeRemove], count[announce.ChangeKeep])
	return now
}

// reloadUntilDone applies a reload of the --config file at every SIGHUP
// until ctx ends, and returns what is published then.
func reloadUntilDone(ctx context.Context, env *cliEnv, out *syncWriter, rl *reloader, p publisher, cur []published) []published {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-rl.hup:
			cur = reload(ctx, env, out, rl, p, cur)
		}
	}
	return cur
}

// renamedNote is the " (renamed: WHY)" that follows a published name
// lansd had to change, or "".
func renamedNote(h interface{ Renamed() (bool, string) }) string {
	if renamed, why := h.Renamed(); renamed {
		return fmt.Sprintf(" (renamed: %s)", why)
	}
	return ""
}
