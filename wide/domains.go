package wide

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/udns"
)

// Browsing-domain kinds (RFC 6763 section 11): the first label of the
// PTR query name under _dns-sd._udp.<domain>.
const (
	// DomainBrowse ("b"): a domain recommended for browsing.
	DomainBrowse = "b"
	// DomainDefaultBrowse ("db"): the single recommended default domain
	// for browsing.
	DomainDefaultBrowse = "db"
	// DomainLegacyBrowse ("lb"): a domain for "legacy browsing", browsed
	// automatically by clients that do not ask the user.
	DomainLegacyBrowse = "lb"
)

// domainKinds are the kinds Domains asks, in this order.
var domainKinds = []string{DomainBrowse, DomainDefaultBrowse, DomainLegacyBrowse}

// Domain is a browsing domain a DNS zone lists (RFC 6763 section 11).
type Domain struct {
	// Name is the domain listed, "tz.example.net.".
	Name string
	// Kind is DomainBrowse, DomainDefaultBrowse or DomainLegacyBrowse.
	Kind string
	// From is the domain whose _dns-sd._udp names listed it,
	// "example.net.".
	From string
	// TTL is the PTR record's TTL.
	TTL time.Duration
}

// DomainOptions configure Domains.
type DomainOptions struct {
	// Domains are asked for the browsing domains they recommend.
	Domains []string
	// NoSearch leaves out the system's search domains (the "search" and
	// "domain" lines of /etc/resolv.conf), which are asked too by default.
	NoSearch bool
	// Server is the DNS server asked, host:port; empty means the system's
	// resolvers.
	Server string
	// Timeout bounds one query; zero means DefaultTimeout.
	Timeout time.Duration
	// Networks are the networks whose reverse-mapping domains are asked
	// too (RFC 6763 section 11): for 198.51.100.0/24, the names under
	// 0.100.51.198.in-addr.arpa. (see ReverseDomain). LocalNetworks lists
	// this host's.
	Networks []netip.Prefix
}

// ReverseDomain returns the reverse-mapping domain of network p that RFC
// 6763 section 11 browses: the reverse name of the network address (host
// bits zero), "0.100.51.198.in-addr.arpa." for 198.51.100.7/24, or the
// nibbles of the masked address under ip6.arpa. for IPv6.
func ReverseDomain(p netip.Prefix) (string, error) {
	if !p.IsValid() {
		return "", fmt.Errorf("browse: %w: network %q is not a valid prefix", ErrBadName, p)
	}
	return dns.ReverseAddr(p.Masked().Addr().Unmap().String())
}

// LocalNetworks returns the networks of this host's up, non-loopback
// interfaces, for DomainOptions.Networks: IPv4 networks and IPv6 networks
// other than link-local ones, whose reverse mapping no server holds.
func LocalNetworks() ([]netip.Prefix, error) {
	ifcs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, ifc := range ifcs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(ipn.IP)
			ones, _ := ipn.Mask.Size()
			if !ok || addr.IsLinkLocalUnicast() || addr.IsLoopback() {
				continue
			}
			p := netip.PrefixFrom(addr.Unmap(), ones).Masked()
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// Domains enumerates browsing domains (RFC 6763 section 11): for each
// domain of opts.Domains, each network of opts.Networks and, unless
// opts.NoSearch, each system search domain, it asks the PTR records of
// b._dns-sd._udp.<domain>, db._dns-sd._udp.<domain> and
// lb._dns-sd._udp.<domain>, and returns their targets, sorted by From,
// Kind and Name. A domain whose queries fail (REFUSED, for one, from a
// server not authoritative for it) lists nothing; the error of the first
// failure (wrapping a *QueryError) is returned only when no query got an
// answer. The reverse-mapping domains of opts.Networks are asked the same
// way (section 11: "b._dns-sd._udp.0.1.168.192.in-addr.arpa.").
func Domains(ctx context.Context, opts DomainOptions) ([]Domain, error) {
	q, err := newQuerier(opts.Server, opts.Timeout)
	if err != nil {
		return nil, err
	}
	var froms []string
	for _, d := range opts.Domains {
		f, err := CheckDomain(d)
		if err != nil {
			return nil, err
		}
		froms = appendName(froms, f)
	}
	if !opts.NoSearch {
		for _, d := range searchDomains() {
			if f, err := CheckDomain(d); err == nil {
				froms = appendName(froms, f)
			}
		}
	}
	for _, p := range opts.Networks {
		f, err := ReverseDomain(p)
		if err != nil {
			return nil, err
		}
		froms = appendName(froms, f)
	}
	if len(froms) == 0 {
		return nil, fmt.Errorf("browse: %w: no domain to ask for browsing domains (none given, no network, and no search domain in %s)", ErrBadName, resolvConf)
	}
	var qs []pollQuestion
	for _, f := range froms {
		for _, k := range domainKinds {
			qs = append(qs, pollQuestion{name: k + "._dns-sd._udp." + f, qtype: dns.TypePTR})
		}
	}
	answers := make([]*pollAnswer, len(qs))
	sem := make(chan struct{}, pollParallel)
	done := make(chan struct{})
	for i, qq := range qs {
		go func() {
			sem <- struct{}{}
			m, err := q.query(ctx, qq.name, qq.qtype)
			answers[i] = &pollAnswer{name: qq.name, qtype: qq.qtype, msg: m, err: err}
			<-sem
			done <- struct{}{}
		}()
	}
	for range qs {
		<-done
	}
	var out []Domain
	var errs []error
	answered := false
	for i, a := range answers {
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		answered = true
		kind, from, _ := strings.Cut(qs[i].name, "._dns-sd._udp.")
		for _, rr := range answerRRs(a, dns.TypePTR) {
			d := Domain{Name: dnsname.Display(rr.(*dns.PTR).Ptr), Kind: kind, From: dnsname.Display(from), TTL: time.Duration(rr.Header().Ttl) * time.Second}
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	if !answered && len(errs) > 0 {
		return nil, fmt.Errorf("browse: %w", errs[0])
	}
	kindOrder := func(k string) int { return slices.Index(domainKinds, k) }
	slices.SortFunc(out, func(a, b Domain) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		if c := kindOrder(a.Kind) - kindOrder(b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// searchDomains returns the system's search domains (resolv.conf "search",
// or "domain" when there is no "search" line).
func searchDomains() []string { return udns.SearchDomains(resolvConf) }
