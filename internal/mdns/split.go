package mdns

import (
	"math"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// PacketLimit returns the largest mDNS message that fits in one unfragmented
// datagram on a link with the given MTU: mtu minus the IP header (20 bytes
// for IPv4, 40 for IPv6) minus the 8-byte UDP header, capped at MaxPacket
// (RFC 6762 section 17). An unknown MTU (<= 0) counts as Ethernet's 1500;
// the result is never negative.
func PacketLimit(mtu int, f Family) int {
	if mtu <= 0 {
		mtu = 1500
	}
	ipHeader := 20
	if f == IPv6 {
		ipHeader = 40
	}
	n := mtu - ipHeader - 8
	return max(0, min(n, MaxPacket))
}

// Split spreads the records of response m over as many messages as needed
// so that each packs (with name compression) to at most limit bytes, as RFC
// 6762 section 17 asks of responses that would not fit in one packet. Every
// part keeps m's header (ID and flag bits) and question section. Answer and
// authority records keep their order and are always sent; a record too big
// to fit even alone gets a part of its own (which then exceeds limit).
// Additional records are optional (RFC 6762 section 12): each goes into the
// first part that has room, trying parts whose records refer to its name
// first, and is left out when none has room. OPT records go into every part. When m fits, Split returns []*dns.Msg{m}. Parts share record
// values with m.
func Split(m *dns.Msg, limit int) []*dns.Msg {
	if m == nil {
		return nil
	}
	if packedLen(m) <= limit {
		return []*dns.Msg{m}
	}
	// OPT records (EDNS, RFC 6891) describe the message, not the data: every
	// part starts with them.
	var opts []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opts = append(opts, rr)
		}
	}
	newPart := func() *dns.Msg {
		return &dns.Msg{MsgHdr: m.MsgHdr, Compress: true, Question: m.Question, Extra: slices.Clone(opts)}
	}
	parts := []*dns.Msg{newPart()}
	place := func(rr dns.RR, authority bool) {
		cur := parts[len(parts)-1]
		add(cur, rr, authority)
		if packedLen(cur) <= limit || len(cur.Answer)+len(cur.Ns) == 1 {
			return
		}
		drop(cur, authority)
		next := newPart()
		add(next, rr, authority)
		parts = append(parts, next)
	}
	for _, rr := range m.Answer {
		place(rr, false)
	}
	for _, rr := range m.Ns {
		place(rr, true)
	}
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		name := strings.ToLower(rr.Header().Name)
		for _, p := range orderParts(parts, name) {
			p.Extra = append(p.Extra, rr)
			if packedLen(p) <= limit {
				break
			}
			p.Extra = p.Extra[:len(p.Extra)-1]
		}
	}
	return parts
}

func add(p *dns.Msg, rr dns.RR, authority bool) {
	if authority {
		p.Ns = append(p.Ns, rr)
	} else {
		p.Answer = append(p.Answer, rr)
	}
}

func drop(p *dns.Msg, authority bool) {
	if authority {
		p.Ns = p.Ns[:len(p.Ns)-1]
	} else {
		p.Answer = p.Answer[:len(p.Answer)-1]
	}
}

// orderParts returns the parts referring to name first, then the others.
func orderParts(parts []*dns.Msg, name string) []*dns.Msg {
	var related, other []*dns.Msg
	for _, p := range parts {
		if refersTo(p, name) {
			related = append(related, p)
		} else {
			other = append(other, p)
		}
	}
	return append(related, other...)
}

// refersTo reports whether an answer or authority record of p is owned by
// name or points at it (PTR, SRV, CNAME, NS targets).
func refersTo(p *dns.Msg, name string) bool {
	for _, sec := range [][]dns.RR{p.Answer, p.Ns} {
		for _, rr := range sec {
			if strings.EqualFold(rr.Header().Name, name) {
				return true
			}
			var target string
			switch r := rr.(type) {
			case *dns.PTR:
				target = r.Ptr
			case *dns.SRV:
				target = r.Target
			case *dns.CNAME:
				target = r.Target
			case *dns.NS:
				target = r.Ns
			}
			if target != "" && strings.EqualFold(target, name) {
				return true
			}
		}
	}
	return false
}

// packedLen is the exact packed size of p with compression (MaxInt when it
// does not pack).
func packedLen(p *dns.Msg) int {
	mm := *p
	mm.Compress = true
	b, err := mm.Pack()
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}
