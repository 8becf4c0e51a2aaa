package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

// Service describes one DNS-SD service instance (RFC 6763). The same
// description is used by the wide-area registrar.
type Service struct {
	// Instance is the user-visible instance name, e.g. "Office TZ": at most
	// 63 bytes of UTF-8 without control characters (RFC 6763 section 4.1.1).
	Instance string
	// Type is the service type "_timezone._tcp"; a bare registered service
	// name "timezone" is looked up in the registry for its protocol. A type
	// with a subtype ("_printer._sub._http._tcp") adds that subtype.
	Type string
	// Subtypes are subtype labels: "_printer" publishes
	// _printer._sub._http._tcp.local. (RFC 6763 section 7.1). A missing
	// leading underscore is added.
	Subtypes []string
	// Domain is the domain; empty means "local.".
	Domain string
	// Port is the TCP or UDP port of the service. Port 0 is published with
	// a warning: clients take it to mean the service is not reachable.
	Port uint16
	// TXT is the TXT record (RFC 6763 section 6); the zero Record is
	// published as the empty TXT record (a single zero byte, section 6.1).
	TXT txt.Record
	// Host is the SRV target host name; empty means the responder's own
	// host name. A single label "printer" means "printer.local.".
	Host string
}

// FieldError is a problem with one field of a service description.
type FieldError struct {
	// Field names the field: "Instance", "Type", "Subtypes[1]", "Domain",
	// "Port", "Host", "TXT"; in a configuration file the JSON path, e.g.
	// "services[2].port".
	Field  string
	Value  string // the offending value, quoted in the message
	Reason string
	Err    error // the underlying error, if any
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
// refusal, if any).
type ValidationError struct {
	Service string     // the instance name
	Report  txt.Report // the TXT findings
	Err     error      // problems with other fields (*FieldError, joined), or nil
}

// Error lists every problem on one line.
func (e *ValidationError) Error() string {
	var parts []string
	for _, err := range flatten(e.Err) {
		parts = append(parts, err.Error())
	}
	for _, f := range e.Report.Errors() {
		parts = append(parts, "TXT "+f.Error())
	}
	return fmt.Sprintf("announce: service %q refused: %s", e.Service, strings.Join(parts, "; "))
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

// svcData is a validated, resolved service as the responder publishes it.
type svcData struct {
	typ      string   // "_timezone._tcp"
	domain   string   // "local."
	subtypes []string // raw labels, "_printer"
	port     uint16
	txt      txt.Record
	txtStrs  []string // TXT strings in miekg/dns form
	host     string   // explicit SRV target, or "" for our host name
	regSvc   *registry.Service
}

// typeName returns the service type name, "_timezone._tcp.local.".
func (s *svcData) typeName() string { return s.typ + "." + s.domain }

// instanceName returns the full instance name for label.
func (s *svcData) instanceName(label string) string {
	return dnsname.EscapeLabel(label) + "." + s.typeName()
}

// txtRR returns the TXT record under name.
func (s *svcData) txtRR(name string, ttl uint32) dns.RR {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: slices.Clone(s.txtStrs)}
}

// resolved is the outcome of checking a Service.
type resolved struct {
	instance string
	data     svcData
	report   txt.Report
	hard     []error // the service cannot be published at all
	soft     []error // the service breaks a rule; NoValidate publishes it anyway
}

// err returns the ValidationError for r's problems, or nil.
func (r *resolved) err(instance string, withSoft bool) error {
	errs := r.hard
	if withSoft {
		errs = append(slices.Clone(errs), r.soft...)
	}
	if len(errs) == 0 && (!withSoft || r.report.Conforms()) {
		return nil
	}
	return &ValidationError{Service: instance, Report: r.report, Err: errors.Join(errs...)}
}

// Validate checks s as it would be published: the instance name (RFC 6763
// section 4.1.1), the service type and subtypes (RFC 6763 section 7, names
// per RFC 6335 section 5.1 via the registry), domain, host and port, and
// the TXT record (RFC 6763 section 6) against the registry's rules for the
// service, if reg knows it (nil reg means registry.Builtin()). The report
// holds the TXT findings (and a warning for port 0); the error is a
// *ValidationError when anything is wrong.
func (s Service) Validate(reg *registry.Registry) (txt.Report, error) {
	if reg == nil {
		reg = registry.Builtin()
	}
	res := s.resolve(reg)
	return res.report, res.err(s.Instance, true)
}

// CheckPublishable reports the problems for which Responder.Add refuses s
// whatever Options.NoValidate says: a service that cannot be encoded (an
// empty or over-long instance name, a service type that is not a DNS-SD
// type, or one not in reg when given as a bare name, a bad domain, host or
// subtype, a TXT record that does not fit), or a domain other than
// "local." (RFC 6762 section 3). nil reg means registry.Builtin(). It
// returns nil when Add with NoValidate would publish s; a
// *ValidationError otherwise. Rule violations that NoValidate lets through
// are Validate's.
func (s Service) CheckPublishable(reg *registry.Registry) error {
	if reg == nil {
		reg = registry.Builtin()
	}
	res := s.resolve(reg)
	if err := res.err(s.Instance, false); err != nil {
		return err
	}
	return checkLocal(s, res)
}

// checkLocal refuses a service outside the mDNS domain (RFC 6762 section 3).
func checkLocal(s Service, res resolved) error {
	if !dnsname.Equal(res.data.domain, dnsname.Local) {
		return &ValidationError{Service: s.Instance, Report: res.report,
			Err: &FieldError{Field: "Domain", Value: s.Domain, Reason: "Multicast DNS publishes only in local. (RFC 6762 section 3)"}}
	}
	return nil
}

// resolve checks s and works out what to publish. With reg nil, nothing is
// looked up in a registry: a bare service name is left unresolved and the
// TXT record gets only syntax checks.
func (s Service) resolve(reg *registry.Registry) resolved {
	var res resolved
	hard := func(field, value, format string, args ...any) {
		res.hard = append(res.hard, &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	soft := func(field, value, format string, args ...any) {
		res.soft = append(res.soft, &FieldError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	// Instance name: RFC 6763 section 4.1.1.
	res.instance = s.Instance
	switch {
	case s.Instance == "":
		hard("Instance", "", "empty instance name (RFC 6763 section 4.1.1)")
	case len(s.Instance) > 63:
		hard("Instance", s.Instance, "%d bytes, more than the 63 a DNS label holds (RFC 6763 section 4.1.1)", len(s.Instance))
	default:
		if !utf8.ValidString(s.Instance) {
			soft("Instance", s.Instance, "not valid UTF-8 (RFC 6763 section 4.1.1: Net-Unicode text)")
		}
		if i := controlChar(s.Instance); i >= 0 {
			soft("Instance", s.Instance, "control character 0x%02x at byte %d (RFC 6763 section 4.1.1: MUST NOT contain ASCII control characters)", s.Instance[i], i)
		}
	}

	// Service type: RFC 6763 section 7.
	d := &res.data
	var typeDomain string
	var subtypes []string
	switch {
	case s.Type == "":
		hard("Type", "", "empty service type; give _name._tcp, _name._udp or a registered service name")
	case strings.HasPrefix(s.Type, "_"):
		t, err := registry.ParseType(s.Type)
		if err != nil {
			var ne *registry.NameError
			lt, lerr := lenientType(s.Type)
			if errors.As(err, &ne) && lerr == nil {
				// A name breaking RFC 6335 section 5.1 is still encodable.
				res.soft = append(res.soft, &FieldError{Field: "Type", Value: s.Type, Reason: "service name does not satisfy RFC 6335 section 5.1", Err: err})
				t = lt
			} else {
				res.hard = append(res.hard, &FieldError{Field: "Type", Value: s.Type, Reason: "not a DNS-SD service type", Err: err})
				break
			}
		}
		d.typ = "_" + t.Service + "._" + t.Proto
		typeDomain = t.Domain
		if t.Subtype != "" {
			subtypes = append(subtypes, t.Subtype)
		}
	default:
		if strings.Contains(s.Type, ".") {
			hard("Type", s.Type, "a bare service name has no dots; give the type as _name._tcp or _name._udp")
			break
		}
		if err := registry.CheckName(s.Type); err != nil {
			res.soft = append(res.soft, &FieldError{Field: "Type", Value: s.Type, Reason: "service name does not satisfy RFC 6335 section 5.1", Err: err})
		}
		if reg == nil {
			d.typ = "_" + s.Type + "._tcp" // placeholder; resolved later against a registry
			break
		}
		svc, ok := reg.Lookup(s.Type)
		if !ok {
			hard("Type", s.Type, "service name not in the registry, so its protocol is unknown; give the type as _%s._tcp or _%s._udp", s.Type, s.Type)
			break
		}
		d.typ = svc.Type()
	}
	// Subtypes: RFC 6763 section 7.1.
	type subField struct{ field, label string }
	var subs []subField
	for _, sub := range subtypes {
		subs = append(subs, subField{"Type", sub})
	}
	for i, sub := range s.Subtypes {
		subs = append(subs, subField{fmt.Sprintf("Subtypes[%d]", i), sub})
	}
	seen := map[string]bool{}
	for _, sf := range subs {
		field, sub := sf.field, sf.label
		if sub != "" && !strings.HasPrefix(sub, "_") {
			sub = "_" + sub
		}
		switch {
		case sub == "":
			hard(field, sub, "empty subtype")
			continue
		case len(sub) > 63:
			hard(field, sub, "%d bytes, more than the 63 a DNS label holds", len(sub))
			continue
		case strings.Contains(sub, "."):
			hard(field, sub, "a subtype is a single label (no dots)")
			continue
		}
		if j := controlChar(sub); j >= 0 {
			soft(field, sub, "control character 0x%02x at byte %d", sub[j], j)
		}
		if k := dnsname.ASCIILower(sub); !seen[k] { // RFC 6762 section 16
			seen[k] = true
			d.subtypes = append(d.subtypes, sub)
		}
	}

	// Domain.
	dom := s.Domain
	if dom == "" {
		dom = typeDomain
	} else if typeDomain != "" && !dnsname.Equal(dom, typeDomain) {
		hard("Domain", s.Domain, "differs from the domain %q in the type", typeDomain)
	}
	if dom == "" {
		dom = dnsname.Local
	}
	d.domain = dns.Fqdn(dom)
	if _, ok := dns.IsDomainName(d.domain); !ok {
		hard("Domain", s.Domain, "not a valid domain name")
	}

	// Host.
	if s.Host != "" {
		h := strings.TrimSuffix(s.Host, ".")
		if !strings.Contains(h, ".") {
			h += "." + dnsname.Local
		}
		d.host = dns.Fqdn(h)
		if _, ok := dns.IsDomainName(d.host); !ok || strings.Contains(d.host, "..") {
			hard("Host", s.Host, "not a valid host name")
		}
	}

	// Port.
	d.port = s.Port
	var portWarn *txt.Error
	if s.Port == 0 {
		portWarn = &txt.Error{Severity: txt.Warning, Offset: -1, Rule: "SRV port",
			Reason: "port 0: clients take the service to be not reachable (RFC 2782 allows 0-65535)"}
	}

	// TXT: RFC 6763 section 6, and the registry's rules for the service.
	if reg != nil && d.typ != "" {
		if svc, ok := reg.Lookup(d.typ); ok {
			d.regSvc = svc
		}
	}
	res.report = txt.Validate(s.TXT, d.regSvc, txt.Options{})
	if portWarn != nil {
		res.report.Findings = append([]*txt.Error{portWarn}, res.report.Findings...)
	}
	d.txt = s.TXT
	rr, err := s.TXT.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		res.hard = append(res.hard, &FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err})
	} else {
		d.txtStrs = rr.Txt
	}
	return res
}

// lenientType parses a service type like registry.ParseType but without
// the RFC 6335 name rules, for publishing legacy names with NoValidate.
func lenientType(s string) (registry.Type, error) {
	body := strings.TrimSuffix(s, ".")
	labels := strings.Split(body, ".")
	var t registry.Type
	i := 0
	if len(labels) >= 2 && dnsname.ASCIILower(labels[1]) == dnsname.SubLabel {
		t.Subtype = labels[0]
		i = 2
	}
	if i+1 >= len(labels) {
		return t, fmt.Errorf("missing labels")
	}
	svc, proto := labels[i], dnsname.ASCIILower(labels[i+1])
	if len(svc) < 2 || len(svc) > 63 || svc[0] != '_' || controlChar(svc) >= 0 {
		return t, fmt.Errorf("bad service label %q", svc)
	}
	if proto != "_tcp" && proto != "_udp" {
		return t, fmt.Errorf("protocol label must be _tcp or _udp")
	}
	t.Service, t.Proto = svc[1:], proto[1:]
	if i+2 < len(labels) {
		t.Domain = strings.Join(labels[i+2:], ".")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return t, fmt.Errorf("bad label %q", l)
		}
	}
	return t, nil
}

// controlChar returns the offset of the first ASCII control character
// (0x00-0x1F, 0x7F) in s, or -1.
func controlChar(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return i
		}
	}
	return -1
}

// EventKind says what happened to a published name.
type EventKind int

const (
	// EventAnnounced: probing succeeded and the first announcement was sent.
	EventAnnounced EventKind = iota + 1
	// EventConflict: another host answered with different data for the
	// name (RFC 6762 section 9); the name is being probed again.
	EventConflict
	// EventRenamed: the name was taken; Old and New give the change.
	EventRenamed
	// EventDeferred: a simultaneous probe was lost (RFC 6762 section 8.2);
	// probing again after a second.
	EventDeferred
	// EventRemoved: the service was withdrawn and goodbyes sent.
	EventRemoved
)

// String returns a lower-case name for k.
func (k EventKind) String() string {
	switch k {
	case EventAnnounced:
		return "announced"
	case EventConflict:
		return "conflict"
	case EventRenamed:
		return "renamed"
	case EventDeferred:
		return "deferred"
	case EventRemoved:
		return "removed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something that happened to a published service.
type Event struct {
	Kind     EventKind
	Old, New string // full names before and after (equal unless renamed)
	Reason   string
	Time     time.Time
}

// eventBuffer is the capacity of a handle's event channel; when it is
// full the oldest event is dropped. Events are rare (a rename is three:
// conflict, renamed, announced), and every published service holds one
// buffer, so it is small.
const eventBuffer = 8

// Handle is a published service.
type Handle struct {
	r      *Responder
	e      *entity // owned by the event loop
	regSvc *registry.Service
	events chan Event

	mu      sync.Mutex
	name    string
	renamed bool
	reason  string
	closed  bool
}

// Name returns the full instance name, e.g. "Office TZ (2)._timezone._tcp.local.".
func (h *Handle) Name() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.name
}

// Renamed reports whether the service was renamed from the name asked for,
// and why.
func (h *Handle) Renamed() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.renamed, h.reason
}

// Events returns the service's events. The channel is closed when the
// service is removed or the responder closed; when nobody reads, old events
// are dropped.
func (h *Handle) Events() <-chan Event { return h.events }

// setName records the current name.
func (h *Handle) setName(name string) {
	h.mu.Lock()
	h.name = name
	h.mu.Unlock()
}

// setRenamed records a rename.
func (h *Handle) setRenamed(name, reason string) {
	h.mu.Lock()
	h.name, h.renamed, h.reason = name, true, reason
	h.mu.Unlock()
}

// close ends the event stream (event loop only).
func (h *Handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.events)
	}
}

// emit delivers an event to e's handle. Event loop only.
func (r *Responder) emit(e *entity, ev Event) {
	if e.handle != nil {
		e.handle.deliver(ev)
	}
}

// deliver sends ev on the handle's event channel without blocking: when the
// buffer is full the oldest event is dropped. After close it does nothing.
func (h *Handle) deliver(ev Event) {
	ev.Time = time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for range 2 {
		select {
		case h.events <- ev:
			return
		default:
			select {
			case <-h.events:
			default:
			}
		}
	}
}

// Add publishes s: it is validated (a service that does not validate is
// refused with a *ValidationError, unless Options.NoValidate, which
// publishes it with a logged warning), its name is probed (renamed
// "Name (2)", ... on conflict, RFC 6762 section 9) and announced. Add
// returns once the name is final and the first announcement sent. If ctx
// ends first, the service is withdrawn and ctx's error returned.
func (r *Responder) Add(ctx context.Context, s Service) (*Handle, error) {
	res, err := admit(s, r.reg, r.opts.NoValidate, r.log)
	if err != nil {
		return nil, err
	}
	h := r.newHandle(res)
	wait := make(chan error, 1)
	err = r.call(ctx, func() { r.addEntity(h, wait) })
	if err != nil {
		return nil, fmt.Errorf("announce: adding %q: %w", s.Instance, err)
	}
	select {
	case err := <-wait:
		if err != nil {
			return nil, fmt.Errorf("announce: adding %q: %w", s.Instance, err)
		}
		return h, nil
	case <-ctx.Done():
		_ = r.call(context.Background(), func() { r.removeEntity(h.e) })
		return nil, fmt.Errorf("announce: adding %q: %w", s.Instance, ctx.Err())
	}
}

// admit validates s for publication: a service that cannot be encoded is
// refused; one that does not validate is refused unless noValidate, which
// logs a warning instead; TXT warnings are logged.
func admit(s Service, reg *registry.Registry, noValidate bool, log *slog.Logger) (resolved, error) {
	res := s.resolve(reg)
	if err := res.err(s.Instance, false); err != nil {
		return res, err // cannot be encoded, whatever the options
	}
	if err := res.err(s.Instance, true); err != nil {
		if !noValidate {
			return res, err
		}
		log.Warn("mdns: publishing a service that does not validate", "service", s.Instance, "err", err)
	}
	for _, w := range res.report.Warnings() {
		log.Warn("mdns: TXT record warning", "service", s.Instance, "finding", w.Error())
	}
	if err := checkLocal(s, res); err != nil {
		return res, err
	}
	return res, nil
}

// newHandle makes the handle and entity of an admitted service.
func (r *Responder) newHandle(res resolved) *Handle {
	h := &Handle{r: r, regSvc: res.data.regSvc, events: make(chan Event, eventBuffer)}
	data := res.data
	h.e = &entity{kind: kindService, label: res.instance, svc: &data, handle: h}
	return h
}

// addEntity starts publishing h's service: renamed at once if this
// responder already uses its name, then probed (joining a probe run that
// has not sent its first probe yet, RFC 6762 section 8.1). wait gets the
// outcome of probing. Event loop only.
func (r *Responder) addEntity(h *Handle, wait chan error) {
	e := h.e
	h.name = r.nameOf(e)
	if r.nameInUse(e, e.label) {
		old := r.nameOf(e)
		r.rename(e)
		reason := fmt.Sprintf("name %q is already published by this responder", old)
		h.setRenamed(r.nameOf(e), reason)
		r.emit(e, Event{Kind: EventRenamed, Old: old, New: r.nameOf(e), Reason: reason})
	}
	r.services = append(r.services, e)
	e.waiters = append(e.waiters, wait)
	r.startProbing(e, 0)
}

// UpdateTXT replaces the TXT record, after validating it like Add, and
// announces it again (RFC 6762 section 8.4). Only the record's data
// changes, not a name we claim, so no probing is needed. It returns once
// the first announcement of the new record is sent (or, while the name is
// being probed again, once the record is stored).
func (h *Handle) UpdateTXT(ctx context.Context, rec txt.Record) error {
	r := h.r
	rep := txt.Validate(rec, h.regSvc, txt.Options{})
	if !rep.Conforms() {
		ve := &ValidationError{Service: h.Name(), Report: rep}
		if !r.opts.NoValidate {
			return ve
		}
		r.log.Warn("mdns: publishing a TXT record that does not validate", "service", h.Name(), "err", ve)
	}
	rr, err := rec.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		return &ValidationError{Service: h.Name(), Report: rep, Err: &FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}}
	}
	gone := false
	err = r.call(ctx, func() {
		e := h.e
		if e.state == stateRemoved {
			gone = true
			return
		}
		e.svc.txt = rec
		e.svc.txtStrs = rr.Txt
		r.changed()
		if e.answerable() {
			r.reannounceTXT(e)
		}
	})
	if err != nil {
		return err
	}
	if gone {
		return ErrRemoved
	}
	return nil
}

// Remove withdraws the service: goodbye packets for its records (RFC 6762
// section 10.1). Removing twice is harmless.
func (h *Handle) Remove(ctx context.Context) error {
	return h.r.call(ctx, func() { h.r.removeEntity(h.e) })
}
