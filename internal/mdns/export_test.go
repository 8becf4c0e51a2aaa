package mdns

import "errors"

// NoEvents makes Listen run without interface events, as on systems that
// have none: only the periodic rescan tracks interfaces.
func NoEvents() {
	openEventSource = func() (eventSource, error) { return nil, errors.New("mdns: interface events off (test)") }
}
