package browse

import (
	"context"
	"fmt"
)

// Resolve looks up one service instance by name, "Office
// TZ._timezone._tcp.local." (see ParseInstanceName), asking for its SRV and
// TXT records and its host's addresses until it is complete, and returns
// it with its verdict. When ctx ends first the error wraps a *ResolveError
// naming what was missing (which wraps ctx's error); a name that does not
// parse wraps ErrBadName.
func Resolve(ctx context.Context, instanceName string, opts Options) (Instance, error) {
	name, _, _, err := ParseInstanceName(instanceName)
	if err != nil {
		return Instance{}, err
	}
	found := make(chan Instance, 1)
	q, err := newQuerier(opts, func(ev Event) {
		if ev.Kind != Remove {
			select {
			case found <- ev.Instance:
			default:
			}
		}
	})
	if err != nil {
		return Instance{}, err
	}
	q.e.Pin(name)
	// ctx bounds the opening and the wait below; the browser runs until
	// Close.
	b, err := open(ctx, q, opts)
	if err != nil {
		return Instance{}, err
	}
	defer b.Close()
	select {
	case in := <-found:
		return in, nil
	case <-b.loop.Done():
		return Instance{}, b.Err()
	case <-ctx.Done():
		var miss []string
		b.loop.Do(func() { miss = q.e.Missing(name) })
		return Instance{}, fmt.Errorf("browse: %w", &ResolveError{Name: name, Missing: miss, Err: ctx.Err()})
	}
}
