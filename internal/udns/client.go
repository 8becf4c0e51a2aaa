package udns

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
)

// Exchange parameters shared by every unicast DNS exchange of lansd.
const (
	// EDNSSize is the EDNS(0) UDP payload size advertised (RFC 6891), and
	// the largest request sent over UDP; larger ones go over TCP (RFC 7766
	// section 5). 1232 bytes avoids IP fragmentation (DNS Flag Day 2020).
	EDNSSize = 1232
	// FirstTry is how long the first try waits for an answer; each
	// retransmission waits twice as long as the last, within the timeout.
	FirstTry = time.Second
	// DefaultTimeout bounds one exchange, every retransmission and server
	// included, when Client.Timeout is zero.
	DefaultTimeout = 5 * time.Second
	// failPause is the pause before trying again after a round of tries
	// that all failed at once (ICMP port unreachable: nothing listens, or
	// the server is restarting), so that the client does not spin.
	failPause = 200 * time.Millisecond
	// tsigOverhead bounds what a TSIG record adds to a message besides its
	// key and algorithm names (RFC 8945 section 4.2): fixed fields and a
	// MAC of up to 64 bytes (HMAC-SHA512).
	tsigOverhead = 2 + 10 + 6 + 2 + 2 + 64 + 2 + 2 + 2
	// tsigFudge is the TSIG time fudge (RFC 8945 section 10: 300 s
	// recommended).
	tsigFudge = 300
)

// Key is a TSIG key (RFC 8945): its name, algorithm (a miekg/dns HMAC
// name, "hmac-sha256.") and base64 secret.
type Key struct {
	Name, Algorithm, Secret string
}

// Client exchanges DNS messages with a list of servers: each try goes over
// UDP, or over TCP when the request is larger than EDNSSize or a UDP answer
// came back truncated (RFC 7766 sections 5 and 6.2.1). A round asks every
// server in turn; a try without answer is retransmitted in the next round,
// which waits twice as long (FirstTry first), all within Timeout. A Client
// is safe for concurrent use; its fields must not change once it is in use.
type Client struct {
	// Servers are asked in this order, each "host:port".
	Servers []string
	// Timeout bounds one Exchange; zero means DefaultTimeout.
	Timeout time.Duration
	// Key, when set, signs every request with TSIG, and an answer without
	// TSIG, or whose TSIG carries an error, is a *TSIGError (RFC 8945
	// section 5.4). A signed answer whose MAC or time does not verify
	// with Key may be forged: it is discarded like a lost datagram, and
	// the exchange goes on (ending, when nothing better comes, in a
	// *NoAnswerError wrapping dns.ErrSig or dns.ErrTime).
	Key *Key
	// Accept reports whether an answer settles the exchange; nil accepts
	// every answer. A rejected answer sends the client to the next server;
	// when a whole round brought answers but none acceptable, the last of
	// them is returned (with a nil error) for the caller to judge.
	Accept func(*dns.Msg) bool

	truncated atomic.Uint64
}

// Truncated counts the UDP answers that came back truncated and were asked
// again over TCP.
func (c *Client) Truncated() uint64 { return c.truncated.Load() }

// NoAnswerError is an exchange that got no answer from any server within
// the timeout.
type NoAnswerError struct {
	// Servers are the servers asked.
	Servers []string
	// Tries counts the tries sent, Waited is how long the exchange took.
	Tries  int
	Waited time.Duration
	// Err is the last error seen (a timeout, "connection refused", ...).
	Err error
}

// Error says how long was waited for which servers, and the last error.
func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("no answer from %s within %v: %v", strings.Join(e.Servers, ", "), e.Waited.Round(100*time.Millisecond), e.Err)
}

// Unwrap returns the last error seen.
func (e *NoAnswerError) Unwrap() error { return e.Err }

// TSIGError is an answer whose TSIG did not check out (RFC 8945 section
// 5.4): the server rejected our signature (TSIGError set: BADSIG, BADKEY,
// BADTIME), or the answer came unsigned (Unsigned).
type TSIGError struct {
	// Server is the server that answered.
	Server string
	// Rcode is the answer's response code; TSIGError the TSIG record's
	// error field (0 when the answer was unsigned).
	Rcode, TSIGError int
	// Unsigned: the answer carried no TSIG record.
	Unsigned bool
}

// Error names the server and what was wrong.
func (e *TSIGError) Error() string {
	if e.Unsigned {
		return fmt.Sprintf("answer from %s is not signed with our TSIG key", e.Server)
	}
	return fmt.Sprintf("%s rejected the TSIG signature: %s", e.Server, dns.RcodeToString[e.TSIGError])
}

// Exchange sends m and returns the first acceptable answer and the server
// that gave it. m gets an EDNS(0) record of EDNSSize when it has none; it is
// not otherwise changed (a signed copy is sent). Errors: a *NoAnswerError
// when no server answered within the timeout, a *TSIGError for an answer
// whose TSIG did not check out, and ctx's cause when ctx ended first (the
// caller gave up, not the servers).
func (c *Client) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, string, error) {
	if len(c.Servers) == 0 {
		return nil, "", errors.New("udns: no server to ask")
	}
	start := time.Now()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if m.IsEdns0() == nil {
		m.SetEdns0(EDNSSize, false)
	}
	size := m.Len()
	if c.Key != nil {
		size += len(c.Key.Name) + len(c.Key.Algorithm) + tsigOverhead
	}
	tcp := make([]bool, len(c.Servers))
	for i := range tcp {
		tcp[i] = size > EDNSSize
	}
	tries := 0
	var lastErr error
	for wait := FirstTry; tctx.Err() == nil; wait *= 2 {
		var rejected *dns.Msg
		var rejectedBy string
		fast := true
		for i, srv := range c.Servers {
			if tctx.Err() != nil {
				break
			}
			tries++
			began := time.Now()
			r, err := c.once(tctx, m, srv, tcp[i], wait)
			if err == nil && r.Truncated && !tcp[i] {
				// RFC 7766 section 6.2.1: a truncated answer is asked
				// again over TCP.
				c.truncated.Add(1)
				tcp[i] = true
				tries++
				r, err = c.once(tctx, m, srv, true, wait)
				if err != nil {
					err = fmt.Errorf("over TCP after a truncated UDP answer: %w", err)
				}
			}
			var te *TSIGError
			switch {
			case errors.As(err, &te):
				return nil, srv, err
			case err != nil:
				lastErr = err
				if time.Since(began) >= wait/2 {
					fast = false
				}
				continue
			case c.Accept != nil && !c.Accept(r):
				rejected, rejectedBy = r, srv
				continue
			}
			return r, srv, nil
		}
		if rejected != nil {
			return rejected, rejectedBy, nil
		}
		if fast && tctx.Err() == nil {
			select {
			case <-tctx.Done():
			case <-time.After(failPause):
			}
		}
	}
	if ctx.Err() != nil {
		return nil, "", context.Cause(ctx)
	}
	if lastErr == nil {
		lastErr = tctx.Err()
	}
	return nil, "", &NoAnswerError{Servers: c.Servers, Tries: tries, Waited: time.Since(start), Err: lastErr}
}

// once sends m to srv once and waits up to wait for the answer (over TCP,
// the whole remaining time: a stream is not retransmitted).
func (c *Client) once(ctx context.Context, m *dns.Msg, srv string, useTCP bool, wait time.Duration) (*dns.Msg, error) {
	network := "udp"
	if useTCP {
		network = "tcp"
	} else {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = time.Until(dl)
		}
		if wait <= 0 {
			return nil, context.DeadlineExceeded
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	req := m
	var secrets map[string]string
	if c.Key != nil {
		req = m.Copy()
		secrets = map[string]string{c.Key.Name: c.Key.Secret}
		req.SetTsig(c.Key.Name, c.Key.Algorithm, tsigFudge, time.Now().Unix())
	}
	r, err := Exchange(ctx, network, srv, req, EDNSSize, secrets)
	if r != nil && c.Key != nil {
		// RFC 8945 section 5.4: the answer's TSIG must verify.
		t := r.IsTsig()
		switch {
		case t != nil && t.Error != 0:
			return nil, &TSIGError{Server: srv, Rcode: r.Rcode, TSIGError: int(t.Error)}
		case t == nil && err == nil:
			// (Exchange returns only answers with req's ID, and
			// dns.ErrSig or dns.ErrTime only for a signed one: that
			// one is discarded below, like a lost datagram.)
			return nil, &TSIGError{Server: srv, Rcode: r.Rcode, Unsigned: true}
		}
	}
	if err != nil {
		return nil, err
	}
	if !matches(r, m) {
		return nil, fmt.Errorf("answer from %s does not match the question", srv)
	}
	return r, nil
}

// matches reports whether answer r echoes the question (or zone) section
// of request m. An error answer may leave the section out (RFC 1035 does
// not require it for FORMERR and the like).
func matches(r, m *dns.Msg) bool {
	if len(r.Question) == 0 && r.Rcode != dns.RcodeSuccess {
		return true
	}
	if len(r.Question) != len(m.Question) {
		return false
	}
	for i, q := range m.Question {
		a := r.Question[i]
		if a.Qtype != q.Qtype || a.Qclass != q.Qclass || !dnsname.Equal(a.Name, q.Name) {
			return false
		}
	}
	return true
}

// SystemServers returns the name servers of the resolver configuration
// file path (/etc/resolv.conf), each "host:port".
func SystemServers(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the system resolver configuration: %w", err)
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no name server in %s", path)
	}
	return out, nil
}

// SearchDomains returns the search domains of the resolver configuration
// file path ("search", or "domain" when there is no "search" line): empty
// when there are none, nil when the file cannot be read.
func SearchDomains(path string) []string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	return cfg.Search
}
