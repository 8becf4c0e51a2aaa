package wide

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/udns"
)

// QueryError is a unicast DNS query that failed: no answer within the
// timeout (Err wraps ErrNoAnswer), or an answer with an error RCODE other
// than NXDOMAIN (Rcode). Its message has no package prefix; the browser,
// Resolve and Domains return it wrapped with the prefix "browse: ".
type QueryError struct {
	// Servers are the servers asked, host:port.
	Servers []string
	// Name and Qtype are the question.
	Name  string
	Qtype uint16
	// Rcode is the response code of an answer (SERVFAIL, REFUSED...), or
	// -1 when no answer came.
	Rcode int
	// Waited is how long the query took.
	Waited time.Duration
	// Err is the last error seen.
	Err error
}

// Error names the question, the servers and what went wrong, e.g.
// `query _timezone._tcp.tz.example.net. PTR at 127.0.0.1:5300: no answer
// within 5s: ...`.
func (e *QueryError) Error() string {
	q := fmt.Sprintf("query %s %s at %s", e.Name, dns.TypeToString[e.Qtype], strings.Join(e.Servers, ", "))
	if e.Rcode >= 0 {
		return fmt.Sprintf("%s: %s", q, dns.RcodeToString[e.Rcode])
	}
	return fmt.Sprintf("%s: no answer within %v: %v", q, e.Waited.Round(100*time.Millisecond), e.Err)
}

// Unwrap returns the last error.
func (e *QueryError) Unwrap() error { return e.Err }

// querier asks unicast DNS questions (RFC 1035) of a list of servers
// through the one unicast DNS client (internal/udns: UDP, TCP when an
// answer is truncated, retransmissions within the timeout): an answer
// whose RCODE is neither NOERROR nor NXDOMAIN sends it to the next server.
type querier struct {
	c *udns.Client
	// recurse sets RD: true when asking the system's resolvers.
	recurse bool
}

// newQuerier returns a querier for server (host or host:port, port 53 by
// default), or for the system resolvers of /etc/resolv.conf when server is
// empty.
func newQuerier(server string, timeout time.Duration) (*querier, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	q := &querier{c: &udns.Client{Timeout: timeout, Accept: usableRcode}}
	if server == "" {
		servers, err := udns.SystemServers(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("browse: %w; give the server", err)
		}
		q.c.Servers, q.recurse = servers, true
		return q, nil
	}
	addr, err := hostPort(server)
	if err != nil {
		return nil, err
	}
	q.c.Servers = []string{addr}
	return q, nil
}

// usableRcode reports whether an answer settles a question: NOERROR or
// NXDOMAIN; another server may do better than SERVFAIL or REFUSED.
func usableRcode(r *dns.Msg) bool {
	return r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError
}

// hostPort returns s as host:port, port 53 when s has none.
func hostPort(s string) (string, error) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if h == "" || p == "" {
			return "", fmt.Errorf("browse: %w: server %q: want host or host:port", ErrBadName, s)
		}
		return s, nil
	}
	h := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if h == "" || strings.ContainsAny(h, " /;") {
		return "", fmt.Errorf("browse: %w: server %q: want host or host:port", ErrBadName, s)
	}
	return net.JoinHostPort(h, "53"), nil
}

// label names the servers in Iface and messages.
func (q *querier) label() string { return strings.Join(q.c.Servers, ",") }

// truncated counts the UDP answers with the TC bit, asked again over TCP.
func (q *querier) truncated() uint64 { return q.c.Truncated() }

// query asks name/qtype and returns the answer, whose RCODE is NOERROR or
// NXDOMAIN. Other RCODEs and silence are a *QueryError.
func (q *querier) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	start := time.Now()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = q.recurse
	m.SetEdns0(udns.EDNSSize, false)
	fail := func(rcode int, err error) error {
		return &QueryError{Servers: q.c.Servers, Name: m.Question[0].Name, Qtype: qtype, Rcode: rcode, Waited: time.Since(start), Err: err}
	}
	r, srv, err := q.c.Exchange(ctx, m)
	var na *udns.NoAnswerError
	switch {
	case errors.As(err, &na):
		return nil, fail(-1, fmt.Errorf("%w: %w", ErrNoAnswer, na.Err))
	case err != nil:
		return nil, fail(-1, fmt.Errorf("%w: %w", ErrNoAnswer, err))
	case !usableRcode(r):
		return nil, fail(r.Rcode, fmt.Errorf("%s from %s", dns.RcodeToString[r.Rcode], srv))
	}
	return r, nil
}

// negativeTTL returns the negative-caching TTL of an answer without
// records (RFC 2308 section 5: the smaller of the SOA's TTL and MINIMUM),
// or 0 when it carries no SOA.
func negativeTTL(r *dns.Msg) time.Duration {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return 0
}
