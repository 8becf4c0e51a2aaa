package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// ServicesName is the enumeration meta-query name in the local domain
// (RFC 6763 section 9).
const ServicesName = dnsname.ServicesType + "." + dnsname.Local

// servicesKey is the key of ServicesName.
var servicesKey = dnsname.MustKey(ServicesName)

// Type is a parsed type to browse: the PTR question name and the DNS-SD
// service type its instances have.
type Type struct {
	// Query is the PTR question name, "_timezone._tcp.local." or
	// "_printer._sub._http._tcp.local.".
	Query string
	// Service is the base service type without domain, "_http._tcp"
	// (sd.ServicesType for the enumeration meta-query).
	Service string
}

// ParseType turns "timezone", "_timezone._tcp", "_timezone._tcp.local."
// or "_printer._sub._http._tcp" into a Type in local.; ServicesType gives
// the enumeration meta-query. A bare name is looked up in reg for its
// protocol. Only the local. domain is accepted (RFC 6762 section 3:
// Multicast DNS serves the "local." domain). Errors wrap sd.ErrBadName and
// carry no package prefix.
func ParseType(s string, reg *registry.Registry) (Type, error) {
	if dnsname.Equal(s, dnsname.ServicesType) || dnsname.Equal(s, ServicesName) {
		return Type{Query: ServicesName, Service: dnsname.ServicesType}, nil
	}
	t, err := registry.ParseType(s)
	if err != nil {
		return Type{}, fmt.Errorf("%w: service type %q: %w", sd.ErrBadName, s, err)
	}
	if t.Proto == "" {
		svc, ok := reg.Lookup(s)
		if !ok {
			return Type{}, fmt.Errorf("%w: service %q is not in the registry; give the type as _%s._tcp or _%s._udp", sd.ErrBadName, s, s, s)
		}
		if !svc.Usable() {
			return Type{}, fmt.Errorf("%w: service %q cannot be a DNS-SD type: %v", sd.ErrBadName, s, svc.SyntaxErr)
		}
		t, err = registry.ParseType(svc.Type())
		if err != nil {
			return Type{}, fmt.Errorf("%w: service %q: %w", sd.ErrBadName, s, err)
		}
	}
	if t.Domain != "" && !dnsname.Equal(t.Domain, dnsname.Local) {
		return Type{}, fmt.Errorf("%w: %q: Multicast DNS serves only the local. domain, not %q", sd.ErrBadName, s, t.Domain)
	}
	bt := Type{Service: BaseType(t)}
	bt.Query = bt.Service + "." + dnsname.Local
	if t.Subtype != "" {
		bt.Query = dnsname.EscapeLabel(dnsname.UnescapeLabel(t.Subtype)) + "." + dnsname.SubLabel + "." + bt.Query
	}
	return bt, nil
}

// BaseType returns t's service type without subtype or domain, its
// service label in lower case: "_http._tcp".
func BaseType(t registry.Type) string {
	return registry.Type{Service: dnsname.ASCIILower(t.Service), Proto: t.Proto}.String()
}

// SplitInstance splits a full service instance name (presentation form)
// into its instance label (raw), service type ("_timezone._tcp") and
// domain ("local."), the last two with dnsname.EscapeLabel's escapes, as
// RFC 6763 section 4.1 composes them: <Instance>.<Service>.<Domain>. ok is
// false when the name has fewer than four labels or no _proto label.
func SplitInstance(name string) (instance, service, domain string, ok bool) {
	ls := dnsname.Labels(name)
	if len(ls) < 4 {
		return "", "", "", false
	}
	// The service is the two labels after the instance: _name._tcp.
	proto := dnsname.ASCIILower(ls[2])
	if proto != "_tcp" && proto != "_udp" {
		return "", "", "", false
	}
	rest := ls[3:]
	for i, l := range rest {
		rest[i] = dnsname.EscapeLabel(l)
	}
	domain = strings.Join(rest, ".") + "."
	return ls[0], dnsname.EscapeLabel(ls[1]) + "." + ls[2], domain, true
}

// AddType starts browsing t (idempotent), asking its PTR question through
// Asker.Browse; instances already cached under it become followed. The
// enumeration meta-query (ServicesName) makes the engine note the types
// enumerated (Enumerated) and, when t.Service is sd.ServicesType, browse
// each of them too.
func (e *Engine) AddType(t Type, now time.Time) { e.addType(t, now, false) }

func (e *Engine) addType(bt Type, now time.Time, learnt bool) {
	if bt.Query == ServicesName {
		e.enumerating = true
		e.autoTypes = e.autoTypes || bt.Service == dnsname.ServicesType
		e.ask.Browse(ServicesName, now, learnt)
		return
	}
	k := dnsname.MustKey(bt.Query)
	if _, ok := e.types[k]; ok {
		return
	}
	e.types[k] = bt
	e.ask.Browse(bt.Query, now, learnt)
	// Instances already cached under the type become tracked.
	for _, en := range e.cache.lookup(setKey{name: k, rrtype: dns.TypePTR}) {
		e.ptrChanged(en, true)
	}
}

// typeSeen records a service type named by a Multicast DNS enumeration
// PTR record (RFC 6763 section 9) received at now and, when browsing
// ServicesType, browses it too. Names that are not "_name._tcp.local." or
// "_name._udp.local." are ignored.
func (e *Engine) typeSeen(ptr string, now time.Time) {
	if len(e.seenTypes) >= MaxTypes {
		return
	}
	k := dnsname.MustKey(ptr)
	if _, ok := e.seenTypes[k]; ok {
		return
	}
	ls := dnsname.Labels(ptr)
	if len(ls) != 3 || dnsname.ASCIILower(ls[2]) != "local" {
		return
	}
	t, err := registry.ParseType(ls[0] + "." + ls[1])
	if err != nil || t.Subtype != "" {
		e.log.Debug("browse: ignoring enumerated type", "name", ptr, "err", err)
		return
	}
	st := BaseType(t)
	e.seenTypes[k] = st
	if e.autoTypes {
		e.addType(Type{Service: st, Query: st + "." + dnsname.Local}, now, true)
	}
}

// TypeFound records t, a type a unicast DNS domain enumerates (RFC 6763
// section 9), for Enumerated, and browses it while fewer than MaxTypes
// types are browsed.
func (e *Engine) TypeFound(t Type, now time.Time) {
	k := dnsname.MustKey(t.Query)
	if _, ok := e.types[k]; !ok && len(e.types) < MaxTypes {
		e.addType(t, now, true)
	}
	e.seenTypes[k] = t.Service
}

// Enumerated returns the service types seen in enumeration answers,
// "_timezone._tcp", sorted.
func (e *Engine) Enumerated() []string {
	out := make([]string, 0, len(e.seenTypes))
	for _, t := range e.seenTypes {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
