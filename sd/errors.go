package sd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lansd/lansd/txt"
)

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

// Errors of publishers (announce's Responder, wide's Registrar), wrapped
// in errors that name the publisher, so that an importer can test for
// them with errors.Is whatever publishes the service.
var (
	// ErrClosed: the publisher has been closed. A closed Responder's
	// error reads "announce: responder closed", a closed Registrar's
	// "wide: registrar closed".
	ErrClosed = errors.New("closed")
	// ErrRemoved: the service has been removed (withdrawn from the link
	// or deleted from the zone). The error reads "announce: service
	// removed" or "wide: service removed".
	ErrRemoved = errors.New("removed")
)

// FieldError is a problem with one field of a service description.
type FieldError struct {
	// Field names the field: "Instance", "Type", "Subtypes[1]", "Domain",
	// "Port", "Host", "TXT"; in a configuration file the JSON path, e.g.
	// "services[2].port". A publisher's options name theirs the same way
	// ("Zone", "TTL").
	Field string
	// Value is the offending value, quoted in the message, or "".
	Value string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns `Field "value": reason: underlying error`.
func (e *FieldError) Error() string {
	s := e.Field
	if e.Value != "" {
		s += fmt.Sprintf(" %q", e.Value)
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// ValidationError is a service refused by validation: the problems with
// its fields, and the TXT record's report (whose Fatal findings caused the
// refusal, if any). Its message has no package prefix: a publisher wraps
// it with its own ("announce: service ... refused: ...").
type ValidationError struct {
	// Service is the instance name.
	Service string
	// Report holds the TXT record's findings.
	Report txt.Report
	// Err holds the problems with other fields (*FieldError, joined), or
	// is nil.
	Err error
}

// Error lists every problem on one line: `service "Office TZ" refused:
// Port "0": ...; TXT error: ...`.
func (e *ValidationError) Error() string {
	var parts []string
	for _, err := range flatten(e.Err) {
		parts = append(parts, err.Error())
	}
	for _, f := range e.Report.Errors() {
		parts = append(parts, "TXT "+f.Error())
	}
	return fmt.Sprintf("service %q refused: %s", e.Service, strings.Join(parts, "; "))
}

// Unwrap returns the field problems and the TXT record's Fatal findings
// (*txt.Error), so that errors.As finds them.
func (e *ValidationError) Unwrap() []error {
	errs := flatten(e.Err)
	for _, f := range e.Report.Errors() {
		errs = append(errs, f)
	}
	return errs
}

// flatten expands a joined error into its parts.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
