package mdnstest

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
)

// Record builders. Unique records (SRV, TXT, A, AAAA) carry the cache-flush
// bit, as a responder announces them (RFC 6762 section 10.2); shared ones
// (PTR) do not. NoFlush clears it.

func hdr(name string, rrtype uint16, ttl uint32, flush bool) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if flush {
		class |= dnsname.CacheFlush
	}
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: class, Ttl: ttl}
}

// PTR returns a PTR record owner -> target (shared: no cache-flush bit).
func PTR(owner, target string, ttl uint32) *dns.PTR {
	return &dns.PTR{Hdr: hdr(owner, dns.TypePTR, ttl, false), Ptr: target}
}

// SRV returns an SRV record for name pointing at target and port.
func SRV(name, target string, port uint16, ttl uint32) *dns.SRV {
	return &dns.SRV{Hdr: hdr(name, dns.TypeSRV, ttl, true), Target: target, Port: port}
}

// TXT returns a TXT record for name holding strs.
func TXT(name string, ttl uint32, strs ...string) *dns.TXT {
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT, ttl, true), Txt: strs}
}

// A returns an A record; it panics if addr is not an IPv4 address.
func A(name, addr string, ttl uint32) *dns.A {
	a := netip.MustParseAddr(addr)
	if !a.Is4() {
		panic("mdnstest: A: not an IPv4 address: " + addr)
	}
	return &dns.A{Hdr: hdr(name, dns.TypeA, ttl, true), A: a.AsSlice()}
}

// AAAA returns an AAAA record; it panics if addr is not an IPv6 address.
func AAAA(name, addr string, ttl uint32) *dns.AAAA {
	a := netip.MustParseAddr(addr)
	if !a.Is6() {
		panic("mdnstest: AAAA: not an IPv6 address: " + addr)
	}
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl, true), AAAA: a.AsSlice()}
}

// NoFlush clears rr's cache-flush bit and returns it.
func NoFlush[R dns.RR](rr R) R {
	rr.Header().Class &^= dnsname.CacheFlush
	return rr
}

// Response returns an mDNS response (authoritative, ID 0) carrying answers.
func Response(answers ...dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	m.Opcode = dns.OpcodeQuery
	m.Compress = true
	m.Answer = answers
	return m
}

// Query returns an mDNS query (ID 0) asking qs.
func Query(qs ...dns.Question) *dns.Msg {
	m := new(dns.Msg)
	m.Question = qs
	return m
}

// QM returns a question asking for multicast responses (class IN).
func QM(name string, qtype uint16) dns.Question {
	return dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET}
}

// QU returns a question asking for unicast responses (RFC 6762 section
// 5.4: the top bit of the class).
func QU(name string, qtype uint16) dns.Question {
	return dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET | dnsname.QU}
}

// Goodbye returns a copy of m with every TTL of its answers and additional
// records set to 0 (RFC 6762 section 10.1).
func Goodbye(m *dns.Msg) *dns.Msg {
	cp := m.Copy()
	for _, sec := range [][]dns.RR{cp.Answer, cp.Extra} {
		for _, rr := range sec {
			rr.Header().Ttl = 0
		}
	}
	return cp
}

// Filters for Link.Packets.

// From keeps the packets sent by the host named name.
func From(name string) func(Packet) bool {
	return func(p Packet) bool { return p.From == name }
}

// IsProbe keeps probes: queries with records in the Authority section (RFC
// 6762 section 8.1).
func IsProbe(p Packet) bool { return !p.Msg.Response && len(p.Msg.Ns) > 0 }

// IsResponse keeps responses.
func IsResponse(p Packet) bool { return p.Msg.Response }

// Family keeps the packets sent over f.
func Family(f sd.Family) func(Packet) bool {
	return func(p Packet) bool { return p.Family == f }
}

// Since keeps the packets sent at t or later.
func Since(t time.Time) func(Packet) bool {
	return func(p Packet) bool { return !p.At.Before(t) }
}

// HasAnswer keeps the packets with an answer named name of type rrtype.
func HasAnswer(name string, rrtype uint16) func(Packet) bool {
	return func(p Packet) bool { return FindRR(p.Msg.Answer, name, rrtype) != nil }
}

// Asks keeps the packets with a question for name of type qtype (any
// class).
func Asks(name string, qtype uint16) func(Packet) bool {
	return func(p Packet) bool {
		for _, q := range p.Msg.Question {
			if q.Qtype == qtype && dnsname.Equal(q.Name, name) {
				return true
			}
		}
		return false
	}
}

// FindRR returns the first record of rrs named name of type rrtype, or nil.
func FindRR(rrs []dns.RR, name string, rrtype uint16) dns.RR {
	for _, rr := range rrs {
		if rr.Header().Rrtype == rrtype && dnsname.Equal(rr.Header().Name, name) {
			return rr
		}
	}
	return nil
}

// FindAll returns every record of rrs named name of type rrtype.
func FindAll(rrs []dns.RR, name string, rrtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == rrtype && dnsname.Equal(rr.Header().Name, name) {
			out = append(out, rr)
		}
	}
	return out
}
