package e2e

// End-to-end tests of lansd announce on hosts whose interfaces and
// addresses change (issue 11, RFC 6762 sections 8, 9 and 10): an address
// replaced, a link that flaps, two NICs of one host on one LAN. Every change
// is `ip -n NS ...` on a namespace the test made.

import (
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
)

// annIP runs `ip -n NS args...` in h's namespace, refusing any namespace
// this test process did not create.
func annIP(t *testing.T, h *lantest.Host, args ...string) {
	t.Helper()
	ours, err := lantest.Namespaces()
	require.NoError(t, err)
	require.True(t, h.NS != "" && slices.Contains(ours, h.NS), "refusing to change namespace %q: not made by this test", h.NS)
	out, err := exec.Command("ip", append([]string{"-n", h.NS}, args...)...).CombinedOutput()
	require.NoError(t, err, "ip -n %s %s: %s", h.NS, strings.Join(args, " "), out)
}

// annNoRename checks that lansd announce printed nothing but its announced
// lines: no conflict, no rename, no deferral.
func annNoRename(t *testing.T, p *lantest.Proc) {
	t.Helper()
	for _, l := range annOutput(p) {
		assert.NotRegexp(t, `^(host name )?(renamed|conflict|deferred) `, l, "%q", annOutput(p))
	}
	assert.False(t, p.Exited(), "%q", p.Lines())
}

// annFrom reports whether c was sent from one of addrs.
func annFrom(c lantest.Captured, addrs ...netip.Addr) bool {
	return slices.Contains(addrs, c.Src.Addr())
}

// annHostAddrs returns the addresses of the A and AAAA records of name in
// the Answer section of c, as strings, with their TTLs.
func annHostAddrs(c lantest.Captured, name string) map[string]uint32 {
	out := map[string]uint32{}
	if c.Msg == nil {
		return out
	}
	for _, rr := range c.Msg.Answer {
		if !dnsname.Equal(rr.Header().Name, name) {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			out[v.A.String()] = v.Hdr.Ttl
		case *dns.AAAA:
			out[v.AAAA.String()] = v.Hdr.Ttl
		}
	}
	return out
}

// TestAnnounceAddressChange: the announcer's IPv4 address is replaced on
// its interface (`ip addr add NEW; ip addr del OLD`, as a DHCP client
// does): within 1.5 s the browser on another host prints an update event
// with the new address and without the old. On the wire: a goodbye for the
// old address, and the host name's new set probed and announced with the
// cache-flush bit. The announcer is not renamed.
func TestAnnounceAddressChange(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	ann, _ := annStart(t, ctx, h1, annArgs("-v")...)
	br := clitest.Start(t, h2, "browse", "timezone", "--json")
	old, next := h1.IPv4.String(), "198.18.1.11"
	_, err := clitest.WaitEvent(ctx, br, "add", annName, func(e clitest.Event) bool { return slices.Contains(e.Addrs, old) })
	require.NoError(t, err, "%q", br.Lines())
	annSettle(t, ctx, obs, h1, annInstance)

	annIP(t, h1, "addr", "add", next+"/24", "dev", lantest.Iface)
	annIP(t, h1, "addr", "del", old+"/24", "dev", lantest.Iface)
	changed := time.Now()
	// Waited for longer than the bound, so that a miss says by how much.
	ev, err := clitest.WaitEvent(lantest.Context(t, 10*time.Second), br, "update", annName, func(e clitest.Event) bool {
		return slices.Contains(e.Addrs, next) && !slices.Contains(e.Addrs, old)
	})
	took := time.Since(changed)
	require.NoError(t, err, "no update with %s and without %s:\nbrowser: %q\nannouncer: %q", next, old, br.Lines(), ann.Lines())
	t.Logf("update %v after the change: %v", took, ev.Addrs)
	assert.LessOrEqual(t, took, 1500*time.Millisecond, "the browser sees the new address, not the old, within 1.5 s of the change")
	assert.Equal(t, uint16(8080), ev.Port)

	// On the wire, from the announcer: a goodbye for the old address, and
	// an announcement of the new set with the cache-flush bit, without the
	// old address.
	h1New := netip.MustParseAddr(next)
	// The browser may hear the announcement before the observer's capture
	// reaches this process: wait for it on the wire first.
	_, err = obs.WaitFor(lantest.Context(t, 3*time.Second), func(c lantest.Captured) bool {
		ttl, ok := annHostAddrs(c, "h1.local.")[next]
		return annFrom(c, h1New, h1.LinkLocal) && ok && ttl > 0
	})
	require.NoError(t, err, "the new address announced on the wire")
	pkts := obs.Packets()
	gb := annFilter(pkts, func(c lantest.Captured) bool {
		ttl, ok := annHostAddrs(c, "h1.local.")[old]
		return annFrom(c, h1.IPv4, h1.LinkLocal, h1New) && ok && ttl == 0 && !c.Time.Before(changed.Add(-time.Second))
	})
	assert.NotEmpty(t, gb, "a goodbye for %s (RFC 6762 section 10.1)", old)
	probes := annFilter(pkts, func(c lantest.Captured) bool {
		return annFrom(c, h1New, h1.LinkLocal) && annIsProbe(c, "h1.local.") && c.Time.After(changed.Add(-time.Second))
	})
	assert.NotEmpty(t, probes, "the new set probed (RFC 6762 section 8)")
	newAnns := annFilter(pkts, func(c lantest.Captured) bool {
		ttl, ok := annHostAddrs(c, "h1.local.")[next]
		return annFrom(c, h1New, h1.LinkLocal) && ok && ttl > 0
	})
	require.NotEmpty(t, newAnns, "the new address announced")
	for _, c := range newAnns {
		assert.NotContains(t, annHostAddrs(c, "h1.local."), old, "never the old address with the new")
		for _, rr := range c.Msg.Answer {
			if dnsname.Equal(rr.Header().Name, "h1.local.") && rr.Header().Rrtype != dns.TypeNSEC {
				assert.NotZero(t, rr.Header().Class&annFlushBit, "cache-flush bit on the new set: %v", rr)
			}
		}
	}
	annNoRename(t, ann)
}

// TestAnnounceLinkFlap: the announcer's link goes down and comes back a
// second later (as on suspend and resume), twice, while a peer repeats the
// announcement it heard before (as a sleep proxy or a reflector does): the
// announcer is not renamed, keeps running, and is found again. Linux drops
// the static IPv6 link-local address on link down, so the repeated AAAA
// record is one the announcer no longer has: its own former data, no
// conflict (RFC 6762 section 9).
func TestAnnounceLinkFlap(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 90*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	ann, _ := annStart(t, ctx, h1, annArgs("-v")...)
	heard, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annIsV4(c) && annHasAnswer(c, annInstance, dns.TypeSRV) && annHasAnswer(c, "h1.local.", dns.TypeAAAA)
	})
	require.NoError(t, err)
	annSettle(t, ctx, obs, h1, annInstance)

	for range 2 {
		annIP(t, h1, "link", "set", lantest.Iface, "down")
		time.Sleep(time.Second)
		annIP(t, h1, "link", "set", lantest.Iface, "up")
		// h2 repeats h1's old announcement ten times over four seconds,
		// while h1 probes again and after.
		echo := annPackHex(t, heard.Msg)
		p := h2.Helper(t, "announce-query", "Q_DST=224.0.0.251:5353", "Q_SRC_PORT=5353", "Q_WAIT=0s", "Q_GAP=400ms",
			"Q_HEX="+strings.Join(slices.Repeat([]string{echo}, 10), ","))
		require.NoError(t, p.Wait(ctx), "%q", p.Lines())
		// Long enough for any transport to have seen the flap (the
		// periodic rescan runs every 5 s), and for a new probe run and
		// its announcements.
		time.Sleep(4 * time.Second)
	}
	annNoRename(t, ann)

	res := clitest.Start(t, h2, "resolve", annInstance, "--json", "--timeout", "5s")
	require.Equal(t, 0, brExitCode(t, ctx, res), "found again after the flaps: %q", res.Lines())
	got, err := clitest.Decode(res.Lines()[0])
	require.NoError(t, err)
	assert.Equal(t, "h1.local.", got.Host, "the host name kept")
	assert.Contains(t, got.Addrs, h1.IPv4.String())
	t.Logf("announcer after two flaps:\n%s", strings.Join(annOutput(ann), "\n"))
}

// TestAnnounceTwoNICsOneLink: a host with two interfaces on the same LAN
// (lan0 from the start, lan1 at start-up in one case, later in the other)
// hears its own probes and announcements through the other NIC: no
// conflict, no rename, and no defence against its own probes.
func TestAnnounceTwoNICsOneLink(t *testing.T) {
	t.Parallel()
	for _, later := range []bool{false, true} {
		name := "both at start"
		if later {
			name = "second NIC later"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lan := lantest.New(t, lantest.Hosts(2))
			obs := lan.Observe(t)
			ctx := lantest.Context(t, 60*time.Second)
			h1 := lan.Host(1)
			var lk lantest.Link
			if !later {
				lk = lan.Connect(t, h1, "lan1")
			}
			ann, line := annStart(t, ctx, h1, annArgs("-v")...)
			if later {
				annSettle(t, ctx, obs, h1, annInstance)
				lk = lan.Connect(t, h1, "lan1")
			} else {
				assert.Equal(t, `announced "`+annInstance+`" on lan0, lan1`, line)
			}
			// lan1 probes and announces (at start-up, or once the
			// transport sees it).
			first, err := obs.WaitFor(lantest.Context(t, 15*time.Second), func(c lantest.Captured) bool {
				return annFrom(c, lk.IPv4, lk.LinkLocal) && annIsProbe(c, annInstance)
			})
			require.NoError(t, err, "lan1 probes: %q", ann.Lines())
			annLan1, err := obs.WaitFor(lantest.Context(t, 5*time.Second), func(c lantest.Captured) bool {
				return annFrom(c, lk.IPv4, lk.LinkLocal) && annHasAnswer(c, annInstance, dns.TypeSRV)
			})
			require.NoError(t, err, "lan1 announces: %q", ann.Lines())
			time.Sleep(4 * time.Second)
			annNoRename(t, ann)

			lan0 := []netip.Addr{h1.IPv4, h1.LinkLocal}
			pkts := obs.Packets()
			for _, c := range annFilter(pkts, func(c lantest.Captured) bool {
				return annFrom(c, lk.IPv4, lk.LinkLocal) && annHasAnswer(c, "h1.local.", 0)
			}) {
				for a := range annHostAddrs(c, "h1.local.") {
					assert.Contains(t, []string{lk.IPv4.String(), lk.LinkLocal.String()}, a, "lan1 gives its own addresses only")
				}
			}
			for _, c := range annFilter(pkts, func(c lantest.Captured) bool { return annFrom(c, lan0...) && annHasAnswer(c, "h1.local.", 0) }) {
				for a := range annHostAddrs(c, "h1.local.") {
					assert.Contains(t, []string{h1.IPv4.String(), h1.LinkLocal.String()}, a, "lan0 gives its own addresses only")
				}
			}
			if later {
				// Nobody queries on this LAN: a response from lan0 while
				// lan1 probes would be a defence against ourselves.
				defence := annFilter(pkts, func(c lantest.Captured) bool {
					return annFrom(c, lan0...) && c.Msg != nil && c.Msg.Response && !c.Time.Before(first.Time) && c.Time.Before(annLan1.Time)
				})
				assert.Empty(t, defence, "no defence against our own probes")
			}
		})
	}
}
