package browse

import (
	"context"

	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/sd"
)

// Enumerate asks which service types are on the link (the
// _services._dns-sd._udp.local. meta-query, RFC 6763 section 9, asked
// continuously as RFC 6762 section 5.2 says) until ctx is done, and returns
// the types seen, "_timezone._tcp", sorted. It returns an error only when
// the transport cannot be opened or fails.
func Enumerate(ctx context.Context, opts Options) ([]string, error) {
	q, err := newQuerier(opts, func(sd.Event) {})
	if err != nil {
		return nil, err
	}
	// The meta-query alone (no Service): the types found are noted, not
	// browsed.
	q.wantTypes = []engine.Type{{Query: engine.ServicesName}}
	b, err := open(ctx, q, opts)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	select {
	case <-ctx.Done():
	case <-b.loop.Done():
		return nil, b.Err()
	}
	var types []string
	if !b.loop.Do(func() { types = q.e.Enumerated() }) {
		return nil, b.Err()
	}
	return types, nil
}
