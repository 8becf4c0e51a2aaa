package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// outBuffer is how many lines wait for a client to read them; a client
// that falls further behind is disconnected.
const outBuffer = 8192

// conn is one client of the local API. Its requests are read by serve;
// registrations and streams run on goroutines of their own; every line
// goes out through the writer goroutine. Its services live as long as the
// connection.
type conn struct {
	s   *Server
	c   *net.UnixConn
	num int
	out chan Response

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // guards what follows; never held across I/O
	regs    map[int64]*registration
	streams map[int64]context.CancelFunc
	gone    bool // the connection ended: registrations finishing now are withdrawn
}

// registration is a service a client registered.
type registration struct {
	svc announce.Service
	h   handle
}

func newConn(s *Server, c *net.UnixConn, num int) *conn {
	return &conn{s: s, c: c, num: num, out: make(chan Response, outBuffer),
		regs: map[int64]*registration{}, streams: map[int64]context.CancelFunc{}}
}

// close ends the connection (the owner goroutine calls it at shutdown).
func (c *conn) close() {
	c.c.Close()
}

// names returns the names of the services the client registered.
func (c *conn) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.regs {
		out = append(out, r.h.Name())
	}
	sort.Strings(out)
	return out
}

// serve reads the client's requests until it goes, then withdraws its
// services (goodbyes, RFC 6762 section 10.1) and ends its streams.
func (c *conn) serve(ctx context.Context) {
	c.ctx, c.cancel = context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go c.writer(writerDone)
	c.s.log.Debug("daemon: client connected", "client", c.num)
	sc := bufio.NewScanner(c.c)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			c.reply(Response{ID: req.ID, Error: fmt.Sprintf("bad request: %v", err)}, false)
			continue
		}
		c.handle(req)
	}
	c.s.log.Debug("daemon: client gone", "client", c.num, "err", sc.Err())
	c.cancel()
	c.mu.Lock()
	c.gone = true
	regs := c.regs
	c.regs = map[int64]*registration{}
	c.mu.Unlock()
	// Withdrawn together, as soon as the client is gone; the responder
	// may be closing already, which says goodbye for them too.
	var wg sync.WaitGroup
	for _, r := range regs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := r.h.Remove(ctx); err != nil && !errors.Is(err, sd.ErrClosed) {
				c.s.log.Error("daemon: withdrawing a client's service", "client", c.num, "name", r.h.Name(), "err", err)
				return
			}
			c.s.log.Info("daemon: goodbye (client gone)", "client", c.num, "name", r.h.Name())
		})
	}
	wg.Wait()
	c.wg.Wait()
	close(c.out)
	<-writerDone
	c.c.Close()
	c.s.do(func() { delete(c.s.clients, c) })
}

// writer writes the lines queued on c.out.
func (c *conn) writer(done chan struct{}) {
	defer close(done)
	w := bufio.NewWriter(c.c)
	for r := range c.out {
		b, err := sd.MarshalJSONLine(r)
		if err != nil {
			b, _ = sd.MarshalJSONLine(Response{ID: r.ID, Error: err.Error()})
		}
		w.Write(b)
		w.WriteByte('\n')
		if len(c.out) == 0 {
			if err := w.Flush(); err != nil {
				c.c.Close()
				for range c.out {
				}
				return
			}
		}
	}
	w.Flush()
}

// send queues a line; a client that does not read is disconnected.
func (c *conn) send(r Response) {
	select {
	case c.out <- r:
	default:
		c.s.log.Warn("daemon: client not reading its replies; disconnected", "client", c.num)
		c.c.Close()
	}
}

// reply sends the reply to a request.
func (c *conn) reply(r Response, ok bool) {
	r.OK = &ok
	c.send(r)
}

// handle runs one request.
func (c *conn) handle(req Request) {
	switch req.Op {
	case OpRegister:
		c.register(req)
	case OpUpdate:
		c.update(req)
	case OpWithdraw:
		c.withdraw(req)
	case OpBrowse:
		c.browse(req)
	case OpResolve:
		c.resolve(req)
	case OpCancel:
		c.mu.Lock()
		stop, ok := c.streams[req.Ref]
		c.mu.Unlock()
		if !ok {
			c.reply(Response{ID: req.ID, Error: fmt.Sprintf("no stream %d", req.Ref)}, false)
			return
		}
		stop()
		c.reply(Response{ID: req.ID}, true)
	case OpStatus:
		st := c.s.Status()
		c.reply(Response{ID: req.ID, Status: &st}, true)
	default:
		c.reply(Response{ID: req.ID, Error: fmt.Sprintf("unknown op %q", req.Op)}, false)
	}
}

// refuse replies that svc did not pass validation.
func (c *conn) refuse(id int64, problems []error, report txt.Report) {
	r := Response{ID: id, Error: "refused: nothing was announced", Problems: problemStrings(problems)}
	if len(report.Findings) > 0 {
		r.Report = sd.JSONFindings(report.Findings)
	}
	c.reply(r, false)
}

// check validates svc as the services files are (registry rules included).
func (c *conn) check(svc announce.Service) ([]error, txt.Report) {
	report, _ := svc.Validate(c.s.reg)
	var problems []error
	for _, p := range serviceProblems(svc, c.s.reg) {
		problems = append(problems, renameField(p, serviceField))
	}
	return problems, report
}

func (c *conn) register(req Request) {
	svc, err := DecodeService(req.Service)
	if err != nil {
		c.refuse(req.ID, flatten(err), txt.Report{})
		return
	}
	if problems, report := c.check(svc); len(problems) > 0 {
		c.refuse(req.ID, problems, report)
		return
	}
	c.mu.Lock()
	_, dup := c.regs[req.ID]
	c.mu.Unlock()
	if dup {
		c.reply(Response{ID: req.ID, Error: fmt.Sprintf("id %d is registered already", req.ID)}, false)
		return
	}
	// Probing takes a second: registrations run side by side, so that the
	// probes of several share packets (RFC 6762 section 8.1).
	c.wg.Go(func() {
		h, err := c.s.pub.Add(c.ctx, svc)
		if err != nil {
			c.reply(Response{ID: req.ID, Error: err.Error()}, false)
			return
		}
		c.mu.Lock()
		gone := c.gone
		if !gone {
			c.regs[req.ID] = &registration{svc: svc, h: h}
		}
		c.mu.Unlock()
		if gone {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h.Remove(ctx)
			return
		}
		c.s.log.Info("daemon: announced for a client", "client", c.num, "name", h.Name())
		r := Response{ID: req.ID, Published: h.Name()}
		if renamed, why := h.Renamed(); renamed {
			r.Renamed = why
		}
		c.reply(r, true)
		// Later events (a conflict, a rename: RFC 6762 section 9) go to
		// the client, under the register request's id, until the service
		// is removed.
		since := time.Now()
		for ev := range h.Events() {
			if ev.Kind == sd.Removed || ev.Kind == sd.Withdrawn || ev.Time.Before(since) {
				continue
			}
			c.send(Response{ID: req.ID, Registration: &RegistrationEvent{Kind: ev.Kind.String(), Old: ev.Old, New: ev.New,
				Reason: ev.Reason, Time: ev.Time.Format(time.RFC3339Nano)}})
		}
	})
}

func (c *conn) lookup(ref int64) *registration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.regs[ref]
}

func (c *conn) update(req Request) {
	reg := c.lookup(req.Ref)
	if reg == nil {
		c.reply(Response{ID: req.ID, Error: fmt.Sprintf("no registration %d", req.Ref)}, false)
		return
	}
	var rec txt.Record
	var err error
	if req.TXTWire != nil {
		rec, err = txt.Decode(req.TXTWire)
	} else {
		rec, err = txt.ParseJSON(req.TXT)
	}
	if err != nil {
		c.refuse(req.ID, []error{&announce.FieldError{Field: "txt", Reason: "cannot be read", Err: err}}, txt.Report{})
		return
	}
	next := reg.svc
	next.TXT = rec
	if problems, report := c.check(next); len(problems) > 0 {
		c.refuse(req.ID, problems, report)
		return
	}
	// The new TXT record is announced again (RFC 6762 section 8.4).
	if err := reg.h.UpdateTXT(c.ctx, rec); err != nil {
		c.reply(Response{ID: req.ID, Error: err.Error()}, false)
		return
	}
	c.mu.Lock()
	reg.svc = next
	c.mu.Unlock()
	c.reply(Response{ID: req.ID, Published: reg.h.Name()}, true)
}

func (c *conn) withdraw(req Request) {
	c.mu.Lock()
	reg := c.regs[req.Ref]
	delete(c.regs, req.Ref)
	c.mu.Unlock()
	if reg == nil {
		c.reply(Response{ID: req.ID, Error: fmt.Sprintf("no registration %d", req.Ref)}, false)
		return
	}
	if err := reg.h.Remove(c.ctx); err != nil { // goodbyes (RFC 6762 section 10.1)
		c.reply(Response{ID: req.ID, Error: err.Error()}, false)
		return
	}
	c.reply(Response{ID: req.ID, Published: reg.h.Name()}, true)
}

// stream registers a cancellable stream under id.
func (c *conn) stream(id int64) (context.Context, func(), bool) {
	ctx, cancel := context.WithCancel(c.ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.streams[id]; dup {
		cancel()
		return nil, nil, false
	}
	c.streams[id] = cancel
	return ctx, func() {
		cancel()
		c.mu.Lock()
		delete(c.streams, id)
		c.mu.Unlock()
	}, true
}

// eventLine is the stream line of an event.
func eventLine(id int64, kind string, in sd.Instance, at time.Time) Response {
	je := sd.NewJSONEvent(kind, in, at)
	r := Response{ID: id, JSONEvent: &je}
	for _, s := range in.Seen {
		r.Seen = append(r.Seen, sourceString(s))
	}
	return r
}

func (c *conn) browse(req Request) {
	if len(req.Types) == 0 {
		c.reply(Response{ID: req.ID, Error: "browse: no types"}, false)
		return
	}
	ctx, end, ok := c.stream(req.ID)
	if !ok {
		c.reply(Response{ID: req.ID, Error: fmt.Sprintf("id %d is in use", req.ID)}, false)
		return
	}
	var pools []*pooled
	var err error
	if !c.s.do(func() {
		for _, t := range req.Types {
			var p *pooled
			if p, err = c.s.acquire(ctx, t, req.Strict); err != nil {
				break
			}
			pools = append(pools, p)
		}
		if err != nil {
			for _, p := range pools {
				c.s.release(p)
			}
		}
	}) {
		err = sd.ErrClosed
	}
	if err != nil {
		end()
		c.reply(Response{ID: req.ID, Error: err.Error()}, false)
		return
	}
	c.reply(Response{ID: req.ID}, true)
	subs := make([]*subscription, len(pools))
	for i, p := range pools {
		subs[i] = p.subscribe()
	}
	// sent[i] is closed once sub i is quiet and every event queued before
	// its quiet mark (the cached instances of a warm type) has been sent:
	// the stream's quiet line comes after them.
	sent := make([]chan struct{}, len(subs))
	for i := range sent {
		sent[i] = make(chan struct{})
	}
	c.wg.Go(func() {
		defer end()
		var wg sync.WaitGroup
		var failMu sync.Mutex
		var fail error
		for i, sub := range subs {
			wg.Go(func() {
				quiet := sub.quiet
				defer func() {
					if quiet != nil {
						close(sent[i])
					}
				}()
				for {
					q := quiet
					if len(sub.ch) > 0 {
						q = nil // what was queued first is sent first
					}
					select {
					case <-q:
						close(sent[i])
						quiet = nil
					case ev, ok := <-sub.ch:
						if !ok {
							if lost, err := sub.result(); lost || err != nil {
								failMu.Lock()
								if lost {
									fail = errors.New("events lost: the client did not keep up")
								} else {
									fail = err
								}
								failMu.Unlock()
								end()
							}
							return
						}
						c.send(eventLine(req.ID, ev.Kind.String(), ev.Instance, ev.Time))
					case <-ctx.Done():
						pools[i].unsubscribe(sub)
						return
					}
				}
			})
		}
		// One quiet mark, once every type's browser is quiet.
		wg.Go(func() {
			for i := range subs {
				select {
				case <-sent[i]:
				case <-ctx.Done():
					return
				}
			}
			c.send(Response{ID: req.ID, Quiet: true})
		})
		wg.Wait()
		c.s.do(func() {
			for _, p := range pools {
				c.s.release(p)
			}
		})
		failMu.Lock()
		r := Response{ID: req.ID, Done: true}
		if fail != nil {
			r.Error = fail.Error()
		}
		failMu.Unlock()
		c.send(r)
	})
}

// resolveTimeout bounds a resolve without timeout_ms.
const resolveTimeout = 5 * time.Second

func (c *conn) resolve(req Request) {
	name, _, _, err := browse.ParseInstanceName(req.Name)
	if err != nil {
		c.reply(Response{ID: req.ID, Error: err.Error()}, false)
		return
	}
	ctx, end, ok := c.stream(req.ID)
	if !ok {
		c.reply(Response{ID: req.ID, Error: fmt.Sprintf("id %d is in use", req.ID)}, false)
		return
	}
	c.reply(Response{ID: req.ID}, true)
	c.wg.Go(func() {
		defer end()
		var found []sd.Instance
		c.s.do(func() { found = c.s.cached(name) })
		var err error
		if len(found) == 0 {
			// Not in the cache: asked on the link.
			timeout := resolveTimeout
			if req.TimeoutMS > 0 {
				timeout = time.Duration(req.TimeoutMS) * time.Millisecond
			}
			rctx, cancel := context.WithTimeout(ctx, timeout)
			found, err = c.s.resolveAll(rctx, name, req.Strict)
			cancel()
		}
		now := time.Now()
		for _, in := range found {
			c.send(eventLine(req.ID, "resolved", in, now))
		}
		r := Response{ID: req.ID, Done: true}
		if err != nil {
			r.Error = err.Error()
		}
		c.send(r)
	})
}

// resolveAll resolves name on the link (browse.ResolveAll).
func (s *Server) resolveAll(ctx context.Context, name string, strict bool) ([]sd.Instance, error) {
	if s.resolver != nil {
		return s.resolver(ctx, name, strict)
	}
	return browse.ResolveAll(ctx, name, browse.Options{
		Interfaces:        s.opts.Interfaces,
		ExcludeInterfaces: s.opts.ExcludeInterfaces,
		Families:          s.opts.Families,
		Registry:          s.reg,
		Logger:            s.log,
		Strict:            strict,
	})
}
