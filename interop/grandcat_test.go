package interop

// github.com/grandcat/zeroconf v1.0.0 in both directions, plus assertions
// that pin down where it fails on its own side: it only resolves an
// instance whose PTR, SRV, TXT and address records arrive in one packet, it
// never reports a removal, and it does not probe (so it takes a name lansd
// already holds, and lansd is the one that renames).

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/internal/mdns"
)

func init() {
	lantest.RegisterHelper("grandcat-browse", gcBrowse)
	lantest.RegisterHelper("grandcat-register", gcRegister)
	lantest.RegisterHelper("raw-split", rawSplit)
}

// gcEntry is what the grandcat-browse helper prints per entry.
type gcEntry struct {
	Instance string   `json:"instance"`
	Service  string   `json:"service"`
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Text     []string `json:"text"`
	IPv4     []string `json:"ipv4"`
	IPv6     []string `json:"ipv6"`
	TTL      uint32   `json:"ttl"`
}

// gcBrowse browses SERVICE (default _timezone._tcp) on lan0 with
// zeroconf.NewResolver(...).Browse for DURATION (default 30s). It prints
// "READY" once browsing, "ENTRY <json gcEntry>" per entry the library
// delivers, and "DONE" when the context ends.
func gcBrowse() int {
	lantest.MustBeGuarded()
	service := os.Getenv("SERVICE")
	if service == "" {
		service = "_timezone._tcp"
	}
	d, err := time.ParseDuration(os.Getenv("DURATION"))
	if err != nil {
		d = 30 * time.Second
	}
	ifc, err := lanIface()
	if err != nil {
		peerPrintf("FATAL %v", err)
		return 1
	}
	r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{*ifc}))
	if err != nil {
		peerPrintf("FATAL NewResolver: %v", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	entries := make(chan *zeroconf.ServiceEntry)
	if err := r.Browse(ctx, service, "local.", entries); err != nil {
		peerPrintf("FATAL Browse: %v", err)
		return 1
	}
	peerPrintf("READY")
	for e := range entries { // closed by the library when ctx ends
		peerJSON("ENTRY", gcEntry{
			Instance: e.Instance, Service: e.Service, Host: e.HostName, Port: e.Port,
			Text: e.Text, IPv4: ipStrings(e.AddrIPv4), IPv6: ipStrings(e.AddrIPv6), TTL: e.TTL,
		})
	}
	peerPrintf("DONE")
	return 0
}

// gcRegister registers NAME of type _timezone._tcp on PORT with the TXT
// strings of TXT (a JSON list) on lan0 with zeroconf.Register, and prints
// "READY". On standard input, "TXT s1 s2 ..." replaces the TXT record
// (SetText, "UPDATED") and "QUIT" shuts the server down (which sends its
// goodbye, "CLOSED").
func gcRegister() int {
	lantest.MustBeGuarded()
	port, err := strconv.Atoi(os.Getenv("PORT"))
	if err != nil {
		peerPrintf("FATAL PORT: %v", err)
		return 1
	}
	var text []string
	if err := json.Unmarshal([]byte(os.Getenv("TXT")), &text); err != nil {
		peerPrintf("FATAL TXT: %v", err)
		return 1
	}
	ifc, err := lanIface()
	if err != nil {
		peerPrintf("FATAL %v", err)
		return 1
	}
	srv, err := zeroconf.Register(os.Getenv("NAME"), "_timezone._tcp", "local.", port, text, []net.Interface{*ifc})
	if err != nil {
		peerPrintf("FATAL Register: %v", err)
		return 1
	}
	peerPrintf("READY")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 1 && f[0] == "TXT":
			srv.SetText(f[1:])
			peerPrintf("UPDATED")
		case len(f) == 1 && f[0] == "QUIT":
			srv.Shutdown()
			peerPrintf("CLOSED")
			return 0
		}
	}
	srv.Shutdown()
	return 0
}

// rawSplit announces one instance (NAME, a full instance name, on HOST with
// PORT, TXT path=/split and address ADDR4) ROUNDS times, one second apart,
// with its PTR, SRV, TXT and A records each in a packet of its own, as a
// responder may when it sends records as they change. Then it announces a
// control instance CONTROL with the same four records in one packet, and
// prints "DONE". It multicasts over IPv4 on lan0 from port 5353 and answers
// no queries.
func rawSplit() int {
	lantest.MustBeGuarded()
	ctx := context.Background()
	conn, err := mdns.Listen(ctx, mdns.Config{
		Interfaces: []string{lantest.Iface},
		Families:   []mdns.Family{mdns.IPv4},
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		peerPrintf("FATAL %v", err)
		return 1
	}
	defer conn.Close()
	rounds, err := strconv.Atoi(os.Getenv("ROUNDS"))
	if err != nil || rounds < 1 {
		rounds = 1
	}
	host, port, addr := os.Getenv("HOST"), os.Getenv("PORT"), os.Getenv("ADDR4")
	peerPrintf("READY")
	send := func(rrs ...string) error {
		m := new(dns.Msg)
		m.Response, m.Authoritative = true, true
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				return err
			}
			m.Answer = append(m.Answer, rr)
		}
		return conn.SendMulticast(ctx, m, 0, mdns.IPv4)
	}
	records := func(inst string) []string {
		q := dnsQuote(inst)
		return []string{
			"_timezone._tcp.local. 4500 IN PTR " + q,
			q + " 120 IN SRV 0 0 " + port + " " + host,
			q + ` 4500 IN TXT "path=/split"`,
			host + " 120 IN A " + addr,
		}
	}
	for i := range rounds {
		if i > 0 {
			time.Sleep(time.Second)
		}
		for _, rr := range records(os.Getenv("NAME")) {
			if err := send(rr); err != nil {
				peerPrintf("FATAL %v", err)
				return 1
			}
			time.Sleep(50 * time.Millisecond)
		}
		peerPrintf("SENT %d", i+1)
	}
	if err := send(records(os.Getenv("CONTROL"))...); err != nil {
		peerPrintf("FATAL %v", err)
		return 1
	}
	peerPrintf("DONE")
	return 0
}

// dnsQuote escapes the spaces of a domain name for dns.NewRR's zone syntax.
func dnsQuote(name string) string { return strings.ReplaceAll(name, " ", `\ `) }

var gcEntryRE = regexp.MustCompile(`^ENTRY `)

// gcEntries parses every ENTRY line printed so far by a grandcat-browse.
func gcEntries(t *testing.T, p *lantest.Proc) []gcEntry {
	t.Helper()
	var out []gcEntry
	for _, l := range p.Lines() {
		if !gcEntryRE.MatchString(l) {
			continue
		}
		var e gcEntry
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(l, "ENTRY ")), &e), "line %q", l)
		out = append(out, e)
	}
	return out
}

// waitGC waits for an ENTRY of the grandcat-browse helper for instance.
func waitGC(ctx context.Context, p *lantest.Proc, instance string) (gcEntry, error) {
	var e gcEntry
	_, err := p.WaitLine(ctx, func(l string) bool {
		rest, ok := strings.CutPrefix(l, "ENTRY ")
		return ok && json.Unmarshal([]byte(rest), &e) == nil && e.Instance == instance
	})
	return e, err
}

var readyRE = regexp.MustCompile(`^READY`)

// waitReady waits for a helper's READY line.
func waitReady(t *testing.T, p *lantest.Proc) {
	t.Helper()
	_, err := p.WaitFor(lantest.Context(t, 20*time.Second), readyRE)
	require.NoError(t, err, "helper output:\n%v", p.Lines())
}

// TestGrandcatBrowsesLansd: grandcat's Browse finds lansd's instance with
// the right host, port, TXT and address (the instance label escaped as in
// DNS presentation format: "Lansd\ GC"); after lansd's goodbye (which a
// lansd browse on the same host reports as a removal) grandcat reports
// nothing: v1.0.0 drops the entry silently (its mainloop deletes TTL-0
// entries without telling the caller).
func TestGrandcatBrowsesLansd(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 60*time.Second)

	gc := h2.Helper(t, "grandcat-browse", "DURATION=40s")
	waitReady(t, gc)
	br := startBrowse(t, h2)
	lansd, ann := startAnnounce(t, h1, "Lansd GC", 8080, "path=/tz")
	require.Equal(t, "Lansd GC._timezone._tcp.local.", ann.Name)

	// grandcat gives the instance label in DNS presentation form, the space
	// escaped (it cuts the service name off the PTR target's String()).
	e, err := waitGC(ctx, gc, `Lansd\ GC`)
	require.NoError(t, err, "grandcat output:\n%v", gc.Lines())
	assert.Equal(t, "h1.local.", e.Host)
	assert.Equal(t, 8080, e.Port)
	assert.Equal(t, []string{"path=/tz"}, e.Text)
	assert.Contains(t, e.IPv4, h1.IPv4.String())
	_, err = clitest.WaitEvent(ctx, br, "add", "Lansd GC", nil)
	require.NoError(t, err)

	stopAnnounce(t, lansd)
	_, err = clitest.WaitEvent(ctx, br, "remove", "Lansd GC", nil)
	require.NoError(t, err, "lansd browse on the grandcat host saw no goodbye:\n%v", br.Lines())
	// The goodbye has reached h2; give grandcat a moment to say anything.
	time.Sleep(time.Second)
	entries := gcEntries(t, gc)
	require.Len(t, entries, 1, "grandcat v1.0.0 reported something after lansd's goodbye (a change in its behaviour): %v", entries)
	assert.Equal(t, `Lansd\ GC`, entries[0].Instance)
	assert.NotZero(t, entries[0].TTL)
}

// TestLansdBrowsesGrandcat: lansd browse finds grandcat's registered
// instance, reports its SetText as an update, and reports the removal when
// grandcat shuts down (it sends TTL-0 records).
func TestLansdBrowsesGrandcat(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 60*time.Second)

	br := startBrowse(t, h2)
	gc := h1.Helper(t, "grandcat-register", "NAME=GC Svc", "PORT=8085", `TXT=["path=/gc"]`)
	waitReady(t, gc)

	add, err := clitest.WaitEvent(ctx, br, "add", "GC Svc", nil)
	require.NoError(t, err, "lansd browse:\n%v", br.Lines())
	assert.Equal(t, uint16(8085), add.Port)
	assert.Equal(t, "h1.local.", add.Host)
	assert.Equal(t, `"path=/gc"`, add.TXT.String())
	requireHasAddr(t, add.Addrs, h1.IPv4.String())

	require.NoError(t, gc.WriteLine("TXT path=/gc2 v=2"))
	upd, err := clitest.WaitEvent(ctx, br, "update", "GC Svc", func(e clitest.Event) bool { return e.TXTValue("path") == "/gc2" })
	require.NoError(t, err, "lansd browse saw no update after grandcat's SetText:\n%v", br.Lines())
	assert.Equal(t, `"path=/gc2" "v=2"`, upd.TXT.String())

	require.NoError(t, gc.WriteLine("QUIT"))
	_, err = clitest.WaitEvent(ctx, br, "remove", "GC Svc", nil)
	require.NoError(t, err, "lansd browse saw no removal after grandcat's Shutdown:\n%v", br.Lines())
}

// TestGrandcatSplitPackets: an instance whose PTR, SRV, TXT and A records
// arrive in separate packets is found by lansd browse, but not by grandcat
// (v1.0.0 assembles an entry from one message at a time), within 5 s and
// three rounds of announcements; a control instance sent in one packet
// right after is found by both, proving grandcat was listening.
func TestGrandcatSplitPackets(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(3))
	h1, h2, h3 := lan.Host(1), lan.Host(2), lan.Host(3)
	ctx := lantest.Context(t, 60*time.Second)

	gc := h2.Helper(t, "grandcat-browse", "DURATION=30s")
	waitReady(t, gc)
	br := startBrowse(t, h3)
	// lansd browse is ready once it has sent its first query; give it that.
	time.Sleep(500 * time.Millisecond)

	start := time.Now()
	raw := h1.Helper(t, "raw-split", "NAME=Split._timezone._tcp.local.", "CONTROL=Whole._timezone._tcp.local.",
		"HOST=rawhost.local.", "PORT=8086", "ADDR4="+h1.IPv4.String(), "ROUNDS=3")
	add, err := clitest.WaitEvent(lantest.Context(t, 5*time.Second), br, "add", "Split", nil)
	require.NoError(t, err, "lansd browse did not assemble the split instance:\n%v", br.Lines())
	assert.Equal(t, uint16(8086), add.Port)
	assert.Equal(t, "rawhost.local.", add.Host)
	assert.Equal(t, `"path=/split"`, add.TXT.String())
	requireHasAddr(t, add.Addrs, h1.IPv4.String())

	_, err = raw.WaitFor(ctx, regexp.MustCompile(`^DONE`))
	require.NoError(t, err, "raw-split:\n%v", raw.Lines())
	_, err = waitGC(lantest.Context(t, 5*time.Second), gc, "Whole")
	require.NoError(t, err, "grandcat did not find the control instance sent in one packet:\n%v", gc.Lines())
	_, err = clitest.WaitEvent(lantest.Context(t, 5*time.Second), br, "add", "Whole", nil)
	require.NoError(t, err)
	if d := time.Until(start.Add(5 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	for _, e := range gcEntries(t, gc) {
		assert.NotEqual(t, "Split", e.Instance, "grandcat v1.0.0 now resolves records sent in separate packets (a change in its behaviour): %+v", e)
	}
}

// TestGrandcatTakesLansdName: grandcat does not probe, so registering a
// name lansd already announces makes lansd see a conflicting SRV/TXT with
// the cache-flush bit; lansd then probes again (RFC 6762 section 9), loses,
// and renames itself to "NAME (2)".
func TestGrandcatTakesLansdName(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ctx := lantest.Context(t, 60*time.Second)

	lansd, ann := startAnnounce(t, h1, "Clash GC", 8080, "path=/tz")
	require.Equal(t, "Clash GC._timezone._tcp.local.", ann.Name)
	gc := h2.Helper(t, "grandcat-register", "NAME=Clash GC", "PORT=8087", `TXT=["path=/gc"]`)
	waitReady(t, gc)
	line, err := lansd.WaitFor(ctx, regexp.MustCompile(`^renamed "Clash GC\._timezone\._tcp\.local\." -> "Clash GC \(2\)\._timezone\._tcp\.local\."`))
	require.NoError(t, err, "lansd announce did not rename:\n%v", lansd.Lines())
	t.Logf("lansd: %s", line)
}
