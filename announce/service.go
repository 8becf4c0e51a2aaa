package announce

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/notify"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

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

// enumerationPTR is the service type enumeration record of s (RFC 6763
// section 9): _services._dns-sd._udp.DOMAIN PTR TYPE.DOMAIN, shared by
// every service of the type.
func (s *svcData) enumerationPTR(ttl uint32) *dns.PTR {
	return &dns.PTR{Hdr: dns.RR_Header{Name: dnsname.ServicesType + "." + s.domain, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: s.typeName()}
}

// instanceName returns the full instance name for label.
func (s *svcData) instanceName(label string) string {
	return dnsname.EscapeLabel(label) + "." + s.typeName()
}

// txtRR returns the TXT record under name.
func (s *svcData) txtRR(name string, ttl uint32) dns.RR {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: slices.Clone(s.txtStrs)}
}

// Handle is a published service: one of this host's (Responder.Add), or
// one published for another host (Responder.AddProxy).
type Handle struct {
	r      *Responder
	e      *entity // owned by the event loop; nil for a proxy
	p      *proxy  // owned by the event loop; nil but for a proxy
	regSvc *registry.Service
	st     *notify.Stream // name and events, written by the event loop

	errMu sync.Mutex
	err   error // why the service is no longer published (Err)
}

// Err returns nil while the service is published (or being claimed), and
// once it is not any more, why: an error matching ErrRemoved after
// Remove, after a proxy was withdrawn from every interface after
// conflicts (the error gives the reasons) or after its records ran out at
// the source (ProxyOptions.Expires); one matching ErrClosed once the
// responder is closed. It is set before the Removed event is delivered
// and Events closed.
func (h *Handle) Err() error {
	h.errMu.Lock()
	defer h.errMu.Unlock()
	return h.err
}

// setErr records why the service ended, unless that is known already.
func (h *Handle) setErr(err error) {
	h.errMu.Lock()
	if h.err == nil {
		h.err = err
	}
	h.errMu.Unlock()
}

// Name returns the full instance name, e.g. "Office TZ (2)._timezone._tcp.local.".
func (h *Handle) Name() string { return h.st.Name() }

// Renamed reports whether the service was renamed from the name asked for,
// and why.
func (h *Handle) Renamed() (bool, string) { return h.st.Renamed() }

// Events returns the service's events. The channel is closed when the
// service is removed or the responder closed; when nobody reads, old events
// are dropped.
func (h *Handle) Events() <-chan Event { return h.st.Events() }

// emit delivers an event to e's handle. Event loop only.
func (r *Responder) emit(e *entity, ev Event) {
	if e.handle != nil {
		r.deliver(e.handle, ev)
	}
}

// deliver gives ev to h's events and, for a service, to ServiceEvents,
// dropping the oldest there when nobody reads. Event loop only (the one
// sender on svcEvents).
func (r *Responder) deliver(h *Handle, ev Event) {
	h.st.Deliver(ev)
	if h == r.host.handle {
		return
	}
	ev.Time = time.Now()
	se := ServiceEvent{Handle: h, Event: ev}
	for {
		select {
		case r.svcEvents <- se:
			return
		default:
		}
		select {
		case <-r.svcEvents: // the oldest goes
		default:
		}
	}
}

// Add publishes s: it is validated (a service that does not validate is
// refused with an error wrapping a *ValidationError, unless
// Options.NoValidate, which publishes it with a logged warning), its name
// is probed (renamed "Name (2)", ... on conflict, RFC 6762 section 9) and
// announced. Add returns once the name is final and the first
// announcement sent. If ctx ends first, the service is withdrawn and
// ctx's error returned.
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

// admitted is a service that Add publishes: its instance label, raw,
// and what its records carry.
type admitted struct {
	instance string
	data     svcData
}

// admit validates s for publication: a service that cannot be encoded is
// refused; one that does not validate is refused unless noValidate, which
// logs a warning instead; TXT warnings are logged; a domain other than
// local. is refused (RFC 6762 section 3). The error wraps a
// *ValidationError.
func admit(s Service, reg *registry.Registry, noValidate bool, log *slog.Logger) (admitted, error) {
	if reg == nil {
		reg = registry.Builtin()
	}
	p, err := s.PrepareEncodable("", reg)
	if err != nil {
		return admitted{}, fmt.Errorf("announce: %w", err) // cannot be encoded, whatever the options
	}
	if _, err := s.Validate(reg); err != nil {
		err = fmt.Errorf("announce: %w", err)
		if !noValidate {
			return admitted{}, err
		}
		log.Warn("mdns: publishing a service that does not validate", "service", s.Instance, "err", err)
	}
	for _, w := range p.Report.Warnings() {
		log.Warn("mdns: TXT record warning", "service", s.Instance, "finding", w.Error())
	}
	if err := checkLocal(s, p); err != nil {
		return admitted{}, fmt.Errorf("announce: %w", err)
	}
	d, err := newSvcData(p)
	if err != nil {
		return admitted{}, fmt.Errorf("announce: %w", err)
	}
	return admitted{instance: p.Instance, data: d}, nil
}

// CheckPublishable reports the problems for which Responder.Add refuses s
// whatever Options.NoValidate says: a service that cannot be encoded (as
// Service.PrepareEncodable says: an empty or over-long instance name, a
// service type that is not a DNS-SD type, or one not in reg when given as
// a bare name, a bad domain, host or subtype, a TXT record that does not
// fit), or a domain other than "local." (RFC 6762 section 3). nil reg
// means registry.Builtin(). It returns nil when Add with NoValidate would
// publish s; an error wrapping a *ValidationError otherwise. Rule
// violations that NoValidate lets through are Service.Validate's.
func CheckPublishable(s Service, reg *registry.Registry) error {
	if reg == nil {
		reg = registry.Builtin()
	}
	p, err := s.PrepareEncodable("", reg)
	if err == nil {
		err = checkLocal(s, p)
	}
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	return nil
}

// checkLocal refuses a service outside the mDNS domain (RFC 6762 section 3).
func checkLocal(s Service, p Prepared) error {
	if !dnsname.Equal(p.Domain, dnsname.Local) {
		return &ValidationError{Service: s.Instance, Report: p.Report,
			Err: &FieldError{Field: "Domain", Value: s.Domain, Reason: "Multicast DNS publishes only in local. (RFC 6762 section 3)"}}
	}
	return nil
}

// newSvcData returns what the responder publishes of p.
func newSvcData(p Prepared) (svcData, error) {
	rr, err := p.TXT.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil { // cannot happen: PrepareEncodable encodes it
		return svcData{}, &ValidationError{Service: p.Instance, Report: p.Report, Err: &FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}}
	}
	return svcData{typ: p.Type, domain: p.Domain, subtypes: p.Subtypes, port: p.Port,
		txt: p.TXT, txtStrs: rr.Txt, host: p.Host, regSvc: p.Registered}, nil
}

// newHandle makes the handle and entity of an admitted service.
func (r *Responder) newHandle(res admitted) *Handle {
	h := &Handle{r: r, regSvc: res.data.regSvc, st: notify.New("")}
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
	h.st.SetName(r.nameOf(e))
	if r.nameInUse(e, e.label) {
		old := r.nameOf(e)
		r.rename(e)
		reason := fmt.Sprintf("name %q is already published by this responder", old)
		h.st.SetRenamed(r.nameOf(e), reason)
		r.emit(e, Event{Kind: EventRenamed, Old: old, New: r.nameOf(e), Reason: reason})
	}
	r.services = append(r.services, e)
	r.names.add(r, e)
	e.waiters = append(e.waiters, wait)
	r.startProbing(e, 0)
}

// UpdateTXT replaces the TXT record, after validating it like Add, and
// announces it again (RFC 6762 section 8.4). Only the record's data
// changes, not a name we claim, so no probing is needed. It returns once
// the first announcement of the new record is sent (or, while the name is
// being probed again, once the record is stored).
//
// On a proxy's handle it is UpdateProxy with the TXT record only: the
// record is not validated against the registry, and the proxy's options
// are kept.
func (h *Handle) UpdateTXT(ctx context.Context, rec txt.Record) error {
	r := h.r
	if h.p != nil {
		return h.updateProxy(ctx, rec, nil)
	}
	rep := txt.Validate(rec, h.regSvc, txt.Options{})
	if !rep.Conforms() {
		err := fmt.Errorf("announce: %w", &ValidationError{Service: h.Name(), Report: rep})
		if !r.opts.NoValidate {
			return err
		}
		r.log.Warn("mdns: publishing a TXT record that does not validate", "service", h.Name(), "err", err)
	}
	rr, err := rec.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		return fmt.Errorf("announce: %w", &ValidationError{Service: h.Name(), Report: rep, Err: &FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}})
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
		return errRemoved
	}
	return nil
}

// Remove withdraws the service: goodbye packets for its records (RFC 6762
// section 10.1). Removing twice is harmless.
//
// A proxy's handle is removed from every interface it is published on,
// and the origin host's address records with it where no other proxy
// uses them.
func (h *Handle) Remove(ctx context.Context) error {
	if h.p != nil {
		return h.r.call(ctx, func() { h.r.removeProxy(h.p) })
	}
	return h.r.call(ctx, func() { h.r.removeEntity(h.e) })
}
