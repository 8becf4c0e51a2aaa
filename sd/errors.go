package sd

import "errors"

// Errors of the Multicast DNS transport that announce and browse return
// (wrapped, naming the interface where there is one), so that an importer
// can test for them with errors.Is.
var (
	// ErrUnknownInterface: an interface named in the options does not
	// exist.
	ErrUnknownInterface = errors.New("mdns: unknown interface")
	// ErrNoInterface: there is no usable interface (up, multicast-capable,
	// with an address of a family asked for).
	ErrNoInterface = errors.New("mdns: no usable interface")
)
