package browse

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/registry"
)

// Well-known names.
const (
	// localDomain is the only domain Multicast DNS serves (RFC 6762 section 3).
	localDomain = "local."
	// ServicesType is the DNS-SD service type enumeration meta-query
	// (RFC 6763 section 9). Given to Browse or NewBrowser as a type, it
	// browses every service type that responders on the link enumerate,
	// adding each one as it is discovered.
	ServicesType = "_services._dns-sd._udp"
)

// servicesName is the enumeration meta-query name in the local domain.
const servicesName = ServicesType + "." + localDomain

// ErrBadName is wrapped by errors about names that are not usable: a
// service type that does not parse, a name outside local., an instance name
// without service type.
var ErrBadName = errors.New("browse: bad name")

// nameKey returns the key under which the presentation-form name s is
// compared: its uncompressed wire form with ASCII letters folded to lower
// case, so that equal keys mean the same name (RFC 6762 section 16: names
// are compared case-insensitively for ASCII only, byte-for-byte for the
// rest). ok is false when s does not pack as a domain name.
func nameKey(s string) (string, bool) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(s), buf[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	b := buf[:n]
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b), true
}

// mustKey is nameKey for names built by this package from valid parts; an
// invalid name gets a key no packed name can have.
func mustKey(s string) string {
	if k, ok := nameKey(s); ok {
		return k
	}
	return "\xff" + strings.ToLower(s)
}

// labels returns the labels of the presentation-form name s with their
// escapes (\. \\ \DDD and RFC 1035 quoted characters) resolved to raw
// bytes.
func labels(s string) []string {
	parts := dns.SplitDomainName(s)
	for i, p := range parts {
		parts[i] = unescapeLabel(p)
	}
	return parts
}

// unescapeLabel resolves the presentation escapes of one label: \DDD is the
// byte with decimal value DDD, \X is X.
func unescapeLabel(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v <= 255 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// escapeLabel writes raw label bytes in the form RFC 6763 section 4.3
// uses to show an instance name: a dot is \. and a backslash \\; control
// bytes are \DDD so that the name stays on one line. Spaces and UTF-8 are
// kept. miekg/dns packs the result back into exactly the raw bytes.
func escapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\%03d`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// displayName rewrites a name received from miekg/dns (which escapes
// spaces, quotes and more) into the form of escapeLabel, label by label.
func displayName(s string) string {
	ls := labels(s)
	if len(ls) == 0 {
		return "."
	}
	for i, l := range ls {
		ls[i] = escapeLabel(l)
	}
	return strings.Join(ls, ".") + "."
}

// browseType is a parsed type to browse: the PTR question name and the
// DNS-SD service type its instances have.
type browseType struct {
	// query is the PTR question name, "_timezone._tcp.local." or
	// "_printer._sub._http._tcp.local.".
	query string
	// service is the base service type without domain, "_http._tcp".
	service string
}

// parseBrowseType turns "timezone", "_timezone._tcp", "_timezone._tcp.local."
// or "_printer._sub._http._tcp" into a browseType. A bare name is looked up
// in reg for its protocol. Only the local. domain is accepted (RFC 6762
// section 3: Multicast DNS serves the "local." domain).
func parseBrowseType(s string, reg *registry.Registry) (browseType, error) {
	if strings.EqualFold(strings.TrimSuffix(s, "."), ServicesType) ||
		strings.EqualFold(strings.TrimSuffix(s, "."), strings.TrimSuffix(servicesName, ".")) {
		return browseType{query: servicesName, service: ServicesType}, nil
	}
	t, err := registry.ParseType(s)
	if err != nil {
		return browseType{}, fmt.Errorf("%w: service type %q: %w", ErrBadName, s, err)
	}
	if t.Proto == "" {
		svc, ok := reg.Lookup(s)
		if !ok {
			return browseType{}, fmt.Errorf("%w: service %q is not in the registry; give the type as _%s._tcp or _%s._udp", ErrBadName, s, s, s)
		}
		if !svc.Usable() {
			return browseType{}, fmt.Errorf("%w: service %q cannot be a DNS-SD type: %v", ErrBadName, s, svc.SyntaxErr)
		}
		t, err = registry.ParseType(svc.Type())
		if err != nil {
			return browseType{}, fmt.Errorf("%w: service %q: %w", ErrBadName, s, err)
		}
	}
	if t.Domain != "" && !strings.EqualFold(strings.TrimSuffix(t.Domain, "."), "local") {
		return browseType{}, fmt.Errorf("%w: %q: Multicast DNS serves only the local. domain, not %q", ErrBadName, s, t.Domain)
	}
	base := registry.Type{Service: strings.ToLower(t.Service), Proto: t.Proto}
	bt := browseType{service: base.String()}
	bt.query = bt.service + "." + localDomain
	if t.Subtype != "" {
		bt.query = escapeLabel(unescapeLabel(t.Subtype)) + "._sub." + bt.query
	}
	return bt, nil
}

// splitInstance splits a full service instance name (presentation form)
// into its instance label (raw), service type ("_timezone._tcp") and
// domain ("local."), the last two with escapeLabel's escapes, as RFC 6763
// section 4.1 composes them:
// <Instance>.<Service>.<Domain>. ok is false when the name has fewer than
// four labels or no _proto label.
func splitInstance(name string) (instance, service, domain string, ok bool) {
	ls := labels(name)
	if len(ls) < 4 {
		return "", "", "", false
	}
	// The service is the two labels after the instance: _name._tcp.
	proto := strings.ToLower(ls[2])
	if proto != "_tcp" && proto != "_udp" {
		return "", "", "", false
	}
	rest := ls[3:]
	for i, l := range rest {
		rest[i] = escapeLabel(l)
	}
	domain = strings.Join(rest, ".") + "."
	return ls[0], escapeLabel(ls[1]) + "." + ls[2], domain, true
}

// ParseInstanceName parses a service instance name as a user types it:
// "Office TZ._timezone._tcp.local." or "Office TZ._timezone._tcp" (local.
// is added). Dots and backslashes inside the instance label are written
// \. and \\; \DDD gives any byte (RFC 6763 section 4.3). It returns the
// name in the form Instance.Name uses, the raw instance label and the
// service type. Errors wrap ErrBadName and say what is wrong.
func ParseInstanceName(s string) (name, instance, service string, err error) {
	if s == "" {
		return "", "", "", fmt.Errorf("%w: empty instance name", ErrBadName)
	}
	full := strings.TrimSuffix(s, ".")
	lower := strings.ToLower(full)
	if !strings.HasSuffix(lower, ".local") {
		full += ".local"
	}
	full += "."
	ls := labels(full)
	if len(ls) < 4 {
		return "", "", "", fmt.Errorf("%w: %q: want Instance._service._tcp.local. (RFC 6763 section 4.1)", ErrBadName, s)
	}
	if len(ls) > 4 {
		return "", "", "", fmt.Errorf("%w: %q: only local. is served by Multicast DNS; an unescaped dot in the instance label must be written \\.", ErrBadName, s)
	}
	t, perr := registry.ParseType(ls[1] + "." + ls[2])
	if perr != nil {
		return "", "", "", fmt.Errorf("%w: %q: service type: %w", ErrBadName, s, perr)
	}
	if ls[0] == "" {
		return "", "", "", fmt.Errorf("%w: %q: empty instance label", ErrBadName, s)
	}
	if len(ls[0]) > 63 {
		return "", "", "", fmt.Errorf("%w: %q: instance label is %d bytes, more than 63 (RFC 6763 section 4.1.1)", ErrBadName, s, len(ls[0]))
	}
	service = registry.Type{Service: strings.ToLower(t.Service), Proto: t.Proto}.String()
	name = escapeLabel(ls[0]) + "." + service + "." + localDomain
	if _, ok := nameKey(name); !ok {
		return "", "", "", fmt.Errorf("%w: %q is not a valid domain name", ErrBadName, s)
	}
	return name, ls[0], service, nil
}
