package sd

// Browser is what every lansd browser offers: *browse.Browser (Multicast
// DNS on the link), *wide.Browser (unicast DNS in a zone), and Merge of
// several. Its methods are safe for concurrent use.
type Browser interface {
	// Events returns the channel of instance events; it is closed when the
	// browser stops. Events must be received promptly.
	Events() <-chan Event
	// Quiet returns a channel closed once the first rounds of queries are
	// done and their events have been received.
	Quiet() <-chan struct{}
	// Instances returns the instances now reported (added and not removed),
	// sorted by name, then interface.
	Instances() []Instance
	// Stats returns a snapshot of the counters.
	Stats() Stats
	// Err returns the error that stopped the browser, nil while it runs or
	// when it was closed.
	Err() error
	// Close stops the browser and waits for its goroutines; it is
	// idempotent.
	Close() error
}
