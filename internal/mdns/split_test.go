package mdns_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/mdns"
)

func TestPacketLimit(t *testing.T) {
	for _, tc := range []struct {
		mtu  int
		f    mdns.Family
		want int
	}{
		{1500, mdns.IPv4, 1472},
		{1500, mdns.IPv6, 1452},
		{9000, mdns.IPv4, 8972},
		{65535, mdns.IPv4, mdns.MaxPacket},
		{65535, mdns.IPv6, mdns.MaxPacket},
		{0, mdns.IPv4, 1472},
		{-1, mdns.IPv6, 1452},
		{20, mdns.IPv4, 0},
	} {
		assert.Equal(t, tc.want, mdns.PacketLimit(tc.mtu, tc.f), "PacketLimit(%d, %d)", tc.mtu, tc.f)
	}
}

func TestFamilyGroup(t *testing.T) {
	assert.Equal(t, "224.0.0.251:5353", mdns.Group(mdns.IPv4).String())
	assert.Equal(t, "[ff02::fb]:5353", mdns.Group(mdns.IPv6).String())
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET | 1<<15, Ttl: 120}
}

// bigResponse has n service instances: PTR answers, with SRV/TXT/A
// additionals for each.
func bigResponse(n int) *dns.Msg {
	m := new(dns.Msg)
	m.Id = 0
	m.Response = true
	m.Authoritative = true
	for i := range n {
		inst := fmt.Sprintf("Instance number %03d with a longish name._http._tcp.local.", i)
		host := fmt.Sprintf("host-%03d.local.", i)
		m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr("_http._tcp.local.", dns.TypePTR), Ptr: inst})
		m.Extra = append(m.Extra,
			&dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Port: 80, Target: host},
			&dns.TXT{Hdr: hdr(inst, dns.TypeTXT), Txt: []string{"path=/index.html", "u=user", "version=1.2.3"}},
			&dns.A{Hdr: hdr(host, dns.TypeA), A: []byte{198, 51, 100, byte(i)}},
		)
	}
	return m
}

func packedLen(t *testing.T, m *dns.Msg) int {
	t.Helper()
	mm := *m
	mm.Compress = true
	b, err := mm.Pack()
	require.NoError(t, err)
	return len(b)
}

func TestSplitFitsAndKeepsEveryAnswer(t *testing.T) {
	m := bigResponse(60)
	m.Id = 77
	limit := mdns.PacketLimit(1500, mdns.IPv6)
	require.Greater(t, packedLen(t, m), limit)

	parts := mdns.Split(m, limit)
	require.Greater(t, len(parts), 1)
	var answers []dns.RR
	extras := 0
	for i, p := range parts {
		assert.LessOrEqual(t, packedLen(t, p), limit, "part %d", i)
		assert.Equal(t, m.MsgHdr, p.MsgHdr, "part %d keeps the header", i)
		assert.NotEmpty(t, p.Answer, "part %d", i)
		answers = append(answers, p.Answer...)
		extras += len(p.Extra)
	}
	assert.Equal(t, m.Answer, answers, "every answer once, in order")
	// Each part is complete on its own: every PTR travels with its
	// instance's SRV and TXT and the SRV target's address (RFC 6763
	// section 12.1), so a querier needs no second question.
	for i, p := range parts {
		have := map[string]bool{}
		for _, rr := range p.Extra {
			have[rr.Header().Name+"/"+dns.TypeToString[rr.Header().Rrtype]] = true
		}
		for _, a := range p.Answer {
			inst := a.(*dns.PTR).Ptr
			assert.True(t, have[inst+"/SRV"], "part %d: SRV of %s", i, inst)
			assert.True(t, have[inst+"/TXT"], "part %d: TXT of %s", i, inst)
		}
		for _, rr := range p.Extra {
			if srv, ok := rr.(*dns.SRV); ok {
				assert.True(t, have[srv.Target+"/A"], "part %d: address of %s", i, srv.Target)
			}
		}
	}
	assert.Equal(t, len(m.Extra), extras, "every additional record sent once (none shared here)")
	// Parts are as full as the limit allows: the next part's first answer
	// and its group would not have fitted in the part before.
	for i := 0; i+1 < len(parts); i++ {
		merged := *parts[i]
		next := parts[i+1]
		merged.Answer = append(append([]dns.RR(nil), parts[i].Answer...), next.Answer[0])
		merged.Extra = append(append([]dns.RR(nil), parts[i].Extra...), next.Extra[:3]...)
		assert.Greater(t, packedLen(t, &merged), limit, "part %d could have taken another answer", i)
	}
}

// A record several answers lead to (the host's address) is repeated in
// every part that needs it; additional records no answer leads to fill
// the parts that have room.
func TestSplitSharedAdditionals(t *testing.T) {
	m := new(dns.Msg)
	m.Response = true
	host := "shared-host.local."
	for i := range 40 {
		inst := fmt.Sprintf("Instance number %03d with a longish name._http._tcp.local.", i)
		m.Answer = append(m.Answer, &dns.SRV{Hdr: hdr(inst, dns.TypeSRV), Port: 80, Target: host})
	}
	m.Extra = append(m.Extra,
		&dns.A{Hdr: hdr(host, dns.TypeA), A: []byte{198, 51, 100, 7}},
		&dns.AAAA{Hdr: hdr(host, dns.TypeAAAA), AAAA: make([]byte, 16)},
		&dns.TXT{Hdr: hdr("unrelated.local.", dns.TypeTXT), Txt: []string{"x=1"}},
	)
	limit := 1200
	parts := mdns.Split(m, limit)
	require.Greater(t, len(parts), 1)
	unrelated := 0
	for i, p := range parts {
		assert.LessOrEqual(t, packedLen(t, p), limit, "part %d", i)
		types := map[uint16]int{}
		for _, rr := range p.Extra {
			if rr.Header().Name == host {
				types[rr.Header().Rrtype]++
			} else {
				unrelated++
			}
		}
		assert.Equal(t, map[uint16]int{dns.TypeA: 1, dns.TypeAAAA: 1}, types, "part %d has the host's addresses once", i)
	}
	assert.Equal(t, 1, unrelated, "the unrelated record is sent once")
}

func TestSplitSmallMessageUnchanged(t *testing.T) {
	m := bigResponse(2)
	parts := mdns.Split(m, 1452)
	require.Len(t, parts, 1)
	assert.Same(t, m, parts[0])
	assert.Nil(t, mdns.Split(nil, 1452))
}

func TestSplitOversizeRecordAlone(t *testing.T) {
	m := new(dns.Msg)
	m.Response = true
	small := &dns.A{Hdr: hdr("a.local.", dns.TypeA), A: []byte{198, 51, 100, 1}}
	huge := &dns.TXT{Hdr: hdr("b.local.", dns.TypeTXT)}
	for range 10 {
		huge.Txt = append(huge.Txt, string(make([]byte, 200)))
	}
	m.Answer = []dns.RR{small, huge, small}
	parts := mdns.Split(m, 512)
	require.Len(t, parts, 3)
	assert.Equal(t, []dns.RR{huge}, parts[1].Answer)
	assert.Greater(t, packedLen(t, parts[1]), 512)
}

func TestSplitKeepsOPTAndQuestion(t *testing.T) {
	m := bigResponse(40)
	m.Question = []dns.Question{{Name: "_http._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	m.SetEdns0(1440, false)
	parts := mdns.Split(m, 1200)
	require.Greater(t, len(parts), 1)
	for i, p := range parts {
		assert.Equal(t, m.Question, p.Question, "part %d", i)
		assert.NotNil(t, p.IsEdns0(), "part %d has the OPT record", i)
		assert.LessOrEqual(t, packedLen(t, p), 1200)
	}
}

// TestSplitRelatedNamesFoldASCIIOnly: an answer's group of additional
// records is found by name as RFC 6762 section 16 compares names: a record
// whose owner differs from the answer's target only in ASCII case is the
// same name and travels with the answer; one that differs in the case of
// a non-ASCII letter (É, é) is another name, not related to the answer, and
// is placed as an unrelated record (in the first part with room).
func TestSplitRelatedNamesFoldASCIIOnly(t *testing.T) {
	m := new(dns.Msg)
	m.Response = true
	m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr("_http._tcp.local.", dns.TypePTR), Ptr: "Écran._http._tcp.local."})
	for i := range 25 {
		m.Answer = append(m.Answer, &dns.A{Hdr: hdr(fmt.Sprintf("filler-%02d.local.", i), dns.TypeA), A: []byte{198, 51, 100, byte(i)}})
	}
	same := &dns.SRV{Hdr: hdr("ÉCRAN._http._tcp.LOCAL.", dns.TypeSRV), Port: 80, Target: "h.local."}
	other := &dns.TXT{Hdr: hdr("écran._http._tcp.local.", dns.TypeTXT), Txt: []string{strings.Repeat("x", 120)}}
	m.Extra = []dns.RR{other, same}
	limit := 512
	// The TXT record is larger than any room left in a full part: it can
	// only go into the last part, unless it travels with the first answer.
	require.Greater(t, dns.Len(other), dns.Len(m.Answer[1]))
	parts := mdns.Split(m, limit)
	require.Len(t, parts, 2)
	for i, p := range parts {
		assert.LessOrEqual(t, packedLen(t, p), limit, "part %d", i)
	}
	require.Same(t, m.Answer[0], parts[0].Answer[0])
	assert.Contains(t, parts[0].Extra, dns.RR(same), "ÉCRAN...LOCAL. is Écran...local. (ASCII case): it travels with the PTR")
	assert.NotContains(t, parts[0].Extra, dns.RR(other), "écran is not Écran (non-ASCII case): not the PTR's additional record")
	assert.Contains(t, parts[1].Extra, dns.RR(other), "the unrelated record goes where there is room")
}
