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
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// Client is a connection to the daemon's local API. Services it
// registers live as long as it is open. Its methods are safe for
// concurrent use.
type Client struct {
	c *net.UnixConn

	wmu sync.Mutex // serialises whole request lines

	mu      sync.Mutex // guards what follows; never held across I/O
	nextID  int64
	waiting map[int64]chan Response
	// withdrawn holds, for each registration, a channel closed when it is
	// withdrawn.
	withdrawn map[int64]chan struct{}
	err       error // why the connection ended
	done      chan struct{}
}

// Dial connects to the daemon's socket at path ("" means DefaultSocket).
// An error wrapping os.ErrNotExist or syscall.ECONNREFUSED means no
// daemon runs there; os.ErrPermission, that the socket's permissions keep
// this user out.
func Dial(ctx context.Context, path string) (*Client, error) {
	if path == "" {
		path = DefaultSocket
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	c := &Client{c: nc.(*net.UnixConn), waiting: map[int64]chan Response{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

// read hands every line to the request or stream it answers.
func (c *Client) read() {
	sc := bufio.NewScanner(c.c)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	for sc.Scan() {
		var r Response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			c.fail(fmt.Errorf("daemon: bad line from the daemon: %w", err))
			return
		}
		c.mu.Lock()
		ch := c.waiting[r.ID]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- r:
			case <-c.done:
				return
			}
		}
	}
	err := sc.Err()
	if err == nil {
		err = errors.New("daemon: connection closed")
	}
	c.fail(err)
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
		c.c.Close()
	}
}

// Close closes the connection: the daemon withdraws the services it
// registered (goodbyes) and ends its streams.
func (c *Client) Close() error {
	c.fail(sd.ErrClosed)
	return nil
}

// open sends req with a new ID and returns the channel of its lines.
func (c *Client) open(ctx context.Context, req Request, buffer int) (int64, chan Response, error) {
	ch := make(chan Response, buffer)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, nil, err
	}
	c.nextID++
	req.ID = c.nextID
	c.waiting[req.ID] = ch
	c.mu.Unlock()
	b, err := json.Marshal(req)
	if err != nil {
		c.forget(req.ID)
		return 0, nil, err
	}
	c.wmu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		c.c.SetWriteDeadline(dl)
	} else {
		c.c.SetWriteDeadline(time.Time{})
	}
	_, err = c.c.Write(append(b, '\n'))
	c.wmu.Unlock()
	if err != nil {
		c.forget(req.ID)
		return 0, nil, fmt.Errorf("daemon: %w", err)
	}
	return req.ID, ch, nil
}

func (c *Client) forget(id int64) {
	c.mu.Lock()
	delete(c.waiting, id)
	c.mu.Unlock()
}

// wait returns the reply (OK set) among ch's lines.
func (c *Client) wait(ctx context.Context, ch chan Response) (Response, error) {
	for {
		select {
		case r := <-ch:
			if r.OK == nil {
				continue
			}
			if !*r.OK {
				if len(r.Problems) > 0 || len(r.Report) > 0 {
					return r, &RefusedError{Problems: r.Problems, Report: txt.Report{Findings: sd.Findings(r.Report)}}
				}
				return r, fmt.Errorf("daemon: %s", r.Error)
			}
			return r, nil
		case <-c.done:
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return Response{}, err
		case <-ctx.Done():
			return Response{}, ctx.Err()
		}
	}
}

// call sends req and waits for its reply.
func (c *Client) call(ctx context.Context, req Request) (Response, error) {
	id, ch, err := c.open(ctx, req, 1)
	if err != nil {
		return Response{}, err
	}
	defer c.forget(id)
	return c.wait(ctx, ch)
}

// Registration is a service registered through the daemon.
type Registration struct {
	c       *Client
	id      int64
	name    string
	renamed string
	events  chan sd.RegistrationEvent
}

// Register publishes s through the daemon's responder: validated against
// the daemon's registry (a refusal is a *RefusedError naming the fields
// and findings; nothing is announced), probed and announced (RFC 6762
// section 8). It returns once s is announced, under its final name.
func (c *Client) Register(ctx context.Context, s announce.Service) (*Registration, error) {
	raw, err := EncodeService(s)
	if err != nil {
		return nil, err
	}
	id, ch, err := c.open(ctx, Request{Op: OpRegister, Service: raw}, 16)
	if err != nil {
		return nil, err
	}
	r, err := c.wait(ctx, ch)
	if err != nil {
		c.forget(id)
		return nil, err
	}
	reg := &Registration{c: c, id: id, name: r.Published, renamed: r.Renamed, events: make(chan sd.RegistrationEvent, registrationBuffer)}
	go reg.relay(ch)
	return reg, nil
}

// registrationBuffer is how many events a Registration holds for a slow
// reader before it drops the oldest.
const registrationBuffer = 64

// relay turns the registration's lines into events until it is withdrawn
// or the connection ends.
func (r *Registration) relay(ch chan Response) {
	defer close(r.events)
	for {
		select {
		case line := <-ch:
			e := line.Registration
			if e == nil {
				continue
			}
			at, _ := time.Parse(time.RFC3339Nano, e.Time)
			ev := sd.RegistrationEvent{Kind: registrationKinds[e.Kind], Old: e.Old, New: e.New, Reason: e.Reason, Time: at}
			for {
				select {
				case r.events <- ev:
				default:
					select {
					case <-r.events: // the oldest goes
					default:
					}
					continue
				}
				break
			}
		case <-r.c.done:
			return
		case <-r.gone():
			return
		}
	}
}

// gone returns a channel closed once the registration is withdrawn.
func (r *Registration) gone() chan struct{} {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	if r.c.withdrawn == nil {
		r.c.withdrawn = map[int64]chan struct{}{}
	}
	ch, ok := r.c.withdrawn[r.id]
	if !ok {
		ch = make(chan struct{})
		r.c.withdrawn[r.id] = ch
	}
	return ch
}

// Events returns what happens to the service after Register returned: a
// conflict, a rename (RFC 6762 section 9), its announcement under the new
// name. The channel is closed when the service is withdrawn or the
// connection ends; when nobody reads, old events are dropped.
func (r *Registration) Events() <-chan sd.RegistrationEvent { return r.events }

// Name returns the service's full name, as announced.
func (r *Registration) Name() string { return r.name }

// Renamed reports whether the service was renamed from the name asked
// for, and why.
func (r *Registration) Renamed() (bool, string) { return r.renamed != "", r.renamed }

// UpdateTXT gives the service a new TXT record, validated as Register's
// (a *RefusedError leaves the old one) and announced (RFC 6762 section
// 8.4).
func (r *Registration) UpdateTXT(ctx context.Context, rec txt.Record) error {
	req := Request{Op: OpUpdate, Ref: r.id}
	if strs, ok := txtStrings(rec); ok {
		raw, err := json.Marshal(strs)
		if err != nil {
			return err
		}
		req.TXT = raw
	} else {
		wire, err := rec.Encode()
		if err != nil {
			return err
		}
		req.TXTWire = wire
	}
	_, err := r.c.call(ctx, req)
	return err
}

// Withdraw withdraws the service: goodbyes (RFC 6762 section 10.1).
func (r *Registration) Withdraw(ctx context.Context) error {
	_, err := r.c.call(ctx, Request{Op: OpWithdraw, Ref: r.id})
	if err == nil {
		gone := r.gone()
		r.c.mu.Lock()
		select {
		case <-gone:
		default:
			close(gone)
		}
		delete(r.c.waiting, r.id)
		r.c.mu.Unlock()
	}
	return err
}

// Status returns what the daemon announces and caches.
func (c *Client) Status(ctx context.Context) (Status, error) {
	r, err := c.call(ctx, Request{Op: OpStatus})
	if err != nil {
		return Status{}, err
	}
	if r.Status == nil {
		return Status{}, errors.New("daemon: status reply without status")
	}
	return *r.Status, nil
}

// BrowseOptions configure Client.Browse.
type BrowseOptions struct {
	// Strict makes the verdicts treat warnings as errors.
	Strict bool
}

// Browse browses types (as lansd browse takes them: "timezone",
// "_timezone._tcp", a subtype) through the daemon's shared cache: the
// instances it holds come at once, as add events, then every change. The
// result is an sd.Browser, the same as browse.NewBrowser's, so a program
// can use either; its Stats are zero. ctx bounds the request only.
func (c *Client) Browse(ctx context.Context, types []string, opts BrowseOptions) (sd.Browser, error) {
	id, ch, err := c.open(ctx, Request{Op: OpBrowse, Types: types, Strict: opts.Strict}, subBuffer)
	if err != nil {
		return nil, err
	}
	if _, err := c.wait(ctx, ch); err != nil {
		c.forget(id)
		return nil, err
	}
	b := &remoteBrowser{c: c, id: id, lines: ch, events: make(chan sd.Event, 64), quiet: make(chan struct{}),
		stop: make(chan struct{}), exited: make(chan struct{}), current: map[string]sd.Instance{}}
	go b.run()
	return b, nil
}

// remoteBrowser is a browse stream of the daemon as an sd.Browser.
type remoteBrowser struct {
	c      *Client
	id     int64
	lines  chan Response
	events chan sd.Event
	quiet  chan struct{}
	stop   chan struct{}
	exited chan struct{}
	once   sync.Once

	mu      sync.Mutex
	current map[string]sd.Instance
	err     error
}

func (b *remoteBrowser) run() {
	defer close(b.exited)
	defer close(b.events)
	defer b.c.forget(b.id)
	quiet := false
	for {
		var r Response
		select {
		case r = <-b.lines:
		case <-b.stop:
			return
		case <-b.c.done:
			b.mu.Lock()
			b.err = b.c.err
			b.mu.Unlock()
			return
		}
		switch {
		case r.Done:
			if r.Error != "" {
				b.mu.Lock()
				b.err = fmt.Errorf("daemon: %s", r.Error)
				b.mu.Unlock()
			}
			return
		case r.Quiet:
			if !quiet {
				quiet = true
				close(b.quiet)
			}
		case r.JSONEvent != nil:
			ev, err := decodeEvent(r)
			if err != nil {
				b.mu.Lock()
				b.err = err
				b.mu.Unlock()
				return
			}
			k := instanceKey(ev.Instance)
			b.mu.Lock()
			if ev.Kind == sd.Remove {
				delete(b.current, k)
			} else {
				b.current[k] = ev.Instance
			}
			b.mu.Unlock()
			select {
			case b.events <- ev:
			case <-b.stop:
				return
			}
		}
	}
}

// decodeEvent decodes an event line.
func decodeEvent(r Response) (sd.Event, error) {
	in, at, err := r.JSONEvent.Decode()
	if err != nil {
		return sd.Event{}, fmt.Errorf("daemon: event: %w", err)
	}
	for _, s := range r.Seen {
		if src, ok := parseSource(s); ok {
			in.Seen = append(in.Seen, src)
		}
	}
	ev := sd.Event{Instance: in, Time: at}
	switch r.Event {
	case "add", "resolved":
		ev.Kind = sd.Add
	case "update":
		ev.Kind = sd.Update
	case "remove":
		ev.Kind = sd.Remove
	default:
		return sd.Event{}, fmt.Errorf("daemon: event %q", r.Event)
	}
	return ev, nil
}

func (b *remoteBrowser) Events() <-chan sd.Event  { return b.events }
func (b *remoteBrowser) Quiet() <-chan struct{}   { return b.quiet }
func (b *remoteBrowser) Stats() sd.Stats          { return sd.Stats{Instances: len(b.Instances())} }
func (b *remoteBrowser) Instances() []sd.Instance { return b.instances() }

func (b *remoteBrowser) instances() []sd.Instance {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]sd.Instance, 0, len(b.current))
	for _, in := range b.current {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return instanceKey(out[i]) < instanceKey(out[j]) })
	return out
}

func (b *remoteBrowser) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Close cancels the stream and waits for its goroutine.
func (b *remoteBrowser) Close() error {
	b.once.Do(func() {
		close(b.stop)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		b.c.call(ctx, Request{Op: OpCancel, Ref: b.id}) //nolint:errcheck // the stream may have ended already
	})
	<-b.exited
	return nil
}

// Resolve resolves instanceName ("Office TZ._timezone._tcp.local.")
// through the daemon: from its cache when a browse there holds it, else
// asked on the link until ctx ends (at most 5 s unless ctx says longer).
// It returns one instance per interface, as browse.ResolveAll does.
func (c *Client) Resolve(ctx context.Context, instanceName string, strict bool) ([]sd.Instance, error) {
	req := Request{Op: OpResolve, Name: instanceName, Strict: strict}
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutMS = max(1, time.Until(dl).Milliseconds())
	}
	out, err := c.resolve(ctx, req)
	var nf *ResolveNotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	return out, err
}
