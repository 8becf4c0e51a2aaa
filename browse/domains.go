package browse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
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
	// Timeout bounds one query; zero means DefaultWideTimeout.
	Timeout time.Duration
}

// Domains enumerates browsing domains (RFC 6763 section 11): for each
// domain of opts.Domains and, unless opts.NoSearch, each system search
// domain, it asks the PTR records of b._dns-sd._udp.<domain>,
// db._dns-sd._udp.<domain> and lb._dns-sd._udp.<domain>, and returns
// their targets, sorted by From, Kind and Name. A domain whose queries
// fail (REFUSED, for one, from a server not authoritative for it) lists
// nothing; the error of the first failure is returned only when no query
// got an answer. The "reverse-mapping" form of section 11 (the names
// under the host's in-addr.arpa network) is not asked.
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
	if len(froms) == 0 {
		return nil, fmt.Errorf("%w: no domain to ask for browsing domains (none given, and no search domain in %s)", ErrBadName, resolvConf)
	}
	var qs []qKeyName
	for _, f := range froms {
		for _, k := range domainKinds {
			qs = append(qs, qKeyName{name: k + "._dns-sd._udp." + f, qtype: dns.TypePTR})
		}
	}
	answers := make([]*wideAnswer, len(qs))
	sem := make(chan struct{}, wideParallel)
	done := make(chan struct{})
	for i, qq := range qs {
		go func() {
			sem <- struct{}{}
			m, err := q.query(ctx, qq.name, qq.qtype)
			answers[i] = &wideAnswer{name: qq.name, qtype: qq.qtype, msg: m, err: err}
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
			d := Domain{Name: displayName(rr.(*dns.PTR).Ptr), Kind: kind, From: displayName(from), TTL: time.Duration(rr.Header().Ttl) * time.Second}
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	if !answered && len(errs) > 0 {
		return nil, errs[0]
	}
	kindOrder := func(k string) int { return slices.Index(domainKinds, k) }
	slices.SortFunc(out, func(a, b Domain) int {
		if c := compareStrings(a.From, b.From); c != 0 {
			return c
		}
		if c := kindOrder(a.Kind) - kindOrder(b.Kind); c != 0 {
			return c
		}
		return compareStrings(a.Name, b.Name)
	})
	return out, nil
}

// searchDomains returns the system's search domains (resolv.conf "search",
// or "domain" when there is no "search" line), nil when there are none.
func searchDomains() []string {
	cfg, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return nil
	}
	return cfg.Search
}
