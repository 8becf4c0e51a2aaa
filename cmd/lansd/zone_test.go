package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/txt"
	"github.com/lansd/lansd/wide"
)

// zoneArgs describe the service the zone tests print and register.
var zoneArgs = []string{"zone",
	"--service", "timezone", "--name", "Office TZ", "--port", "8080", "--txt", "path=/tz",
	"--subtype", "_eu", "--domain", "tz.example.net",
	"--host", "h1.tz.example.net", "--addr", "198.51.100.7", "--addr", "2001:db8::7"}

// zoneService is the same service for the library.
func zoneService(t *testing.T) announce.Service {
	rec, err := txt.ParseArgs([]string{"path=/tz"})
	require.NoError(t, err)
	return announce.Service{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: rec, Subtypes: []string{"_eu"}}
}

var zoneAddrs = []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")}

// parseZone reads zone-file text back with miekg/dns's zone parser.
func parseZone(t *testing.T, text string) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), "", "lansd-zone-output")
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	require.NoError(t, zp.Err())
	return out
}

// wireKeys returns rrs as their wire forms, for exact comparison (names
// byte for byte, TTLs included).
func wireKeys(t *testing.T, rrs []dns.RR) []string {
	t.Helper()
	var out []string
	for _, rr := range rrs {
		buf := make([]byte, dns.Len(rr)+16)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		require.NoError(t, err, rr.String())
		out = append(out, string(buf[:n]))
	}
	return out
}

func TestZoneCommandOutputParsesBack(t *testing.T) {
	code, out, errOut := lansd(t, "", zoneArgs...)
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut)
	got := parseZone(t, out)

	want, err := wide.BuildRecords(zoneService(t), wide.RecordOptions{
		Zone: "tz.example.net", HostName: "h1.tz.example.net", Addrs: zoneAddrs,
	})
	require.NoError(t, err)
	assert.Equal(t, wireKeys(t, want.RRs()), wireKeys(t, got), "the printed records are the ones the registrar builds")
	assert.Len(t, got, 7)
	assert.Contains(t, out, "; Service type enumeration (section 9):\n")
}

func TestZoneCommandMatchesRegistrarOnBIND(t *testing.T) {
	// The operator's way: the printed lines pasted into a zone file that
	// BIND loads. The registrar's way: DNS UPDATE into an empty zone. The
	// two zones must hold the same records.
	code, out, errOut := lansd(t, "", zoneArgs...)
	require.Equal(t, exitOK, code, errOut)
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	pasted := dnstest.StartBIND(t, "tz.example.net", dnstest.WithRecords(lines...))
	updated := dnstest.StartBIND(t, "tz.example.net")

	r, err := wide.NewRegistrar(wide.RegistrarOptions{
		Domain: updated.Zone, Server: updated.Addr,
		TSIG:     tsig.Key{Name: updated.KeyName, Algorithm: updated.Algorithm, Secret: updated.Secret},
		HostName: "h1.tz.example.net", Addrs: zoneAddrs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Timeout: 3 * time.Second,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer r.Close(ctx)
	_, err = r.Add(ctx, zoneService(t))
	require.NoError(t, err)

	assert.Equal(t, pasted.Snapshot(t), updated.Snapshot(t))
	assert.Len(t, pasted.Snapshot(t), 2+7, "NS, the NS's A, and the service's 7 records")
}

func TestZoneCommandRefusesInvalid(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"zone", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--domain", "tz.example.net", "--txt", "path=relative"},
			"--txt error: key \"path\" at offset 0: value byte 0 (wire offset 6): path must begin with '/'"},
		{[]string{"zone", "--service", "timezone", "--name", "", "--port", "8080", "--domain", "tz.example.net"},
			`--name: empty instance name (RFC 6763 section 4.1.1)`},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--subtype", "a.b"},
			`--subtype[0] "_a.b": a subtype is a single label`},
		{[]string{"zone", "--service", "nosuchservice", "--name", "X", "--port", "1", "--domain", "tz.example.net"},
			`--service "nosuchservice": service name not in the registry`},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "local"},
			`--domain "local": local. is the Multicast DNS domain`},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1"},
			"missing --domain"},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--addr", "198.51.100.7"},
			"--addr needs --host"},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--host", "h.example.org", "--addr", "198.51.100.7"},
			"--addr: host h.example.org. is outside --domain tz.example.net."},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--host", "h", "--addr", "not-an-ip"},
			`--addr[0] "not-an-ip": not an IP address`},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--ttl", "soon"},
			`--ttl "soon": want seconds (120) or a duration (2m)`},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--ttl", "0"},
			`--ttl "0": want at least 1 second`},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--txt", `bad\q`},
			"--txt: txt: args[0]"},
		{[]string{"zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "extra"},
			`unexpected argument "extra"`},
	} {
		code, out, errOut := lansd(t, "", c.args...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errOut)
		assert.Empty(t, out, "nothing printed for %v", c.args)
		assert.Contains(t, errOut, c.want, c.args)
	}
}

func TestZoneCommandOptions(t *testing.T) {
	code, out, errOut := lansd(t, "", "zone", "--service", "_http._tcp", "--name", "Web", "--port", "80",
		"--domain", "tz.example.net.", "--host", "web", "--ttl", "1h", "--txt", "path=/", "--txt", "color=blue")
	require.Equal(t, exitOK, code, errOut)
	rrs := parseZone(t, out)
	require.Len(t, rrs, 4)
	for _, rr := range rrs {
		assert.Equal(t, uint32(3600), rr.Header().Ttl)
	}
	assert.Contains(t, out, "0 0 80 web.tz.example.net.", "a single-label host lies in the domain")
	assert.NotContains(t, out, "IN\tA\t", "no --addr, no address records")

	code, out, _ = lansd(t, "", "zone", "--service", "timezone", "--name", "X", "--port", "0", "--domain", "tz.example.net", "--txt", "path=/", "--ttl", "300")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "300\tIN\tSRV\t0 0 0 ")

	// Warnings go to standard error and do not stop the output.
	code, out, errOut = lansd(t, "", "zone", "--service", "timezone", "--name", "X", "--port", "1", "--domain", "tz.example.net", "--txt", "path=/", "--txt", "color=blue")
	require.Equal(t, exitOK, code)
	assert.Contains(t, errOut, `lansd zone: --txt warning: key "color"`)
	assert.NotEmpty(t, out)

	code, out, _ = lansd(t, "", "zone", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "Usage: lansd zone")
	assert.Contains(t, out, "Example:")
	code, out, _ = lansd(t, "", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "zone ")
}
