package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/lansd/lansd/sd"
)

// Done returns a channel closed when the connection to the daemon ends:
// Close was called, or the daemon went away (which withdraws the
// services the client registered).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ResolveNotFoundError is the end of a resolve the daemon could not
// complete within its timeout; Reason is its message, that of the
// browse.ResolveError an in-process resolve returns (what was missing).
type ResolveNotFoundError struct{ Reason string }

func (e *ResolveNotFoundError) Error() string { return e.Reason }

// ResolveWithin is Resolve with the daemon's own time limit, timeout,
// given apart from ctx: the daemon gives up after timeout and says what
// was missing (a *ResolveNotFoundError), while ctx, which should end a
// little later, bounds the wait for that answer.
func (c *Client) ResolveWithin(ctx context.Context, instanceName string, strict bool, timeout time.Duration) ([]sd.Instance, error) {
	req := Request{Op: OpResolve, Name: instanceName, Strict: strict, TimeoutMS: max(1, timeout.Milliseconds())}
	return c.resolve(ctx, req)
}

// resolve sends the resolve request req and collects its instances until
// the daemon's done line (a *ResolveNotFoundError when it found none and
// said why), the connection's end or ctx's (the request then cancelled).
func (c *Client) resolve(ctx context.Context, req Request) ([]sd.Instance, error) {
	id, ch, err := c.open(ctx, req, 64)
	if err != nil {
		return nil, err
	}
	defer c.forget(id)
	if _, err := c.wait(ctx, ch); err != nil {
		return nil, err
	}
	var out []sd.Instance
	for {
		select {
		case r := <-ch:
			switch {
			case r.Done:
				if r.Error != "" && len(out) == 0 {
					return nil, &ResolveNotFoundError{Reason: r.Error}
				}
				return out, nil
			case r.JSONEvent != nil:
				ev, err := decodeEvent(r)
				if err != nil {
					return nil, err
				}
				out = append(out, ev.Instance)
			}
		case <-c.done:
			if err := c.Err(); err != nil {
				return nil, err
			}
			return nil, errors.New("daemon: connection closed")
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c.call(cctx, Request{Op: OpCancel, Ref: id}) //nolint:errcheck // the stream may have ended already
			cancel()
			return nil, ctx.Err()
		}
	}
}
