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

// Exchange parameters.
const (
	// ednsSize is the UDP payload size we advertise and the largest
	// request we send over UDP; larger ones go over TCP (RFC 7766).
	ednsSize = 1232
	// firstTry is how long the first UDP try waits for an answer; each
	// retransmission waits twice as long, within the timeout.
	firstTry = time.Second
	// refusedPause is the pause before trying again after a try that
	// failed at once.
	refusedPause = 200 * time.Millisecond
	// tsigOverhead bounds what a TSIG record adds to a message besides
	// its key and algorithm names (RFC 8945 section 4.2): fixed fields
	// and a MAC of up to 64 bytes (HMAC-SHA512).
	tsigOverhead = 2 + 10 + 6 + 2 + 2 + 64 + 2 + 2 + 2
	// tsigFudge is the TSIG time fudge (RFC 8945 section 10: 300 s
	// recommended).
	tsigFudge = 300
)

// exchanger sends DNS messages to one server, signed with the TSIG key,
// retransmitting over UDP within a bounded time.
type exchanger struct {
	server  string // host:port
	zone    string
	key     *tsig.Key // nil: unsigned
	timeout time.Duration
}

// exchange sends m and returns the answer. Errors: *UnreachableError
// when no answer came within the timeout (or ctx ended), and
// *UpdateError for an answer whose TSIG the server or we reject.
// Error RCODEs in a trustworthy answer are left to the caller. op ("update"
// or "query") names the exchange in errors.
func (x *exchanger) exchange(parent context.Context, m *dns.Msg, op string) (*dns.Msg, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, x.timeout)
	defer cancel()
	if m.IsEdns0() == nil {
		m.SetEdns0(ednsSize, false)
	}
	size := m.Len()
	if x.key != nil {
		size += len(x.key.Name) + len(x.key.Algorithm) + tsigOverhead
	}
	useTCP := size > ednsSize
	tries := 0
	var lastErr error
	for wait := firstTry; ; wait *= 2 {
		if err := ctx.Err(); err != nil {
			if lastErr == nil {
				lastErr = err
			}
			break
		}
		tries++
		began := time.Now()
		r, err := x.once(ctx, m, useTCP, wait)
		if err == nil && r.Truncated && !useTCP {
			// RFC 7766 section 5: a truncated answer is retried over TCP.
			useTCP = true
			continue
		}
		if err == nil {
			return r, nil
		}
		var se *UpdateError
		if errors.As(err, &se) {
			se.Op = op
			return nil, se
		}
		lastErr = err
		if time.Since(began) < wait/2 {
			// Failed at once (e.g. ICMP port unreachable: "connection
			// refused"): the server may be restarting; pause before
			// trying again rather than spinning.
			select {
			case <-ctx.Done():
			case <-time.After(refusedPause):
			}
		}
	}
	if err := parent.Err(); err != nil {
		// The caller gave up (or its deadline passed), not the server.
		return nil, fmt.Errorf("%s of zone %s at %s interrupted: %w", op, x.zone, x.server, context.Cause(parent))
	}
	return nil, &UnreachableError{Server: x.server, Zone: x.zone, Op: op, Waited: time.Since(start), Tries: tries, Err: lastErr}
}

// once sends m once and waits up to wait for the answer.
func (x *exchanger) once(ctx context.Context, m *dns.Msg, useTCP bool, wait time.Duration) (*dns.Msg, error) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = time.Until(dl)
	}
	if wait <= 0 {
		return nil, context.DeadlineExceeded
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	network := "udp"
	if useTCP {
		network = "tcp"
	}
	req := m.Copy()
	var tsig map[string]string
	if x.key != nil {
		tsig = map[string]string{x.key.Name: x.key.Secret}
		req.SetTsig(x.key.Name, x.key.Algorithm, tsigFudge, time.Now().Unix())
	}
	r, err := udns.Exchange(ctx, network, x.server, req, ednsSize, tsig)
	if r != nil && x.key != nil {
		// RFC 8945 section 5.4: check the answer's TSIG.
		t := r.IsTsig()
		switch {
		case t != nil && t.Error != 0:
			return nil, &UpdateError{Server: x.server, Zone: x.zone, Rcode: r.Rcode, TSIGError: int(t.Error), Key: x.key.Name}
		case t == nil && r.Id == req.Id && (err == nil || errors.Is(err, dns.ErrSig)):
			return nil, &UpdateError{Server: x.server, Zone: x.zone, Rcode: r.Rcode, Key: x.key.Name, Unsigned: true}
		}
	}
	if err != nil {
		return nil, err
	}
	return r, nil
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
