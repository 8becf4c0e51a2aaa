package e2e

// End-to-end tests of lansd browse, lansd resolve and the browse library on
// virtual LANs. Host hK has 198.51.100.(10+K) and fe80::K on lan0.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
)

const (
	brGoodHash = "5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	brGoodSalt = "f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
	brGoodUUID = "db61dc092922252e45bbb264f59147138c7fd5fa"
)

// An instance announced by the lansd binary in another namespace is found
// with its addresses (IPv4 and IPv6 merged), port, TXT record and verdict,
// in the three output formats; lansd resolve finds it, and fails with a
// clear message for a name nobody has.
func TestBrowseLansdAnnounce(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ann := clitest.Start(t, h2, "announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--txt", "path=/tz")
	brAnnounced(t, ctx, ann)

	js := clitest.Start(t, h1, "browse", "timezone", "--json")
	human := clitest.Start(t, h1, "browse", "timezone")
	parsable := clitest.Start(t, h1, "browse", "timezone", "--parsable")

	ev, err := clitest.WaitEvent(ctx, js, "add", "Office TZ", nil)
	require.NoError(t, err)
	assert.Equal(t, "_timezone._tcp", ev.Service)
	assert.Equal(t, "local.", ev.Domain)
	assert.Equal(t, "h2.local.", ev.Host)
	assert.Equal(t, uint16(8080), ev.Port)
	assert.Equal(t, `"path=/tz"`, ev.TXT.String())
	assert.Equal(t, []string{"lan0"}, ev.Iface)
	assert.True(t, ev.Conforms)
	assert.Empty(t, ev.Findings)
	assert.Equal(t, "Office TZ._timezone._tcp.local.", ev.Name)
	// Both families' addresses, in one instance (once both have arrived).
	if !slices.Contains(ev.Addrs, "fe80::2%lan0") {
		ev, err = clitest.WaitEvent(ctx, js, "update", "Office TZ", nil)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"198.51.100.12", "fe80::2%lan0"}, ev.Addrs)

	line, err := human.WaitFor(ctx, regexp.MustCompile(`^\+ Office TZ  `))
	require.NoError(t, err)
	assert.Regexp(t, `^\+ Office TZ  _timezone\._tcp  h2\.local\.:8080  198\.51\.100\.12( fe80::2%lan0)?  "path=/tz"  ✓$`, line)
	// One line per family the PTR record arrived on, with an address of
	// that family.
	_, err = parsable.WaitFor(ctx, regexp.MustCompile(`^=;lan0;IPv(4;Office\\032TZ;_timezone\._tcp;local;h2\.local;198\.51\.100\.12|6;Office\\032TZ;_timezone\._tcp;local;h2\.local;fe80::2);8080;"path=/tz"$`))
	require.NoError(t, err, "%q", parsable.Lines())
	_, err = parsable.WaitFor(ctx, regexp.MustCompile(`^\+;lan0;IPv[46];Office\\032TZ;_timezone\._tcp;local$`))
	require.NoError(t, err)

	res := clitest.Start(t, h1, "resolve", "Office TZ._timezone._tcp.local.")
	require.Equal(t, 0, brExitCode(t, ctx, res), "%q", res.Lines())
	assert.Regexp(t, `^= Office TZ  _timezone\._tcp  h2\.local\.:8080  198\.51\.100\.12.*  "path=/tz"  ✓$`, res.Lines()[0])
	resJSON := clitest.Start(t, h1, "resolve", "Office TZ._timezone._tcp", "--json")
	require.Equal(t, 0, brExitCode(t, ctx, resJSON))
	got, err := clitest.Decode(resJSON.Lines()[0])
	require.NoError(t, err)
	assert.Equal(t, "resolved", got.Event)
	assert.Equal(t, uint16(8080), got.Port)

	missing := clitest.Start(t, h1, "resolve", "Nobody._timezone._tcp.local.", "--timeout", "1500ms")
	assert.Equal(t, 1, brExitCode(t, ctx, missing))
	assert.Contains(t, strings.Join(missing.Lines(), "\n"),
		`lansd resolve: browse: resolving "Nobody._timezone._tcp.local.": no SRV record, no TXT record, no address (no SRV target yet): context deadline exceeded`)

	// README material.
	time.Sleep(500 * time.Millisecond)
	t.Logf("lansd browse timezone:\n%s", strings.Join(human.Lines(), "\n"))
	t.Logf("lansd browse timezone --json:\n%s", strings.Join(js.Lines(), "\n"))
	t.Logf("lansd browse timezone --parsable:\n%s", strings.Join(parsable.Lines(), "\n"))
	t.Logf("lansd resolve \"Office TZ._timezone._tcp.local.\":\n%s", strings.Join(res.Lines(), "\n"))
	t.Logf("lansd resolve \"Office TZ._timezone._tcp\" --json:\n%s", strings.Join(resJSON.Lines(), "\n"))
	t.Logf("lansd resolve Nobody._timezone._tcp.local. --timeout 1500ms:\n%s", strings.Join(missing.Lines(), "\n"))

	// SIGTERM: the announcer says goodbye; every browser removes the
	// instance one second later (RFC 6762 section 10.1). Bound: 2 s, plus
	// a second of slack for a loaded machine.
	sent := time.Now()
	require.NoError(t, ann.Signal(syscall.SIGTERM))
	rmCtx := lantest.Context(t, 3*time.Second)
	rm, err := clitest.WaitEvent(rmCtx, js, "remove", "Office TZ", nil)
	require.NoError(t, err)
	took := time.Since(sent)
	assert.GreaterOrEqual(t, took, 900*time.Millisecond, "a goodbye removes after one second, not at once")
	assert.LessOrEqual(t, took, 2*time.Second, "remove within 2 s of SIGTERM")
	t.Logf("remove %v after SIGTERM", took)
	assert.Equal(t, uint16(8080), rm.Port, "remove carries the last state")
	_, err = human.WaitFor(rmCtx, regexp.MustCompile(`^- Office TZ  _timezone\._tcp  h2\.local\.:8080$`))
	require.NoError(t, err)
	_, err = parsable.WaitFor(rmCtx, regexp.MustCompile(`^-;lan0;IPv[46];Office\\032TZ;_timezone\._tcp;local$`))
	require.NoError(t, err)
}

// An instance whose PTR, SRV, TXT and A records come in four packets, a
// second apart, is found once the last arrives; meanwhile the browser asks
// for what is missing (observed on the wire).
func TestBrowseRecordsInFourPackets(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	obs := lan.Observe(t)
	raw := h2.Helper(t, "browse-raw")
	brReady(t, ctx, raw)
	br := clitest.Start(t, h1, "browse", "timezone", "--json")
	time.Sleep(300 * time.Millisecond)

	name := `Raw\ TZ._timezone._tcp.local.`
	packets := []dns.RR{
		brRR(t, `_timezone._tcp.local. 4500 IN PTR `+name),
		brFlush(brRR(t, name+` 120 IN SRV 0 0 8081 rawhost.local.`)),
		brFlush(brRR(t, name+` 4500 IN TXT "path=/raw"`)),
		brFlush(brRR(t, `rawhost.local. 120 IN A 198.51.100.12`)),
	}
	for i, rr := range packets {
		brSend(t, ctx, raw, i+1, brResponse(rr))
		if i < len(packets)-1 {
			time.Sleep(time.Second)
			assert.Empty(t, clitest.Events(t, br.Lines()), "incomplete after packet %d", i+1)
		}
	}
	ev, err := clitest.WaitEvent(ctx, br, "add", "Raw TZ", nil)
	require.NoError(t, err)
	assert.Equal(t, uint16(8081), ev.Port)
	assert.Equal(t, "rawhost.local.", ev.Host)
	assert.Equal(t, []string{"198.51.100.12"}, ev.Addrs)
	assert.Equal(t, `"path=/raw"`, ev.TXT.String())
	assert.True(t, ev.Conforms)

	// The browser (198.51.100.11) asked for the SRV and TXT records and for
	// the target's addresses.
	asked := func(qname string, qtype uint16) bool {
		for _, c := range obs.Packets() {
			if c.Src.Addr().String() != "198.51.100.11" || c.Msg == nil || c.Msg.Response {
				continue
			}
			for _, q := range c.Msg.Question {
				if q.Qtype == qtype && dnsname.Equal(q.Name, qname) {
					return true
				}
			}
		}
		return false
	}
	assert.True(t, asked(name, dns.TypeSRV), "SRV asked for")
	assert.True(t, asked(name, dns.TypeTXT), "TXT asked for")
	assert.True(t, asked("rawhost.local.", dns.TypeA), "A of the target asked for")
	assert.Empty(t, obs.Errors())
}

// A TXT change announced with Handle.UpdateTXT is one update event.
func TestBrowseTXTUpdate(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	resp := h2.Helper(t, "browse-responder", "COUNT=1", "PREFIX=Upd", "HOSTLABEL=h2")
	brReady(t, ctx, resp)
	br := clitest.Start(t, h1, "browse", "timezone", "--json")
	ev, err := clitest.WaitEvent(ctx, br, "add", "Upd-00", nil)
	require.NoError(t, err)
	assert.Equal(t, `"path=/00"`, ev.TXT.String())

	require.NoError(t, resp.WriteLine("TXT 0 path=/new extra=1"))
	_, err = resp.WaitFor(ctx, regexp.MustCompile(`^UPDATED 0$`))
	require.NoError(t, err)
	up, err := clitest.WaitEvent(ctx, br, "update", "Upd-00", nil)
	require.NoError(t, err)
	assert.Equal(t, `"path=/new" "extra=1"`, up.TXT.String())
	assert.True(t, up.Conforms, "an undefined key is a warning only")
	require.NotEmpty(t, up.Findings)
	assert.Equal(t, "extra", up.Findings[0].Key)
	assert.Equal(t, "warning", up.Findings[0].Severity)

	// The old record is flushed a second later: no further event.
	time.Sleep(2 * time.Second)
	var kinds []string
	for _, e := range clitest.Events(t, br.Lines()) {
		kinds = append(kinds, e.Event)
	}
	assert.Equal(t, []string{"add", "update"}, kinds)
}

// A responder killed with SIGKILL sends no goodbye: its instance is removed
// when its records expire (TTL 3 s). While it lived, refresh queries at
// 80-95% of the TTL kept the instance (RFC 6762 section 5.2).
func TestBrowseSIGKILLExpires(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	resp := h2.Helper(t, "browse-responder", "COUNT=1", "PREFIX=Short", "HOSTLABEL=h2", "TTL=3s")
	brReady(t, ctx, resp)
	br := clitest.Start(t, h1, "browse", "timezone", "--json")
	ev, err := clitest.WaitEvent(ctx, br, "add", "Short-00", nil)
	require.NoError(t, err)
	assert.Equal(t, int64(3), ev.TTL)

	// Alive for three TTLs: refreshed, never removed.
	time.Sleep(9 * time.Second)
	for _, e := range clitest.Events(t, br.Lines()) {
		require.NotEqual(t, "remove", e.Event, "removed while the responder answers refresh queries")
	}
	killed := time.Now()
	require.NoError(t, resp.Signal(syscall.SIGKILL))
	_, err = clitest.WaitEvent(lantest.Context(t, 6*time.Second), br, "remove", "Short-00", nil)
	require.NoError(t, err)
	took := time.Since(killed)
	t.Logf("remove %v after SIGKILL (TTL 3 s)", took)
	assert.LessOrEqual(t, took, 5*time.Second, "removed at TTL expiry")
}

// A jnx-kcsync instance whose hash has 39 hex digits (announced with
// --no-validate) is reported with its finding; --strict exits 1.
func TestBrowseNonConforming(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ann := clitest.Start(t, h2, "announce", "--service", "jnx-kcsync", "--name", "Bad Sync", "--port", "9",
		"--txt", "hash="+brGoodHash[:39], "--txt", "salt="+brGoodSalt, "--txt", "uuid="+brGoodUUID, "--no-validate")
	brAnnounced(t, ctx, ann)

	strict := clitest.Start(t, h1, "browse", "jnx-kcsync", "--json", "--strict", "--once")
	human := clitest.Start(t, h1, "browse", "jnx-kcsync", "--once")
	assert.Equal(t, 1, brExitCode(t, ctx, strict), "%q", strict.Lines())
	assert.Equal(t, 0, brExitCode(t, ctx, human), "without --strict a finding is reported, not fatal")

	evs := clitest.Events(t, strict.Lines())
	require.NotEmpty(t, evs)
	ev := evs[0]
	assert.Equal(t, "Bad Sync", ev.Instance)
	assert.False(t, ev.Conforms)
	require.NotEmpty(t, ev.Findings)
	f := ev.Findings[0]
	assert.Equal(t, "hash", f.Key)
	assert.Equal(t, "error", f.Severity)
	assert.Equal(t, "jnx-kcsync: hash=<40hex characters>", f.Rule)

	out := strings.Join(human.Lines(), "\n")
	assert.Regexp(t, `(?m)^\+ Bad Sync  _jnx-kcsync\._tcp  h2\.local\.:9  .*  ✗$`, out)
	assert.Regexp(t, `(?m)^    error: key "hash" at offset 0: .*\(jnx-kcsync: hash=<40hex characters>\)$`, out)
	t.Logf("lansd browse jnx-kcsync --once:\n%s", out)
}

// 200 instances from 4 namespaces are all found; the browser's known-answer
// lists then no longer fit one packet and are sent with the TC bit and
// continued in further packets (RFC 6762 section 7.2), seen on the wire.
func TestBrowse200Instances(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 80*time.Second)
	lan := lantest.New(t, lantest.Hosts(5))
	obs := lan.Observe(t)
	var resps []*lantest.Proc
	for k := 2; k <= 5; k++ {
		h := lan.Host(k)
		resps = append(resps, h.Helper(t, "browse-responder", "COUNT=50", "PREFIX=svc-"+h.Name, "HOSTLABEL="+h.Name))
	}
	for _, r := range resps {
		brReady(t, ctx, r)
	}
	br := clitest.Start(t, lan.Host(1), "browse", "timezone", "--json")
	lines, err := br.WaitForN(ctx, regexp.MustCompile(`^\{"event":"add",`), 200)
	require.NoError(t, err, "%d adds", len(lines))
	seen := map[string]bool{}
	for _, l := range lines {
		ev, err := clitest.Decode(l)
		require.NoError(t, err)
		seen[ev.Instance] = true
		assert.True(t, ev.Conforms, ev.Instance)
		assert.NotEmpty(t, ev.Addrs, ev.Instance)
	}
	assert.Len(t, seen, 200)
	for k := 2; k <= 5; k++ {
		for i := range 50 {
			assert.True(t, seen[fmt.Sprintf("svc-h%d-%02d", k, i)], "svc-h%d-%02d", k, i)
		}
	}

	// A query from the browser with TC set and known answers, followed by a
	// packet of known answers only.
	from := lan.Host(1).IPv4.String()
	isQuery := func(c lantest.Captured) bool {
		return c.Src.Addr().String() == from && c.Msg != nil && !c.Msg.Response
	}
	tc, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
		return isQuery(c) && c.Msg.Truncated && len(c.Msg.Question) > 0 && len(c.Msg.Answer) > 0
	})
	require.NoError(t, err)
	cont, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
		return isQuery(c) && c.Time.After(tc.Time) && len(c.Msg.Question) == 0 && len(c.Msg.Answer) > 0
	})
	require.NoError(t, err)
	assert.Less(t, cont.Time.Sub(tc.Time), time.Second)
	assert.LessOrEqual(t, tc.Size, 1472, "fits the MTU")
	n := len(tc.Msg.Answer) + len(cont.Msg.Answer)
	t.Logf("truncated query: %d known answers in %d bytes, continued with %d", len(tc.Msg.Answer), tc.Size, len(cont.Msg.Answer))
	assert.Greater(t, n, 50)
	for _, e := range clitest.Events(t, br.Lines()) {
		assert.NotEqual(t, "remove", e.Event, e.Instance)
	}
}

// The library's Browse, Resolve, Enumerate and a closed Browser leave no
// goroutine behind (a helper process counts them before and after).
func TestBrowseLibraryNoGoroutineLeak(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	ann := clitest.Start(t, h2, "announce", "--service", "timezone", "--name", "Lib TZ", "--port", "8080", "--txt", "path=/tz")
	brAnnounced(t, ctx, ann)
	lib := h1.Helper(t, "browse-library", "INSTANCE=Lib TZ._timezone._tcp.local.")
	line, err := lib.WaitFor(ctx, regexp.MustCompile(`^RESULT `))
	require.NoError(t, err, "%q", lib.Lines())
	var res brLibraryResult
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &res))
	assert.Equal(t, 1, res.Adds)
	assert.Empty(t, res.BrowseErr)
	assert.Empty(t, res.ResolveErr)
	assert.Contains(t, res.Resolved, "Lib TZ._timezone._tcp.local. h2.local.:8080 [198.51.100.12")
	assert.Contains(t, res.Missing, "no SRV record")
	assert.Contains(t, res.Types, "_timezone._tcp")
	assert.Empty(t, res.EnumerateErr)
	assert.LessOrEqual(t, res.After, res.Before, "goroutines left:\n%s", res.Stack)
	t.Logf("goroutines before %d, after %d", res.Before, res.After)
}

// Port 5353 shared in one namespace: a lansd announce and two lansd
// browse processes on h1, another announcer on h2. Both browsers find both
// instances (the local one by multicast loopback).
func TestBrowseSharedPort(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	local := clitest.Start(t, h1, "announce", "--service", "timezone", "--name", "Local TZ", "--port", "8001", "--txt", "path=/l")
	remote := clitest.Start(t, h2, "announce", "--service", "timezone", "--name", "Remote TZ", "--port", "8002", "--txt", "path=/r")
	brAnnounced(t, ctx, local)
	brAnnounced(t, ctx, remote)
	b1 := clitest.Start(t, h1, "browse", "timezone", "--json")
	b2 := clitest.Start(t, h1, "browse", "timezone", "--json")
	for _, b := range []*lantest.Proc{b1, b2} {
		l, err := clitest.WaitEvent(ctx, b, "add", "Local TZ", nil)
		require.NoError(t, err)
		assert.Equal(t, uint16(8001), l.Port)
		assert.Contains(t, l.Addrs, "198.51.100.11")
		r, err := clitest.WaitEvent(ctx, b, "add", "Remote TZ", nil)
		require.NoError(t, err)
		assert.Equal(t, uint16(8002), r.Port)
		assert.Contains(t, r.Addrs, "198.51.100.12")
	}
	// A resolve started now, with three other sockets on the port.
	res := clitest.Start(t, h1, "resolve", "Remote TZ._timezone._tcp", "--json")
	require.Equal(t, 0, brExitCode(t, ctx, res), "%q", res.Lines())
}

// --all enumerates the types and browses each; --subtype browses a
// subtype; --once ends the run.
func TestBrowseAllAndSubtype(t *testing.T) {
	t.Parallel()
	ctx := lantest.Context(t, 60*time.Second)
	lan := lantest.New(t, lantest.Hosts(2))
	h1, h2 := lan.Host(1), lan.Host(2)
	tz := clitest.Start(t, h2, "announce", "--service", "timezone", "--name", "Office TZ", "--port", "8080", "--txt", "path=/tz")
	pr := clitest.Start(t, h2, "announce", "--service", "_http._tcp", "--name", "Printer", "--port", "631",
		"--subtype", "_printer", "--txt", "path=/", "--hostname", "h2p")
	plain := clitest.Start(t, h2, "announce", "--service", "_http._tcp", "--name", "Web", "--port", "80",
		"--txt", "path=/", "--hostname", "h2w")
	for _, p := range []*lantest.Proc{tz, pr, plain} {
		brAnnounced(t, ctx, p)
	}
	all := clitest.Start(t, h1, "browse", "--all", "--json", "--once")
	sub := clitest.Start(t, h1, "browse", "_http._tcp", "--subtype", "_printer", "--json", "--once")
	require.Equal(t, 0, brExitCode(t, ctx, all), "%q", all.Lines())
	require.Equal(t, 0, brExitCode(t, ctx, sub), "%q", sub.Lines())
	names := func(p *lantest.Proc) []string {
		var out []string
		for _, e := range clitest.Events(t, p.Lines()) {
			if e.Event == "add" {
				out = append(out, e.Instance+" "+e.Service)
			}
		}
		slices.Sort(out)
		return out
	}
	assert.Equal(t, []string{"Office TZ _timezone._tcp", "Printer _http._tcp", "Web _http._tcp"}, names(all))
	assert.Equal(t, []string{"Printer _http._tcp"}, names(sub))
}
