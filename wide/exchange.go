package wide

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/udns"
	"github.com/lansd/lansd/tsig"
)

// ednsSize is the EDNS(0) UDP payload size the registrar advertises: the
// one unicast DNS client's (internal/udns).
const ednsSize = udns.EDNSSize

// exchanger sends DNS messages to one server, signed with the TSIG key,
// through the one unicast DNS client (internal/udns: UDP, TCP for large
// requests and truncated answers, retransmissions within the timeout).
type exchanger struct {
	server  string // host:port
	zone    string
	key     *tsig.Key // nil: unsigned
	timeout time.Duration
}

// exchange sends m and returns the answer. Errors: *UnreachableError
// when no answer came within the timeout, and *UpdateError for an answer
// whose TSIG the server or we reject (RFC 8945 section 5.4). Error RCODEs
// in a trustworthy answer are left to the caller. op ("update" or "query")
// names the exchange in errors.
func (x *exchanger) exchange(ctx context.Context, m *dns.Msg, op string) (*dns.Msg, error) {
	c := udns.Client{Servers: []string{x.server}, Timeout: x.timeout}
	key := ""
	if x.key != nil {
		key = x.key.Name
		c.Key = &udns.Key{Name: x.key.Name, Algorithm: x.key.Algorithm, Secret: x.key.Secret}
	}
	r, _, err := c.Exchange(ctx, m)
	var te *udns.TSIGError
	var na *udns.NoAnswerError
	switch {
	case err == nil:
		return r, nil
	case errors.As(err, &te):
		return nil, &UpdateError{Server: x.server, Zone: x.zone, Op: op, Rcode: te.Rcode, TSIGError: te.TSIGError, Key: key, Unsigned: te.Unsigned}
	case errors.As(err, &na):
		return nil, &UnreachableError{Server: x.server, Zone: x.zone, Op: op, Waited: na.Waited, Tries: na.Tries, Err: na.Err}
	case ctx.Err() != nil:
		// The caller gave up (or its deadline passed), not the server.
		return nil, fmt.Errorf("%s of zone %s at %s interrupted: %w", op, x.zone, x.server, context.Cause(ctx))
	}
	return nil, err
}

// query asks the server for name's records of type qtype and returns
// those of the answer section that are of that type and name. An error
// RCODE other than NXDOMAIN is an *UpdateError.
func (x *exchanger) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	resp, err := x.exchange(ctx, q, "query")
	if err != nil {
		return nil, err
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return nil, x.serverError("query", resp.Rcode)
	}
	var out []dns.RR
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qtype && dnsname.Equal(rr.Header().Name, name) {
			out = append(out, rr)
		}
	}
	return out, nil
}

// serverError returns the error for an unexpected RCODE in the answer to
// an op ("update" or "query").
func (x *exchanger) serverError(op string, rcode int) error {
	key := ""
	if x.key != nil {
		key = x.key.Name
	}
	return &UpdateError{Server: x.server, Zone: x.zone, Op: op, Rcode: rcode, Key: key}
}
