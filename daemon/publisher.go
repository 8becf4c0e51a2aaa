package daemon

import (
	"context"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// publisher is what the daemon needs of its responder: an
// *announce.Responder, or a fake in the unit tests.
type publisher interface {
	Add(ctx context.Context, s announce.Service) (handle, error)
	HostName() string
	Interfaces() []string
	Close() error
}

// handle is a published service: an *announce.Handle, or a fake.
type handle interface {
	Name() string
	Renamed() (bool, string)
	UpdateTXT(ctx context.Context, rec txt.Record) error
	Remove(ctx context.Context) error
	// Events are what happens to the service (renames, conflicts); closed
	// when it is removed or the responder closed.
	Events() <-chan sd.RegistrationEvent
}

// responderPublisher adapts an *announce.Responder.
type responderPublisher struct{ r *announce.Responder }

func (p responderPublisher) Add(ctx context.Context, s announce.Service) (handle, error) {
	h, err := p.r.Add(ctx, s)
	if err != nil {
		return nil, err
	}
	return h, nil
}
func (p responderPublisher) HostName() string     { return p.r.HostName() }
func (p responderPublisher) Interfaces() []string { return p.r.Interfaces() }
func (p responderPublisher) Close() error         { return p.r.Close() }
