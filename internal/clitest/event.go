package clitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/txt"
)

// Event is one line of `lansd browse --json` or `lansd resolve --json`
// (written by cmd/lansd's writeJSONEvent), decoded by Decode.
type Event struct {
	Event    string // "add", "update", "remove", or "resolved"
	Instance string // the instance label, unescaped: "Office TZ"
	Service  string // "_timezone._tcp"
	Domain   string // "local."
	Host     string // the SRV target: "h2.local."
	Port     uint16
	Addrs    []string // "198.51.100.12", "fe80::2%lan0"
	// TXT is the txt member: an object of key to value in wire order, as a
	// client reads the record (RFC 6763 section 6.4: the first occurrence
	// of a key only), decoded by txt.ParseJSON. A boolean attribute (true)
	// is an Item without a value. A value that is not valid UTF-8 is written
	// with \xHH escapes, which stay as text here.
	TXT        txt.Record
	Iface      []string // the interfaces the instance was seen on
	TTL        int64    // seconds
	Conforms   bool
	Findings   []Finding
	Name       string // the full instance name: "Office TZ._timezone._tcp.local."
	Registered string // the registry entry of the service type, "" when none
	Time       time.Time
}

// TXTValue returns the value of key in e.TXT as a client reads it (the
// first occurrence, the key compared ignoring ASCII case): "" when the key
// is absent, a boolean attribute, or empty (txt.Record.Get tells these
// apart).
func (e Event) TXTValue(key string) string {
	v, _, _ := e.TXT.Get(key)
	return string(v)
}

// Finding is one finding of an event's TXT validation.
type Finding struct {
	Key      string `json:"key"`
	Offset   int    `json:"offset"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
	Severity string `json:"severity"` // "error" or "warning"
}

// members are the member names of an event, in the order lansd writes
// them; Decode requires exactly these.
var members = []string{"event", "instance", "service", "domain", "host", "port", "addrs", "txt",
	"iface", "ttl", "conforms", "findings", "name", "registered", "time"}

// wireEvent is an event as JSON, before the txt member is decoded.
type wireEvent struct {
	Event      string          `json:"event"`
	Instance   string          `json:"instance"`
	Service    string          `json:"service"`
	Domain     string          `json:"domain"`
	Host       string          `json:"host"`
	Port       uint16          `json:"port"`
	Addrs      []string        `json:"addrs"`
	TXT        json.RawMessage `json:"txt"`
	Iface      []string        `json:"iface"`
	TTL        int64           `json:"ttl"`
	Conforms   bool            `json:"conforms"`
	Findings   []Finding       `json:"findings"`
	Name       string          `json:"name"`
	Registered string          `json:"registered"`
	Time       time.Time       `json:"time"`
}

// DecodeError reports a line that is not an event as lansd writes it.
type DecodeError struct {
	Line   string
	Reason string
	Err    error // the encoding/json or txt error, if any
}

// Error formats the error with the line.
func (e *DecodeError) Error() string {
	s := "clitest: not a lansd --json event: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + ": " + e.Line
}

// Unwrap returns the underlying error, if any.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode decodes one line of lansd browse --json or lansd resolve --json.
// It is strict, so that a change of the schema fails the tests: the line
// must be one JSON object with exactly the members lansd writes, in its
// order, none of them null, each of its type (a time in RFC 3339 form), and
// a txt member that is an object txt.ParseJSON reads. Errors are
// *DecodeError.
func Decode(line string) (Event, error) {
	fail := func(reason string, err error) (Event, error) {
		return Event{}, &DecodeError{Line: line, Reason: reason, Err: err}
	}
	names, err := memberNames(line)
	if err != nil {
		return fail("reading the object", err)
	}
	if !slices.Equal(names, members) {
		return fail(fmt.Sprintf("members %v, want %v", names, members), nil)
	}
	var w wireEvent
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return fail("decoding", err)
	}
	if err := txtShape(w.TXT); err != nil {
		return fail("txt", err)
	}
	rec, err := txt.ParseJSON(w.TXT)
	if err != nil {
		return fail("txt", err)
	}
	return Event{
		Event: w.Event, Instance: w.Instance, Service: w.Service, Domain: w.Domain,
		Host: w.Host, Port: w.Port, Addrs: w.Addrs, TXT: rec, Iface: w.Iface, TTL: w.TTL,
		Conforms: w.Conforms, Findings: w.Findings, Name: w.Name, Registered: w.Registered, Time: w.Time,
	}, nil
}

// memberNames returns the member names of the JSON object in data, in
// order; it fails on anything but one object without null members.
func memberNames(data string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string) // encoding/json only returns strings here
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %w", name, err)
		}
		if string(v) == "null" {
			return nil, fmt.Errorf("member %q is null", name)
		}
		names = append(names, name)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the object")
	}
	return names, nil
}

// txtShape checks that raw is the JSON form lansd writes for a TXT record:
// an object whose values are strings or true (txt.ParseJSON, which reads
// it, also takes an array and numbers).
func txtShape(raw json.RawMessage) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not an object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		v, err := dec.Token()
		if err != nil {
			return err
		}
		if _, isString := v.(string); !isString && v != true {
			return fmt.Errorf("key %q: value %v is neither a string nor true", key, v)
		}
	}
	return nil
}

// isJSON reports whether line is meant as a JSON object; other lines of a
// process's output (log lines on standard error) are not events.
func isJSON(line string) bool { return strings.HasPrefix(line, "{") }

// Events decodes the events among lines: a lantest.Proc's Lines, or lansd's
// standard output split into lines. Every line that starts with '{' must be
// an event (tb fails otherwise); other lines, such as the log lines a Proc
// interleaves from standard error, are skipped.
func Events(tb testing.TB, lines []string) []Event {
	tb.Helper()
	var evs []Event
	for _, l := range lines {
		if !isJSON(l) {
			continue
		}
		ev, err := Decode(l)
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// Output decodes the standard output of lansd browse --json or lansd
// resolve --json, in which every line must be an event (tb fails
// otherwise).
func Output(tb testing.TB, stdout string) []Event {
	tb.Helper()
	if stdout == "" {
		return nil
	}
	var evs []Event
	for l := range strings.Lines(stdout) {
		ev, err := Decode(strings.TrimSuffix(l, "\n"))
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// Select returns the events of evs of kind for instance (the label); an
// empty kind or instance matches every event.
func Select(evs []Event, kind, instance string) []Event {
	var out []Event
	for _, e := range evs {
		if (kind == "" || e.Event == kind) && (instance == "" || e.Instance == instance) {
			out = append(out, e)
		}
	}
	return out
}

// WaitEvent waits for the first event (past or future) of kind for instance
// (the label, unescaped) that lansd running as p prints, for which also
// holds too when not nil, and returns it. It fails when ctx ends, p exits
// first, or p prints a JSON line that is not an event (a *DecodeError).
func WaitEvent(ctx context.Context, p *lantest.Proc, kind, instance string, also func(Event) bool) (Event, error) {
	var ev Event
	var bad error
	_, err := p.WaitLine(ctx, func(l string) bool {
		if !isJSON(l) {
			return false
		}
		e, err := Decode(l)
		if err != nil {
			bad = err
			return true
		}
		if e.Event != kind || e.Instance != instance || (also != nil && !also(e)) {
			return false
		}
		ev = e
		return true
	})
	if bad != nil {
		return Event{}, bad
	}
	if err != nil {
		return Event{}, fmt.Errorf("clitest: no %s event for %q from lansd: %w", kind, instance, err)
	}
	return ev, nil
}
