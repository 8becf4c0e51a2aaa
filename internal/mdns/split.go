package mdns

import (
	"math"
	"slices"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
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
//
// Additional records are optional (RFC 6762 section 12), but a part is
// most useful when it is complete on its own: each answer travels with the
// additional records it leads to (a PTR with its instance's SRV, TXT and
// NSEC, an SRV with its target's addresses, RFC 6763 section 12), so that
// a querier that receives one packet of several need not ask again. An
// answer whose group does not fit in the current part starts the next one;
// an additional record that several answers lead to (a host's addresses)
// is repeated in each part that needs it. Additional records no answer
// leads to go into the first part with room, and are left out when none
// has room. OPT records go into every part. When m fits, Split returns
// []*dns.Msg{m}. Parts share record values with m.
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
	byName := map[string][]int{} // additional records by owner name (dnsname.MustKey)
	for i, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opts = append(opts, rr)
			continue
		}
		n := dnsname.MustKey(rr.Header().Name)
		byName[n] = append(byName[n], i)
	}
	newPart := func() *dns.Msg {
		return &dns.Msg{MsgHdr: m.MsgHdr, Compress: true, Question: m.Question, Extra: slices.Clone(opts)}
	}
	placed := make([]bool, len(m.Extra))
	cur := newPart()
	// curLen bounds cur's packed size from above: records are added with
	// their uncompressed size, and cur is packed (exactly, with
	// compression) only when the bound passes the limit.
	curLen := packedLen(cur)
	inCur := map[int]bool{} // additional records already in cur
	parts := []*dns.Msg{cur}
	// fill adds rr and its group to cur; it reports false (and leaves cur
	// as it was) when they do not fit and cur already holds records.
	fill := func(rr dns.RR, authority bool, group []int) bool {
		nAns, nNs, nEx := len(cur.Answer), len(cur.Ns), len(cur.Extra)
		add(cur, rr, authority)
		grow := dns.Len(rr)
		var added []int
		for _, i := range group {
			if !inCur[i] {
				cur.Extra = append(cur.Extra, m.Extra[i])
				added = append(added, i)
				grow += dns.Len(m.Extra[i])
			}
		}
		fits := curLen+grow <= limit
		if fits {
			curLen += grow
		} else if n := packedLen(cur); n <= limit {
			fits, curLen = true, n
		}
		if fits {
			for _, i := range added {
				inCur[i], placed[i] = true, true
			}
			return true
		}
		if nAns+nNs > 0 {
			cur.Answer, cur.Ns, cur.Extra = cur.Answer[:nAns], cur.Ns[:nNs], cur.Extra[:nEx]
			return false
		}
		// Alone in its part: keep the record and as much of its group as fits.
		cur.Extra = cur.Extra[:nEx]
		for _, i := range added {
			cur.Extra = append(cur.Extra, m.Extra[i])
			if packedLen(cur) > limit {
				cur.Extra = cur.Extra[:len(cur.Extra)-1]
				continue
			}
			inCur[i], placed[i] = true, true
		}
		curLen = packedLen(cur)
		return true
	}
	place := func(rr dns.RR, authority bool) {
		group := related(rr, m.Extra, byName)
		if fill(rr, authority, group) {
			return
		}
		cur = newPart()
		curLen = packedLen(cur)
		inCur = map[int]bool{}
		parts = append(parts, cur)
		fill(rr, authority, group)
	}
	for _, rr := range m.Answer {
		place(rr, false)
	}
	for _, rr := range m.Ns {
		place(rr, true)
	}
	for i, rr := range m.Extra {
		if placed[i] || rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		key := dnsname.MustKey(rr.Header().Name)
		for _, p := range orderParts(parts, key) {
			p.Extra = append(p.Extra, rr)
			if packedLen(p) <= limit {
				break
			}
			p.Extra = p.Extra[:len(p.Extra)-1]
		}
	}
	return parts
}

// related returns the indexes in extra of the additional records rr leads
// to (RFC 6763 section 12): those owned by the name rr points at (PTR,
// SRV, CNAME and NS targets), by rr's own name (a host's other addresses,
// an instance's other records), and, following SRV and PTR records among
// them, by their targets; each at most once, in the order of extra. byName
// holds the indexes by dnsname.MustKey of the owner name, so that names
// compare as RFC 6762 section 16 says: ASCII letters case-insensitively,
// every other byte as is.
func related(rr dns.RR, extra []dns.RR, byName map[string][]int) []int {
	var out []int
	seenName := map[string]bool{}
	seen := map[int]bool{}
	queue := []string{dnsname.MustKey(rr.Header().Name)}
	if t := target(rr); t != "" {
		queue = append(queue, dnsname.MustKey(t))
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seenName[n] {
			continue
		}
		seenName[n] = true
		for _, i := range byName[n] {
			if seen[i] || extra[i] == rr {
				continue
			}
			seen[i] = true
			out = append(out, i)
			if t := target(extra[i]); t != "" {
				queue = append(queue, dnsname.MustKey(t))
			}
		}
	}
	slices.Sort(out)
	return out
}

// target returns the name rr points at: the target of a PTR, SRV, CNAME or
// NS record, else "".
func target(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.PTR:
		return r.Ptr
	case *dns.SRV:
		return r.Target
	case *dns.CNAME:
		return r.Target
	case *dns.NS:
		return r.Ns
	}
	return ""
}

func add(p *dns.Msg, rr dns.RR, authority bool) {
	if authority {
		p.Ns = append(p.Ns, rr)
	} else {
		p.Answer = append(p.Answer, rr)
	}
}

// orderParts returns the parts referring to the name whose
// dnsname.MustKey is key first, then the others.
func orderParts(parts []*dns.Msg, key string) []*dns.Msg {
	var related, other []*dns.Msg
	for _, p := range parts {
		if refersTo(p, key) {
			related = append(related, p)
		} else {
			other = append(other, p)
		}
	}
	return append(related, other...)
}

// refersTo reports whether an answer or authority record of p is owned by
// the name whose dnsname.MustKey is key or points at it (PTR, SRV, CNAME,
// NS targets); names compare as RFC 6762 section 16 says, ASCII letters
// case-insensitively and every other byte as is.
func refersTo(p *dns.Msg, key string) bool {
	for _, sec := range [][]dns.RR{p.Answer, p.Ns} {
		for _, rr := range sec {
			if dnsname.MustKey(rr.Header().Name) == key {
				return true
			}
			if t := target(rr); t != "" && dnsname.MustKey(t) == key {
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
