package interop

// lansd gateway (issue 13) with real peers on three links: Avahi and
// python-zeroconf announce on A, browse and hold names on B; C has a rule
// for another type only and shows that nothing crosses without one.
//
//	A 198.18.1.0/24: h1 avahi-daemon (avahi-publish), h2 the gateway
//	  (lan0), h3 python-zeroconf (register)
//	B 198.18.2.0/24: h1 python-zeroconf browser, h2 avahi-daemon
//	  (avahi-browse, avahi-publish), h3 python-zeroconf (register); the
//	  gateway as gwb 198.18.2.200
//	C 198.18.3.0/24: h1 lansd browse (the types of A -> B), h2 lansd
//	  browse _http._tcp; the gateway as gwc 198.18.3.200
//
// The rules: A -> B for timezone and jnx-kcsync, conforming TXT only; A ->
// C for _http._tcp only. One set of LANs, daemons, browsers and one
// gateway serve every subtest; each subtest uses its own instance names.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/avahitest"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
)

// The TXT records of _jnx-kcsync._tcp instances: the registry's rule
// wants hash=<40 hex digits>; gwBadHash has 39 (lansd validate --service
// jnx-kcsync says "found 39 hex digits, want exactly 40").
const (
	gwGoodHash = "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	gwBadHash  = "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f"
	gwSalt     = "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
)

// gwRemovalBound is the bound from the source's goodbye to the
// removal at a browser on the destination link. Measured at 2.00 s for
// avahi-browse while the gateway's browser keeps a goodbye's records one
// second (RFC 6762 section 10.1) before it withdraws the proxy, whose
// goodbye Avahi keeps one more second; python-zeroconf removes at the
// proxy's goodbye (1.00 s).
const gwRemovalBound = 2 * time.Second

// gwEvent is one line of lansd gateway --json.
type gwEvent struct {
	Event    string    `json:"event"`
	Instance string    `json:"instance"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Rule     int       `json:"rule"`
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
}

// gwEvents returns the gateway's --json events so far.
func gwEvents(p *lantest.Proc) []gwEvent {
	var evs []gwEvent
	for _, l := range p.Lines() {
		var e gwEvent
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &e) == nil && e.Event != "" {
			evs = append(evs, e)
		}
	}
	return evs
}

// gwWaitEvent waits for an event of kind (or of one of also) about the
// full instance name going to the link to, and returns the first.
func gwWaitEvent(ctx context.Context, p *lantest.Proc, kind, name, to string, also ...string) (gwEvent, error) {
	var ev gwEvent
	kinds := append([]string{kind}, also...)
	_, err := p.WaitLine(ctx, func(l string) bool {
		var e gwEvent
		if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &e) != nil {
			return false
		}
		if !slices.Contains(kinds, e.Event) || e.Instance != name || e.To != to {
			return false
		}
		ev = e
		return true
	})
	if err != nil {
		return ev, fmt.Errorf("no %s event for %q to %s from the gateway: %w", strings.Join(kinds, "/"), name, to, err)
	}
	return ev, nil
}

// gwNet is the three links, their peers and the gateway.
type gwNet struct {
	a, b, c    *lantest.LAN
	gw         *lantest.Host
	gwB, gwC   lantest.Link
	g          *lantest.Proc            // lansd gateway --json -v on A's h2
	obsA, obsC *lantest.Observer        // captures on A's and C's bridges
	avA, avB   *avahitest.Host          // avahi hosts: A's h1, B's h2
	daemonA    *lantest.Proc            // avahi-daemon on A's h1
	daemonB    *lantest.Proc            // avahi-daemon on B's h2
	pyB        *lantest.Proc            // python-zeroconf browser of _timezone._tcp on B's h1
	abB        map[string]*lantest.Proc // avahi-browse on B's h2, by type
	brC        *lantest.Proc            // lansd browse timezone jnx-kcsync on C's h1
	brCWeb     *lantest.Proc            // lansd browse _http._tcp on C's h2
}

// gwConfigText is the gateway's configuration: rules[0] A -> B, rules[1]
// A -> C.
const gwConfigText = `{
  "links": {
    "a": {"interfaces": ["lan0"]},
    "b": {"interfaces": ["gwb"]},
    "c": {"interfaces": ["gwc"]}
  },
  "rules": [
    {"from": ["a"], "to": ["b"], "types": ["timezone", "jnx-kcsync"], "conformance": "conforming"},
    {"from": ["a"], "to": ["c"], "types": ["_http._tcp"]}
  ]
}`

// startGWNet builds the links, starts the peers' daemons and browsers and
// the gateway.
func startGWNet(t *testing.T) *gwNet {
	t.Helper()
	n := &gwNet{
		a: lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.1.0/24"))),
		b: lantest.New(t, lantest.Hosts(3), lantest.Subnet(netip.MustParsePrefix("198.18.2.0/24"))),
		c: lantest.New(t, lantest.Hosts(2), lantest.Subnet(netip.MustParsePrefix("198.18.3.0/24"))),
	}
	n.gw = n.a.Host(2)
	n.gwB = n.b.Join(t, n.gw, "gwb", netip.MustParseAddr("198.18.2.200"))
	n.gwC = n.c.Join(t, n.gw, "gwc", netip.MustParseAddr("198.18.3.200"))
	n.obsA = n.a.Observe(t)
	n.obsC = n.c.Observe(t)

	n.avA = avahitest.StartBus(t, n.a.Host(1))
	n.daemonA = n.avA.StartDaemon(t, nil)
	n.avB = avahitest.StartBus(t, n.b.Host(2))
	n.daemonB = n.avB.StartDaemon(t, nil)
	n.abB = map[string]*lantest.Proc{}
	for _, typ := range []string{"_timezone._tcp", "_jnx-kcsync._tcp", "_http._tcp"} {
		n.abB[typ] = n.avB.Browse(t, typ)
	}
	n.pyB = startPy(t, n.b.Host(1), "browse", "--type", pyType)
	n.brC = clitest.Start(t, n.c.Host(1), "browse", "timezone", "jnx-kcsync", "--json", "--iface", lantest.Iface)
	n.brCWeb = clitest.Start(t, n.c.Host(2), "browse", "_http._tcp", "--json", "--iface", lantest.Iface)

	cfg := filepath.Join(t.TempDir(), "gateway.json")
	require.NoError(t, os.WriteFile(cfg, []byte(gwConfigText), 0o644))
	n.g = clitest.Start(t, n.gw, "gateway", "--config", cfg, "--json", "--hostname", "gw", "-v")

	ctx := lantest.Context(t, 20*time.Second)
	_, err := waitPy(ctx, n.pyB, "ready", "")
	require.NoError(t, err, "pyzc.py browse:\n%v", n.pyB.Lines())
	return n
}

// requireGWPeers skips (or fails) the test when Avahi or python-zeroconf is
// missing.
func requireGWPeers(t *testing.T) {
	t.Helper()
	requireAvahi(t)
	requirePython(t)
}

// fullName is the instance's full name in DNS presentation form.
func fullName(instance, typ string) string {
	return dnsname.EscapeLabel(instance) + "." + typ + ".local."
}

// isPTRFrom reports whether c is an mDNS response from one of src carrying
// the PTR typ -> instance in its answers, with TTL 0 (goodbye) when bye,
// with a TTL above 0 otherwise.
func isPTRFrom(c lantest.Captured, src []netip.Addr, instance, typ string, bye bool) bool {
	if c.Msg == nil || !c.Msg.Response || !slices.Contains(src, c.Src.Addr()) {
		return false
	}
	for _, rr := range c.Msg.Answer {
		p, ok := rr.(*dns.PTR)
		if !ok || !dnsname.Equal(p.Hdr.Name, typ+".local.") || !dnsname.Equal(p.Ptr, fullName(instance, typ)) {
			continue
		}
		if (p.Hdr.Ttl == 0) == bye {
			return true
		}
	}
	return false
}

// mentions reports whether any record of c (any section) is about typ:
// its owner name or data holds typ's labels.
func mentions(c lantest.Captured, typ string) bool {
	if c.Msg == nil {
		return false
	}
	typ = strings.ToLower(typ)
	for _, sec := range [][]dns.RR{c.Msg.Answer, c.Msg.Ns, c.Msg.Extra} {
		for _, rr := range sec {
			if strings.Contains(strings.ToLower(rr.String()), typ) {
				return true
			}
		}
	}
	return false
}

// stamp is a line a process printed and when the test saw it.
type stamp struct {
	line string
	at   time.Time
	err  error
	done chan struct{}
}

// watch waits in the background for the first line of p (past or future)
// that match accepts, and stamps it with the time it was seen.
func watch(ctx context.Context, p *lantest.Proc, match func(string) bool) *stamp {
	s := &stamp{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.line, s.err = p.WaitLine(ctx, match)
		s.at = time.Now()
	}()
	return s
}

// wait returns the stamp once its line was seen (or the wait failed).
func (s *stamp) wait() (string, time.Time, error) {
	<-s.done
	return s.line, s.at, s.err
}

// pyLine matches a pyzc.py event of kind for the full name.
func pyLine(kind, name string) func(string) bool {
	return func(l string) bool {
		var e pyEvent
		return json.Unmarshal([]byte(l), &e) == nil && e.Event == kind && e.Name == name
	}
}

// avahiLineOf matches an avahi-browse -p line of kind ("+", "=", "-") for
// the instance (and proto, when not "").
func avahiLineOf(kind, instance, proto string) func(string) bool {
	return func(l string) bool {
		a, ok := parseAvahiLine(l)
		return ok && a.Kind == kind && a.Name == instance && (proto == "" || a.Proto == proto)
	}
}

// avahiLinesOf returns the parsed avahi-browse lines of p for instance.
func avahiLinesOf(p *lantest.Proc, instance string) []avahiLine {
	var out []avahiLine
	for _, l := range p.Lines() {
		if a, ok := parseAvahiLine(l); ok && a.Name == instance {
			out = append(out, a)
		}
	}
	return out
}

// pyEventsOf returns the pyzc.py events of p for the full name.
func pyEventsOf(p *lantest.Proc, name string) []pyEvent {
	var out []pyEvent
	for _, l := range p.Lines() {
		var e pyEvent
		if json.Unmarshal([]byte(l), &e) == nil && e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// establishedRE matches avahi-publish's line once its service is up.
var establishedRE = regexp.MustCompile(`^Established under name '(.*)'$`)

// avahiPublish runs avahi-publish on av and waits until its service is
// established; it fails the test unless the name is the one asked for.
func avahiPublish(t *testing.T, ctx context.Context, av *avahitest.Host, name, typ string, port int, txt ...string) *lantest.Proc {
	t.Helper()
	p := av.Publish(t, name, typ, port, txt...)
	l, err := p.WaitFor(ctx, establishedRE)
	require.NoError(t, err, "avahi-publish:\n%v", p.Lines())
	require.Equal(t, name, establishedRE.FindStringSubmatch(l)[1], "avahi-publish renamed its service")
	return p
}

// noRename asserts that no line of p speaks of a name collision or a
// rename (avahi-publish, avahi-daemon, pyzc.py, lansd).
func noRename(t *testing.T, who string, p *lantest.Proc) {
	t.Helper()
	re := regexp.MustCompile(`(?i)collision|conflict|renam|#2|NonUniqueName`)
	for _, l := range p.Lines() {
		assert.False(t, re.MatchString(l), "%s: %q", who, l)
	}
}

// TestGatewayPeers: the gateway between three links with Avahi and
// python-zeroconf as the announcers, browsers and name holders.
func TestGatewayPeers(t *testing.T) {
	requireGWPeers(t)
	n := startGWNet(t)
	ha1, ha3 := n.a.Host(1), n.a.Host(3)

	// An Avahi announcer on A: found on B by python-zeroconf and Avahi,
	// with h1.local. as SRV target and 198.18.1.11 only; removed there
	// within 2 s of its goodbye; not on C (no rule for its type).
	t.Run("AvahiAnnouncerOnA", func(t *testing.T) {
		ctx := lantest.Context(t, 40*time.Second)
		const inst = "Avahi TZ"
		name := inst + "._timezone._tcp.local."
		pyAdd := watch(ctx, n.pyB, pyLine("add", name))
		avRes := watch(ctx, n.abB["_timezone._tcp"], avahiLineOf("=", inst, "IPv4"))
		pub := avahiPublish(t, ctx, n.avA, inst, "_timezone._tcp", 8080, "path=/tz")
		src := []netip.Addr{ha1.IPv4, ha1.LinkLocal}
		ann, err := n.obsA.WaitFor(ctx, func(c lantest.Captured) bool { return isPTRFrom(c, src, inst, "_timezone._tcp", false) })
		require.NoError(t, err)

		pe, err := gwWaitEvent(ctx, n.g, "proxied", name, "b")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		assert.Equal(t, "a", pe.From)
		assert.Equal(t, 0, pe.Rule)
		re, err := gwWaitEvent(ctx, n.g, "refused", name, "c")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		assert.Equal(t, 1, re.Rule)
		assert.Contains(t, re.Reason, "rules[1].types")

		line, at, err := pyAdd.wait()
		require.NoError(t, err, "python-zeroconf on B:\n%v\ngateway:\n%v", n.pyB.Lines(), n.g.Lines())
		var add pyEvent
		require.NoError(t, json.Unmarshal([]byte(line), &add))
		t.Logf("discovery: python-zeroconf on B %v after Avahi's first announcement on A", at.Sub(ann.Time).Round(time.Millisecond))
		assert.Equal(t, "h1.local.", add.Server, "the origin host's name as SRV target")
		assert.Equal(t, []string{ha1.IPv4.String()}, add.Addrs, "the origin's routable address only")
		assert.Equal(t, 8080, add.Port)
		assert.Equal(t, map[string]any{"path": "/tz"}, add.TXT)

		_, at, err = avRes.wait()
		require.NoError(t, err, "avahi-browse on B:\n%v\ngateway:\n%v", n.abB["_timezone._tcp"].Lines(), n.g.Lines())
		t.Logf("discovery: avahi-browse on B %v after Avahi's first announcement on A", at.Sub(ann.Time).Round(time.Millisecond))
		for _, al := range avahiLinesOf(n.abB["_timezone._tcp"], inst) {
			if al.Kind != "=" {
				continue
			}
			assert.Equal(t, "h1.local", al.Host, "%+v", al)
			assert.Equal(t, ha1.IPv4.String(), al.Addr, "the origin's routable address only: %+v", al)
			assert.Equal(t, 8080, al.Port)
			assert.Equal(t, []string{"path=/tz"}, al.TXT)
		}

		// The goodbye: avahi-publish leaves, avahi-daemon sends TTL 0.
		pyRm := watch(ctx, n.pyB, pyLine("remove", name))
		avRm := watch(ctx, n.abB["_timezone._tcp"], avahiLineOf("-", inst, ""))
		require.NoError(t, pub.Signal(syscall.SIGTERM))
		bye, err := n.obsA.WaitFor(ctx, func(c lantest.Captured) bool { return isPTRFrom(c, src, inst, "_timezone._tcp", true) })
		require.NoError(t, err)
		gr, err := gwWaitEvent(ctx, n.g, "removed", name, "b")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		t.Logf("removal: gateway's removed event %v after Avahi's goodbye on A", gr.Time.Sub(bye.Time).Round(time.Millisecond))
		_, at, err = pyRm.wait()
		require.NoError(t, err, "python-zeroconf on B:\n%v", n.pyB.Lines())
		pyGone := at.Sub(bye.Time)
		_, at, err = avRm.wait()
		require.NoError(t, err, "avahi-browse on B:\n%v", n.abB["_timezone._tcp"].Lines())
		avGone := at.Sub(bye.Time)
		t.Logf("removal: python-zeroconf on B %v, avahi-browse on B %v after Avahi's goodbye on A",
			pyGone.Round(time.Millisecond), avGone.Round(time.Millisecond))
		assert.Less(t, pyGone, gwRemovalBound, "python-zeroconf on B")
		assert.Less(t, avGone, gwRemovalBound, "avahi-browse on B")
	})

	// A -> C carries _http._tcp: Avahi's web service crosses to C (so C's
	// link works) and not to B.
	t.Run("OtherTypeToC", func(t *testing.T) {
		ctx := lantest.Context(t, 30*time.Second)
		const inst = "Avahi Web"
		avahiPublish(t, ctx, n.avA, inst, "_http._tcp", 80, "path=/")
		ev, err := clitest.WaitEvent(ctx, n.brCWeb, "add", inst, nil)
		require.NoError(t, err, "lansd browse on C:\n%v\ngateway:\n%v", n.brCWeb.Lines(), n.g.Lines())
		assert.Equal(t, "h1.local.", ev.Host)
		assert.Equal(t, []string{ha1.IPv4.String()}, ev.Addrs)
		_, err = gwWaitEvent(ctx, n.g, "proxied", fullName(inst, "_http._tcp"), "c")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		_, err = gwWaitEvent(ctx, n.g, "refused", fullName(inst, "_http._tcp"), "b")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
	})

	// Under "conforming", a _jnx-kcsync._tcp instance whose TXT breaks the
	// registry's rule is refused (the rule and the reason) and never on
	// B; a conforming one crosses.
	t.Run("NonConformingNotProxied", func(t *testing.T) {
		ctx := lantest.Context(t, 30*time.Second)
		ab := n.abB["_jnx-kcsync._tcp"]
		avahiPublish(t, ctx, n.avA, "Keys Bad", "_jnx-kcsync._tcp", 5000, gwBadHash, gwSalt)
		avahiPublish(t, ctx, n.avA, "Keys Good", "_jnx-kcsync._tcp", 5001, gwGoodHash, gwSalt)
		re, err := gwWaitEvent(ctx, n.g, "refused", fullName("Keys Bad", "_jnx-kcsync._tcp"), "b")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		assert.Equal(t, 0, re.Rule)
		assert.Contains(t, re.Reason, `rules[0].conformance "conforming"`)
		assert.Contains(t, re.Reason, "found 39 hex digits, want exactly 40")
		t.Logf("gateway: %+v", re)
		_, err = gwWaitEvent(ctx, n.g, "proxied", fullName("Keys Good", "_jnx-kcsync._tcp"), "b")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		al, err := waitAvahi(ctx, ab, "=", "Keys Good", "IPv4")
		require.NoError(t, err, "avahi-browse on B:\n%v", ab.Lines())
		assert.Equal(t, 5001, al.Port)
		// The good one is on B and both were announced together: give the
		// bad one a second more, then look.
		time.Sleep(time.Second)
		assert.Empty(t, avahiLinesOf(ab, "Keys Bad"), "a non-conforming instance reached B")
		for _, e := range gwEvents(n.g) {
			if e.Instance == fullName("Keys Bad", "_jnx-kcsync._tcp") {
				assert.NotEqual(t, "proxied", e.Event, "%+v", e)
			}
		}
	})

	// A name held on B (by python-zeroconf, and by Avahi): the gateway's
	// proxy of A's Avahi service of that name is withdrawn from B, not
	// renamed; nobody on A or B renames; B's browsers see B's instance.
	t.Run("NameTakenOnB", func(t *testing.T) {
		ctx := lantest.Context(t, 40*time.Second)
		hb3 := n.b.Host(3)
		// Its own host name: lantest names the hosts of every LAN h1, h2,
		// ..., and A's h3 announces in PyZeroconfAnnouncerOnA. IPv4 only:
		// python-zeroconf then adds an NSEC record for its host (no AAAA)
		// to its answers, the defence of its name included. python-
		// zeroconf 0.47 writes the NSEC type bitmap's window number as 16
		// bits (00 00 00 04 00 00 00 08: an empty block to RFC 4034), and
		// when internal/mdns drops the whole datagram for it the proxy
		// hears no defence and takes the name.
		py := startPy(t, hb3, "register", "--name", "Taken Py", "--type", pyType, "--port", "9999",
			"--server", "b3.local.", "--addr", hb3.IPv4.String(), "--txt", "path=/b")
		reg, err := waitPy(ctx, py, "registered", "")
		require.NoError(t, err, "pyzc.py on B:\n%v", py.Lines())
		require.Equal(t, "Taken Py._timezone._tcp.local.", reg.Name)
		avOnB := avahiPublish(t, ctx, n.avB, "Taken Avahi", "_timezone._tcp", 9998, "path=/b")
		// B's browsers know B's instances before A's appear.
		_, err = waitPy(ctx, n.pyB, "add", "Taken Py._timezone._tcp.local.")
		require.NoError(t, err, "python-zeroconf on B:\n%v", n.pyB.Lines())
		_, err = waitAvahi(ctx, n.abB["_timezone._tcp"], "=", "Taken Avahi", "IPv4")
		require.NoError(t, err, "avahi-browse on B:\n%v", n.abB["_timezone._tcp"].Lines())

		var onA []*lantest.Proc
		for _, inst := range []string{"Taken Py", "Taken Avahi"} {
			onA = append(onA, avahiPublish(t, ctx, n.avA, inst, "_timezone._tcp", 8080, "path=/a"))
		}
		for _, inst := range []string{"Taken Py", "Taken Avahi"} {
			// The first of withdrawn (the name is taken) and proxied (the
			// gateway took it).
			ev, err := gwWaitEvent(ctx, n.g, "withdrawn", inst+"._timezone._tcp.local.", "b", "proxied")
			require.NoError(t, err, "gateway:\n%v", n.g.Lines())
			assert.Equal(t, "withdrawn", ev.Event, "the gateway claimed a name held on B: %+v", ev)
			assert.Contains(t, ev.Reason, "not renamed")
			t.Logf("gateway: %+v", ev)
		}
		// Time for any rename or late announcement to show.
		time.Sleep(2 * time.Second)

		for i, p := range onA {
			noRename(t, fmt.Sprintf("avahi-publish %d on A", i), p)
			est := slices.DeleteFunc(p.Lines(), func(l string) bool { return !establishedRE.MatchString(l) })
			assert.Len(t, est, 1, "avahi-publish %d on A: %q", i, p.Lines())
		}
		noRename(t, "avahi-publish on B", avOnB)
		noRename(t, "avahi-daemon on A", n.daemonA)
		noRename(t, "avahi-daemon on B", n.daemonB)
		noRename(t, "pyzc.py on B", py)
		assert.False(t, py.Exited(), "pyzc.py on B exited:\n%v", py.Lines())
		for _, l := range py.Lines() {
			var e pyEvent
			if json.Unmarshal([]byte(l), &e) == nil {
				assert.Equal(t, reg.Name, e.Name, "python-zeroconf on B changed its name: %s", l)
			}
		}

		// B's browsers: B's data only under these names, never removed.
		for _, want := range []struct {
			inst, host string
			port       int
		}{{"Taken Py", "b3.local", 9999}, {"Taken Avahi", "h2.local", 9998}} {
			for _, e := range pyEventsOf(n.pyB, want.inst+"._timezone._tcp.local.") {
				assert.NotEqual(t, "remove", e.Event, "python-zeroconf on B: %+v", e)
				if e.Event == "add" || e.Event == "update" {
					assert.Equal(t, want.port, e.Port, "python-zeroconf on B saw the proxy's data: %+v", e)
					assert.Equal(t, want.host+".", e.Server, "%+v", e)
				}
			}
			for _, al := range avahiLinesOf(n.abB["_timezone._tcp"], want.inst) {
				assert.NotEqual(t, "-", al.Kind, "avahi-browse on B: %+v", al)
				if al.Kind == "=" {
					assert.Equal(t, want.port, al.Port, "avahi-browse on B saw the proxy's data: %+v", al)
					assert.Equal(t, want.host, al.Host, "%+v", al)
				}
			}
		}
		for _, e := range gwEvents(n.g) {
			if strings.HasPrefix(e.Instance, "Taken ") {
				assert.NotContains(t, e.Instance, "(2)", "%+v", e)
			}
		}
	})

	// python-zeroconf on A, found by Avahi (and python-zeroconf) on B;
	// its unregistration is a removal there within 2 s.
	t.Run("PyZeroconfAnnouncerOnA", func(t *testing.T) {
		ctx := lantest.Context(t, 40*time.Second)
		const inst = "Py TZ"
		name := inst + "._timezone._tcp.local."
		ab := n.abB["_timezone._tcp"]
		avRes := watch(ctx, ab, avahiLineOf("=", inst, "IPv4"))
		pyAdd := watch(ctx, n.pyB, pyLine("add", name))
		py := startPy(t, ha3, pyRegisterArgs(ha3, inst, 8090, "path=/py")...)
		reg, err := waitPy(ctx, py, "registered", "")
		require.NoError(t, err, "pyzc.py on A:\n%v", py.Lines())
		require.Equal(t, name, reg.Name)
		src := []netip.Addr{ha3.IPv4, ha3.LinkLocal}
		ann, err := n.obsA.WaitFor(ctx, func(c lantest.Captured) bool { return isPTRFrom(c, src, inst, "_timezone._tcp", false) })
		require.NoError(t, err)

		_, at, err := avRes.wait()
		require.NoError(t, err, "avahi-browse on B:\n%v\ngateway:\n%v", ab.Lines(), n.g.Lines())
		t.Logf("discovery: avahi-browse on B %v after python-zeroconf's first announcement on A", at.Sub(ann.Time).Round(time.Millisecond))
		for _, al := range avahiLinesOf(ab, inst) {
			if al.Kind != "=" {
				continue
			}
			assert.Equal(t, "h3.local", al.Host, "%+v", al)
			assert.Equal(t, ha3.IPv4.String(), al.Addr, "the origin's routable address only: %+v", al)
			assert.Equal(t, 8090, al.Port)
			assert.Equal(t, []string{"path=/py"}, al.TXT)
		}
		line, at, err := pyAdd.wait()
		require.NoError(t, err, "python-zeroconf on B:\n%v", n.pyB.Lines())
		t.Logf("discovery: python-zeroconf on B %v after python-zeroconf's first announcement on A", at.Sub(ann.Time).Round(time.Millisecond))
		var add pyEvent
		require.NoError(t, json.Unmarshal([]byte(line), &add))
		assert.Equal(t, []string{ha3.IPv4.String()}, add.Addrs, "the origin's routable address only")

		avRm := watch(ctx, ab, avahiLineOf("-", inst, ""))
		pyRm := watch(ctx, n.pyB, pyLine("remove", name))
		require.NoError(t, py.Signal(syscall.SIGTERM))
		bye, err := n.obsA.WaitFor(ctx, func(c lantest.Captured) bool { return isPTRFrom(c, src, inst, "_timezone._tcp", true) })
		require.NoError(t, err)
		_, at, err = avRm.wait()
		require.NoError(t, err, "avahi-browse on B:\n%v", ab.Lines())
		gone := at.Sub(bye.Time)
		_, at, err = pyRm.wait()
		require.NoError(t, err, "python-zeroconf on B:\n%v", n.pyB.Lines())
		pyGone := at.Sub(bye.Time)
		t.Logf("removal: avahi-browse on B %v, python-zeroconf on B %v after python-zeroconf's goodbye on A",
			gone.Round(time.Millisecond), pyGone.Round(time.Millisecond))
		assert.Less(t, gone, gwRemovalBound, "avahi-browse on B")
		assert.Less(t, pyGone, gwRemovalBound, "python-zeroconf on B")
	})

	// The origin's host name is taken on B: python-zeroconf on A announces
	// with SRV target h2.local., the name B's avahi-daemon holds. The
	// proxy (which publishes the origin's address records under that
	// name) is withdrawn from B, and Avahi keeps its host name (it renames
	// itself "h2-2" on a conflict it loses).
	t.Run("HostNameTakenOnB", func(t *testing.T) {
		ctx := lantest.Context(t, 30*time.Second)
		const inst = "Py Host"
		name := inst + "._timezone._tcp.local."
		py := startPy(t, ha3, "register", "--name", inst, "--type", pyType, "--port", "8091",
			"--server", "h2.local.", "--addr", ha3.IPv4.String(), "--txt", "path=/host")
		_, err := waitPy(ctx, py, "registered", name)
		require.NoError(t, err, "pyzc.py on A:\n%v", py.Lines())
		ev, err := gwWaitEvent(ctx, n.g, "withdrawn", name, "b", "proxied")
		require.NoError(t, err, "gateway:\n%v", n.g.Lines())
		assert.Equal(t, "withdrawn", ev.Event, "the gateway claimed a host name held on B: %+v", ev)
		assert.Contains(t, ev.Reason, "h2.local")
		t.Logf("gateway: %+v", ev)
		time.Sleep(2 * time.Second)
		noRename(t, "avahi-daemon on B", n.daemonB)
		assert.Empty(t, pyEventsOf(n.pyB, name), "python-zeroconf on B saw the proxy")
		assert.Empty(t, avahiLinesOf(n.abB["_timezone._tcp"], inst), "avahi-browse on B saw the proxy")
		require.NoError(t, py.Signal(syscall.SIGTERM))
		_, err = waitPy(ctx, py, "unregistered", name)
		require.NoError(t, err, "pyzc.py on A:\n%v", py.Lines())
	})

	// C has no rule for timezone or jnx-kcsync: after all of the above,
	// its browser saw none, the gateway answered nothing of them there,
	// and nobody on C got a response about them.
	t.Run("NothingOnC", func(t *testing.T) {
		for _, l := range n.brC.Lines() {
			assert.NotContains(t, l, `"event":"add"`, "lansd browse on C: %s", l)
		}
		gwAddrs := []netip.Addr{n.gwC.IPv4, n.gwC.LinkLocal}
		seen := 0
		for _, c := range n.obsC.Packets() {
			if c.Msg == nil {
				continue
			}
			seen++
			for _, typ := range []string{"_timezone._tcp", "_jnx-kcsync._tcp"} {
				if slices.Contains(gwAddrs, c.Src.Addr()) || c.Msg.Response {
					assert.False(t, mentions(c, typ), "a record of %s on C from %v:\n%v", typ, c.Src, c.Msg)
				}
			}
		}
		// C's browser did ask (so the absence means something).
		assert.NotZero(t, seen)
		asked := slices.ContainsFunc(n.obsC.Packets(), func(c lantest.Captured) bool {
			return c.Msg != nil && !c.Msg.Response && slices.ContainsFunc(c.Msg.Question, func(q dns.Question) bool {
				return dnsname.Equal(q.Name, "_timezone._tcp.local.")
			})
		})
		assert.True(t, asked, "lansd browse on C never asked for _timezone._tcp")
	})
}
