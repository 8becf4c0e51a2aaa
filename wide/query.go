package wide

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/udns"
)

// Unicast query parameters. A query, retransmissions and every server
// tried included, takes at most DefaultTimeout unless the options say
// otherwise.
const (
	// queryUDPSize is the EDNS(0) UDP payload size advertised (RFC 6891;
	// 1232 bytes avoids IP fragmentation, DNS Flag Day 2020).
	queryUDPSize = 1232
	// queryFirstTry is how long the first UDP try waits; each further try
	// waits twice as long, within the timeout.
	queryFirstTry = time.Second
	// queryPause is the pause before trying again after a try that failed
	// at once (ICMP port unreachable: nothing listens).
	queryPause = 200 * time.Millisecond
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

// querier sends unicast DNS queries (RFC 1035) to a list of servers: UDP
// first, TCP when the answer is truncated (RFC 7766 section 6.2.1), with
// retransmissions within a bounded time.
type querier struct {
	servers []string
	timeout time.Duration
	// recurse sets RD: true when asking the system's resolvers.
	recurse bool
	// truncated counts UDP answers with the TC bit, asked again over TCP.
	truncated atomic.Uint64
}

// newQuerier returns a querier for server (host or host:port, port 53 by
// default), or for the system resolvers of /etc/resolv.conf when server is
// empty.
func newQuerier(server string, timeout time.Duration) (*querier, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	q := &querier{timeout: timeout}
	if server == "" {
		cfg, err := dns.ClientConfigFromFile(resolvConf)
		if err != nil {
			return nil, fmt.Errorf("browse: reading the system resolver configuration: %w", err)
		}
		for _, s := range cfg.Servers {
			q.servers = append(q.servers, net.JoinHostPort(s, cfg.Port))
		}
		if len(q.servers) == 0 {
			return nil, fmt.Errorf("browse: no name server in %s; give the server", resolvConf)
		}
		q.recurse = true
		return q, nil
	}
	addr, err := hostPort(server)
	if err != nil {
		return nil, err
	}
	q.servers = []string{addr}
	return q, nil
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
func (q *querier) label() string { return strings.Join(q.servers, ",") }

// query asks name/qtype and returns the answer, whose RCODE is NOERROR or
// NXDOMAIN. Other RCODEs and silence are a *QueryError.
func (q *querier) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = q.recurse
	m.SetEdns0(queryUDPSize, false)
	var last error
	lastRcode := -1
	wait := queryFirstTry
	for ctx.Err() == nil {
		for _, srv := range q.servers {
			if ctx.Err() != nil {
				break
			}
			r, err := q.once(ctx, m, srv, wait)
			if err != nil {
				last = err
				continue
			}
			if r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError {
				return r, nil
			}
			// Another server may do better; a lone one said its piece.
			lastRcode = r.Rcode
			last = fmt.Errorf("%s from %s", dns.RcodeToString[r.Rcode], srv)
			if len(q.servers) == 1 {
				return nil, &QueryError{Servers: q.servers, Name: m.Question[0].Name, Qtype: qtype, Rcode: r.Rcode, Waited: time.Since(start), Err: last}
			}
		}
		if lastRcode >= 0 {
			break
		}
		wait *= 2
		select {
		case <-ctx.Done():
		case <-time.After(queryPause):
		}
	}
	if last == nil {
		last = ctx.Err()
	}
	if lastRcode < 0 && !errors.Is(last, ErrNoAnswer) {
		last = fmt.Errorf("%w: %w", ErrNoAnswer, last)
	}
	return nil, &QueryError{Servers: q.servers, Name: m.Question[0].Name, Qtype: qtype, Rcode: lastRcode, Waited: time.Since(start), Err: last}
}

// once sends m to srv over UDP and, if the answer is truncated, again over
// TCP (RFC 7766 section 6.2.1), waiting at most wait for the UDP answer.
func (q *querier) once(ctx context.Context, m *dns.Msg, srv string, wait time.Duration) (*dns.Msg, error) {
	tctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	r, err := udns.Exchange(tctx, "udp", srv, m, queryUDPSize, nil)
	if err != nil {
		return nil, err
	}
	if r.Truncated {
		q.truncated.Add(1)
		r, err = udns.Exchange(ctx, "tcp", srv, m, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("over TCP after a truncated UDP answer: %w", err)
		}
	}
	if len(r.Question) != 1 || !dnsname.Equal(r.Question[0].Name, m.Question[0].Name) || r.Question[0].Qtype != m.Question[0].Qtype {
		return nil, fmt.Errorf("answer from %s does not match the question", srv)
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
