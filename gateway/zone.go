package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/udns"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/wide"
)

// Errors of a ZoneMirror, besides those of package wide it wraps
// (*wide.ConflictError when an instance name is taken in the zone,
// *wide.UpdateError, *wide.UnreachableError, *sd.ValidationError).
var (
	// ErrMirrorClosed is returned by the methods of a closed ZoneMirror.
	// It wraps sd.ErrClosed.
	ErrMirrorClosed = fmt.Errorf("gateway: zone mirror %w", sd.ErrClosed)
	// ErrNoRoutableAddress: Put was given no address that means something
	// in a zone (only link-local, loopback, multicast or unspecified
	// ones, or none): link-local addresses never cross a link.
	ErrNoRoutableAddress = errors.New("gateway: no routable address")
)

// ZoneMirrorOptions configure a ZoneMirror.
type ZoneMirrorOptions struct {
	// Registry supplies the TXT rules instances are validated against
	// before they are written (as wide.Registrar does); nil means
	// registry.Builtin().
	Registry *registry.Registry
	// Logger receives the mirror's decisions at Debug and its
	// registrars' logs; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds one exchange with the zone's server, retransmissions
	// included; zero means wide.DefaultTimeout.
	Timeout time.Duration
}

// browseKinds are the RFC 6763 section 11 browsing-domain PTRs a mirror
// makes sure the zone has: "b" (recommended for browsing) and "lb"
// (browsed automatically by legacy clients).
var browseKinds = []string{wide.DomainBrowse, wide.DomainLegacyBrowse}

// ZoneMirror mirrors the service instances the gateway learnt on its
// links into one unicast DNS zone (Config.Zones), with DNS UPDATE (RFC
// 2136) signed with the zone's TSIG key, through package wide's
// Registrar. It is the "to_zones" destination of the gateway's rules:
// the runtime calls Put when Policy.Decide says an instance crosses to
// the zone (Decision.Zone and Decision.Proxy, with Decision.Addrs) and
// Remove when it leaves the link (goodbye, expiry) or stops crossing.
//
// # Names
//
// An instance "Office TZ._timezone._tcp.local." learnt on link "office"
// is written as "Office TZ._timezone._tcp.<zone>" (PTR from the type,
// the _services._dns-sd._udp enumeration PTR, SRV, TXT). Its SRV target
// is the origin's Multicast DNS host name moved under the link's name:
// "h1.local." becomes "h1.office.<zone>", with the addresses Put is
// given as its A and AAAA records, so that two links' "h1" never
// collide. (The host's labels before "local." are kept: "a.b.local."
// becomes "a.b.office.<zone>"; a host outside local. keeps its first
// label.) Subtype PTRs are not written: an sd.Instance does not say
// under which subtypes it was found.
//
// Instance names are not per link: the same instance name on two links
// is one name in the zone. The mirror never renames (RFC 6763 section
// 4.1: one instance name, one service; renaming someone else's service
// is the reflector bug the gateway exists to avoid): Put of an instance
// whose name is held in the zone by records that are not its own (those
// of another link, of another publisher, or left there by an operator)
// fails with an error matching *wide.ConflictError, having written
// nothing. Records the mirror itself wrote before a crash or a restart
// (exactly the same SRV and TXT) are taken back, not refused.
//
// One wide.Registrar (NoRename) publishes the instances of one origin
// host on one link, since a registrar's host name and addresses are its
// own: the host's address records are written with its first instance
// and deleted with its last (unless they were in the zone before).
//
// # Updates
//
// Put of an instance already mirrored compares it with what is in the
// zone: the same records, nothing is sent; only the TXT record changed,
// one UPDATE replaces it in place (wide.Registration.UpdateTXT); another
// port, instance label or host, the instance is removed and added again.
// When the addresses of a host change, the simplest correct way is
// taken: every instance of that host on that link is removed (deleting
// the old address records with the last), and all are added again under
// a new registrar with the new addresses. Clients see the host's
// instances disappear for the few milliseconds in between; addresses
// change rarely, and an UPDATE replacing the address records under live
// SRV records would need a registrar whose addresses can change. The
// addresses are the host's: the last Put for any of its instances sets
// them for all.
//
// # Browsing domains
//
// So that clients find the zone, the first Put that publishes an
// instance then makes sure the zone lists itself as a browsing domain
// (RFC 6763 section 11):
// "b._dns-sd._udp.<zone> PTR <zone>" and "lb._dns-sd._udp.<zone> PTR
// <zone>". Each is added only when it is not already there, in one
// UPDATE whose prerequisite is the RRset as read (RFC 2136 sections
// 2.4.2 and 2.4.3), with the RRset's TTL when it has other records;
// Close deletes only the ones the mirror added. NewZoneMirror sends
// nothing, and a refused Put writes nothing at all, these included. A
// Put that published its instance but could not add them returns the
// error (the instance stays published) and every later Put tries again.
// Clients that browse a parent domain (a search domain "example.net.")
// find the zone only when that parent lists it too; that is the parent
// zone's administrator's to add.
//
// # Concurrency
//
// The methods are safe for concurrent use. The operations on one link
// take turns (in the order they asked, each bounded by its context);
// operations on different links run at the same time. No lock is held
// across an exchange with the server: the turn is a token a call holds
// while it works, which the calls for other links never wait for.
type ZoneMirror struct {
	// Set by NewZoneMirror, then read only.
	zone    Zone
	domain  string // z.Domain, fully qualified
	opts    ZoneMirrorOptions
	log     *slog.Logger
	timeout time.Duration
	probe   *wide.Registrar // finds the zone's primary server; never adds

	mu     sync.Mutex
	closed bool
	links  map[string]*mirrorLink
	server string // the server found, once found

	browse chan struct{} // turn of the browsing-domain PTRs (cap 1)
	// Held with the browse turn:
	browseDone  bool       // the PTRs are in the zone (ours or not)
	browseAdded []*dns.PTR // those we added
}

// mirrorLink is the mirror's state for one source link. Everything but
// turn is read and written only by the call holding the turn.
type mirrorLink struct {
	name  string
	turn  chan struct{}          // cap 1: holding a value is having the turn
	hosts map[string]*mirrorHost // by dnsname.MustKey of the host name in the zone
	insts map[string]*mirrored   // by dnsname.MustKey of the instance's name on the link
}

// mirrorHost is one origin host of a link: its name in the zone, its
// addresses and the registrar that publishes its instances.
type mirrorHost struct {
	key   string
	name  string // "h1.office.dnssd.example.net."
	addrs []netip.Addr
	reg   *wide.Registrar
	insts map[string]*mirrored
}

// mirrored is one instance mirrored into the zone.
type mirrored struct {
	key  string // dnsname.MustKey of its name on the link
	name string // its name on the link, for messages
	host *mirrorHost
	svc  sd.Service         // what is published (Host empty: the registrar's)
	reg  *wide.Registration // nil while it is not in the zone (between a host's removal and re-adding)
}

// NewZoneMirror returns a mirror into zone z (a zone of a checked
// Config). It checks z but sends nothing: the zone's primary server,
// when z.Server is empty, is looked up by the first Put, which also adds
// the browsing-domain PTRs.
func NewZoneMirror(z Zone, opts ZoneMirrorOptions) (*ZoneMirror, error) {
	if z.Domain == "" {
		return nil, fmt.Errorf("gateway: zone mirror: %w", &ConfigError{Field: "domain", Reason: "missing: the zone's domain"})
	}
	if reason := checkDomain(z.Domain); reason != "" {
		return nil, fmt.Errorf("gateway: zone mirror: %w", &ConfigError{Field: "domain", Reason: fmt.Sprintf("%q: %s", z.Domain, reason)})
	}
	if z.Server != "" {
		if reason := checkServer(z.Server); reason != "" {
			return nil, fmt.Errorf("gateway: zone mirror: %w", &ConfigError{Field: "server", Reason: fmt.Sprintf("%q: %s", z.Server, reason)})
		}
	}
	m := &ZoneMirror{
		zone:    z,
		domain:  dns.Fqdn(z.Domain),
		opts:    opts,
		log:     opts.Logger,
		timeout: opts.Timeout,
		links:   map[string]*mirrorLink{},
		browse:  make(chan struct{}, 1),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.timeout <= 0 {
		m.timeout = wide.DefaultTimeout
	}
	// The probe finds the primary server once for every registrar; its
	// host name is outside the zone, so it needs no address.
	probe, err := wide.NewRegistrar(wide.RegistrarOptions{
		Domain:   m.domain,
		Server:   z.Server,
		TSIG:     z.TSIG,
		HostName: "lansd-gateway.invalid.",
		TTL:      z.TTL,
		Registry: opts.Registry,
		Logger:   m.log,
		Timeout:  m.timeout,
		NoRename: true,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: zone mirror %s: %w", m.domain, err)
	}
	m.probe = probe
	return m, nil
}

// Domain returns the zone's domain, fully qualified.
func (m *ZoneMirror) Domain() string { return m.domain }

// HostName returns the name in the zone of host (an origin's Multicast
// DNS host name, "h1.local.") learnt on link: "h1.<link>.<zone>".
func (m *ZoneMirror) HostName(link, host string) string {
	return mirrorHostLabel(host) + "." + link + "." + m.domain
}

// InstanceName returns the name in the zone of an instance, given as
// its raw label and type ("Office TZ", "_timezone._tcp"):
// "Office TZ._timezone._tcp.<zone>", dots and backslashes in the label
// escaped (RFC 6763 section 4.3), as wide.Registration.Name writes it.
func (m *ZoneMirror) InstanceName(instance, service string) string {
	return dnsname.EscapeLabel(instance) + "." + service + "." + m.domain
}

// mirrorHostLabel returns the part of host that goes before the link's
// name: the labels before "local.", or the first label of a host outside
// local.
func mirrorHostLabel(host string) string {
	h := dns.Fqdn(host)
	if dns.IsSubDomain(dnsname.Local, dnsname.ASCIILower(h)) {
		if rel := strings.TrimSuffix(h[:len(h)-len(dnsname.Local)], "."); rel != "" {
			return rel
		}
	}
	labels := dns.SplitDomainName(h)
	if len(labels) == 0 {
		return ""
	}
	return labels[0]
}

// routable returns addrs without the addresses that mean nothing in a
// zone or must not cross a link (link-local, loopback, multicast,
// unspecified), unmapped, without zones or duplicates.
func routable(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || slices.Contains(out, a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// sameAddrs reports whether a and b hold the same addresses, in any order.
func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// txtKey returns the TXT record's strings as they go on the wire, for
// comparing.
func txtKey(s sd.Service) string {
	rr, err := s.TXT.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil {
		return "\xff" + s.TXT.String()
	}
	return strings.Join(rr.Txt, "\x00")
}

// Put publishes in, learnt on link, in the zone, or brings what is
// published up to date (see the type's documentation): its PTRs, SRV
// record pointing at HostName(link, in.Host), TXT record, and that
// host's A and AAAA records: addrs, leaving out those that are not
// routable (ErrNoRoutableAddress when none is left). It returns once
// the server has accepted the update. An instance whose name is taken
// in the zone is refused with an error matching *wide.ConflictError and
// nothing is written; one whose TXT record does not validate against
// the registry, with an error wrapping *sd.ValidationError. A failed
// Put leaves the instance out of the zone (or, when only an update
// failed, as it was) and is tried again by calling Put again.
func (m *ZoneMirror) Put(ctx context.Context, link string, in sd.Instance, addrs []netip.Addr) error {
	if reason := checkName(link); reason != "" {
		return fmt.Errorf("gateway: zone %s: link name %s", m.domain, reason)
	}
	wrap := func(err error) error {
		return fmt.Errorf("gateway: zone %s: mirroring %q from link %s: %w", m.domain, in.Name, link, err)
	}
	addrs = routable(addrs)
	if len(addrs) == 0 {
		return wrap(ErrNoRoutableAddress)
	}
	if in.Host == "" || mirrorHostLabel(in.Host) == "" {
		return wrap(&sd.FieldError{Field: "Host", Value: in.Host, Reason: "no SRV target host"})
	}
	ikey, ok := dnsname.Key(in.Name)
	if !ok {
		return wrap(&sd.FieldError{Field: "Name", Value: in.Name, Reason: "not a domain name"})
	}
	if err := m.put(ctx, link, ikey, in, addrs); err != nil {
		return wrap(err)
	}
	// The browsing-domain PTRs come with the first instance, so that a
	// Put that fails writes nothing.
	if err := m.ensureBrowse(ctx); err != nil {
		return wrap(err)
	}
	return nil
}

// put is Put once its arguments are checked; ikey is the instance's key
// and addrs are routable.
func (m *ZoneMirror) put(ctx context.Context, link, ikey string, in sd.Instance, addrs []netip.Addr) error {
	hname := m.HostName(link, in.Host)
	svc := sd.Service{Instance: in.Instance, Type: in.Service, Port: in.Port, TXT: in.TXT}
	l, err := m.take(ctx, link)
	if err != nil {
		return err
	}
	defer m.give(l)
	if m.isClosed() {
		return ErrMirrorClosed
	}
	hkey := dnsname.MustKey(hname)
	if cur := l.insts[ikey]; cur != nil {
		same := cur.host.key == hkey && cur.svc.Instance == svc.Instance && dnsname.Equal(cur.svc.Type, svc.Type) && cur.svc.Port == svc.Port
		switch {
		case same && cur.reg != nil && sameAddrs(cur.host.addrs, addrs):
			if txtKey(cur.svc) == txtKey(svc) {
				return nil
			}
			m.log.Debug("zone: TXT record changed, updating it in place", "zone", m.domain, "link", link, "instance", in.Name)
			if err := cur.reg.UpdateTXT(ctx, svc.TXT); err != nil {
				return err
			}
			cur.svc = svc
			return nil
		case same:
			// New addresses (or a host left half re-added): the host's
			// instances are published again, this one with its new TXT.
			cur.svc = svc
			if err := m.rehost(ctx, l, cur.host, addrs); err != nil {
				return err
			}
			if cur.reg == nil {
				return errors.New("not published again")
			}
			return nil
		}
		m.log.Debug("zone: port, name or host changed, publishing again", "zone", m.domain, "link", link, "instance", in.Name, "host", hname)
		if err := m.drop(ctx, l, cur); err != nil {
			return err
		}
	}
	h := l.hosts[hkey]
	if h != nil && !sameAddrs(h.addrs, addrs) {
		if err := m.rehost(ctx, l, h, addrs); err != nil {
			return err
		}
	}
	if h == nil {
		h, err = m.newHost(ctx, hname, addrs)
		if err != nil {
			return err
		}
		l.hosts[hkey] = h
	}
	reg, err := h.reg.Add(ctx, svc)
	if err != nil {
		m.log.Debug("zone: not mirrored", "zone", m.domain, "link", link, "instance", in.Name, "err", err)
		m.dropHostIfEmpty(ctx, l, h)
		return err
	}
	mi := &mirrored{key: ikey, name: in.Name, host: h, svc: svc, reg: reg}
	h.insts[ikey] = mi
	l.insts[ikey] = mi
	m.log.Debug("zone: mirrored", "zone", m.domain, "link", link, "instance", reg.Name(), "host", hname, "addrs", addrs)
	return nil
}

// Remove deletes from the zone exactly what Put wrote for the instance
// named instanceName (sd.Instance.Name) learnt on link, and its host's
// address records with the host's last instance. An instance that is not
// mirrored is not an error. If the server cannot be reached the instance
// stays (and its registration is refreshed) and the error is returned:
// call Remove again.
func (m *ZoneMirror) Remove(ctx context.Context, link, instanceName string) error {
	l, err := m.take(ctx, link)
	if err != nil {
		return fmt.Errorf("gateway: zone %s: removing %q of link %s: %w", m.domain, instanceName, link, err)
	}
	defer m.give(l)
	mi := l.insts[dnsname.MustKey(instanceName)]
	if mi == nil {
		return nil
	}
	if err := m.drop(ctx, l, mi); err != nil {
		return fmt.Errorf("gateway: zone %s: removing %q of link %s: %w", m.domain, instanceName, link, err)
	}
	m.log.Debug("zone: removed", "zone", m.domain, "link", link, "instance", instanceName)
	return nil
}

// Close removes from the zone everything the mirror added: the
// instances, their hosts' address records and the browsing-domain PTRs
// it added, leaving the zone as it found it. Calls in flight finish
// first (bounded by their contexts); later calls fail with
// ErrMirrorClosed. What could not be deleted is named in the error, and
// Close may be called again to try it again.
func (m *ZoneMirror) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	links := slices.Collect(maps.Values(m.links))
	m.mu.Unlock()
	slices.SortFunc(links, func(a, b *mirrorLink) int { return strings.Compare(a.name, b.name) })
	var errs []error
	for _, l := range links {
		if err := m.closeLink(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.removeBrowse(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := m.probe.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: closing the mirror into zone %s: %w", m.domain, err)
	}
	return nil
}

// closeLink removes what was mirrored from l.
func (m *ZoneMirror) closeLink(ctx context.Context, l *mirrorLink) error {
	if err := m.takeLink(ctx, l); err != nil {
		return fmt.Errorf("link %s: %w", l.name, err)
	}
	defer m.give(l)
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(l.insts)) {
		if err := m.drop(ctx, l, l.insts[k]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range l.hosts { // hosts left without instances (a failed re-adding)
		m.dropHostIfEmpty(ctx, l, h)
	}
	return errors.Join(errs...)
}

// isClosed reports whether Close was called.
func (m *ZoneMirror) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// take waits for link's turn, making the link's state when it is new.
func (m *ZoneMirror) take(ctx context.Context, link string) (*mirrorLink, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrMirrorClosed
	}
	l := m.links[link]
	if l == nil {
		l = &mirrorLink{name: link, turn: make(chan struct{}, 1), hosts: map[string]*mirrorHost{}, insts: map[string]*mirrored{}}
		m.links[link] = l
	}
	m.mu.Unlock()
	if err := m.takeLink(ctx, l); err != nil {
		return nil, err
	}
	return l, nil
}

// takeLink waits for l's turn.
func (m *ZoneMirror) takeLink(ctx context.Context, l *mirrorLink) error {
	select {
	case l.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the operation in progress on link %s: %w", l.name, context.Cause(ctx))
	}
}

// give ends the turn on l.
func (m *ZoneMirror) give(l *mirrorLink) { <-l.turn }

// primary returns the server updates go to, looked up once.
func (m *ZoneMirror) primary(ctx context.Context) (string, error) {
	m.mu.Lock()
	srv := m.server
	m.mu.Unlock()
	if srv != "" {
		return srv, nil
	}
	srv, err := m.probe.Primary(ctx)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	m.server = srv
	m.mu.Unlock()
	return srv, nil
}

// newHost returns the state of a host named name (in the zone) with
// addrs, and its registrar. The caller has the link's turn.
func (m *ZoneMirror) newHost(ctx context.Context, name string, addrs []netip.Addr) (*mirrorHost, error) {
	reg, err := m.newRegistrar(ctx, name, addrs)
	if err != nil {
		return nil, err
	}
	return &mirrorHost{key: dnsname.MustKey(name), name: name, addrs: addrs, reg: reg, insts: map[string]*mirrored{}}, nil
}

// newRegistrar returns a registrar publishing services of host name
// with addrs.
func (m *ZoneMirror) newRegistrar(ctx context.Context, name string, addrs []netip.Addr) (*wide.Registrar, error) {
	srv, err := m.primary(ctx)
	if err != nil {
		return nil, err
	}
	return wide.NewRegistrar(wide.RegistrarOptions{
		Domain:   m.domain,
		Server:   srv,
		TSIG:     m.zone.TSIG,
		HostName: name,
		Addrs:    slices.Clone(addrs),
		TTL:      m.zone.TTL,
		NoRename: true, // never rename someone else's service, nor ours
		Registry: m.opts.Registry,
		Logger:   m.log,
		Timeout:  m.timeout,
	})
}

// drop removes mi from the zone and from l, and its host with its last
// instance. On an error mi stays. The caller has l's turn.
func (m *ZoneMirror) drop(ctx context.Context, l *mirrorLink, mi *mirrored) error {
	if mi.reg != nil {
		if err := mi.reg.Remove(ctx); err != nil {
			return err
		}
		mi.reg = nil
	}
	delete(mi.host.insts, mi.key)
	delete(l.insts, mi.key)
	m.dropHostIfEmpty(ctx, l, mi.host)
	return nil
}

// dropHostIfEmpty closes h's registrar and forgets h when it publishes
// nothing. The caller has l's turn.
func (m *ZoneMirror) dropHostIfEmpty(ctx context.Context, l *mirrorLink, h *mirrorHost) {
	if len(h.insts) > 0 {
		return
	}
	// The registrar holds no service: Close sends nothing.
	_ = h.reg.Close(ctx)
	if l.hosts[h.key] == h {
		delete(l.hosts, h.key)
	}
}

// rehost publishes h's instances again with new addresses: it removes
// them all (the old address records go with the last), then adds them
// under a new registrar with addrs. When a removal fails it stops,
// keeping the old addresses, and the next Put of the host tries again.
// An instance that cannot be added again is dropped from the mirror and
// named in the error. The caller has l's turn.
func (m *ZoneMirror) rehost(ctx context.Context, l *mirrorLink, h *mirrorHost, addrs []netip.Addr) error {
	m.log.Debug("zone: host addresses changed, publishing its instances again", "zone", m.domain, "link", l.name, "host", h.name, "old", h.addrs, "new", addrs)
	keys := slices.Sorted(maps.Keys(h.insts))
	for _, k := range keys {
		mi := h.insts[k]
		if mi.reg == nil {
			continue
		}
		if err := mi.reg.Remove(ctx); err != nil {
			return fmt.Errorf("removing %s for its host's new addresses: %w", mi.name, err)
		}
		mi.reg = nil
	}
	if !sameAddrs(h.addrs, addrs) {
		reg, err := m.newRegistrar(ctx, h.name, addrs)
		if err != nil {
			return err
		}
		_ = h.reg.Close(ctx) // holds nothing: sends nothing
		h.reg, h.addrs = reg, addrs
	}
	var errs []error
	for _, k := range keys {
		mi := h.insts[k]
		reg, err := h.reg.Add(ctx, mi.svc)
		if err != nil {
			delete(h.insts, k)
			delete(l.insts, k)
			errs = append(errs, fmt.Errorf("publishing %s again with its host's new addresses: %w", mi.name, err))
			continue
		}
		mi.reg = reg
	}
	return errors.Join(errs...)
}

// ensureBrowse makes sure the zone lists itself as a browsing domain
// (RFC 6763 section 11), once.
func (m *ZoneMirror) ensureBrowse(ctx context.Context) error {
	select {
	case m.browse <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to add the browsing-domain records: %w", context.Cause(ctx))
	}
	defer func() { <-m.browse }()
	if m.isClosed() {
		return ErrMirrorClosed
	}
	if m.browseDone {
		return nil
	}
	c, err := m.client(ctx)
	if err != nil {
		return err
	}
	for _, kind := range browseKinds {
		ptr, err := m.addBrowsePTR(ctx, c, kind)
		if err != nil {
			return fmt.Errorf("adding the browsing-domain record %s._dns-sd._udp.%s PTR %s (RFC 6763 section 11): %w", kind, m.domain, m.domain, err)
		}
		if ptr != nil {
			m.browseAdded = append(m.browseAdded, ptr)
		}
	}
	m.browseDone = true
	return nil
}

// browseTries bounds the UPDATEs adding one browsing-domain PTR while
// others change its RRset.
const browseTries = 5

// addBrowsePTR adds "<kind>._dns-sd._udp.<zone> PTR <zone>" unless it is
// there, and returns the record added, or nil.
func (m *ZoneMirror) addBrowsePTR(ctx context.Context, c *udns.Client, kind string) (*dns.PTR, error) {
	name := kind + "._dns-sd._udp." + m.domain
	ttl := uint32(wide.DefaultTTL / time.Second)
	if m.zone.TTL > 0 {
		ttl = uint32(m.zone.TTL / time.Second)
	}
	for range browseTries {
		have, err := m.query(ctx, c, name, dns.TypePTR)
		if err != nil {
			return nil, err
		}
		t := ttl
		for _, rr := range have {
			if dnsname.Equal(rr.(*dns.PTR).Ptr, m.domain) {
				m.log.Debug("zone: browsing-domain record already there", "name", name)
				return nil, nil
			}
			t = rr.Header().Ttl // one TTL per RRset: take the one it has
		}
		ptr := &dns.PTR{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: t}, Ptr: m.domain}
		u := new(dns.Msg)
		u.SetUpdate(m.domain)
		if len(have) > 0 {
			u.Used(copyRRs(have)) // RFC 2136 section 2.4.2: the RRset as read
		} else {
			u.RRsetNotUsed([]dns.RR{dns.Copy(ptr)}) // section 2.4.3
		}
		u.Insert([]dns.RR{dns.Copy(ptr)})
		resp, err := m.exchange(ctx, c, u)
		if err != nil {
			return nil, err
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			m.log.Debug("zone: added browsing-domain record", "name", name, "ptr", m.domain)
			return ptr, nil
		case dns.RcodeNXRrset, dns.RcodeYXRrset: // changed since read: read again
			continue
		}
		return nil, fmt.Errorf("update: %s", dns.RcodeToString[resp.Rcode])
	}
	return nil, fmt.Errorf("the RRset kept changing (%d tries)", browseTries)
}

// removeBrowse deletes the browsing-domain PTRs the mirror added, one RR
// at a time (RFC 2136 section 2.5.4).
func (m *ZoneMirror) removeBrowse(ctx context.Context) error {
	select {
	case m.browse <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting to remove the browsing-domain records: %w", context.Cause(ctx))
	}
	defer func() { <-m.browse }()
	if len(m.browseAdded) == 0 {
		return nil
	}
	c, err := m.client(ctx)
	if err != nil {
		return err
	}
	u := new(dns.Msg)
	u.SetUpdate(m.domain)
	for _, p := range m.browseAdded {
		u.Remove([]dns.RR{dns.Copy(p)})
	}
	resp, err := m.exchange(ctx, c, u)
	if err == nil && resp.Rcode != dns.RcodeSuccess {
		err = fmt.Errorf("update: %s", dns.RcodeToString[resp.Rcode])
	}
	if err != nil {
		return fmt.Errorf("removing the browsing-domain records: %w", err)
	}
	m.browseAdded = nil
	return nil
}

// client returns a DNS client for the zone's primary, signing with the
// zone's key.
func (m *ZoneMirror) client(ctx context.Context) (*udns.Client, error) {
	srv, err := m.primary(ctx)
	if err != nil {
		return nil, err
	}
	c := &udns.Client{Servers: []string{srv}, Timeout: m.timeout}
	if k := m.zone.TSIG; !k.IsZero() {
		ck, err := k.Check()
		if err != nil {
			return nil, err
		}
		c.Key = &udns.Key{Name: ck.Name, Algorithm: ck.Algorithm, Secret: ck.Secret}
	}
	return c, nil
}

// exchange sends u and returns the answer.
func (m *ZoneMirror) exchange(ctx context.Context, c *udns.Client, u *dns.Msg) (*dns.Msg, error) {
	resp, _, err := c.Exchange(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("exchange with %s: %w", c.Servers[0], err)
	}
	return resp, nil
}

// query returns name's records of type qtype at the zone's server.
func (m *ZoneMirror) query(ctx context.Context, c *udns.Client, name string, qtype uint16) ([]dns.RR, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	resp, err := m.exchange(ctx, c, q)
	if err != nil {
		return nil, err
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("query %s %s: %s", name, dns.TypeToString[qtype], dns.RcodeToString[resp.Rcode])
	}
	var out []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype && dnsname.Equal(rr.Header().Name, name) {
			out = append(out, rr)
		}
	}
	return out, nil
}

// copyRRs returns deep copies of rrs: miekg/dns's update helpers change
// the headers of what they are given.
func copyRRs(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}

// Check asks the zone's server whether the mirror may update the zone,
// writing nothing: one UPDATE signed with the zone's key whose only
// section is the prerequisite that the zone's apex exists (RFC 2136
// section 2.4.4), no update. The server checks the key (RFC 8945) and its
// update policy before the prerequisite, so an answer of NOERROR says
// that the server is the zone's primary, knows the key and lets it
// update the zone. (A server whose policy grants names one by one, like
// BIND's update-policy, may still refuse a name later.) Errors are those
// of Put: *wide.UpdateError (wide.ErrTSIGRejected, wide.ErrUpdateRefused,
// NOTAUTH, NOTZONE) and *wide.UnreachableError (wide.ErrNoAnswer), or the
// primary server's lookup failing.
func (m *ZoneMirror) Check(ctx context.Context) error {
	wrap := func(err error) error { return fmt.Errorf("gateway: zone %s: checking updates: %w", m.domain, err) }
	if m.isClosed() {
		return wrap(ErrMirrorClosed)
	}
	c, err := m.client(ctx)
	if err != nil {
		return wrap(err)
	}
	u := new(dns.Msg)
	u.SetUpdate(m.domain)
	u.NameUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: m.domain}}})
	key := ""
	if c.Key != nil {
		key = c.Key.Name
	}
	srv := c.Servers[0]
	resp, _, err := c.Exchange(ctx, u)
	var te *udns.TSIGError
	var na *udns.NoAnswerError
	switch {
	case err == nil:
	case errors.As(err, &te):
		return wrap(&wide.UpdateError{Server: srv, Zone: m.domain, Op: "update", Rcode: te.Rcode, TSIGError: te.TSIGError, Key: key, Unsigned: te.Unsigned})
	case errors.As(err, &na):
		return wrap(&wide.UnreachableError{Server: srv, Zone: m.domain, Op: "update", Waited: na.Waited, Tries: na.Tries, Err: na.Err})
	default:
		return wrap(fmt.Errorf("exchange with %s: %w", srv, err))
	}
	if resp.Rcode != dns.RcodeSuccess {
		return wrap(&wide.UpdateError{Server: srv, Zone: m.domain, Op: "update", Rcode: resp.Rcode, Key: key})
	}
	m.log.Debug("zone: the server accepts our updates", "zone", m.domain, "server", srv, "key", key)
	return nil
}
