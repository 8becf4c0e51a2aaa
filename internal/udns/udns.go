// Package udns exchanges one unicast DNS message with a server over UDP or
// TCP (the wide-area side of lansd: RFC 2136 updates, RFC 6763 browsing of
// a zone), on miekg/dns's wire format.
//
// It dials with net.Dialer and talks through a dns.Conn rather than a
// dns.Client, whose DNS-over-TLS dialer would link crypto/tls and x509
// into every lansd binary: about a megabyte of resident memory for a
// daemon that never uses them.
package udns

import (
	"context"
	"net"

	"github.com/miekg/dns"
)

// Exchange sends m to server ("host:port") over network ("udp" or "tcp")
// and returns the answer with m's ID; on UDP, datagrams with another ID are
// skipped (RFC 5452 section 9.1). ctx bounds the whole exchange: when it
// ends, the connection is closed and its error returned. udpSize
// is the largest UDP answer read (0: 512 bytes, or m's EDNS0 size). With
// tsig (key name to base64 secret), a TSIG record on m is signed on the way
// out and the answer's verified (RFC 8945): a failed verification returns
// the answer with miekg/dns's error (dns.ErrSig, dns.ErrTime, ...).
func Exchange(ctx context.Context, network, server string, m *dns.Msg, udpSize uint16, tsig map[string]string) (*dns.Msg, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// ctx ends the exchange by closing the connection, so that a blocked
	// read returns at once and the error is ctx's (it is set before the
	// close).
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	co := &dns.Conn{Conn: conn, UDPSize: udpSize, TsigSecret: tsig}
	if opt := m.IsEdns0(); opt != nil && opt.UDPSize() > co.UDPSize {
		co.UDPSize = opt.UDPSize()
	}
	// fail prefers ctx's error: a failure after ctx ended is its closing.
	fail := func(err error) error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if err := co.WriteMsg(m); err != nil {
		return nil, fail(err)
	}
	for {
		r, err := co.ReadMsg()
		if r == nil {
			return nil, fail(err)
		}
		if r.Id != m.Id {
			if network == "tcp" {
				return nil, dns.ErrId
			}
			continue
		}
		return r, err
	}
}
