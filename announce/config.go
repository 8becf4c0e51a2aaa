package announce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

// maxConfigSize bounds a configuration file.
const maxConfigSize = 1 << 20

// configFields maps Service field names to their JSON names in a
// configuration file, for error messages.
var configFields = map[string]string{
	"Instance": "name",
	"Type":     "service",
	"Subtypes": "subtypes",
	"Domain":   "domain",
	"Port":     "port",
	"Host":     "host",
	"TXT":      "txt",
}

// LoadConfig reads the services of a configuration file (for
// `lansd announce --config FILE`):
//
//	{"services": [
//	  {"name": "Office TZ", "service": "timezone", "port": 8080,
//	   "txt": {"path": "/tz"}, "subtypes": [], "host": ""}
//	]}
//
// "name", "service" and "port" are required; "txt" is an object or an
// array of "key=value" strings (txt.ParseJSON); "subtypes", "host" and
// "domain" are optional. The whole file is checked before anything is
// returned: JSON syntax (with line and column), unknown or mistyped
// fields, ports outside 0-65535, TXT records that cannot be read, names and
// types that cannot be encoded, and the same instance twice. Every problem
// is reported, each naming the service index and field
// ("services[1].port: ..."). Checks that depend on a registry (service
// names, TXT rules) are made by ValidateServices and Responder.Add.
func LoadConfig(r io.Reader) ([]Service, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("announce: config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("announce: config: larger than %d bytes", maxConfigSize)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("announce: config: %w", jsonError(data, err))
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if k != "services" {
			errs = append(errs, &FieldError{Field: fieldName(k), Reason: `unknown field (only "services")`})
		}
	}
	raw, ok := top["services"]
	if !ok {
		return nil, fmt.Errorf("announce: config: %w", &FieldError{Field: "services", Reason: "missing"})
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("announce: config: %w", &FieldError{Field: "services", Reason: "must be an array of objects", Err: err})
	}
	var out []Service
	type id struct{ inst, typ string }
	seen := map[id]int{}
	for i, item := range list {
		s, serrs := parseConfigService(i, item)
		errs = append(errs, serrs...)
		if len(serrs) > 0 {
			continue
		}
		// Only what a registry cannot change: it is chosen later.
		p, err := s.PrepareEncodable("", nil)
		for _, e := range fieldErrors(err) {
			errs = append(errs, configFieldError(i, e))
		}
		if err == nil {
			k := id{dnsname.MustKey(dnsname.EscapeLabel(s.Instance) + "."), dnsname.MustKey(p.Type + "." + p.Domain)}
			if j, dup := seen[k]; dup {
				errs = append(errs, &FieldError{Field: fmt.Sprintf("services[%d].name", i), Value: s.Instance, Reason: fmt.Sprintf("same instance and type as services[%d]", j)})
			} else {
				seen[k] = i
			}
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("announce: config: %w", errors.Join(errs...))
	}
	return out, nil
}

// parseConfigService decodes services[i].
func parseConfigService(i int, item json.RawMessage) (Service, []error) {
	var s Service
	var errs []error
	field := func(name string) string { return fmt.Sprintf("services[%d].%s", i, name) }
	bad := func(name, reason string, err error) {
		errs = append(errs, &FieldError{Field: field(name), Reason: reason, Err: err})
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
		return s, []error{&FieldError{Field: fmt.Sprintf("services[%d]", i), Reason: "must be an object", Err: err}}
	}
	str := func(name string, dst *string) {
		if v, ok := obj[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				bad(name, "must be a string", err)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch k {
		case "name", "service", "port", "txt", "subtypes", "host", "domain":
		default:
			bad(fieldName(k), "unknown field", nil)
		}
	}
	for _, req := range []string{"name", "service", "port"} {
		if _, ok := obj[req]; !ok {
			bad(req, "missing", nil)
		}
	}
	str("name", &s.Instance)
	str("service", &s.Type)
	str("host", &s.Host)
	str("domain", &s.Domain)
	if v, ok := obj["port"]; ok {
		var n json.Number
		if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '"' {
			v = nil // a string is not a port, even if it holds digits
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&n); err != nil {
			bad("port", "must be a number", err)
		} else if p, err := strconv.ParseInt(n.String(), 10, 64); err != nil || p < 0 || p > 65535 {
			errs = append(errs, &FieldError{Field: field("port"), Value: n.String(), Reason: "must be an integer from 0 to 65535"})
		} else {
			s.Port = uint16(p)
		}
	}
	if v, ok := obj["subtypes"]; ok {
		if err := json.Unmarshal(v, &s.Subtypes); err != nil {
			bad("subtypes", "must be an array of strings", err)
		}
	}
	if v, ok := obj["txt"]; ok && string(bytes.TrimSpace(v)) != "null" {
		rec, err := txt.ParseJSON(v)
		if err != nil {
			bad("txt", "cannot be read", err)
		} else {
			s.TXT = rec
		}
	}
	return s, errs
}

// fieldErrors returns the problems with fields that err, a
// *ValidationError, holds: not the TXT record's findings, which have
// their own.
func fieldErrors(err error) []error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			return []error{err}
		}
		return nil
	}
	if j, ok := ve.Err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if ve.Err != nil {
		return []error{ve.Err}
	}
	return nil
}

// configFieldError renames a *FieldError of Service to its JSON path.
func configFieldError(i int, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("services[%d]: %w", i, err)
	}
	cp := *fe
	cp.Field = ConfigPath(i, fe.Field)
	return &cp
}

// ConfigPath returns the JSON path, in a configuration file read by
// LoadConfig, of the field of services[i] that a FieldError of
// Service.Validate names: ConfigPath(1, "Port") is "services[1].port",
// ConfigPath(0, "Subtypes[2]") is "services[0].subtypes[2]", and
// ConfigPath(2, "") is "services[2]".
func ConfigPath(i int, field string) string {
	if field == "" {
		return fmt.Sprintf("services[%d]", i)
	}
	name, suffix := field, ""
	if j := strings.IndexByte(name, '['); j >= 0 {
		name, suffix = name[:j], name[j:]
	}
	if js, ok := configFields[name]; ok {
		name = js
	}
	return fmt.Sprintf("services[%d].%s%s", i, name, suffix)
}

// fieldName returns an unknown member name of a configuration file as an
// error names it: as it is when it is a plain name (printable ASCII,
// neither empty nor holding spaces, quotes, dots or brackets), else
// quoted, so that "" or a name holding a newline is still visible.
func fieldName(k string) string {
	if k == "" || strings.ContainsFunc(k, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"\.[]`, r)
	}) {
		return strconv.Quote(k)
	}
	return k
}

// jsonError adds the line and column to a JSON syntax or type error.
func jsonError(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return err
	}
	// Offset counts the bytes read, the offending one included.
	line, col := 1, 1
	for _, c := range data[:max(0, min(int(off)-1, len(data)))] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// ValidateServices validates every service (Service.Validate against reg)
// and reports all problems at once, each prefixed with the service's index
// ("services[2] ..."), so that a configuration is refused as a whole
// before anything is announced.
func ValidateServices(services []Service, reg *registry.Registry) error {
	var errs []error
	for i, s := range services {
		if _, err := s.Validate(reg); err != nil {
			errs = append(errs, fmt.Errorf("services[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}
