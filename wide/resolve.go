package wide

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// SplitInstanceName parses a service instance name in any domain, "Office
// TZ._timezone._tcp.tz.example.net." (RFC 6763 section 4.1): the instance
// label (dots and backslashes in it written \. and \\, \DDD for any byte),
// the service type and the domain. A name of three labels,
// "Office TZ._timezone._tcp", is in local. It returns the name in the form
// sd.Instance.Name uses, the raw instance label, the service type
// ("_timezone._tcp") and the domain ("tz.example.net."). Errors wrap
// ErrBadName.
func SplitInstanceName(s string) (name, instance, service, domain string, err error) {
	if s == "" {
		return "", "", "", "", fmt.Errorf("browse: %w: empty instance name", ErrBadName)
	}
	full := strings.TrimSuffix(s, ".") + "."
	ls := dnsname.Labels(full)
	if len(ls) == 3 {
		ls = append(ls, "local")
	}
	if len(ls) < 4 {
		return "", "", "", "", fmt.Errorf("browse: %w: %q: want Instance._service._tcp.domain. (RFC 6763 section 4.1)", ErrBadName, s)
	}
	t, perr := registry.ParseType(ls[1] + "." + ls[2])
	if perr != nil || t.Proto == "" {
		return "", "", "", "", fmt.Errorf("browse: %w: %q: want Instance._service._tcp.domain. (RFC 6763 section 4.1); an unescaped dot in the instance label must be written \\.", ErrBadName, s)
	}
	if ls[0] == "" {
		return "", "", "", "", fmt.Errorf("browse: %w: %q: empty instance label", ErrBadName, s)
	}
	if len(ls[0]) > 63 {
		return "", "", "", "", fmt.Errorf("browse: %w: %q: instance label is %d bytes, more than 63 (RFC 6763 section 4.1.1)", ErrBadName, s, len(ls[0]))
	}
	rest := ls[3:]
	for i, l := range rest {
		rest[i] = dnsname.EscapeLabel(l)
	}
	domain = strings.Join(rest, ".") + "."
	service = engine.BaseType(t)
	name = dnsname.EscapeLabel(ls[0]) + "." + service + "." + domain
	if _, ok := dnsname.Key(name); !ok {
		return "", "", "", "", fmt.Errorf("browse: %w: %q is not a valid domain name", ErrBadName, s)
	}
	return name, ls[0], service, domain, nil
}

// resolveRetry is the wait between two polls of Resolve while the
// instance is incomplete.
const resolveRetry = time.Second

// Resolve looks up one service instance in a unicast DNS domain,
// "Office TZ._timezone._tcp.tz.example.net." (see SplitInstanceName): its
// SRV and TXT records and its target's addresses, asked of opts.Server (or
// the system resolvers), again every second until it is complete (with an
// address: an instance whose target has none is not resolved) or ctx
// ends; opts.Domains and opts.Interval are not used. The instance and its
// verdict are built as for Multicast DNS. Errors: a name that does not
// parse or lies in local. (wrapping ErrBadName), a *QueryError when no
// server answers, an *sd.ResolveError naming what was missing when ctx ends
// first (both wrapped).
func Resolve(ctx context.Context, instanceName string, opts BrowseOptions) (sd.Instance, error) {
	name, _, _, domain, err := SplitInstanceName(instanceName)
	if err != nil {
		return sd.Instance{}, err
	}
	if _, err := CheckDomain(domain); err != nil {
		return sd.Instance{}, err
	}
	var found *sd.Instance
	_, e, q, err := newEngine(opts, func(ev sd.Event) {
		if ev.Kind != sd.Remove && len(ev.Instance.Addrs) > 0 {
			in := ev.Instance
			found = &in
		}
	})
	if err != nil {
		return sd.Instance{}, err
	}
	e.Pin(name)
	fam := serverFamily(q)
	for {
		r := q.poll(ctx, planPoll(e, nil, nil))
		answered := false
		var firstErr error
		for _, a := range r.answers {
			if a.err == nil {
				answered = true
			} else if firstErr == nil {
				firstErr = a.err
			}
		}
		if !answered && firstErr != nil {
			return sd.Instance{}, fmt.Errorf("browse: %w", firstErr)
		}
		applyRound(e, r, fam, resolveRetry, time.Now())
		e.Settle(time.Now())
		if found != nil {
			return *found, nil
		}
		select {
		case <-ctx.Done():
			return sd.Instance{}, fmt.Errorf("browse: %w", &sd.ResolveError{Name: name, Missing: e.Missing(name), Err: ctx.Err()})
		case <-time.After(resolveRetry):
		}
	}
}
