package wide

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/udns"
)

// systemResolvers returns the name servers of /etc/resolv.conf as
// host:port.
func systemResolvers() ([]string, error) { return udns.SystemServers(resolvConf) }

// findPrimary finds the zone's primary server as RFC 2136 section 4
// locates it: the MNAME of the zone's SOA record, asked of the resolvers,
// and MNAME's address, on port 53. It fails when zone is not a zone apex.
func findPrimary(ctx context.Context, zone string, resolvers []string, timeout time.Duration) (string, error) {
	var errs []error
	for _, res := range resolvers {
		x := &exchanger{server: res, zone: zone, timeout: timeout}
		addr, err := primaryVia(ctx, x, zone)
		if err == nil {
			return addr, nil
		}
		var fatal *primaryError
		if errors.As(err, &fatal) {
			return "", err
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("finding the primary server of %s: %w", zone, errors.Join(errs...))
}

// primaryError is an answer that settles the question, badly: no other
// resolver is asked.
type primaryError struct{ msg string }

func (e *primaryError) Error() string { return e.msg }

// primaryVia asks one resolver for zone's SOA and MNAME's address.
func primaryVia(ctx context.Context, x *exchanger, zone string) (string, error) {
	q := new(dns.Msg)
	q.SetQuestion(zone, dns.TypeSOA)
	r, err := x.exchange(ctx, q, "query")
	if err != nil {
		return "", err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return "", fmt.Errorf("SOA query for %s at %s: %s", zone, x.server, rcodeName(r.Rcode))
	}
	var mname string
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok && dnsname.Equal(soa.Hdr.Name, zone) {
			mname = soa.Ns
		}
	}
	if mname == "" {
		// The SOA of the enclosing zone comes in the authority section
		// of a negative answer (RFC 2308 section 3).
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				what := "is not a zone apex"
				if r.Rcode == dns.RcodeNameError {
					what = "does not exist"
				}
				return "", &primaryError{fmt.Sprintf("%s %s; it lies in zone %s (give that as the domain)", zone, what, soa.Hdr.Name)}
			}
		}
		if r.Rcode == dns.RcodeNameError {
			return "", &primaryError{fmt.Sprintf("zone %s does not exist (NXDOMAIN from %s)", zone, x.server)}
		}
		return "", fmt.Errorf("no SOA for %s in the answer from %s", zone, x.server)
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		q := new(dns.Msg)
		q.SetQuestion(mname, qt)
		r, err := x.exchange(ctx, q, "query")
		if err != nil {
			return "", err
		}
		for _, rr := range r.Answer {
			switch v := rr.(type) {
			case *dns.A: // possibly at the end of a CNAME chain
				return net.JoinHostPort(v.A.String(), "53"), nil
			case *dns.AAAA:
				return net.JoinHostPort(v.AAAA.String(), "53"), nil
			}
		}
	}
	return "", &primaryError{fmt.Sprintf("the primary server of %s, %s (SOA MNAME), has no address", zone, mname)}
}
