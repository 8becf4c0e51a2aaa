package mdns

import (
	"math/rand/v2"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnpackMessageRejectsMalformed(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("x.local.", dns.TypeA)
	valid, err := q.Pack()
	require.NoError(t, err)

	m, err := unpackMessage(valid)
	require.NoError(t, err)
	assert.Equal(t, "x.local.", m.Question[0].Name)

	counts := append([]byte(nil), valid...)
	counts[7] = 3 // ANCOUNT 3, no answers follow
	loop := append(append([]byte(nil), valid[:12]...), 0xc0, 0x0c, 0, 1, 0, 1)
	r := rand.New(rand.NewPCG(1, 2))
	rnd := make([]byte, 300)
	for i := range rnd {
		rnd[i] = byte(r.UintN(256))
	}
	for name, b := range map[string][]byte{
		"empty":            nil,
		"truncated header": valid[:5],
		"truncated name":   valid[:15],
		"counts past end":  counts,
		"compression loop": loop,
		"random":           rnd,
	} {
		m, err := unpackMessage(b)
		assert.ErrorIs(t, err, ErrMalformed, name)
		assert.Nil(t, m, name)
	}
	_, err = unpackMessage(counts)
	assert.ErrorContains(t, err, "header (offset 6) announces 3 answer records, message holds 0")
}

func TestUnpackMessageFuzzNeverPanics(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("svc._http._tcp.local.", dns.TypePTR)
	q.Answer = append(q.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: "svc._http._tcp.local.", Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 80, Target: "h.local."})
	valid, err := q.Pack()
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(3, 4))
	bad := 0
	for range 5000 {
		b := append([]byte(nil), valid...)
		for range 1 + r.IntN(4) {
			b[r.IntN(len(b))] = byte(r.UintN(256))
		}
		b = b[:r.IntN(len(b)+1)]
		if _, err := unpackMessage(b); err != nil {
			bad++
		}
	}
	assert.Positive(t, bad)
}

func FuzzUnpackMessage(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("x.local.", dns.TypeA)
	valid, _ := q.Pack()
	f.Add(valid)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := unpackMessage(b)
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
	})
}

func TestPackMessage(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("x.local.", dns.TypeA)
	b, err := packMessage(m)
	require.NoError(t, err)
	assert.False(t, m.Compress, "the caller's message is not changed")
	back, err := unpackMessage(b)
	require.NoError(t, err)
	assert.Equal(t, m.Question, back.Question)

	for len(m.Extra) < 40 {
		m.Extra = append(m.Extra, &dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{string(make([]byte, 250))}})
	}
	_, err = packMessage(m)
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = packMessage(nil)
	assert.Error(t, err)
}
