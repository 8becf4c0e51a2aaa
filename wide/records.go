package wide

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// DefaultTTL is the TTL of every record a Registrar writes and
// BuildRecords builds, unless set: 120 s, the TTL RFC 6762 section 10
// gives records that name a host, for all records. The records are
// dynamic and unicast DNS has no goodbye packets: a resolver caches a
// removed or changed record for up to its TTL, so the TTL is kept short
// rather than the 75 minutes Multicast DNS gives PTR and TXT records.
const DefaultTTL = 120 * time.Second

// RecordOptions say how BuildRecords writes a service into a unicast DNS
// zone.
type RecordOptions struct {
	// Zone is the zone the records go in, e.g. "tz.example.net.". The
	// service's Domain, when set, must be the zone or a name inside it;
	// empty, it is the zone.
	Zone string
	// HostName is the SRV target for a service whose Host is empty: a
	// single label "h1" means "h1.<Zone>"; empty means the first label of
	// os.Hostname() in the zone.
	HostName string
	// Addrs are HostName's addresses, written as A and AAAA records when
	// the service's SRV target is HostName and HostName lies inside Zone.
	// A service with an explicit Host gets no address records: that
	// host's addresses are someone else's to publish.
	Addrs []netip.Addr
	// TTL is the TTL of every record; zero means DefaultTTL.
	TTL time.Duration
	// Registry supplies the TXT rules the service is validated against;
	// nil means registry.Builtin().
	Registry *registry.Registry
}

// Records are the records that publish one DNS-SD service instance in a
// unicast DNS zone (RFC 6763), as the Registrar sends them in an UPDATE
// and "lansd zone" prints them.
type Records struct {
	// Instance is the full instance name,
	// "Office TZ._timezone._tcp.tz.example.net.".
	Instance string
	// ServicesPTR is the service type enumeration record (RFC 6763
	// section 9): _services._dns-sd._udp.<domain> PTR <type>.
	ServicesPTR *dns.PTR
	// PTR points from the service type to the instance (section 4.1).
	PTR *dns.PTR
	// SubtypePTRs point from each subtype to the instance (section 7.1).
	SubtypePTRs []*dns.PTR
	// SRV gives the instance's host and port (section 5).
	SRV *dns.SRV
	// TXT holds the instance's key/value pairs (section 6).
	TXT *dns.TXT
	// Addrs are the A and AAAA records of the SRV target, when written.
	Addrs []dns.RR
	// Report holds the TXT record's findings (warnings only: records are
	// not built for a service that does not validate).
	Report txt.Report
}

// RRs returns every record: the enumeration PTR, the type PTR, the
// subtype PTRs, SRV, TXT, then the addresses.
func (z *Records) RRs() []dns.RR {
	out := []dns.RR{z.ServicesPTR, z.PTR}
	for _, p := range z.SubtypePTRs {
		out = append(out, p)
	}
	out = append(out, z.SRV, z.TXT)
	return append(out, z.Addrs...)
}

// instanceRRs returns the records whose names belong to the instance
// alone: the type and subtype PTRs to it, SRV and TXT. RFC 2136 section
// 2.5.4 deletes exactly these when the service is withdrawn.
func (z *Records) instanceRRs() []dns.RR {
	out := []dns.RR{z.PTR}
	for _, p := range z.SubtypePTRs {
		out = append(out, p)
	}
	return append(out, z.SRV, z.TXT)
}

// BuildRecords validates s exactly as sd.Service.Validate does (a service
// that does not validate is refused with an error wrapping an
// *sd.ValidationError: nothing invalid goes into a zone) and returns the
// records that publish it in opts.Zone. The same function builds what a
// Registrar sends.
func BuildRecords(s sd.Service, opts RecordOptions) (*Records, error) {
	zone, err := checkZone(opts.Zone, "Zone")
	if err != nil {
		return nil, fmt.Errorf("wide: RecordOptions: %w", err)
	}
	host, err := zoneHostName(opts.HostName, zone)
	if err != nil {
		return nil, fmt.Errorf("wide: RecordOptions: %w", err)
	}
	ttl, err := zoneTTL(opts.TTL)
	if err != nil {
		return nil, fmt.Errorf("wide: RecordOptions: %w", err)
	}
	reg := opts.Registry
	if reg == nil {
		reg = registry.Builtin()
	}
	zs, err := prepareService(s, zone, host, opts.Addrs, ttl, reg)
	if err != nil {
		return nil, fmt.Errorf("wide: %w", err)
	}
	return zs.records(zs.label), nil
}

// service is a validated service as the registrar writes it.
type service struct {
	p       sd.Prepared
	txtStrs []string     // p.TXT in miekg/dns form
	label   string       // the instance label asked for
	zone    string       // the zone (UPDATE zone section)
	target  string       // SRV target
	addrs   []netip.Addr // addresses written for target, or none
	ttl     uint32
	report  txt.Report
}

// prepareService checks s for publishing in zone and works out its
// records' data. host is the registrar's host name and addrs its
// addresses. The error is an *sd.ValidationError.
func prepareService(s sd.Service, zone, host string, addrs []netip.Addr, ttl uint32, reg *registry.Registry) (*service, error) {
	// Defaults that differ from Multicast DNS: the domain is the zone and
	// a single-label host lies in the zone, not in "local.".
	if h := strings.TrimSuffix(s.Host, "."); h != "" && !strings.Contains(h, ".") {
		s.Host = h + "." + zone
	}
	p, err := s.Prepare(zone, reg)
	if err != nil {
		return nil, err
	}
	var errs []error
	if !dns.IsSubDomain(zone, p.Domain) {
		errs = append(errs, &sd.FieldError{Field: "Domain", Value: p.Domain, Reason: fmt.Sprintf("not inside the zone %s", zone)})
	} else if dns.IsSubDomain(dnsname.Local, p.Domain) {
		errs = append(errs, &sd.FieldError{Field: "Domain", Value: p.Domain, Reason: "names under local. are Multicast DNS names (RFC 6762 section 3), not a unicast zone's"})
	}
	if p.Host != "" && dns.IsSubDomain(dnsname.Local, p.Host) {
		errs = append(errs, &sd.FieldError{Field: "Host", Value: s.Host, Reason: "a Multicast DNS name (RFC 6762 section 3) cannot be the SRV target in a unicast zone"})
	}
	if len(errs) > 0 {
		return nil, &sd.ValidationError{Service: s.Instance, Report: p.Report, Err: errors.Join(errs...)}
	}
	rr, err := p.TXT.RR(dns.RR_Header{Name: ".", Class: dns.ClassINET})
	if err != nil { // cannot happen: Prepare encodes it
		return nil, &sd.ValidationError{Service: s.Instance, Report: p.Report, Err: &sd.FieldError{Field: "TXT", Reason: "cannot be encoded", Err: err}}
	}
	zs := &service{p: p, txtStrs: rr.Txt, label: p.Instance, zone: zone, target: host, ttl: ttl, report: p.Report}
	if p.Host != "" {
		zs.target = p.Host
	}
	if dnsname.Equal(zs.target, host) && dns.IsSubDomain(zone, host) {
		zs.addrs = cleanAddrs(addrs)
	}
	return zs, nil
}

// typeName returns the service type name, "_timezone._tcp.tz.example.net.".
func (zs *service) typeName() string { return zs.p.Type + "." + zs.p.Domain }

// instanceName returns the full instance name for label.
func (zs *service) instanceName(label string) string {
	return dnsname.EscapeLabel(label) + "." + zs.typeName()
}

// withTXT returns a copy of zs with another TXT record.
func (zs *service) withTXT(rec txt.Record, strs []string) *service {
	c := *zs
	c.p.TXT = rec
	c.txtStrs = strs
	return &c
}

// records returns zs's records with instance label.
func (zs *service) records(label string) *Records {
	inst := zs.instanceName(label)
	typ := zs.typeName()
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: zs.ttl}
	}
	z := &Records{
		Instance:    inst,
		ServicesPTR: &dns.PTR{Hdr: hdr(dnsname.ServicesType+"."+zs.p.Domain, dns.TypePTR), Ptr: typ},
		PTR:         &dns.PTR{Hdr: hdr(typ, dns.TypePTR), Ptr: inst},
		SRV:         &dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Port: zs.p.Port, Target: zs.target},
		TXT:         &dns.TXT{Hdr: hdr(inst, dns.TypeTXT), Txt: slices.Clone(zs.txtStrs)},
		Report:      zs.report,
	}
	for _, sub := range zs.p.Subtypes {
		z.SubtypePTRs = append(z.SubtypePTRs, &dns.PTR{Hdr: hdr(dnsname.EscapeLabel(sub)+"."+dnsname.SubLabel+"."+typ, dns.TypePTR), Ptr: inst})
	}
	z.Addrs = addrRRs(zs.target, zs.addrs, zs.ttl)
	return z
}

// addrRRs returns the A and AAAA records of host.
func addrRRs(host string, addrs []netip.Addr, ttl uint32) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		h := dns.RR_Header{Name: host, Class: dns.ClassINET, Ttl: ttl}
		if a.Is4() {
			h.Rrtype = dns.TypeA
			out = append(out, &dns.A{Hdr: h, A: a.AsSlice()})
		} else {
			h.Rrtype = dns.TypeAAAA
			out = append(out, &dns.AAAA{Hdr: h, AAAA: a.AsSlice()})
		}
	}
	return out
}

// cleanAddrs returns addrs unmapped, without duplicates and without
// addresses that mean nothing in a zone (invalid, unspecified, multicast).
func cleanAddrs(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || slices.Contains(out, a) {
			continue
		}
		out = append(out, a.WithZone(""))
	}
	return out
}

// checkZone returns zone fully qualified, or an error naming the field.
func checkZone(zone, field string) (string, error) {
	if strings.TrimSpace(zone) == "" {
		return "", &sd.FieldError{Field: field, Reason: "no zone given; name the DNS zone to publish in, e.g. tz.example.net."}
	}
	z := dns.Fqdn(zone)
	if _, ok := dns.IsDomainName(z); !ok || z == "." || strings.Contains(z, "..") {
		return "", &sd.FieldError{Field: field, Value: zone, Reason: "not a valid domain name"}
	}
	if dns.IsSubDomain(dnsname.Local, z) {
		return "", &sd.FieldError{Field: field, Value: zone, Reason: "local. is the Multicast DNS domain (RFC 6762 section 3); publish there with a Responder"}
	}
	return z, nil
}

// zoneHostName returns the registrar's host name in zone: name as given
// when fully qualified, a single label inside zone, or the first label of
// os.Hostname() when empty.
func zoneHostName(name, zone string) (string, error) {
	field := "HostName"
	if name == "" {
		hn, err := os.Hostname()
		if err != nil || hn == "" {
			return "", &sd.FieldError{Field: field, Reason: "empty, and os.Hostname failed", Err: err}
		}
		name, _, _ = strings.Cut(hn, ".")
	}
	h := strings.TrimSuffix(name, ".")
	if !strings.Contains(h, ".") {
		h += "." + zone
	}
	h = dns.Fqdn(h)
	if _, ok := dns.IsDomainName(h); !ok || strings.Contains(h, "..") || strings.ContainsAny(h, " \t") {
		return "", &sd.FieldError{Field: field, Value: name, Reason: "not a valid host name"}
	}
	if dns.IsSubDomain(dnsname.Local, h) {
		return "", &sd.FieldError{Field: field, Value: name, Reason: "a Multicast DNS name (RFC 6762 section 3) cannot be published in a unicast zone"}
	}
	return h, nil
}

// zoneTTL converts a TTL option to seconds.
func zoneTTL(d time.Duration) (uint32, error) {
	switch {
	case d == 0:
		d = DefaultTTL
	case d < 0:
		return 0, &sd.FieldError{Field: "TTL", Value: d.String(), Reason: "negative"}
	case d < time.Second:
		return 0, &sd.FieldError{Field: "TTL", Value: d.String(), Reason: "less than a second"}
	case d > (1<<31-1)*time.Second:
		return 0, &sd.FieldError{Field: "TTL", Value: d.String(), Reason: "more than 2^31-1 seconds (RFC 2181 section 8)"}
	}
	return uint32(d / time.Second), nil
}
