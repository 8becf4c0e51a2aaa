package wide

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// The operations on a registered service besides adding it. Each runs in
// the caller's goroutine with the service's turn (take), keeps the state
// on the owner (call, finish), and does its exchanges in between.

// abandon forgets an entry whose registration failed, ending Add's turn.
func (r *Registrar) abandon(ctx context.Context, e *entry) {
	_ = r.call(func() { e.removed = true })
	_ = r.releaseHost(ctx, e) // the registration's own error is the one to report
	r.finish(e, func() {
		r.forget(e)
		e.reg.st.Close()
	})
}

// remove deletes e's records and forgets it. Removing twice is harmless.
// If the server cannot be reached the service stays registered (and
// refreshed) and the error is returned.
func (r *Registrar) remove(ctx context.Context, e *entry) error {
	if err := r.take(ctx, e); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil // the registrar has ended: e was removed
		}
		return fmt.Errorf("wide: removing %q from zone %s: %w", e.reg.Name(), r.zone, err)
	}
	var recs *Records
	removed := true
	_ = r.call(func() {
		removed, recs = e.removed, e.recs
		if e.timer != nil {
			e.timer.Stop()
		}
	})
	if removed {
		r.finish(e, nil)
		return nil
	}
	var errs []error
	if recs != nil {
		// RFC 2136 section 2.5.4: delete our RRs one by one, not whole
		// RRsets, so other instances' PTRs remain.
		resp, err := e.x.exchange(ctx, removal(r.zone, recs.instanceRRs()), "update")
		if err == nil && resp.Rcode != dns.RcodeSuccess {
			err = e.x.serverError("update", resp.Rcode)
		}
		if err != nil {
			r.finish(e, func() { r.schedule(e, true) })
			return fmt.Errorf("wide: removing %q from zone %s (its records are still there): %w", e.reg.Name(), r.zone, err)
		}
		// The shared enumeration PTR goes only if no instance of the type
		// is left.
		resp, err = e.x.exchange(ctx, enumerationRemoval(r.zone, recs), "update")
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting %s: %w", recs.ServicesPTR.Hdr.Name, err))
		case resp.Rcode == dns.RcodeYXRrset: // other instances remain
		case resp.Rcode != dns.RcodeSuccess:
			errs = append(errs, fmt.Errorf("deleting %s: %w", recs.ServicesPTR.Hdr.Name, e.x.serverError("update", resp.Rcode)))
		}
	}
	_ = r.call(func() { e.recs, e.removed = nil, true })
	if err := r.releaseHost(ctx, e); err != nil {
		errs = append(errs, err)
	}
	name := e.reg.Name()
	r.log.Info("zone: removed", "name", name)
	r.finish(e, func() {
		r.forget(e)
		e.reg.st.Deliver(sd.RegistrationEvent{Kind: sd.Removed, Old: name, New: name, Reason: "deleted from zone " + r.zone + " by DNS UPDATE"})
		e.reg.st.Close()
	})
	if len(errs) > 0 {
		return fmt.Errorf("wide: removing %q from zone %s: %w", name, r.zone, errors.Join(errs...))
	}
	return nil
}

// updateTXT replaces e's TXT record (see Registration.UpdateTXT).
func (r *Registrar) updateTXT(ctx context.Context, e *entry, rec txt.Record) error {
	name := e.reg.Name()
	rep := txt.Validate(rec, e.reg.regSvc, txt.Options{})
	if !rep.Conforms() {
		return fmt.Errorf("wide: %w", &sd.ValidationError{Service: name, Report: rep})
	}
	rr, err := rec.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		return fmt.Errorf("wide: %w", &sd.ValidationError{Service: name, Report: rep, Err: &sd.FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}})
	}
	for _, w := range rep.Warnings() {
		r.log.Warn("zone: TXT record warning", "service", name, "finding", w.Error())
	}
	if err := r.take(ctx, e); err != nil {
		if errors.Is(err, ErrClosed) {
			return errRemoved
		}
		return fmt.Errorf("wide: updating the TXT record of %q: %w", name, err)
	}
	var (
		old, updated *Records
		svc          *service
		removed      = true
	)
	_ = r.call(func() {
		if removed = e.removed; removed {
			return
		}
		svc = e.svc.withTXT(rec, rr.Txt)
		if e.recs == nil {
			e.svc = svc
			return
		}
		old, updated = e.recs, svc.records(e.label)
	})
	if removed || old == nil {
		r.finish(e, nil)
		if removed {
			return errRemoved
		}
		return nil
	}
	resp, err := e.x.exchange(ctx, txtUpdate(r.zone, r.lease, old, updated), "update")
	if err != nil {
		r.finish(e, nil)
		return fmt.Errorf("wide: updating the TXT record of %q: %w", name, err)
	}
	_ = r.call(func() {
		e.svc = svc
		if resp.Rcode == dns.RcodeSuccess {
			e.recs, e.granted = updated, grantedLease(resp)
		}
	})
	switch resp.Rcode {
	case dns.RcodeSuccess:
		r.finish(e, nil)
		return nil
	case dns.RcodeNXRrset:
		r.log.Warn("zone: our records changed in the zone; registering again", "name", name)
		err := r.claim(ctx, e, ownership{})
		r.finish(e, nil)
		if err != nil {
			return fmt.Errorf("wide: updating the TXT record of %q: %w", name, err)
		}
		return nil
	}
	r.finish(e, nil)
	return fmt.Errorf("wide: updating the TXT record of %q: %w", name, e.x.serverError("update", resp.Rcode))
}

// refresh asserts e's records again: an idempotent UPDATE that puts back
// whatever is missing and renews the lease. A name taken by someone else
// meanwhile means a rename (or, with NoRename, a conflict event and a
// later retry). A closed registrar refreshes nothing.
func (r *Registrar) refresh(ctx context.Context, e *entry) error {
	if err := r.take(ctx, e); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	skip := true
	own := ownership{}
	_ = r.call(func() {
		skip = e.removed || r.st.closed
		if e.recs != nil {
			own = ours
		}
	})
	if skip {
		r.finish(e, nil)
		return nil
	}
	err := r.claim(ctx, e, own)
	switch {
	case err == nil:
		r.finish(e, func() { r.schedule(e, false) })
		return nil
	case errors.Is(err, ErrClosed):
		r.finish(e, nil) // Close removes the service
		return nil
	case ctx.Err() != nil:
		r.finish(e, nil)
		return err // the caller gave up
	}
	name := e.reg.Name()
	r.log.Warn("zone: refresh failed", "name", name, "err", err)
	var ce *ConflictError
	if errors.As(err, &ce) {
		e.reg.st.Deliver(sd.RegistrationEvent{Kind: sd.Conflict, Old: name, New: name, Reason: err.Error()})
	}
	r.finish(e, func() { r.schedule(e, true) })
	return fmt.Errorf("wide: refreshing %q in zone %s: %w", name, r.zone, err)
}
