package announce

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/notify"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// Proxies: services of another host, published by this responder on some
// of its interfaces, as a gateway does for a service it learnt on another
// link (RFC 6762 section 8.1 and 9 applied to names that are not ours).
//
// A proxy claims two unique names (RFC 6762 section 2) on each interface
// it is published on, and only there: the instance name, and the origin
// host's name (Service.Host, the SRV target) with the addresses given in
// ProxyOptions.HostAddrs. Each is an entity scoped to one interface
// (entity.scope): it is probed there (section 8.1, in the probe runs our
// own names use), announced there (8.3), answered there (6) and said
// goodbye to there (10.1); the other interfaces never see it. The origin
// host's name on one interface is one entity shared by every proxy of that
// host there (entity.users): its address records are the union of their
// HostAddrs, and the last proxy to go says goodbye to them.
//
// A proxied name is never renamed, whatever RFC 6762 section 9 asks of a
// name of our own: renaming another host's service is what a reflector
// gets wrong. A conflict on an interface (a response with other data for
// the name while probing or afterwards, or a lost simultaneous-probe
// tie-break, section 8.2) withdraws the proxy from that interface, with
// goodbyes if it was announced there; one on the origin host's name
// withdraws every proxy of that host there. The interface is not tried
// again for that handle.
//
// ProxyOptions.Expires caps every TTL the proxy gives (rec.expires, capTTL):
// a record is never published for longer than its source still holds it.

// ProxyOptions say where and how Responder.AddProxy publishes a service
// of another host, and Handle.UpdateProxy changes them.
type ProxyOptions struct {
	// Interfaces are the names of the interfaces to publish on: at least
	// one, each one the responder serves (Responder.Interfaces), or the
	// call fails with an error wrapping sd.ErrUnknownInterface. The
	// instance name and the origin host's name are claimed there only
	// (probed, announced, answered, defended), never on the others.
	Interfaces []string
	// HostAddrs are the addresses published for Service.Host, the origin
	// host's name, on those interfaces: the A and AAAA records answered
	// for that name, and the additional records of the SRV (RFC 6763
	// section 12). At least one; link-local addresses are refused (they
	// are not reachable from another link, and a gateway never carries
	// them across), and so are unspecified, loopback and multicast ones.
	HostAddrs []netip.Addr
	// Expires is when the origin's records run out at the source (as the
	// gateway's cache says). No record is ever published with a TTL
	// reaching beyond it: each carries min(its usual TTL, the whole
	// seconds left) (RFC 6762 section 10), in announcements and answers
	// alike. If it passes without an UpdateProxy moving it, the proxy is
	// withdrawn with goodbyes, as its source expired, and reported
	// Removed. The zero time caps nothing and never expires; a time
	// already past is refused.
	Expires time.Time
}

// scopedKey is a name (dnsname key) on one interface (index).
type scopedKey struct {
	name    string
	ifIndex int
}

// proxy is one service published for another host. Owned by the event
// loop.
type proxy struct {
	h         *Handle
	svc       svcData // shared by its entities (entity.svc points here)
	label     string  // instance label, raw
	hostLabel string  // origin host's label, raw
	hostKey   string  // dnsname key of the origin host's name
	addrs     []netip.Addr
	expires   time.Time
	expiry    *task
	ifs       map[int]*entity // its service entity per interface index
	withdrawn map[int]string  // interfaces withdrawn from after a conflict: why
	done      bool
}

// AddProxy publishes s, a service of another host, on the interfaces
// opts.Interfaces, as a gateway publishes what it learnt on another link:
// s.Host is required and names the origin host ("h1.local."), which stays
// the SRV target; its addresses are opts.HostAddrs. On each interface the
// instance name and the host name are probed (RFC 6762 section 8.1,
// together with any other name being claimed), then announced (8.3),
// answered (6) and defended there only.
//
// A proxied name is never renamed. When someone on a link holds the
// instance name or the host name with other data, while probing or at any
// time later (RFC 6762 section 9), or wins a simultaneous-probe tie-break
// (8.2), the proxy is withdrawn from that interface (with goodbyes if it
// was announced there): its handle gets an EventConflict, then an
// EventWithdrawn whose Reason names the interface and the other party's
// data. It stays published on its other interfaces; withdrawn from all of
// them, it ends as a removed service does (EventRemoved, Events closed,
// Err set). A conflict on the host name withdraws every proxy of that host
// on that interface. Proxies of one origin host share its address records
// on an interface (the union of their HostAddrs); the last one removed
// says goodbye to them.
//
// The TXT record is not judged against the registry (the gateway's policy
// does that): only a service that cannot be encoded is refused
// (CheckPublishable), and so are: no Host, a Host outside local., options
// as ProxyOptions says, and an instance name or host name that is one of
// this responder's own names (its host name, its services' names; the
// error says which) or that another proxy already publishes on one of the
// interfaces.
//
// AddProxy returns once every interface has an outcome: the handle, when
// the service was announced on at least one; an error joining the
// reasons, when it was withdrawn from all of them. If ctx ends first, the
// proxy is removed and ctx's error returned.
func (r *Responder) AddProxy(ctx context.Context, s Service, opts ProxyOptions) (*Handle, error) {
	res, hostLbl, addrs, err := r.admitProxy(s, opts)
	if err != nil {
		return nil, err
	}
	h := &Handle{r: r, regSvc: res.data.regSvc, st: notify.New("")}
	p := &proxy{h: h, svc: res.data, label: res.instance, hostLabel: hostLbl,
		hostKey: dnsname.MustKey(dnsname.EscapeLabel(hostLbl) + "." + dnsname.Local),
		addrs:   addrs, expires: opts.Expires, ifs: map[int]*entity{}, withdrawn: map[int]string{}}
	h.p = p
	name := p.svc.instanceName(p.label)
	h.st.SetName(name)
	var waits []chan error
	var refused error
	err = r.call(ctx, func() {
		idxs, err := r.resolveIfs(name, opts.Interfaces)
		if err == nil {
			err = r.checkProxyNames(p, idxs)
		}
		if err != nil {
			refused = err
			return
		}
		for _, idx := range idxs {
			w := make(chan error, 1)
			waits = append(waits, w)
			r.proxyOn(p, idx, w)
		}
		r.scheduleExpiry(p)
		r.log.Debug("mdns: proxy added; probing its names", "name", name, "host", s.Host, "if", opts.Interfaces, "addrs", addrs, "expires", opts.Expires)
	})
	if err != nil {
		return nil, fmt.Errorf("announce: proxying %q: %w", name, err)
	}
	if refused != nil {
		return nil, refused
	}
	var errs []error
	ok := false
	for _, w := range waits {
		select {
		case err := <-w:
			if err == nil {
				ok = true
			} else {
				errs = append(errs, err)
			}
		case <-ctx.Done():
			_ = r.call(context.Background(), func() { r.removeProxy(p) })
			return nil, fmt.Errorf("announce: proxying %q: %w", name, ctx.Err())
		}
	}
	if !ok {
		return nil, errors.Join(errs...)
	}
	return h, nil
}

// UpdateProxy changes a proxy (a handle of AddProxy): its TXT record, and
// its options as opts gives them whole. What changed is announced again
// (RFC 6762 section 8.4: a record with new data MUST be announced again;
// the names are not new, so nothing is probed): a new TXT record; for a
// new address, the origin host's whole RRset of that type, with the
// cache-flush bit (section 10.2). An address no longer in HostAddrs (of
// any proxy of that host) gets a goodbye (section 10.1), and so does the
// proxy on an interface no longer in Interfaces; an interface new in
// Interfaces is probed and announced as AddProxy does, without waiting
// (events report the outcome). An interface the proxy was withdrawn from
// after a conflict is not tried again: Remove and AddProxy again for
// that. A new Expires caps the TTLs of the answers from now on and moves
// the expiry; it is not announced by itself (queriers refreshing the
// records, section 5.2, get the new TTLs). Errors: as AddProxy's for the
// options and TXT record; an error matching ErrRemoved once the proxy
// ended (Err says why). It returns once the changes are made and the
// first announcements sent.
func (h *Handle) UpdateProxy(ctx context.Context, rec txt.Record, opts ProxyOptions) error {
	if h.p == nil {
		return fmt.Errorf("announce: UpdateProxy on %q: not a proxy (AddProxy); use UpdateTXT", h.Name())
	}
	return h.updateProxy(ctx, rec, &opts)
}

// updateProxy is UpdateProxy; nil opts keeps the options (UpdateTXT).
func (h *Handle) updateProxy(ctx context.Context, record txt.Record, opts *ProxyOptions) error {
	r, p := h.r, h.p
	name := h.Name()
	rr, err := record.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		return fmt.Errorf("announce: %w", &ValidationError{Service: name, Err: &FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}})
	}
	var addrs []netip.Addr
	if opts != nil {
		if addrs, err = checkProxyOptions(name, *opts); err != nil {
			return err
		}
	}
	var out error
	err = r.call(ctx, func() {
		if p.done {
			out = h.Err()
			if out == nil {
				out = errRemoved
			}
			return
		}
		var idxs []int
		if opts != nil {
			if idxs, out = r.resolveIfs(name, opts.Interfaces); out == nil {
				// Interfaces it was withdrawn from are not tried again.
				out = r.checkProxyNames(p, slices.DeleteFunc(slices.Clone(idxs), func(idx int) bool { return p.withdrawn[idx] != "" }))
			}
			if out != nil {
				return
			}
			if !p.expires.Equal(opts.Expires) {
				// First, so that what is announced below is capped by it.
				p.expires = opts.Expires
				r.scheduleExpiry(p)
				r.changed()
			}
		}
		if !slices.Equal(p.svc.txtStrs, rr.Txt) {
			// The old record, still in caches (or sent by another
			// gateway not updated yet), is our own former data: seen
			// again, no conflict (RFC 6762 section 9).
			old := rec{rr: p.svc.txtRR(p.svc.instanceName(p.label), r.ttl.other), unique: true}
			r.markFormer([]rec{old})
			p.svc.txt = record
			p.svc.txtStrs = rr.Txt
			r.changed()
			for _, e := range p.entities() {
				if e.answerable() {
					r.reannounce(e, dns.TypeTXT)
				}
			}
		}
		if opts == nil {
			return
		}
		if !slices.Equal(p.addrs, addrs) {
			type change struct {
				he     *entity
				before []netip.Addr
			}
			var changes []change
			for idx := range p.ifs {
				if he := r.proxyHosts[scopedKey{p.hostKey, idx}]; he != nil {
					changes = append(changes, change{he, r.proxyHostAddrs(he)})
				}
			}
			p.addrs = addrs
			slices.SortFunc(changes, func(a, b change) int { return cmp.Compare(a.he.scope, b.he.scope) })
			for _, c := range changes {
				r.hostAddrsChanged(c.he, c.before)
			}
		}
		var drop []int
		for idx := range p.ifs {
			if !slices.Contains(idxs, idx) {
				drop = append(drop, idx)
			}
		}
		slices.Sort(drop)
		if len(drop) > 0 {
			r.log.Debug("mdns: proxy no longer published on some interfaces; goodbyes there", "name", name, "if", r.ifNames(drop))
			r.dropProxyOn(p, drop)
		}
		for _, idx := range idxs {
			if p.ifs[idx] == nil && p.withdrawn[idx] == "" {
				r.log.Debug("mdns: proxy published on a new interface; probing there", "name", name, "if", r.ifName(idx))
				r.proxyOn(p, idx, nil)
			}
		}
		if len(p.ifs) == 0 {
			r.finishProxy(p, "withdrawn from every interface it was to be published on: "+p.withdrawnReasons(r),
				fmt.Errorf("announce: proxy %q withdrawn from every interface: %w", name, sd.ErrRemoved))
		}
	})
	if err != nil {
		return err
	}
	return out
}

// admitProxy checks a proxy's service and options: s must be encodable,
// in local., with a Host of one label in local.; opts as ProxyOptions
// says. It returns the admitted service, the host's label and the
// addresses, sorted and without duplicates.
func (r *Responder) admitProxy(s Service, opts ProxyOptions) (admitted, string, []netip.Addr, error) {
	if s.Host == "" {
		return admitted{}, "", nil, fmt.Errorf("announce: %w", &ValidationError{Service: s.Instance,
			Err: &FieldError{Field: "Host", Reason: "required for a proxy: the origin host's name, e.g. \"h1.local.\""}})
	}
	p, err := s.PrepareEncodable("", r.reg)
	if err == nil {
		err = checkLocal(s, p)
	}
	if err != nil {
		return admitted{}, "", nil, fmt.Errorf("announce: %w", err)
	}
	labels := dnsname.Labels(p.Host)
	if len(labels) != 2 || dnsname.ASCIILower(labels[1]) != "local" || labels[0] == "" || len(labels[0]) > 63 || !utf8.ValidString(labels[0]) {
		return admitted{}, "", nil, fmt.Errorf("announce: %w", &ValidationError{Service: s.Instance, Report: p.Report,
			Err: &FieldError{Field: "Host", Value: s.Host, Reason: "a proxy's origin host must be a name of one label in local. (RFC 6762 section 3), e.g. \"h1.local.\""}})
	}
	d, err := newSvcData(p)
	if err != nil {
		return admitted{}, "", nil, fmt.Errorf("announce: %w", err)
	}
	addrs, err := checkProxyOptions(p.Instance, opts)
	if err != nil {
		return admitted{}, "", nil, err
	}
	return admitted{instance: p.Instance, data: d}, labels[0], addrs, nil
}

// checkProxyOptions checks opts as ProxyOptions says and returns its
// addresses unmapped, sorted and without duplicates.
func checkProxyOptions(name string, opts ProxyOptions) ([]netip.Addr, error) {
	if len(opts.Interfaces) == 0 {
		return nil, fmt.Errorf("announce: proxy %q: no interface to publish on (ProxyOptions.Interfaces)", name)
	}
	for i, n := range opts.Interfaces {
		if n == "" {
			return nil, fmt.Errorf("announce: proxy %q: Interfaces[%d] is empty", name, i)
		}
	}
	if len(opts.HostAddrs) == 0 {
		return nil, fmt.Errorf("announce: proxy %q: no address for the origin host (ProxyOptions.HostAddrs)", name)
	}
	var addrs []netip.Addr
	for i, a := range opts.HostAddrs {
		a = a.Unmap()
		var why string
		switch {
		case !a.IsValid():
			why = "not an address"
		case a.IsLinkLocalUnicast():
			why = "link-local: not reachable from another link, never published for another host"
		case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast():
			why = "not a host's unicast address"
		}
		if why != "" {
			return nil, fmt.Errorf("announce: proxy %q: HostAddrs[%d] %v: %s", name, i, opts.HostAddrs[i], why)
		}
		addrs = append(addrs, a.WithZone(""))
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	addrs = slices.Compact(addrs)
	if !opts.Expires.IsZero() && !opts.Expires.After(time.Now()) {
		return nil, fmt.Errorf("announce: proxy %q: Expires %v has passed", name, opts.Expires)
	}
	return addrs, nil
}

// resolveIfs returns the indexes of the interfaces named, in order and
// without duplicates. Event loop only.
func (r *Responder) resolveIfs(name string, names []string) ([]int, error) {
	var idxs []int
	for _, n := range names {
		idx := 0
		for _, ifc := range r.tr.Interfaces() {
			if ifc.Name == n {
				idx = ifc.Index
				break
			}
		}
		if idx == 0 {
			return nil, fmt.Errorf("announce: proxy %q: interface %q is not one the responder serves: %w", name, n, sd.ErrUnknownInterface)
		}
		if !slices.Contains(idxs, idx) {
			idxs = append(idxs, idx)
		}
	}
	return idxs, nil
}

// checkProxyNames refuses p on idxs when its instance name or host name
// is one of this responder's own names, or its instance name one that
// another proxy publishes on one of idxs. Event loop only.
func (r *Responder) checkProxyNames(p *proxy, idxs []int) error {
	inst := p.svc.instanceName(p.label)
	ik := dnsname.MustKey(inst)
	for _, x := range r.names[ik] {
		if x.scope == 0 && x.state != stateRemoved {
			return fmt.Errorf("announce: proxy %q: the instance name is one of this responder's own names", inst)
		}
	}
	for _, x := range r.names[p.hostKey] {
		if x.scope == 0 && x.state != stateRemoved {
			return fmt.Errorf("announce: proxy %q: origin host %q is this responder's own host name", inst, p.svc.host)
		}
	}
	for _, idx := range idxs {
		if x := r.proxyNames[scopedKey{ik, idx}]; x != nil && x.proxy != p {
			return fmt.Errorf("announce: proxy %q: another proxy already publishes that name on %s", inst, r.ifName(idx))
		}
		if x := r.proxyNames[scopedKey{p.hostKey, idx}]; x != nil && x.kind != kindProxyHost {
			return fmt.Errorf("announce: proxy %q: origin host %q is the name of a proxied service on %s", inst, p.svc.host, r.ifName(idx))
		}
	}
	return nil
}

// proxyOn starts publishing p on interface idx: its service entity there,
// and the origin host's (made, or shared with the other proxies of that
// host there), both probed (RFC 6762 section 8.1). wait, if not nil, gets
// the outcome there. Event loop only.
func (r *Responder) proxyOn(p *proxy, idx int, wait chan error) {
	e := &entity{kind: kindService, label: p.label, svc: &p.svc, handle: p.h, scope: idx, proxy: p}
	if wait != nil {
		e.waiters = append(e.waiters, wait)
	}
	p.ifs[idx] = e
	k := scopedKey{p.hostKey, idx}
	if he := r.proxyHosts[k]; he != nil {
		before := r.proxyHostAddrs(he)
		he.users[p] = true
		r.hostAddrsChanged(he, before)
	} else {
		he = &entity{kind: kindProxyHost, label: p.hostLabel, scope: idx, users: map[*proxy]bool{p: true}}
		if r.proxyHosts == nil {
			r.proxyHosts = map[scopedKey]*entity{}
		}
		r.proxyHosts[k] = he
		r.addProxied(he)
		r.startProbing(he, 0)
	}
	r.addProxied(e)
	r.startProbing(e, 0)
}

// addProxied indexes a new proxied entity. Event loop only.
func (r *Responder) addProxied(e *entity) {
	r.proxied = append(r.proxied, e)
	r.names.add(r, e)
	if r.proxyNames == nil {
		r.proxyNames = map[scopedKey]*entity{}
	}
	r.proxyNames[scopedKey{r.keyOf(e), e.scope}] = e
	r.changed()
}

// forgetProxied drops a retired proxied entity from the indexes of
// proxied names. Event loop only.
func (r *Responder) forgetProxied(e *entity) {
	k := scopedKey{r.keyOf(e), e.scope}
	if r.proxyNames[k] == e {
		delete(r.proxyNames, k)
	}
	if r.proxyHosts[k] == e {
		delete(r.proxyHosts, k)
	}
}

// ownerOn returns the entity holding the name with dnsname key k on
// interface idx: one of our own names (owners, Responder.owners), or a
// proxied name published there; nil if none.
func (r *Responder) ownerOn(owners map[string]*entity, k string, idx int) *entity {
	if e := owners[k]; e != nil {
		return e
	}
	return r.proxyNames[scopedKey{k, idx}]
}

// entities returns p's live service entities, by interface index.
func (p *proxy) entities() []*entity {
	idxs := make([]int, 0, len(p.ifs))
	for idx := range p.ifs {
		idxs = append(idxs, idx)
	}
	slices.Sort(idxs)
	out := make([]*entity, 0, len(idxs))
	for _, idx := range idxs {
		out = append(out, p.ifs[idx])
	}
	return out
}

// withdrawnReasons says why p was withdrawn from each interface.
func (p *proxy) withdrawnReasons(r *Responder) string {
	idxs := make([]int, 0, len(p.withdrawn))
	for idx := range p.withdrawn {
		idxs = append(idxs, idx)
	}
	slices.Sort(idxs)
	var parts []string
	for _, idx := range idxs {
		parts = append(parts, r.ifName(idx)+": "+p.withdrawn[idx])
	}
	if len(parts) == 0 {
		return "no interface left"
	}
	return strings.Join(parts, "; ")
}

// expiryOf returns when e's records run out at their source: a proxy's
// ProxyOptions.Expires; for an origin host's name, the latest of its
// proxies' (zero, no cap, if one has none); zero for our own names.
func (r *Responder) expiryOf(e *entity) time.Time {
	switch {
	case e.scope == 0:
		return time.Time{}
	case e.proxy != nil:
		return e.proxy.expires
	}
	var latest time.Time
	for p := range e.users {
		if p.expires.IsZero() {
			return time.Time{}
		}
		if p.expires.After(latest) {
			latest = p.expires
		}
	}
	return latest
}

// proxyCap marks recs, records of e, with e's expiry and caps their TTLs
// (RFC 6762 section 10); recs of our own names are returned as they are.
func (r *Responder) proxyCap(e *entity, recs []rec) []rec {
	exp := r.expiryOf(e)
	if exp.IsZero() {
		return recs
	}
	for i := range recs {
		recs[i].expires = unixExpiry(exp)
		h := recs[i].rr.Header()
		h.Ttl = capTTL(h.Ttl, exp)
	}
	return recs
}

// proxyHostAddrs returns the addresses of an origin host's name on its
// interface: the union of its proxies' HostAddrs, sorted.
func (r *Responder) proxyHostAddrs(e *entity) []netip.Addr {
	var out []netip.Addr
	for p := range e.users {
		out = append(out, p.addrs...)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// proxyHostTypes returns the address record types addrs need.
func proxyHostTypes(addrs []netip.Addr) []uint16 {
	var ts []uint16
	if slices.ContainsFunc(addrs, netip.Addr.Is4) {
		ts = append(ts, dns.TypeA)
	}
	if slices.ContainsFunc(addrs, netip.Addr.Is6) {
		ts = append(ts, dns.TypeAAAA)
	}
	return ts
}

// proxyHostRecords returns the A and AAAA records of an origin host's
// name (unique: we claim it on its interface), TTLs capped by its expiry.
func (r *Responder) proxyHostRecords(e *entity) []rec {
	return r.proxyAddrRecords(e, r.proxyHostAddrs(e))
}

// proxyAddrRecords returns the records of addrs under e's name.
func (r *Responder) proxyAddrRecords(e *entity, addrs []netip.Addr) []rec {
	return r.proxyCap(e, addrRecords(r.nameOf(e), r.ttl.host, addrs))
}

// hostAddrsChanged reacts to a change of an origin host's addresses on
// its interface (they were before): goodbyes for those gone (RFC 6762
// section 10.1), remembered as our former data (no conflict if echoed,
// section 9); the whole RRset of each type that gained one announced
// again with the cache-flush bit (sections 8.4, 10.2). The name is not
// new, so it is not probed. Event loop only.
func (r *Responder) hostAddrsChanged(he *entity, before []netip.Addr) {
	after := r.proxyHostAddrs(he)
	if slices.Equal(before, after) {
		return
	}
	var gone, added []netip.Addr
	for _, a := range before {
		if !slices.Contains(after, a) {
			gone = append(gone, a)
		}
	}
	for _, a := range after {
		if !slices.Contains(before, a) {
			added = append(added, a)
		}
	}
	r.changed()
	name := r.nameOf(he)
	if len(gone) > 0 {
		recs := r.proxyAddrRecords(he, gone)
		r.markFormer(recs)
		if ifc, ok := r.tr.Interface(he.scope); ok && he.announced && he.state != stateRemoved {
			r.log.Debug("mdns: proxied host address gone; goodbye (RFC 6762 section 10.1)", "name", name, "if", ifc.Name, "addrs", gone)
			r.goodbyeOn(ifc, r.familiesOf(ifc), recs)
		}
	}
	if len(added) > 0 && he.answerable() {
		r.log.Debug("mdns: proxied host address added; announcing its RRset (RFC 6762 section 8.4)", "name", name, "if", r.ifName(he.scope), "addrs", added)
		r.reannounce(he, proxyHostTypes(added)...)
	}
}

// reannounce announces e's records of the given types again (RFC 6762
// section 8.4: new data MUST be announced), on the interfaces where e is
// answered, three times as at start-up (section 8.3), unique records with
// the cache-flush bit (10.2). It cancels e's earlier re-announcement.
func (r *Responder) reannounce(e *entity, types ...uint16) {
	e.txtGen++
	r.reannounceStep(e, e.txtGen, 0, types)
}

// reannounceStep sends announcement number step of a reannounce sequence.
func (r *Responder) reannounceStep(e *entity, gen, step int, types []uint16) {
	if e.txtGen != gen || !e.answerable() {
		return
	}
	for _, t := range r.targets() {
		if !e.answerableOn(t.ifc.Index) {
			continue
		}
		m := newResponse()
		for _, rc := range r.recordsOf(e, t.ifc) {
			if !slices.Contains(types, rc.rr.Header().Rrtype) {
				continue
			}
			if rc = keyed(rc); step > 0 && r.multicastWithin(t.key(), rc.key, time.Second) {
				continue
			}
			m.Answer = append(m.Answer, prepare(rc, rc.rr.Header().Ttl, true))
		}
		if len(m.Answer) > 0 {
			r.multicast(t, m, true)
		}
	}
	if step < len(announceIntervals) {
		r.after(announceIntervals[step], func() { r.reannounceStep(e, gen, step+1, types) })
	}
}

// proxyConflict withdraws a proxied name from its interface after a
// conflict there (RFC 6762 sections 8.1, 8.2, 9): never renamed, it is
// another host's. For an origin host's name, every proxy of that host
// there goes with it. Each proxy withdrawn gets EventConflict and
// EventWithdrawn. Event loop only.
func (r *Responder) proxyConflict(e *entity, why string) {
	if e.state == stateRemoved {
		return
	}
	idx := e.scope
	ifName := r.ifName(idx)
	name := r.nameOf(e)
	var victims []*proxy
	if e.kind == kindProxyHost {
		for p := range e.users {
			victims = append(victims, p)
		}
		slices.SortFunc(victims, func(a, b *proxy) int { return strings.Compare(a.label, b.label) })
		why = fmt.Sprintf("origin host name %q is taken: %s", name, why)
	} else {
		victims = []*proxy{e.proxy}
		why = fmt.Sprintf("instance name %q is taken: %s", name, why)
	}
	r.log.Warn("mdns: proxied name taken on the link; withdrawn there, not renamed", "name", name, "if", ifName, "reason", why)
	for _, p := range victims {
		se := p.ifs[idx]
		if se == nil {
			continue
		}
		werr := fmt.Errorf("announce: proxy %q withdrawn from %s, not renamed: %s: %w", p.svc.instanceName(p.label), ifName, why, sd.ErrRemoved)
		for _, w := range se.waiters {
			w <- werr
		}
		se.waiters = nil
	}
	if e.kind == kindProxyHost {
		ents := []*entity{e}
		for _, p := range victims {
			if se := p.ifs[idx]; se != nil {
				ents = append(ents, se)
				delete(p.ifs, idx)
			}
		}
		r.retire(ents) // its records, the union of its users', say goodbye
		clear(e.users)
	} else {
		r.dropProxyOn(e.proxy, []int{idx})
	}
	for _, p := range victims {
		if p.done {
			continue
		}
		p.withdrawn[idx] = why
		n := p.svc.instanceName(p.label)
		r.deliver(p.h, Event{Kind: EventConflict, Old: n, New: n, Reason: why})
		r.deliver(p.h, Event{Kind: EventWithdrawn, Old: n, New: n,
			Reason: fmt.Sprintf("withdrawn from %s, not renamed (a proxied name is another host's): %s", ifName, why)})
		if len(p.ifs) == 0 {
			r.finishProxy(p, "withdrawn from every interface: "+p.withdrawnReasons(r),
				fmt.Errorf("announce: proxy %q withdrawn from every interface (%s): %w", n, p.withdrawnReasons(r), sd.ErrRemoved))
		}
	}
}

// dropProxyOn stops publishing p on the interfaces idxs: its service
// entities there, and the origin host's name where p was its last user,
// are retired with goodbyes in one message per interface (RFC 6762
// section 10.1); where other proxies still use the host's name, only the
// addresses p alone brought get goodbyes. Event loop only.
func (r *Responder) dropProxyOn(p *proxy, idxs []int) {
	type change struct {
		he     *entity
		before []netip.Addr
	}
	var ents, hosts []*entity
	var changes []change
	for _, idx := range idxs {
		e := p.ifs[idx]
		if e == nil {
			continue
		}
		delete(p.ifs, idx)
		ents = append(ents, e)
		he := r.proxyHosts[scopedKey{p.hostKey, idx}]
		if he == nil || !he.users[p] {
			continue
		}
		if len(he.users) == 1 {
			// Its last user: retired with it, p's addresses saying
			// goodbye.
			ents = append(ents, he)
			hosts = append(hosts, he)
			continue
		}
		before := r.proxyHostAddrs(he)
		delete(he.users, p)
		changes = append(changes, change{he, before})
	}
	r.retire(ents)
	for _, he := range hosts {
		clear(he.users)
	}
	for _, c := range changes {
		r.hostAddrsChanged(c.he, c.before)
	}
}

// removeProxy withdraws p from every interface, with goodbyes (RFC 6762
// section 10.1), and ends its handle. Event loop only.
func (r *Responder) removeProxy(p *proxy) {
	if p.done {
		return
	}
	name := p.svc.instanceName(p.label)
	r.dropProxyOn(p, slices.Sorted(maps.Keys(p.ifs)))
	r.log.Info("mdns: proxy removed", "name", name)
	r.finishProxy(p, "removed; goodbye sent (RFC 6762 section 10.1)", errRemoved)
}

// scheduleExpiry (re)schedules p's withdrawal at its Expires.
func (r *Responder) scheduleExpiry(p *proxy) {
	p.expiry.cancel()
	p.expiry = nil
	if !p.expires.IsZero() {
		p.expiry = r.after(time.Until(p.expires), func() { r.expireProxy(p) })
	}
}

// expireProxy withdraws p, whose records ran out at the source without an
// update: goodbyes everywhere (RFC 6762 section 10.1), then Removed.
func (r *Responder) expireProxy(p *proxy) {
	if p.done {
		return
	}
	p.expiry = nil
	name := p.svc.instanceName(p.label)
	at := p.expires.Format(time.RFC3339)
	r.log.Info("mdns: proxy expired at the source; withdrawn", "name", name, "expired", at)
	r.dropProxyOn(p, slices.Sorted(maps.Keys(p.ifs)))
	r.finishProxy(p, fmt.Sprintf("expired at the source at %s without an update; goodbye sent (RFC 6762 section 10.1)", at),
		fmt.Errorf("announce: proxy %q expired at the source at %s: %w", name, at, sd.ErrRemoved))
}

// finishProxy ends p's handle: Err set to err, EventRemoved with reason,
// Events closed. Its entities must be retired already.
func (r *Responder) finishProxy(p *proxy, reason string, err error) {
	if p.done {
		return
	}
	p.done = true
	p.expiry.cancel()
	p.expiry = nil
	name := p.svc.instanceName(p.label)
	p.h.setErr(err)
	r.deliver(p.h, Event{Kind: EventRemoved, Old: name, New: name, Reason: reason})
	p.h.st.Close()
}

// ifName returns the name of interface idx, for logs and reasons.
func (r *Responder) ifName(idx int) string {
	if ifc, ok := r.tr.Interface(idx); ok {
		return ifc.Name
	}
	return fmt.Sprintf("interface %d", idx)
}

// ifNames returns the names of the interfaces idxs.
func (r *Responder) ifNames(idxs []int) []string {
	out := make([]string, 0, len(idxs))
	for _, idx := range idxs {
		out = append(out, r.ifName(idx))
	}
	return out
}

// describeRRs describes records for a reason: "SRV 0 0 9999 peer.local."
// each (type and data).
func describeRRs(rrs []dns.RR) string {
	parts := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		data := strings.TrimPrefix(rr.String(), rr.Header().String())
		parts = append(parts, dns.TypeToString[rr.Header().Rrtype]+" "+data)
	}
	return strings.Join(parts, ", ")
}
