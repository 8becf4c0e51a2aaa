package mdns

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
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

	m, _, err := unpackMessage(valid)
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
		m, _, err := unpackMessage(b)
		assert.ErrorIs(t, err, ErrMalformed, name)
		assert.Nil(t, m, name)
	}
	_, _, err = unpackMessage(counts)
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
		if _, _, err := unpackMessage(b); err != nil {
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
		m, _, err := unpackMessage(b)
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
	back, _, err := unpackMessage(b)
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

// TestUnpackMessageKeepsRecordsAroundOneBadRecord: python-zeroconf 0.47
// defends a host name registered with one address family with an SRV and
// an NSEC whose type bitmap miekg/dns refuses (an empty block); the SRV
// must still reach the prober (RFC 6762 section 8.1), the NSEC left out
// and reported with its offset.
func TestUnpackMessageKeepsRecordsAroundOneBadRecord(t *testing.T) {
	m := new(dns.Msg)
	m.Response = true
	m.Answer = []dns.RR{&dns.SRV{Hdr: dns.RR_Header{Name: "Taken._timezone._tcp.local.", Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 8080, Target: "b3.local."}}
	b, err := m.Pack()
	require.NoError(t, err)
	// The NSEC of b3.local. as python-zeroconf wrote it: next domain
	// b3.local., then the bitmap 00 00 00 04 00 00 00 08 (its window
	// number in 16 bits: miekg/dns reads window 0 of length 0).
	nsec, err := hex.DecodeString("026233056c6f63616c00002f8001000011940012026233056c6f63616c000000000400000008")
	require.NoError(t, err)
	b = append(b, nsec...)
	b[7] = 2 // ANCOUNT
	off := len(b) - len(nsec)
	err = new(dns.Msg).Unpack(b) // what miekg/dns does alone
	require.Error(t, err)

	got, skipped, err := unpackMessage(b)
	require.NoError(t, err)
	require.Len(t, got.Answer, 1)
	srv, ok := got.Answer[0].(*dns.SRV)
	require.True(t, ok)
	assert.Equal(t, "b3.local.", srv.Target)
	require.Len(t, skipped, 1)
	assert.ErrorContains(t, skipped[0], fmt.Sprintf("answer record at offset %d (type 47) left out", off))

	// Broken framing still fails the whole message: a record's data
	// length past the end, bytes after the last record.
	long := append([]byte(nil), b...)
	binary.BigEndian.PutUint16(long[off+18:], 200) // the NSEC's RDLENGTH
	_, _, err = unpackMessage(long)
	assert.ErrorIs(t, err, ErrMalformed)
	trailing := append(append([]byte(nil), b...), 0, 0, 0)
	_, _, err = unpackMessage(trailing)
	assert.ErrorIs(t, err, ErrMalformed)
}
