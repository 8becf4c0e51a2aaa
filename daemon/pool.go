package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// subBuffer is how many events a client's subscription holds; a client
// that falls further behind loses the subscription (its stream ends with
// an error) rather than slowing the cache down.
const subBuffer = 4096

// pooled is the browser of one service type that every client browsing
// it shares: one cache for the host. The owner goroutine counts its
// clients (refs) and stops it KeepWarm after the last one went; its
// fan-out goroutine hands each event to every subscriber and keeps the
// instances reported, so that a new subscriber gets them at once.
type pooled struct {
	key, typ string
	strict   bool
	b        sd.Browser
	refs     int         // owner goroutine
	idle     *time.Timer // owner goroutine: stops it once unused

	mu      sync.Mutex // guards what follows: the fan-out and subscribe, no I/O
	subs    map[*subscription]struct{}
	current map[string]sd.Instance
	quiet   bool
	ended   bool
	err     error
	fanned  chan struct{} // closed when the fan-out goroutine returns
}

// subscription is one client's view of a pooled browser.
type subscription struct {
	ch     chan sd.Event
	quiet  chan struct{} // closed once the browser is quiet
	mu     sync.Mutex
	lost   bool // the client fell behind: ch was closed early
	closed bool
	qdone  bool
	end    error
}

// instanceKey identifies an instance: its name and its interface.
func instanceKey(in sd.Instance) string {
	return strings.ToLower(in.Name) + "\x00" + strings.Join(in.Ifaces, "\x00")
}

func startPooled(b sd.Browser, key, typ string, strict bool) *pooled {
	p := &pooled{key: key, typ: typ, strict: strict, b: b, subs: map[*subscription]struct{}{},
		current: map[string]sd.Instance{}, fanned: make(chan struct{})}
	go p.fanOut()
	return p
}

// fanOut hands every event of the browser to every subscriber.
func (p *pooled) fanOut() {
	defer close(p.fanned)
	quiet := p.b.Quiet()
	events := p.b.Events()
	for {
		select {
		case <-quiet:
			quiet = nil
			p.mu.Lock()
			p.quiet = true
			for s := range p.subs {
				s.markQuiet()
			}
			p.mu.Unlock()
		case ev, ok := <-events:
			p.mu.Lock()
			if !ok {
				p.ended = true
				p.err = p.b.Err()
				for s := range p.subs {
					s.finish(p.err)
				}
				p.subs = nil
				p.mu.Unlock()
				return
			}
			k := instanceKey(ev.Instance)
			if ev.Kind == sd.Remove {
				delete(p.current, k)
			} else {
				p.current[k] = ev.Instance
			}
			for s := range p.subs {
				if !s.send(ev) {
					delete(p.subs, s)
				}
			}
			p.mu.Unlock()
		}
	}
}

// subscribe returns a subscription that first reports the instances the
// cache holds (as add events), then every event.
func (p *pooled) subscribe() *subscription {
	s := &subscription{ch: make(chan sd.Event, subBuffer), quiet: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for _, in := range p.current {
		s.send(sd.Event{Kind: sd.Add, Instance: in, Time: now})
	}
	if p.quiet {
		s.markQuiet()
	}
	if p.ended {
		s.finish(p.err)
		return s
	}
	p.subs[s] = struct{}{}
	return s
}

// unsubscribe forgets s.
func (p *pooled) unsubscribe(s *subscription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.subs[s]; ok {
		delete(p.subs, s)
		s.finish(nil)
	}
}

// stop closes the browser and waits for its fan-out.
func (p *pooled) stop() {
	if p.idle != nil {
		p.idle.Stop()
	}
	p.b.Close()
	<-p.fanned
}

// send queues ev; false when the subscription is over, or the
// subscriber too slow (its channel is then closed, lost set).
func (s *subscription) send(ev sd.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.ch <- ev:
		return true
	default:
		s.lost, s.closed = true, true
		close(s.ch)
		return false
	}
}

func (s *subscription) markQuiet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.qdone {
		s.qdone = true
		close(s.quiet)
	}
}

// finish ends the subscription with err (nil: cancelled).
func (s *subscription) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed, s.end = true, err
		close(s.ch)
	}
}

// result tells why the subscription's channel closed.
func (s *subscription) result() (lost bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost, s.end
}

// poolKey normalises a type for the pool: a registered name is looked up
// ("timezone" is "_timezone._tcp"), case folded.
func poolKey(reg *registry.Registry, typ string, strict bool) (key, norm string) {
	norm = strings.TrimSuffix(typ, ".")
	norm = strings.TrimSuffix(norm, ".local")
	if !strings.HasPrefix(norm, "_") {
		if svc, ok := reg.Lookup(norm); ok && svc.Usable() {
			norm = svc.Type()
		}
	}
	key = strings.ToLower(norm)
	if strict {
		key += " strict"
	}
	return key, norm
}

// acquire returns the pooled browser of typ, started if need be, with one
// more client. Run on the owner goroutine: starting a browser opens
// sockets, and sends nothing until its first query.
func (s *Server) acquire(ctx context.Context, typ string, strict bool) (*pooled, error) {
	key, norm := poolKey(s.reg, typ, strict)
	if p, ok := s.browsers[key]; ok {
		p.refs++
		if p.idle != nil {
			p.idle.Stop()
			p.idle = nil
		}
		return p, nil
	}
	b, err := s.newBrowser(ctx, []string{norm}, browse.Options{
		Interfaces:        s.opts.Interfaces,
		ExcludeInterfaces: s.opts.ExcludeInterfaces,
		Families:          s.opts.Families,
		Registry:          s.reg,
		Logger:            s.log,
		Strict:            strict,
		MaxRecords:        s.opts.MaxRecords,
	})
	if err != nil {
		return nil, err
	}
	p := startPooled(b, key, norm, strict)
	p.refs = 1
	s.browsers[key] = p
	s.log.Debug("daemon: browsing", "type", norm, "strict", strict)
	return p, nil
}

// release drops one client of p; the last one starts its keep-warm
// timer. Run on the owner goroutine.
func (s *Server) release(p *pooled) {
	p.refs--
	if p.refs > 0 || s.browsers[p.key] != p {
		return
	}
	p.idle = time.AfterFunc(s.opts.KeepWarm, func() {
		s.do(func() {
			if p.refs == 0 && s.browsers[p.key] == p {
				delete(s.browsers, p.key)
				s.log.Debug("daemon: stopped browsing (no client)", "type", p.typ)
				go p.stop()
			}
		})
	})
}

// cached returns the instances named name that the pool's caches hold.
// Run on the owner goroutine.
func (s *Server) cached(name string) []sd.Instance {
	var out []sd.Instance
	seen := map[string]bool{}
	for _, p := range s.browsers {
		p.mu.Lock()
		for k, in := range p.current {
			if strings.EqualFold(in.Name, name) && !seen[k] {
				seen[k] = true
				out = append(out, in)
			}
		}
		p.mu.Unlock()
	}
	return out
}
