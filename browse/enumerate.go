package browse

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lansd/lansd/registry"
)

// typeSeen records a service type named by an enumeration PTR record
// (RFC 6763 section 9) and, when browsing ServicesType, browses it too.
// Names that are not "_name._tcp.local." or "_name._udp.local." are ignored.
func (e *engine) typeSeen(ptr string) {
	if len(e.seenTypes) >= maxTypes {
		return
	}
	k := mustKey(ptr)
	if _, ok := e.seenTypes[k]; ok {
		return
	}
	ls := labels(ptr)
	if len(ls) != 3 || !strings.EqualFold(ls[2], "local") {
		return
	}
	t, err := registry.ParseType(ls[0] + "." + ls[1])
	if err != nil || t.Subtype != "" {
		e.log.Debug("browse: ignoring enumerated type", "name", ptr, "err", err)
		return
	}
	st := registry.Type{Service: strings.ToLower(t.Service), Proto: t.Proto}.String()
	e.seenTypes[k] = st
	if e.autoTypes {
		bt := browseType{service: st, query: st + "." + localDomain}
		e.addType(bt, time.Now().Add(firstDelay(e.rnd)))
	}
}

// enumerated returns the service types seen, sorted.
func (e *engine) enumerated() []string {
	out := make([]string, 0, len(e.seenTypes))
	for _, t := range e.seenTypes {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// Enumerate asks which service types are on the link (the
// _services._dns-sd._udp.local. meta-query, RFC 6763 section 9, asked
// continuously as RFC 6762 section 5.2 says) until ctx is done, and returns
// the types seen, "_timezone._tcp", sorted. It returns an error only when
// the transport cannot be opened or fails.
func Enumerate(ctx context.Context, opts Options) ([]string, error) {
	e, err := newEngine(opts)
	if err != nil {
		return nil, err
	}
	e.wantTypes = []browseType{{query: servicesName}}
	e.discard = true
	b, err := open(ctx, context.WithoutCancel(ctx), e, opts)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	select {
	case <-ctx.Done():
	case <-b.done:
		return nil, b.Err()
	}
	var types []string
	if !b.do(func() { types = e.enumerated() }) {
		return nil, b.Err()
	}
	return types, nil
}
