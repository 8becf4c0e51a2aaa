package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// The operations of the local API (Request.Op).
const (
	OpRegister = "register"
	OpUpdate   = "update"
	OpWithdraw = "withdraw"
	OpBrowse   = "browse"
	OpResolve  = "resolve"
	OpCancel   = "cancel"
	OpStatus   = "status"
)

// MaxLine bounds one line of the protocol, either way.
const MaxLine = 1 << 20

// Request is one line a client sends.
type Request struct {
	// ID is chosen by the client, unique among its requests on the
	// connection; every line that answers it carries it.
	ID int64 `json:"id"`
	// Op is the operation: register, update, withdraw, browse, resolve,
	// cancel or status.
	Op string `json:"op"`
	// Service is the service to register: one element of the "services"
	// list of the lansd announce --config format.
	Service json.RawMessage `json:"service,omitempty"`
	// Ref names the register request (update, withdraw) or the browse or
	// resolve request (cancel) by its ID.
	Ref int64 `json:"ref,omitempty"`
	// TXT is an update's new TXT record, as in the --config format (an
	// object, or an array of "key=value" strings).
	TXT json.RawMessage `json:"txt,omitempty"`
	// TXTWire is an update's new TXT record in wire form (RFC 6763
	// section 6), base64, instead of TXT: for values that are not UTF-8.
	TXTWire []byte `json:"txt_wire,omitempty"`
	// Types are the service types to browse, as lansd browse takes them.
	Types []string `json:"types,omitempty"`
	// Strict makes a browse's or resolve's verdicts treat warnings as
	// errors.
	Strict bool `json:"strict,omitempty"`
	// Name is the instance name to resolve.
	Name string `json:"name,omitempty"`
	// TimeoutMS bounds a resolve, in milliseconds (0: 5000).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// Response is one line the daemon sends: the reply to a request (OK set),
// an event of a browse or resolve stream (the members of sd.JSONEvent, the
// lansd browse --json line, plus seen), a stream's quiet mark or its end.
type Response struct {
	ID int64 `json:"id"`
	// OK is set on the one reply to every request: true when it was done.
	OK *bool `json:"ok,omitempty"`
	// Error says why a request failed, or why a stream ended early.
	Error string `json:"error,omitempty"`
	// Problems are a refused registration's or update's problems, each
	// naming the field of the service object ("service.port: ...") or the
	// TXT finding.
	Problems []string `json:"problems,omitempty"`
	// Report holds a refused registration's TXT findings.
	Report []sd.JSONFinding `json:"report,omitempty"`
	// Published is a registration's final name, after probing:
	// "Office TZ (2)._timezone._tcp.local." when the name was taken.
	Published string `json:"published,omitempty"`
	// Renamed says why the name is not the one asked for.
	Renamed string `json:"renamed,omitempty"`
	// Status is the reply to status.
	Status *Status `json:"status,omitempty"`
	// An event of a browse (add, update, remove) or a resolve (resolved).
	*sd.JSONEvent
	// Seen lists the interfaces and address families of an event's
	// instance: "lan0/IPv4".
	Seen []string `json:"seen,omitempty"`
	// Registration is an event of a registered service (the register
	// request's id): "announced" again after a conflict, "conflict",
	// "renamed", "deferred".
	Registration *RegistrationEvent `json:"registration,omitempty"`
	// Quiet marks the point of a browse stream where its first rounds of
	// queries have gone quiet (sd.Browser.Quiet): at once for a type the
	// daemon already browses.
	Quiet bool `json:"quiet,omitempty"`
	// Done ends a browse or resolve stream (after a cancel, the end of a
	// resolve, or an error).
	Done bool `json:"done,omitempty"`
}

// RegistrationEvent is the JSON form of an sd.RegistrationEvent.
type RegistrationEvent struct {
	Kind   string `json:"kind"`
	Old    string `json:"old"`
	New    string `json:"new"`
	Reason string `json:"reason,omitempty"`
	Time   string `json:"time"`
}

// registrationKinds reads RegistrationEvent.Kind.
var registrationKinds = map[string]sd.RegistrationEventKind{}

func init() {
	for k := sd.Announced; k <= sd.Withdrawn; k++ {
		registrationKinds[k.String()] = k
	}
}

// Status is what the daemon announces and caches.
type Status struct {
	// Host is the host name the daemon claims, "h1.local.".
	Host string `json:"host"`
	// Interfaces are the interfaces it announces on.
	Interfaces []string `json:"interfaces"`
	// Services are the services it announces.
	Services []StatusService `json:"services"`
	// Files are the services files read, with their problems.
	Files []StatusFile `json:"files"`
	// Browsers are the service types browsed, whose instances are cached.
	Browsers []StatusBrowser `json:"browsers"`
	// Clients is the number of clients connected.
	Clients int `json:"clients"`
}

// StatusService is one announced service.
type StatusService struct {
	// Name is its full name.
	Name string `json:"name"`
	// Source is where it comes from: a file ("services.d/printer.json")
	// or a client ("client 3").
	Source string `json:"source"`
}

// StatusFile is one services file.
type StatusFile struct {
	Path     string `json:"path"`
	Services int    `json:"services"`
	// Error is why its last reload was refused ("" when it was not).
	Error string `json:"error,omitempty"`
}

// StatusBrowser is one service type the daemon browses.
type StatusBrowser struct {
	Type      string `json:"type"`
	Strict    bool   `json:"strict,omitempty"`
	Clients   int    `json:"clients"`
	Instances int    `json:"instances"`
	Records   int    `json:"records"`
}

// EncodeService returns s in the lansd announce --config format: the
// object a register request carries. The TXT record is an array of
// "key=value" strings, or, when a key or value is not UTF-8 (which a JSON
// string cannot carry), "txt_wire": its wire form (RFC 6763 section 6),
// base64, which the daemon accepts in place of "txt".
func EncodeService(s announce.Service) (json.RawMessage, error) {
	obj := map[string]any{"name": s.Instance, "service": s.Type, "port": s.Port}
	if len(s.Subtypes) > 0 {
		obj["subtypes"] = s.Subtypes
	}
	if s.Host != "" {
		obj["host"] = s.Host
	}
	if s.Domain != "" {
		obj["domain"] = s.Domain
	}
	if strs, ok := txtStrings(s.TXT); ok {
		obj["txt"] = strs
	} else {
		wire, err := s.TXT.Encode()
		if err != nil {
			return nil, &announce.FieldError{Field: "service.txt", Reason: "cannot be encoded", Err: err}
		}
		obj["txt_wire"] = wire
	}
	return sd.MarshalJSONLine(obj)
}

// txtStrings returns the strings of rec, "key=value", false when one is
// not UTF-8.
func txtStrings(rec txt.Record) ([]string, bool) {
	out := make([]string, len(rec.Items))
	for i, it := range rec.Items {
		s := it.Key
		if it.HasValue {
			s += "=" + string(it.Value)
		}
		if !utf8.ValidString(s) {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// DecodeService reads a register request's service object, as
// announce.LoadConfig reads one element of "services" (with "txt_wire" in
// place of "txt" allowed): errors name the field as "service.port".
func DecodeService(raw json.RawMessage) (announce.Service, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return announce.Service{}, &announce.FieldError{Field: "service", Reason: "missing"}
	}
	var wire []byte
	hasWire := false
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		if w, ok := obj["txt_wire"]; ok {
			if _, both := obj["txt"]; both {
				return announce.Service{}, &announce.FieldError{Field: "service.txt_wire", Reason: `give "txt" or "txt_wire", not both`}
			}
			if err := json.Unmarshal(w, &wire); err != nil {
				return announce.Service{}, &announce.FieldError{Field: "service.txt_wire", Reason: "must be base64", Err: err}
			}
			hasWire = true
			delete(obj, "txt_wire")
			raw, _ = json.Marshal(obj)
		}
	}
	var doc bytes.Buffer
	doc.WriteString(`{"services":[`)
	doc.Write(raw)
	doc.WriteString(`]}`)
	services, err := announce.LoadConfig(&doc)
	if err != nil {
		var out []error
		for _, e := range parseProblems(err) {
			out = append(out, renameField(e, serviceField))
		}
		return announce.Service{}, errors.Join(out...)
	}
	if len(services) != 1 {
		return announce.Service{}, &announce.FieldError{Field: "service", Reason: "must be one object"}
	}
	if hasWire {
		rec, err := txt.Decode(wire)
		if err != nil {
			return announce.Service{}, &announce.FieldError{Field: "service.txt_wire", Reason: "cannot be read", Err: err}
		}
		services[0].TXT = rec
	}
	return services[0], nil
}

// serviceField names a field of a register request's service: the
// --config path "services[0].port" or the Service field "Port" become
// "service.port".
func serviceField(f string) string {
	f = strings.TrimPrefix(f, "services[0]")
	f = strings.TrimPrefix(f, ".")
	if f == "" {
		return "service"
	}
	if !strings.ContainsAny(f[:1], "abcdefghijklmnopqrstuvwxyz") {
		f = strings.TrimPrefix(announce.ConfigPath(0, f), "services[0].")
	}
	return "service." + f
}

// problemStrings returns the messages of errs.
func problemStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// RefusedError is a registration or update the daemon refused: the
// service did not pass validation, and nothing was announced.
type RefusedError struct {
	// Problems name the fields ("service.txt: ...").
	Problems []string
	// Report holds the TXT findings.
	Report txt.Report
}

// Error joins the problems.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("daemon: refused: %s", strings.Join(e.Problems, "; "))
}

// sourceString writes s as "lan0/IPv4".
func sourceString(s sd.Source) string {
	return fmt.Sprintf("%s/IPv%d", s.Iface, int(s.Family))
}

// parseSource reads "lan0/IPv4".
func parseSource(s string) (sd.Source, bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return sd.Source{}, false
	}
	switch s[i+1:] {
	case "IPv4":
		return sd.Source{Iface: s[:i], Family: sd.IPv4}, true
	case "IPv6":
		return sd.Source{Iface: s[:i], Family: sd.IPv6}, true
	}
	return sd.Source{}, false
}
