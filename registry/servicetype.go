package registry

import (
	"errors"
	"strings"

	"github.com/lansd/lansd/internal/dnsname"
)

// Type is a parsed DNS-SD service type (RFC 6763 section 7), such as
// "_timezone._tcp.local." or "_printer._sub._http._tcp".
type Type struct {
	// Service is the service name without its leading underscore ("timezone").
	Service string
	// Proto is "tcp" or "udp" (lower case), or "" for a bare service name;
	// a caller then decides the protocol from the registry ([Service.Type]).
	Proto string
	// Domain is the domain after the protocol label, without a trailing dot
	// ("local"), or "".
	Domain string
	// Subtype is the subtype label exactly as written, including its
	// underscore if it has one ("_printer"), or "" (RFC 6763 section 7.1).
	Subtype string
}

// String returns the type in DNS-SD form: "[subtype._sub.]_service._proto[.domain]",
// or the bare service name when Proto is empty.
func (t Type) String() string {
	if t.Proto == "" {
		return t.Service
	}
	var b strings.Builder
	if t.Subtype != "" {
		b.WriteString(t.Subtype)
		b.WriteString("._sub.")
	}
	b.WriteString("_")
	b.WriteString(t.Service)
	b.WriteString("._")
	b.WriteString(t.Proto)
	if t.Domain != "" {
		b.WriteString(".")
		b.WriteString(t.Domain)
	}
	return b.String()
}

// maxLabel and maxName are the DNS limits of RFC 1035 section 2.3.4.
const (
	maxLabel = 63
	maxName  = 255
)

// ParseType parses a DNS-SD service type: "_timezone._tcp",
// "_timezone._tcp.local." (a domain of any name is accepted, the trailing
// dot is optional), "_printer._sub._http._tcp.local." (a subtype, RFC 6763
// section 7.1), or a bare service name "timezone" (a single label without a
// leading underscore; Proto is then empty and the caller decides the
// protocol from the registry).
//
// The service name must satisfy RFC 6335 section 5.1 ([CheckName]); the
// protocol label MUST be "_tcp" or "_udp" (RFC 6763 section 7). Errors are a
// [*TypeError] naming the label and byte offset.
func ParseType(s string) (Type, error) {
	if s == "" {
		return Type{}, &TypeError{Input: s, Offset: 0, Reason: "empty service type"}
	}
	if len(s) > maxName {
		return Type{}, &TypeError{Input: s, Label: "", Offset: maxName, Reason: "longer than 255 bytes"}
	}
	if s[0] != '_' && strings.IndexByte(s, '.') < 0 {
		// A bare service name.
		if err := CheckName(s); err != nil {
			return Type{}, nameTypeError(s, s, 0, err)
		}
		return Type{Service: s}, nil
	}

	// Split into labels, remembering each label's offset.
	body := strings.TrimSuffix(s, ".")
	var labels []string
	var offs []int
	for off := 0; ; {
		i := strings.IndexByte(body[off:], '.')
		end := len(body)
		if i >= 0 {
			end = off + i
		}
		l := body[off:end]
		if l == "" {
			return Type{}, &TypeError{Input: s, Offset: off, Reason: "empty label"}
		}
		if len(l) > maxLabel {
			return Type{}, &TypeError{Input: s, Label: l, Offset: off, Reason: "label longer than 63 bytes"}
		}
		labels = append(labels, l)
		offs = append(offs, off)
		if i < 0 {
			break
		}
		off = end + 1
	}

	var t Type
	i := 0
	if len(labels) >= 2 && dnsname.ASCIILower(labels[1]) == dnsname.SubLabel { // RFC 6762 section 16: ASCII case only
		t.Subtype = labels[0]
		i = 2
	}
	if i >= len(labels) {
		return Type{}, &TypeError{Input: s, Label: labels[1], Offset: len(s), Reason: "missing service label after _sub"}
	}
	svc := labels[i]
	if svc[0] != '_' {
		return Type{}, &TypeError{Input: s, Label: svc, Offset: offs[i], Reason: "service label must begin with '_' (RFC 6763 section 7)"}
	}
	if err := CheckName(svc[1:]); err != nil {
		return Type{}, nameTypeError(s, svc, offs[i]+1, err)
	}
	t.Service = svc[1:]
	if i+1 >= len(labels) {
		return Type{}, &TypeError{Input: s, Label: svc, Offset: len(s), Reason: "missing protocol label _tcp or _udp"}
	}
	// RFC 6763 section 7: the second label is "_tcp" for services over TCP
	// and "_udp" for all others.
	switch proto := labels[i+1]; {
	case dnsname.ASCIILower(proto) == "_tcp":
		t.Proto = "tcp"
	case dnsname.ASCIILower(proto) == "_udp":
		t.Proto = "udp"
	default:
		return Type{}, &TypeError{Input: s, Label: proto, Offset: offs[i+1], Reason: "protocol label must be _tcp or _udp (RFC 6763 section 7)"}
	}
	if i+2 < len(labels) {
		t.Domain = body[offs[i+2]:]
	}
	return t, nil
}

// nameTypeError wraps a CheckName error about label, whose service name
// starts at byte nameOff of s.
func nameTypeError(s, label string, nameOff int, err error) error {
	te := &TypeError{Input: s, Label: label, Offset: nameOff, Reason: err.Error(), Err: err}
	var ne *NameError
	if errors.As(err, &ne) {
		te.Offset = nameOff + ne.Offset
		te.Reason = "service name: " + ne.Reason + " (RFC 6335 section 5.1)"
	}
	return te
}
