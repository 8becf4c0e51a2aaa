package interop

// github.com/hashicorp/mdns v1.0.7: its one-shot lookup (mdns.Query, a
// legacy-unicast query from an ephemeral port, RFC 6762 section 6.7) finds
// lansd's instance; an instance served by its mdns.Server (which answers
// every query by unicast and never announces) is not found by lansd browse.

import (
	"encoding/json"
	"log"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

func init() {
	lantest.RegisterHelper("hashicorp-query", hcQuery)
	lantest.RegisterHelper("hashicorp-serve", hcServe)
}

// hcEntry is what the hashicorp-query helper prints per entry.
type hcEntry struct {
	Name       string   `json:"name"`
	Host       string   `json:"host"`
	Port       int      `json:"port"`
	InfoFields []string `json:"info_fields"`
	AddrV4     string   `json:"addr_v4"`
	AddrV6     string   `json:"addr_v6"`
}

// hcQuery runs one mdns.Query for _timezone._tcp bound to lan0 (Timeout
// TIMEOUT, default 3s), then prints "ENTRY <json hcEntry>" per entry and
// "DONE" (or "FATAL ...").
func hcQuery() int {
	lantest.MustBeGuarded()
	ifc, err := lanIface()
	if err != nil {
		peerPrintf("FATAL %v", err)
		return 1
	}
	timeout, err := time.ParseDuration(os.Getenv("TIMEOUT"))
	if err != nil {
		timeout = 3 * time.Second
	}
	entries := make(chan *mdns.ServiceEntry, 64) // Query never blocks on it: it drops
	params := &mdns.QueryParam{
		Service:   "_timezone._tcp",
		Domain:    "local",
		Timeout:   timeout,
		Interface: ifc,
		Entries:   entries,
		Logger:    log.New(os.Stderr, "hashicorp/mdns: ", 0),
	}
	if err := mdns.Query(params); err != nil {
		peerPrintf("FATAL Query: %v", err)
		return 1
	}
	close(entries)
	for e := range entries {
		out := hcEntry{Name: e.Name, Host: e.Host, Port: e.Port, InfoFields: e.InfoFields}
		if e.AddrV4 != nil {
			out.AddrV4 = e.AddrV4.String()
		}
		if e.AddrV6IPAddr != nil {
			out.AddrV6 = e.AddrV6IPAddr.String()
		}
		peerJSON("ENTRY", out)
	}
	peerPrintf("DONE")
	return 0
}

// hcServe serves NAME (_timezone._tcp, host HOST, PORT, address ADDR4, TXT
// path=/hc) with mdns.NewServer bound to lan0, prints "READY" and runs
// until standard input closes or says QUIT.
func hcServe() int {
	lantest.MustBeGuarded()
	ifc, err := lanIface()
	if err != nil {
		peerPrintf("FATAL %v", err)
		return 1
	}
	port, err := strconv.Atoi(os.Getenv("PORT"))
	if err != nil {
		peerPrintf("FATAL PORT: %v", err)
		return 1
	}
	svc, err := mdns.NewMDNSService(os.Getenv("NAME"), "_timezone._tcp", "local.", os.Getenv("HOST"), port,
		[]net.IP{net.ParseIP(os.Getenv("ADDR4"))}, []string{"path=/hc"})
	if err != nil {
		peerPrintf("FATAL NewMDNSService: %v", err)
		return 1
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: svc, Iface: ifc, Logger: log.New(os.Stderr, "hashicorp/mdns: ", 0)})
	if err != nil {
		peerPrintf("FATAL NewServer: %v", err)
		return 1
	}
	peerPrintf("READY")
	buf := make([]byte, 64)
	for {
		n, err := os.Stdin.Read(buf)
		if err != nil || strings.Contains(string(buf[:n]), "QUIT") {
			break
		}
	}
	_ = srv.Shutdown()
	peerPrintf("CLOSED")
	return 0
}

// hcEntries parses the ENTRY lines of a finished hashicorp-query.
func hcEntries(t *testing.T, p *lantest.Proc) []hcEntry {
	t.Helper()
	var out []hcEntry
	for _, l := range p.Lines() {
		rest, ok := strings.CutPrefix(l, "ENTRY ")
		if !ok {
			continue
		}
		var e hcEntry
		require.NoError(t, json.Unmarshal([]byte(rest), &e), "line %q", l)
		out = append(out, e)
	}
	return out
}

// TestHashicorpQueryFindsLansd: hashicorp's mdns.Query on another host
// finds lansd's instance with its port, TXT and IPv4 address.
func TestHashicorpQueryFindsLansd(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 60*time.Second)

	_, ann := startAnnounce(t, h1, "Lansd HC", 8080, "path=/tz")
	require.Equal(t, "Lansd HC._timezone._tcp.local.", ann.Name)

	q := h2.Helper(t, "hashicorp-query", "TIMEOUT=3s")
	require.NoError(t, q.Wait(ctx), "hashicorp-query:\n%v", q.Lines())
	entries := hcEntries(t, q)
	require.Len(t, entries, 1, "hashicorp/mdns entries:\n%v", q.Lines())
	e := entries[0]
	// hashicorp gives the name in DNS presentation form, the space escaped.
	assert.Equal(t, `Lansd\ HC._timezone._tcp.local.`, e.Name)
	assert.Equal(t, 8080, e.Port)
	assert.Equal(t, []string{"path=/tz"}, e.InfoFields)
	assert.Equal(t, "h1.local.", e.Host)
	assert.Equal(t, h1.IPv4.String(), e.AddrV4)
	t.Logf("hashicorp/mdns entry: %+v", e)
}

// TestHashicorpServerUnicastOnly: an mdns.Server (v1.0.7) answers every
// query, even a QM one, by unicast to the querier's address and port 5353,
// and never announces. lansd browse asks its first query QU (RFC 6762
// section 5.4) and accepts unicast answers for two seconds after it from
// on-link sources (sections 6 and 11), so it finds such an instance, as
// python-zeroconf (the control) does. The capture proves the answer went
// by unicast to lansd's host.
func TestHashicorpServerUnicastOnly(t *testing.T) {
	t.Parallel()
	requirePython(t)
	lan := lantest.New(t, lantest.Hosts(3))
	h1, h2, h3 := lan.Host(1), lan.Host(2), lan.Host(3)
	ctx := lantest.Context(t, 60*time.Second)
	obs := lan.Observe(t)

	srv := h1.Helper(t, "hashicorp-serve", "NAME=HC Svc", "HOST=h1.local.", "PORT=8088", "ADDR4="+h1.IPv4.String())
	waitReady(t, srv)
	py := startPy(t, h3, "browse", "--type", pyType)
	br := clitest.Start(t, h2, "browse", "timezone", "--json", "--iface", lantest.Iface, "--timeout", "4s")

	add, err := waitPy(ctx, py, "add", "HC Svc._timezone._tcp.local.")
	require.NoError(t, err, "python-zeroconf (the control) did not find the hashicorp instance:\n%v", py.Lines())
	assert.Equal(t, 8088, add.Port)
	assert.Equal(t, map[string]any{"path": "/hc"}, add.TXT)

	toH2 := netip.AddrPortFrom(h2.IPv4, 5353)
	_, err = obs.WaitFor(ctx, func(c lantest.Captured) bool {
		if c.Dst != toH2 || c.Msg == nil || !c.Msg.Response {
			return false
		}
		for _, rr := range c.Msg.Answer {
			if ptr, ok := rr.(*dns.PTR); ok && ptr.Ptr == `HC\ Svc._timezone._tcp.local.` {
				return true
			}
		}
		return false
	})
	require.NoError(t, err, "hashicorp/mdns sent no unicast answer to lansd's host")

	// lansd's first query is QU (RFC 6762 section 5.4), so the unicast
	// answer is one it asked for and is used (section 6); later (QM)
	// queries get unicast answers too, which lansd ignores as it must.
	require.NoError(t, br.Wait(ctx), "lansd browse:\n%v", br.Lines())
	evs := clitest.Select(clitest.Events(t, br.Lines()), "", "HC Svc")
	require.NotEmpty(t, evs, "lansd browse did not find the instance hashicorp/mdns answers by unicast:\n%v", br.Lines())
	assert.Equal(t, "add", evs[0].Event)
	assert.Equal(t, uint16(8088), evs[0].Port)
}
