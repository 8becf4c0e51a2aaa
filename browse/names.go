package browse

import (
	"fmt"
	"strings"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/registry"
)

// ParseInstanceName parses a service instance name as a user types it:
// "Office TZ._timezone._tcp.local." or "Office TZ._timezone._tcp" (local.
// is added). Dots and backslashes inside the instance label are written
// \. and \\; \DDD gives any byte (RFC 6763 section 4.3). It returns the
// name in the form Instance.Name uses, the raw instance label and the
// service type. Errors wrap ErrBadName and say what is wrong.
func ParseInstanceName(s string) (name, instance, service string, err error) {
	if s == "" {
		return "", "", "", fmt.Errorf("browse: %w: empty instance name", ErrBadName)
	}
	full := strings.TrimSuffix(s, ".")
	if !strings.HasSuffix(dnsname.ASCIILower(full), ".local") {
		full += ".local"
	}
	full += "."
	ls := dnsname.Labels(full)
	if len(ls) < 4 {
		return "", "", "", fmt.Errorf("browse: %w: %q: want Instance._service._tcp.local. (RFC 6763 section 4.1)", ErrBadName, s)
	}
	if len(ls) > 4 {
		return "", "", "", fmt.Errorf("browse: %w: %q: only local. is served by Multicast DNS; an unescaped dot in the instance label must be written \\.", ErrBadName, s)
	}
	t, perr := registry.ParseType(ls[1] + "." + ls[2])
	if perr != nil {
		return "", "", "", fmt.Errorf("browse: %w: %q: service type: %w", ErrBadName, s, perr)
	}
	if ls[0] == "" {
		return "", "", "", fmt.Errorf("browse: %w: %q: empty instance label", ErrBadName, s)
	}
	if len(ls[0]) > 63 {
		return "", "", "", fmt.Errorf("browse: %w: %q: instance label is %d bytes, more than 63 (RFC 6763 section 4.1.1)", ErrBadName, s, len(ls[0]))
	}
	service = engine.BaseType(t)
	name = dnsname.EscapeLabel(ls[0]) + "." + service + "." + dnsname.Local
	if _, ok := dnsname.Key(name); !ok {
		return "", "", "", fmt.Errorf("browse: %w: %q is not a valid domain name", ErrBadName, s)
	}
	return name, ls[0], service, nil
}
