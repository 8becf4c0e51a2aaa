package wide

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/sd"
)

// lines returns the records as zone-file lines.
func lines(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

func TestRecordsBuild(t *testing.T) {
	recs, err := BuildRecords(officeTZ(t), RecordOptions{
		Zone: "tz.example.net", HostName: "h1", Addrs: []netip.Addr{regAddr4, regAddr6, netip.MustParseAddr("::ffff:198.51.100.7"), netip.MustParseAddr("224.0.0.251")},
	})
	require.NoError(t, err)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", recs.Instance)
	assert.Equal(t, []string{
		"_services._dns-sd._udp.tz.example.net.\t120\tIN\tPTR\t_timezone._tcp.tz.example.net.",
		"_timezone._tcp.tz.example.net.\t120\tIN\tPTR\tOffice\\ TZ._timezone._tcp.tz.example.net.",
		"_eu._sub._timezone._tcp.tz.example.net.\t120\tIN\tPTR\tOffice\\ TZ._timezone._tcp.tz.example.net.",
		"Office\\ TZ._timezone._tcp.tz.example.net.\t120\tIN\tSRV\t0 0 8080 h1.tz.example.net.",
		"Office\\ TZ._timezone._tcp.tz.example.net.\t120\tIN\tTXT\t\"path=/tz\"",
		"h1.tz.example.net.\t120\tIN\tA\t198.51.100.7",
		"h1.tz.example.net.\t120\tIN\tAAAA\t2001:db8::7",
	}, lines(recs.RRs()), "a mapped duplicate and a multicast address are dropped")
	assert.True(t, recs.Report.Conforms())
}

func TestRecordsOptions(t *testing.T) {
	svc := officeTZ(t)
	svc.Subtypes = nil

	// TTL.
	recs, err := BuildRecords(svc, RecordOptions{Zone: "tz.example.net.", HostName: "h1", TTL: time.Hour})
	require.NoError(t, err)
	for _, rr := range recs.RRs() {
		assert.Equal(t, uint32(3600), rr.Header().Ttl)
	}
	assert.Empty(t, recs.Addrs, "no Addrs, no address records")

	// A fully qualified host outside the zone: SRV points there, no
	// address records (they cannot be written in this zone).
	recs, err = BuildRecords(svc, RecordOptions{Zone: "tz.example.net.", HostName: "srv.example.org.", Addrs: []netip.Addr{regAddr4}})
	require.NoError(t, err)
	assert.Equal(t, "srv.example.org.", recs.SRV.Target)
	assert.Empty(t, recs.Addrs)

	// The service's own Host: a single label lies in the zone; no
	// address records for it.
	svc.Host = "printer"
	recs, err = BuildRecords(svc, RecordOptions{Zone: "tz.example.net.", HostName: "h1", Addrs: []netip.Addr{regAddr4}})
	require.NoError(t, err)
	assert.Equal(t, "printer.tz.example.net.", recs.SRV.Target)
	assert.Empty(t, recs.Addrs)

	// Host equal to HostName gets them.
	svc.Host = "h1.tz.example.net."
	recs, err = BuildRecords(svc, RecordOptions{Zone: "tz.example.net.", HostName: "h1", Addrs: []netip.Addr{regAddr4}})
	require.NoError(t, err)
	assert.Len(t, recs.Addrs, 1)

	// A domain inside the zone.
	svc.Host = ""
	svc.Domain = "Berlin.tz.example.net"
	recs, err = BuildRecords(svc, RecordOptions{Zone: "tz.example.net.", HostName: "h1"})
	require.NoError(t, err)
	assert.Equal(t, "_services._dns-sd._udp.Berlin.tz.example.net.", recs.ServicesPTR.Hdr.Name)
	assert.Equal(t, "Office TZ._timezone._tcp.Berlin.tz.example.net.", recs.Instance)

	// A type that names its domain.
	svc.Domain = ""
	svc.Type = "_printer._sub._http._tcp.tz.example.net."
	svc.TXT = regTXT(t, "path=/")
	recs, err = BuildRecords(svc, RecordOptions{Zone: "tz.example.net.", HostName: "h1"})
	require.NoError(t, err)
	assert.Equal(t, "Office TZ._http._tcp.tz.example.net.", recs.Instance)
	require.Len(t, recs.SubtypePTRs, 1)
	assert.Equal(t, "_printer._sub._http._tcp.tz.example.net.", recs.SubtypePTRs[0].Hdr.Name)
}

func TestRecordsEscapedNamesRoundTrip(t *testing.T) {
	// An instance name may hold dots, backslashes, quotes and any UTF-8
	// (RFC 6763 section 4.1.1): the presentation form must parse back to
	// the same name.
	for _, inst := range []string{`Dr. Who's "TZ"`, `back\slash`, "Zoë (Küche); $x @y", "semi;colon(paren)"} {
		svc := officeTZ(t)
		svc.Instance = inst
		recs, err := BuildRecords(svc, RecordOptions{Zone: "tz.example.net", HostName: "h1"})
		require.NoError(t, err, inst)
		for _, rr := range recs.RRs() {
			back, err := dns.NewRR(rr.String())
			require.NoError(t, err, rr.String())
			assert.Equal(t, dnsname.RRKey(rr), dnsname.RRKey(back), "%q parses back to the same wire form", rr.String())
			assert.Equal(t, rr.String(), back.String())
		}
		labels := dns.SplitDomainName(recs.Instance)
		require.NotEmpty(t, labels)
		wire := make([]byte, 256)
		n, err := dns.PackDomainName(recs.Instance, wire, 0, nil, false)
		require.NoError(t, err)
		assert.Equal(t, len(inst), int(wire[0]), "the first label is the instance name's bytes")
		assert.Equal(t, inst, string(wire[1:1+len(inst)]))
		assert.Less(t, len(inst), n)
	}
}

func TestRecordsRefused(t *testing.T) {
	base := RecordOptions{Zone: "tz.example.net", HostName: "h1"}
	for _, c := range []struct {
		mod   func(*sd.Service)
		field string
	}{
		{func(s *sd.Service) { s.TXT = regTXT(t, "path=relative") }, ""},
		{func(s *sd.Service) { s.Instance = "" }, "Instance"},
		{func(s *sd.Service) { s.Instance = strings.Repeat("x", 64) }, "Instance"},
		{func(s *sd.Service) { s.Domain = "example.org" }, "Domain"},
		{func(s *sd.Service) { s.Domain = "local." }, "Domain"},
		{func(s *sd.Service) { s.Host = "printer.local." }, "Host"},
		{func(s *sd.Service) { s.Type = "_timezone._tcp.example.org." }, "Domain"},
		{func(s *sd.Service) { s.Subtypes = []string{"a.b"} }, "Subtypes[0]"},
	} {
		svc := officeTZ(t)
		c.mod(&svc)
		_, err := BuildRecords(svc, base)
		var ve *sd.ValidationError
		require.ErrorAs(t, err, &ve, "%+v", svc)
		assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("wide: service %q refused: ", svc.Instance)), err.Error())
		if c.field != "" {
			var fe *sd.FieldError
			require.ErrorAs(t, err, &fe, "%v", err)
			found := false
			for _, e := range ve.Unwrap() {
				if errors.As(e, &fe) && fe.Field == c.field {
					found = true
				}
			}
			assert.True(t, found, "%v names %s", err, c.field)
		}
	}

	for _, c := range []struct {
		opts RecordOptions
		want string
	}{
		{RecordOptions{}, "Zone: no zone given"},
		{RecordOptions{Zone: "local"}, "Multicast DNS domain"},
		{RecordOptions{Zone: "tz.example.net", HostName: "bad host"}, `HostName "bad host": not a valid host name`},
		{RecordOptions{Zone: "tz.example.net", HostName: "h", TTL: time.Millisecond}, "TTL"},
		{RecordOptions{Zone: "tz.example.net", HostName: "h", TTL: 1 << 62}, "2^31-1"},
	} {
		_, err := BuildRecords(officeTZ(t), c.opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
		assert.True(t, strings.HasPrefix(err.Error(), "wide: RecordOptions: "), err.Error())
	}
}

func TestRecordsWarnings(t *testing.T) {
	svc := officeTZ(t)
	svc.Port = 0
	svc.TXT = regTXT(t, "path=/tz", "color=blue")
	recs, err := BuildRecords(svc, RecordOptions{Zone: "tz.example.net", HostName: "h1"})
	require.NoError(t, err, "warnings do not refuse")
	assert.Len(t, recs.Report.Warnings(), 2, "port 0 and an undefined key")
}

func TestRecordsMachineAddrs(t *testing.T) {
	for _, a := range machineAddrs() {
		assert.False(t, a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast(), a)
	}
}
