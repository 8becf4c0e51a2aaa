package txt

import (
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRRRoundTripThroughMessage(t *testing.T) {
	recs := []Record{
		{},
		mustArgs(t, "path=/tz"),
		mustArgs(t, `quote="x"`, `back\\slash=\\`, `bin=\x00\x01\xff\x7f`, `ddd=\\065`, "flag", "e="),
	}
	for _, rec := range recs {
		wire, err := rec.Encode()
		require.NoError(t, err)
		rr, err := rec.RR(dns.RR_Header{Name: "Office TZ._timezone._tcp.local.", Class: dns.ClassINET, Ttl: 4500})
		require.NoError(t, err)
		assert.Equal(t, dns.TypeTXT, rr.Hdr.Rrtype)

		// Through a whole DNS message packed and unpacked by miekg/dns.
		m := new(dns.Msg)
		m.Response = true
		m.Answer = []dns.RR{rr}
		packed, err := m.Pack()
		require.NoError(t, err)
		var back dns.Msg
		require.NoError(t, back.Unpack(packed))
		require.Len(t, back.Answer, 1)
		got, ok := back.Answer[0].(*dns.TXT)
		require.True(t, ok)
		assert.Equal(t, int(got.Hdr.Rdlength), len(wire))

		dec, err := FromRR(got)
		require.NoError(t, err)
		want, err := Decode(wire)
		require.NoError(t, err)
		assert.Equal(t, want, dec, rec.String())
	}
}

func TestFromRREscapes(t *testing.T) {
	rr := &dns.TXT{Txt: []string{`a="q"`, `b=\255\000`, `c=\\`, `d=\"`}}
	rec, err := FromRR(rr)
	require.NoError(t, err)
	require.Len(t, rec.Items, 4)
	assert.Equal(t, []byte(`"q"`), rec.Items[0].Value)
	assert.Equal(t, []byte{0xff, 0}, rec.Items[1].Value)
	assert.Equal(t, []byte(`\`), rec.Items[2].Value)
	assert.Equal(t, []byte(`"`), rec.Items[3].Value)
	assert.Equal(t, []int{0, 6, 11, 15}, []int{rec.Items[0].Offset, rec.Items[1].Offset, rec.Items[2].Offset, rec.Items[3].Offset})
	assert.Equal(t, uint16(0), rr.Hdr.Rdlength, "FromRR does not change its argument")

	// No strings pack as zero bytes: the record Check reports.
	rec, err = FromRR(&dns.TXT{})
	require.NoError(t, err)
	assert.True(t, rec.ZeroLength)
	require.Len(t, Check(rec), 1)

	// A string miekg/dns cannot pack.
	_, err = FromRR(&dns.TXT{Txt: []string{string(make([]byte, 300))}})
	assert.Error(t, err)
}

func TestRRErrors(t *testing.T) {
	_, err := Record{Items: []Item{{Key: string(make([]byte, 256))}}}.RR(dns.RR_Header{Name: "."})
	var e *Error
	assert.ErrorAs(t, err, &e)
}
