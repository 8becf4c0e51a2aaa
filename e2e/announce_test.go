package e2e

// End-to-end tests of `lansd announce` (and of package announce run
// in-process) on a virtual LAN: every test builds its own LAN of network
// namespaces, starts the responder inside one, and checks what a raw
// observer on the bridge captures and what the processes print.

import (
	"context"
	"fmt"
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

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
)

const (
	// slack tolerates scheduling delays of this loaded machine in upper
	// bounds; lower bounds (RFC minima) get only the jitter of capture
	// timestamps.
	annSlack        = 300 * time.Millisecond
	annCaptureSlack = 10 * time.Millisecond
	// flushBit is the cache-flush bit of a record's class (RFC 6762 section 10.2).
	annFlushBit = 1 << 15
)

// annWaitPackets waits until at least n captured packets match, and returns
// the matching packets.
func annWaitPackets(t *testing.T, ctx context.Context, obs *lantest.Observer, n int, match ...func(lantest.Captured) bool) []lantest.Captured {
	t.Helper()
	for {
		got := annFilter(obs.Packets(), match...)
		if len(got) >= n {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d matching packets, have %d: %v", n, len(got), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// annSettle waits until the announcement sequence of name from h is over:
// the third announcement has been captured (RFC 6762 section 8.3; lansd
// sends three, at 0, 1 and 3 s), and then a little more than the one
// second during which a record just multicast is not multicast again
// (section 6.2).
func annSettle(t *testing.T, ctx context.Context, obs *lantest.Observer, h *lantest.Host, name string) {
	t.Helper()
	annWaitPackets(t, ctx, obs, 3, func(c lantest.Captured) bool {
		return annFromHost(c, h) && annHasAnswer(c, name, dns.TypeSRV) && c.Src.Addr().Is4() == h.IPv4.IsValid()
	})
	time.Sleep(1100 * time.Millisecond)
}

var annAnnouncedLineRE = regexp.MustCompile(`^announced "(.*)" on (\S+)(?: \(renamed: (.*)\))?$`)

// annParseAnnounced splits an announced line into the name, the interfaces
// and the rename reason ("" when not renamed).
func annParseAnnounced(t *testing.T, line string) (name, ifaces, renamed string) {
	t.Helper()
	m := annAnnouncedLineRE.FindStringSubmatch(line)
	require.NotNil(t, m, "announced line %q", line)
	return m[1], m[2], m[3]
}

// TestAnnounceProbes: exactly three probes for the instance name (QTYPE
// ANY, proposed records in Authority), at least 250 ms apart, the first
// within 0-250 ms after probing started (RFC 6762 section 8.1). lansd
// announce probes the host name and the instance together, in the same
// packets (section 8.1: a host probing several names SHOULD put them all
// in one packet).
func TestAnnounceProbes(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	_, line := annStart(t, ctx, h1, annArgs()...)
	assert.Equal(t, `announced "`+annInstance+`" on lan0`, line)
	// Everything sent before the first announcement has been captured
	// once the announcement has (one observer, in order).
	annWaitPackets(t, ctx, obs, 2, func(c lantest.Captured) bool { return annFromHost(c, h1) && annHasAnswer(c, annInstance, dns.TypeSRV) })
	pkts := obs.Packets()

	for _, fam := range []struct {
		name string
		v4   bool
	}{{"IPv4", true}, {"IPv6", false}} {
		t.Run(fam.name, func(t *testing.T) {
			onFam := func(c lantest.Captured) bool { return annFromHost(c, h1) && annIsV4(c) == fam.v4 }
			probes := annFilter(pkts, onFam, func(c lantest.Captured) bool { return annIsProbe(c, annInstance) })
			require.Len(t, probes, 3, "exactly three probes for the instance name")
			for i, p := range probes {
				require.Len(t, p.Msg.Question, 2, "probe %d: the host name and the instance", i)
				for _, q := range p.Msg.Question {
					assert.Equal(t, dns.TypeANY, q.Qtype)
					assert.Equal(t, uint16(dns.ClassINET), q.Qclass&^annFlushBit)
					assert.Equal(t, i == 0, q.Qclass&annFlushBit != 0, "probe %d: unicast-response bit only on the first probe", i)
				}
				assert.True(t, dnsname.Equal(p.Msg.Question[0].Name, "h1.local."), "probe %d: host name first", i)
				assert.True(t, dnsname.Equal(p.Msg.Question[1].Name, annInstance), "probe %d: then the instance", i)
				assert.Empty(t, p.Msg.Answer, "a probe has no answers")
				// The proposed records: the host's address and the
				// instance's SRV and TXT.
				var types []uint16
				for _, rr := range p.Msg.Ns {
					if dnsname.Equal(rr.Header().Name, "h1.local.") {
						assert.Contains(t, []uint16{dns.TypeA, dns.TypeAAAA}, rr.Header().Rrtype, "host record %v", rr)
						continue
					}
					assert.True(t, dnsname.Equal(rr.Header().Name, annInstance), "authority record %v", rr)
					types = append(types, rr.Header().Rrtype)
					switch v := rr.(type) {
					case *dns.SRV:
						assert.Equal(t, uint16(8080), v.Port)
						assert.True(t, dnsname.Equal(v.Target, "h1.local."), "SRV target %q", v.Target)
					case *dns.TXT:
						assert.Equal(t, []string{"path=/tz"}, v.Txt)
					}
				}
				assert.ElementsMatch(t, []uint16{dns.TypeSRV, dns.TypeTXT}, types)
				if i > 0 {
					gap := p.Time.Sub(probes[i-1].Time)
					assert.GreaterOrEqual(t, gap, 250*time.Millisecond-annCaptureSlack, "probes %d and %d: RFC 6762 section 8.1 asks for 250 ms", i-1, i)
				}
			}

			// The host name was in the same three probes, and nothing else
			// probed it.
			hostProbes := annFilter(pkts, onFam, func(c lantest.Captured) bool { return annIsProbe(c, "h1.local.") })
			require.Len(t, hostProbes, 3, "exactly three probes for the host name")
			for i := range hostProbes {
				assert.Equal(t, probes[i].Time, hostProbes[i].Time, "probe %d holds both names", i)
			}
			// Both are announced 250 ms after the third probe.
			for _, name := range []string{"h1.local.", annInstance} {
				ann := annFilter(pkts, onFam, func(c lantest.Captured) bool {
					return annHasAnswer(c, name, dns.TypeSRV) || annHasAnswer(c, name, dns.TypeA) || annHasAnswer(c, name, dns.TypeAAAA)
				})
				require.NotEmpty(t, ann, name)
				gap := ann[0].Time.Sub(probes[2].Time)
				assert.GreaterOrEqual(t, gap, 250*time.Millisecond-annCaptureSlack, "%s announced 250 ms after the last probe", name)
				assert.LessOrEqual(t, gap, 250*time.Millisecond+annSlack, "%s announced 250 ms after the last probe", name)
			}
		})
	}
}

// TestAnnounceAnnouncements: at least two announcements one second apart
// (RFC 6762 section 8.3), unique records with the cache-flush bit, shared
// PTRs without (section 10.2).
func TestAnnounceAnnouncements(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	annStart(t, ctx, h1, annArgs()...)
	isAnn := func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annIsV4(c) && annHasAnswer(c, annInstance, dns.TypeSRV) && c.Dst.Addr().IsMulticast()
	}
	// lansd sends three (0, 1, 3 s); the RFC asks for at least two.
	annWaitPackets(t, ctx, obs, 2, isAnn)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(annFilter(obs.Packets(), isAnn)) < 3 && wctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	anns := annFilter(obs.Packets(), isAnn)
	require.GreaterOrEqual(t, len(anns), 2)
	t.Logf("%d announcements", len(anns))

	seen := map[uint16]int{}
	for i, a := range anns {
		if i > 0 {
			gap := a.Time.Sub(anns[i-1].Time)
			assert.GreaterOrEqual(t, gap, 950*time.Millisecond, "announcements %d and %d", i-1, i)
		}
		assert.True(t, a.Msg.Authoritative, "AA bit")
		assert.Zero(t, a.Msg.Id, "ID 0 in multicast responses (RFC 6762 section 18.1)")
		assert.Empty(t, a.Msg.Question, "no questions in a response (section 6)")
		assert.True(t, annHasPTR(a, annType, annInstance), "announcement %d has the PTR", i)
		for _, rr := range annRecords(a) {
			h := rr.Header()
			seen[h.Rrtype]++
			assert.NotZero(t, h.Ttl, "%v", rr)
			switch h.Rrtype {
			case dns.TypePTR:
				assert.Zero(t, h.Class&annFlushBit, "shared PTR without cache-flush: %v", rr)
			case dns.TypeSRV, dns.TypeTXT, dns.TypeA, dns.TypeAAAA, dns.TypeNSEC:
				assert.NotZero(t, h.Class&annFlushBit, "unique record with cache-flush: %v", rr)
			default:
				t.Errorf("unexpected record in an announcement: %v", rr)
			}
			assert.Equal(t, uint16(dns.ClassINET), h.Class&^annFlushBit)
		}
	}
	for _, typ := range []uint16{dns.TypePTR, dns.TypeSRV, dns.TypeTXT, dns.TypeA, dns.TypeAAAA, dns.TypeNSEC} {
		assert.NotZero(t, seen[typ], "no %s record in the announcements", dns.TypeToString[typ])
	}
}

// TestAnnounceSimultaneousConflict: two lansd started at once on two hosts
// with the same instance name end with different names, one renamed
// "Office TZ (2)" and saying so (RFC 6762 sections 8.2 and 9).
func TestAnnounceSimultaneousConflict(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 60*time.Second)
	p1 := clitest.Start(t, lan.Host(1), annArgs()...)
	p2 := clitest.Start(t, lan.Host(2), annArgs()...)
	annCapture(t, p1)
	annCapture(t, p2)
	l1, err := p1.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", p1.Lines())
	l2, err := p2.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", p2.Lines())
	n1, _, r1 := annParseAnnounced(t, l1)
	n2, _, r2 := annParseAnnounced(t, l2)
	t.Logf("h1: %s\nh2: %s", l1, l2)
	assert.NotEqual(t, n1, n2)
	assert.ElementsMatch(t, []string{annInstance, "Office TZ (2)." + annType}, []string{n1, n2})
	for _, c := range []struct{ name, reason string }{{n1, r1}, {n2, r2}} {
		if strings.HasPrefix(c.name, "Office TZ (2).") {
			assert.NotEmpty(t, c.reason, "the renamed one says so")
		} else {
			assert.Empty(t, c.reason, "the one that kept its name was not renamed")
		}
	}
	// Both names are stable: no later rename on either side.
	time.Sleep(2 * time.Second)
	for _, p := range []*lantest.Proc{p1, p2} {
		for _, l := range p.Lines() {
			assert.NotRegexp(t, `^(renamed|conflict) `, l)
		}
		assert.False(t, p.Exited())
	}
}

// TestAnnounceRenameWhenNameTaken: a name already announced by another
// host is defended; the newcomer becomes "Office TZ (2)", the owner keeps
// its name (RFC 6762 sections 8.1 and 9).
func TestAnnounceRenameWhenNameTaken(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	pa, la := annStart(t, ctx, h1, annArgs()...)
	assert.Equal(t, `announced "`+annInstance+`" on lan0`, la)
	pb, lb := annStart(t, ctx, h2, annArgs()...)
	t.Logf("h2: %s", lb)
	name, ifaces, reason := annParseAnnounced(t, lb)
	assert.Equal(t, "Office TZ (2)."+annType, name)
	assert.Equal(t, "lan0", ifaces)
	assert.Contains(t, reason, "conflict")
	// Names whichever of h1's addresses h2 heard first.
	assert.Regexp(t, `from (`+regexp.QuoteMeta(h1.IPv4.String())+`|`+regexp.QuoteMeta(h1.LinkLocal.String())+`)\b`, reason, "the reason names the defender")

	// h2 learnt that the name is taken from h1: either h1's answer to a
	// probe of h2's, or one of h1's announcements arriving while h2 was
	// about to probe (any response naming a name being probed is a
	// conflict, RFC 6762 section 8.1). Either way a response from h1 with
	// its SRV record comes after h2 started and before h2 probed the new
	// name.
	pkts := obs.Packets()
	hostProbes := annFilter(pkts, func(c lantest.Captured) bool { return annFromHost(c, h2) && annIsProbe(c, "h2.local.") })
	require.NotEmpty(t, hostProbes)
	newProbes := annFilter(pkts, func(c lantest.Captured) bool { return annFromHost(c, h2) && annIsProbe(c, "Office TZ (2)."+annType) })
	require.NotEmpty(t, newProbes)
	told := annFilter(pkts, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annHasAnswer(c, annInstance, dns.TypeSRV) &&
			c.Time.After(hostProbes[0].Time) && c.Time.Before(newProbes[0].Time)
	})
	assert.NotEmpty(t, told, "h1's records for the name reached h2 before it chose another")
	if old := annFilter(pkts, func(c lantest.Captured) bool { return annFromHost(c, h2) && annIsProbe(c, annInstance) }); len(old) > 0 {
		defence := annFilter(pkts, func(c lantest.Captured) bool {
			return annFromHost(c, h1) && annHasAnswer(c, annInstance, dns.TypeSRV) && c.Time.After(old[0].Time)
		})
		assert.NotEmpty(t, defence, "h1 answers h2's probe for its name")
		t.Logf("h2 sent %d probe packets for the name; h1 defended", len(old))
	} else {
		t.Logf("h2 heard h1's announcement before its first probe")
	}
	// h2 never announced the name h1 holds.
	assert.Empty(t, annFilter(pkts, func(c lantest.Captured) bool { return annFromHost(c, h2) && annHasAnswer(c, annInstance, 0) }))

	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, []string{la}, annOutput(pa), "the owner keeps its name and prints nothing more")
	assert.False(t, pa.Exited())
	assert.False(t, pb.Exited())
}

// TestAnnounceHostNameRenamePrinted: a second lansd announce claiming a
// host name another host holds is renamed ("shared-2.local.", RFC 6762
// section 9); it says so before its announced line, and its SRV record
// points at the new name.
func TestAnnounceHostNameRenamePrinted(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	pa, _ := annStart(t, ctx, h1, "announce", "--service", "timezone", "--name", "First", "--port", "8080", "--hostname", "shared")
	pb, lb := annStart(t, ctx, h2, "announce", "--service", "timezone", "--name", "Second", "--port", "8081", "--hostname", "shared")
	assert.Equal(t, `announced "Second._timezone._tcp.local." on lan0`, lb)
	out := annOutput(pb)
	// The rename, then the announcement; when the host name is renamed
	// after the service was first announced, the service is announced
	// again with its new SRV target (each re-announcement is printed), so
	// the announced line may come twice, never anything else.
	require.True(t, len(out) == 2 || len(out) == 3, "%q", out)
	assert.Regexp(t, `^host name renamed "shared\.local\." -> "shared-2\.local\." \(name conflict: .* \(RFC 6762 section 8\.1\)\)$`, out[0])
	for _, l := range out[1:] {
		assert.Equal(t, lb, l)
	}
	for _, l := range pa.Lines() {
		assert.NotContains(t, l, "host name", "the holder keeps its name and says nothing of it")
	}
	annWaitPackets(t, ctx, obs, 1, func(c lantest.Captured) bool {
		srv, ok := annAnswerRR(c, "Second._timezone._tcp.local.", dns.TypeSRV).(*dns.SRV)
		return annFromHost(c, h2) && ok && dnsname.Equal(srv.Target, "shared-2.local.")
	})
}

// TestAnnounceLaterConflictRenames: two hosts that announced the same name
// while the LAN was split find out when it is joined again (a query makes
// them answer with their different SRV records): RFC 6762 section 9 sends
// the name back to probing, and one of them ends renamed, printing the
// conflict, the rename and the new announcement as they happen.
func TestAnnounceLaterConflictRenames(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(3))
	ctx := lantest.Context(t, 60*time.Second)
	lan.SetLoss(100)
	pa, la := annStart(t, ctx, lan.Host(1), annArgs()...)
	pb, lb := annStart(t, ctx, lan.Host(2), annArgs()...)
	for _, l := range []string{la, lb} {
		assert.Equal(t, `announced "`+annInstance+`" on lan0`, l, "neither hears the other")
	}
	// Let both announcement sequences end, then join the LAN and ask.
	time.Sleep(3500 * time.Millisecond)
	lan.SetLoss(0)
	annRunQuery(t, ctx, lan.Host(3), "224.0.0.251:5353", 5353, 0, annQuery(annType, dns.TypePTR, false))

	renamedRE := regexp.MustCompile(`^renamed "Office TZ\._timezone\._tcp\.local\." -> "Office TZ \(2\)\._timezone\._tcp\.local\." \(.+\)$`)
	reannouncedRE := regexp.MustCompile(`^announced "Office TZ \(2\)\._timezone\._tcp\.local\." on lan0$`)
	deadline := time.Now().Add(15 * time.Second)
	var loser, winner *lantest.Proc
	for loser == nil && time.Now().Before(deadline) {
		for _, pair := range [][2]*lantest.Proc{{pa, pb}, {pb, pa}} {
			if slices.ContainsFunc(pair[0].Lines(), reannouncedRE.MatchString) {
				loser, winner = pair[0], pair[1]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NotNil(t, loser, "one of them is renamed and announces again:\nh1: %q\nh2: %q", pa.Lines(), pb.Lines())
	lines := loser.Lines()
	t.Logf("renamed side:\n%s", strings.Join(lines, "\n"))
	iConflict := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, `conflict on "`+annInstance+`"`) })
	iRenamed := slices.IndexFunc(lines, renamedRE.MatchString)
	iAnnounced := slices.IndexFunc(lines, reannouncedRE.MatchString)
	assert.True(t, iConflict > 0 && iRenamed > iConflict && iAnnounced > iRenamed,
		"conflict, then renamed, then announced (lines %d, %d, %d)", iConflict, iRenamed, iAnnounced)
	time.Sleep(time.Second)
	for _, l := range winner.Lines() {
		assert.NotRegexp(t, `^renamed `, l, "only one side is renamed")
	}
	assert.False(t, pa.Exited())
	assert.False(t, pb.Exited())
}

// TestAnnounceGoodbyeOnSIGTERM: SIGTERM makes lansd multicast every
// record with TTL 0 (RFC 6762 section 10.1) and exit 0.
func TestAnnounceGoodbyeOnSIGTERM(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	p, _ := annStart(t, ctx, h1, annArgs()...)
	sigAt := time.Now()
	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.NoError(t, p.Wait(ctx), "%q", p.Lines())
	assert.Equal(t, 0, p.ExitCode())
	assert.Contains(t, p.Lines(), `goodbye "`+annInstance+`"`)

	for _, v4 := range []bool{true, false} {
		bye, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
			if !annFromHost(c, h1) || annIsV4(c) != v4 || !annHasAnswer(c, annInstance, dns.TypeSRV) {
				return false
			}
			for _, rr := range c.Msg.Answer {
				if rr.Header().Ttl != 0 {
					return false
				}
			}
			return true
		})
		require.NoError(t, err)
		assert.True(t, bye.Time.After(sigAt.Add(-time.Second)))
		assert.True(t, bye.Dst.Addr().IsMulticast())
		var types []string
		for _, rr := range bye.Msg.Answer {
			types = append(types, dns.TypeToString[rr.Header().Rrtype])
		}
		for _, want := range []string{"PTR", "SRV", "TXT", "A", "AAAA"} {
			assert.Contains(t, types, want, "goodbye withdraws the %s record(s)", want)
		}
		assert.True(t, annHasPTR(bye, annType, annInstance))
		assert.True(t, annHasPTR(bye, "_services._dns-sd._udp.local.", annType))
	}
}

// TestAnnounceLegacyUnicast: a query from a port other than 5353 gets a
// unicast reply to that port with the same ID, the question echoed, TTLs
// of at most 10 s and no cache-flush bit (RFC 6762 section 6.7), whether
// it was sent by unicast or to the group.
func TestAnnounceLegacyUnicast(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	annStart(t, ctx, h1, annArgs()...)
	for i, dst := range []string{
		h1.IPv4.String() + ":5353",
		"224.0.0.251:5353",
		"[" + h1.LinkLocal.String() + "%lan0]:5353",
		"[ff02::fb%lan0]:5353",
	} {
		t.Run(dst, func(t *testing.T) {
			q := annQuery(annInstance, dns.TypeSRV, false)
			q.Id = uint16(0x4200 + i)
			q.RecursionDesired = true
			replies := annRunQuery(t, ctx, h2, dst, 0, 1500*time.Millisecond, q)
			require.Len(t, replies, 1, "one unicast reply")
			r := replies[0]
			assert.True(t, r.From.Addr() == h1.IPv4 || r.From.Addr() == h1.LinkLocal, "from %s", r.From)
			assert.Equal(t, uint16(5353), r.From.Port())
			m := r.Msg
			assert.True(t, m.Response)
			assert.Equal(t, q.Id, m.Id, "same ID")
			require.Len(t, m.Question, 1, "question echoed")
			assert.True(t, dnsname.Equal(q.Question[0].Name, m.Question[0].Name), "question echoed: %v", m.Question[0])
			assert.Equal(t, q.Question[0].Qtype, m.Question[0].Qtype)
			assert.Equal(t, q.Question[0].Qclass, m.Question[0].Qclass)
			srv := annAnswerRR(lantest.Captured{Msg: m}, annInstance, dns.TypeSRV)
			require.NotNil(t, srv, "%v", m)
			assert.Equal(t, uint16(8080), srv.(*dns.SRV).Port)
			for _, rr := range append(append([]dns.RR(nil), m.Answer...), m.Extra...) {
				h := rr.Header()
				assert.LessOrEqual(t, h.Ttl, uint32(10), "%v", rr)
				assert.Equal(t, uint16(dns.ClassINET), h.Class, "no cache-flush bit: %v", rr)
			}
			// On the wire: a unicast datagram to the querier's own port.
			c, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
				return annFromHost(c, h1) && c.Msg != nil && c.Msg.Response && c.Msg.Id == q.Id
			})
			require.NoError(t, err)
			assert.False(t, c.Dst.Addr().IsMulticast())
			assert.True(t, c.Dst.Addr() == h2.IPv4 || c.Dst.Addr() == h2.LinkLocal, "to %s", c.Dst)
			assert.NotEqual(t, uint16(5353), c.Dst.Port())
		})
	}
}

// TestAnnounceQUUnicastReply: a QU question for a record multicast
// recently is answered by unicast to the querier's address and port 5353
// (RFC 6762 section 5.4), and not multicast.
func TestAnnounceQUUnicastReply(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	annStart(t, ctx, h1, annArgs()...)
	annSettle(t, ctx, obs, h1, annInstance)

	q := annQuery(annType, dns.TypePTR, true)
	q.Id = 0x5151 // lets the observer tell our query apart
	replies := annRunQuery(t, ctx, h2, "224.0.0.251:5353", 5353, time.Second, q)
	sent, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
		return annFromHost(c, h2) && c.Msg != nil && !c.Msg.Response && c.Msg.Id == q.Id
	})
	require.NoError(t, err)
	after := func(c lantest.Captured) bool { return c.Time.After(sent.Time) }
	uni := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, after, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annHasPTR(c, annType, annInstance) && !c.Dst.Addr().IsMulticast()
	})
	assert.Equal(t, h2.IPv4, uni[0].Dst.Addr(), "unicast to the querier")
	assert.Equal(t, uint16(5353), uni[0].Dst.Port())
	assert.Equal(t, uint16(5353), uni[0].Src.Port())

	var got bool
	for _, r := range replies {
		if annHasPTR(lantest.Captured{Msg: r.Msg}, annType, annInstance) {
			got = true
		}
	}
	assert.True(t, got, "the helper bound to 5353 received the unicast reply")
	mc := annFilter(obs.Packets(), after, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annIsV4(c) && c.Dst.Addr().IsMulticast() && annHasAnswer(c, annType, dns.TypePTR)
	})
	assert.Empty(t, mc, "a QU question for a recently multicast record is not multicast")
}

// TestAnnounceKnownAnswerSuppression: a query listing our PTR with its full
// TTL as a known answer is not answered; the same query without it is
// (RFC 6762 section 7.1).
func TestAnnounceKnownAnswerSuppression(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	annStart(t, ctx, h1, annArgs()...)
	annSettle(t, ctx, obs, h1, annInstance)

	withKA := annQuery(annType, dns.TypePTR, false)
	withKA.Id = 0x6161
	withKA.Answer = []dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: annType, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4500}, Ptr: annInstance}}
	annRunQuery(t, ctx, h2, "224.0.0.251:5353", 5353, 1200*time.Millisecond, withKA)
	sent, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h2) && c.Msg != nil && c.Msg.Id == withKA.Id })
	require.NoError(t, err)
	require.Len(t, sent.Msg.Answer, 1, "the known answer went out")
	time.Sleep(200 * time.Millisecond) // the observer may lag behind
	answered := func(since time.Time) []lantest.Captured {
		return annFilter(obs.Packets(), func(c lantest.Captured) bool {
			return annFromHost(c, h1) && c.Time.After(since) && annHasPTR(c, annType, annInstance)
		})
	}
	assert.Empty(t, answered(sent.Time), "known answer with full TTL suppresses the answer")

	plain := annQuery(annType, dns.TypePTR, false)
	plain.Id = 0x6262
	annRunQuery(t, ctx, h2, "224.0.0.251:5353", 5353, 0, plain)
	sent2, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h2) && c.Msg != nil && c.Msg.Id == plain.Id })
	require.NoError(t, err)
	got := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && c.Time.After(sent2.Time) && annHasAnswer(c, annType, dns.TypePTR) && annHasPTR(c, annType, annInstance)
	})
	assert.True(t, got[0].Dst.Addr().IsMulticast())
	// Shared record: RFC 6762 section 6 delays the answer by 20-120 ms.
	assert.GreaterOrEqual(t, got[0].Time.Sub(sent2.Time), 20*time.Millisecond-annCaptureSlack)
	// The answer carries the instance's records as additional records
	// (RFC 6763 section 12.1).
	var extra []uint16
	for _, rr := range got[0].Msg.Extra {
		extra = append(extra, rr.Header().Rrtype)
	}
	assert.Subset(t, extra, []uint16{dns.TypeSRV, dns.TypeTXT, dns.TypeA})
}

// TestAnnounceNSEC: a question for a type a name of ours lacks gets an
// NSEC record listing the types it has (RFC 6762 section 6.1).
func TestAnnounceNSEC(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	annStart(t, ctx, h1, annArgs()...)
	annSettle(t, ctx, obs, h1, annInstance)

	for _, tc := range []struct {
		name  string
		qtype uint16
		want  []uint16
	}{
		{annInstance, dns.TypeAAAA, []uint16{dns.TypeTXT, dns.TypeSRV}},
		{annInstance, dns.TypeA, []uint16{dns.TypeTXT, dns.TypeSRV}},
		{"h1.local.", dns.TypeTXT, []uint16{dns.TypeA, dns.TypeAAAA}},
	} {
		t.Run(dns.TypeToString[tc.qtype]+" "+tc.name, func(t *testing.T) {
			// The same NSEC record is multicast at most once a second
			// (RFC 6762 section 6.2).
			time.Sleep(1100 * time.Millisecond)
			q := annQuery(tc.name, tc.qtype, false)
			mark := time.Now()
			annRunQuery(t, ctx, h2, "224.0.0.251:5353", 5353, 0, q)
			got := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, func(c lantest.Captured) bool {
				return annFromHost(c, h1) && c.Time.After(mark) && annHasAnswer(c, tc.name, dns.TypeNSEC)
			})
			rr := annAnswerRR(got[0], tc.name, dns.TypeNSEC)
			nsec := rr.(*dns.NSEC)
			assert.True(t, dnsname.Equal(nsec.NextDomain, tc.name), "next domain is the name itself: %v", nsec)
			assert.Equal(t, tc.want, nsec.TypeBitMap)
			assert.NotZero(t, nsec.Hdr.Class&annFlushBit, "NSEC is unique: cache-flush")
			assert.Nil(t, annAnswerRR(got[0], tc.name, tc.qtype), "no record of the type asked for")
		})
	}
}

// TestAnnounceIPv6Only: on a LAN without IPv4, lansd announces over
// ff02::fb with AAAA records only and answers queries there.
func TestAnnounceIPv6Only(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2), lantest.IPv4(false), lantest.IPv6(true))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	_, line := annStart(t, ctx, h1, annArgs()...)
	assert.Equal(t, `announced "`+annInstance+`" on lan0`, line)
	ann, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h1) && annHasAnswer(c, annInstance, dns.TypeSRV) })
	require.NoError(t, err)
	assert.Equal(t, "[ff02::fb]:5353", ann.Dst.String())
	var aaaa []string
	for _, rr := range annRecords(ann) {
		switch v := rr.(type) {
		case *dns.A:
			t.Errorf("A record on an IPv6-only host: %v", v)
		case *dns.AAAA:
			aaaa = append(aaaa, v.AAAA.String())
		case *dns.NSEC:
			if dnsname.Equal(v.Hdr.Name, "h1.local.") {
				assert.Equal(t, []uint16{dns.TypeAAAA}, v.TypeBitMap, "the host asserts it has no A record")
			}
		}
	}
	assert.Equal(t, []string{"fe80::1"}, aaaa)

	annSettle(t, ctx, obs, h1, annInstance)
	q := annQuery(annInstance, dns.TypeSRV, false)
	q.Id = 0x6666
	annRunQuery(t, ctx, h2, "[ff02::fb%lan0]:5353", 5353, 0, q)
	sent, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h2) && c.Msg != nil && c.Msg.Id == q.Id })
	require.NoError(t, err)
	got := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && c.Time.After(sent.Time) && annHasAnswer(c, annInstance, dns.TypeSRV)
	})
	assert.Equal(t, "[ff02::fb]:5353", got[0].Dst.String())
	var extra []string
	for _, rr := range got[0].Msg.Extra {
		if v, ok := rr.(*dns.AAAA); ok {
			extra = append(extra, v.AAAA.String())
		}
	}
	assert.Equal(t, []string{"fe80::1"}, extra, "the SRV target's address comes along")

	for _, c := range obs.Packets() {
		assert.False(t, c.Src.Addr().Is4(), "no IPv4 packet on an IPv6-only LAN: %v -> %v", c.Src, c.Dst)
	}
}

// TestAnnounceMalformedFlood: 10,000 malformed and hostile packets leave
// the responder answering, and its memory flat.
func TestAnnounceMalformedFlood(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	ctx := lantest.Context(t, 90*time.Second)
	h1, h2 := lan.Host(1), lan.Host(2)
	p, _ := annStart(t, ctx, h1, annArgs("-v")...)
	require.Equal(t, "lansd", annComm(t, p.Pid()), "the PID is lansd's (exec'd by the guard)")
	dst := h1.IPv4.String() + ":5353"
	flood := func(n int) {
		f := h2.Helper(t, "announce-flood", "F_DST="+dst, fmt.Sprintf("F_COUNT=%d", n), "F_NAME="+annInstance)
		require.NoError(t, f.Wait(ctx), "%q", f.Lines())
		_, err := f.WaitFor(ctx, regexp.MustCompile(`^FLOODED `))
		require.NoError(t, err)
	}
	malformedLines := func() int {
		n := 0
		for _, l := range p.Lines() {
			if strings.Contains(l, "dropped malformed packet") {
				n++
			}
		}
		return n
	}
	// Warm up (the heap settles), then measure around 10,000 packets.
	flood(1000)
	time.Sleep(500 * time.Millisecond)
	before, seenBefore := annVmRSS(t, p.Pid()), malformedLines()
	flood(10000)
	time.Sleep(time.Second)
	after, seenAfter := annVmRSS(t, p.Pid()), malformedLines()
	t.Logf("VmRSS %d kB -> %d kB; malformed packets logged as dropped: %d of ~8333", before, after, seenAfter-seenBefore)
	assert.Less(t, after-before, 5*1024, "memory stays flat (kB)")
	assert.Greater(t, seenAfter-seenBefore, 1000, "the flood reached the responder")
	require.False(t, p.Exited(), "%q", p.Lines())

	q := annQuery(annInstance, dns.TypeSRV, false)
	q.Id = 0x7777
	replies := annRunQuery(t, ctx, h2, dst, 0, 1500*time.Millisecond, q)
	require.NotEmpty(t, replies, "still answering after the flood")
	assert.Equal(t, q.Id, replies[0].Msg.Id)
	assert.NotNil(t, annAnswerRR(lantest.Captured{Msg: replies[0].Msg}, annInstance, dns.TypeSRV))
}

// TestAnnounceConfigTwoServices: --config announces every service of the
// file.
func TestAnnounceConfigTwoServices(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	cfg := filepath.Join(t.TempDir(), "services.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}},
  {"name": "Keychain", "service": "_jnx-kcsync._tcp", "port": 5000, "txt": [
    "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8",
    "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9",
    "uuid=db61dc092922252e45bbb264f59147138c7fd5fa"]}
]}`), 0o600))
	p := clitest.Start(t, h1, "announce", "--config", cfg)
	annCapture(t, p)
	lines, err := p.WaitForN(ctx, annAnnouncedRE, 2)
	require.NoError(t, err, "%q", p.Lines())
	var names []string
	for _, l := range lines {
		n, ifs, renamed := annParseAnnounced(t, l)
		names = append(names, n)
		assert.Equal(t, "lan0", ifs)
		assert.Empty(t, renamed)
	}
	kc := "Keychain._jnx-kcsync._tcp.local."
	assert.Equal(t, []string{annInstance, kc}, names, "in file order")
	for _, inst := range []string{annInstance, kc} {
		c, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h1) && annHasAnswer(c, inst, dns.TypeSRV) })
		require.NoError(t, err, inst)
		assert.True(t, c.Dst.Addr().IsMulticast())
	}
	kcTXT, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h1) && annHasAnswer(c, kc, dns.TypeTXT) })
	require.NoError(t, err)
	assert.Len(t, annAnswerRR(kcTXT, kc, dns.TypeTXT).(*dns.TXT).Txt, 3)
}

// TestAnnounceUpdateTXTAndRemove: the library in a helper process:
// UpdateTXT announces the new TXT with the cache-flush bit (RFC 6762
// section 8.4); Remove sends goodbyes for that service only (10.1).
func TestAnnounceUpdateTXTAndRemove(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	p := h1.Helper(t, "announce-inproc")
	_, err := p.WaitFor(ctx, regexp.MustCompile(`^(READY|FATAL) `))
	require.NoError(t, err, "%q", p.Lines())
	require.True(t, slices.ContainsFunc(p.Lines(), func(l string) bool { return strings.HasPrefix(l, "READY ") }), "%q", p.Lines())
	alpha, beta := "Alpha."+annType, "Beta."+annType
	annSettle(t, ctx, obs, h1, beta)

	mark := time.Now()
	require.NoError(t, p.WriteLine("UPDATE path=/new version=2"))
	_, err = p.WaitFor(ctx, regexp.MustCompile(`^UPDATED <nil>$`))
	require.NoError(t, err, "%q", p.Lines())
	upd := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && c.Time.After(mark) && annHasAnswer(c, alpha, dns.TypeTXT)
	})
	txtRR := annAnswerRR(upd[0], alpha, dns.TypeTXT).(*dns.TXT)
	assert.Equal(t, []string{"path=/new", "version=2"}, txtRR.Txt)
	assert.NotZero(t, txtRR.Hdr.Class&annFlushBit, "the new TXT flushes the old one from caches")
	assert.NotZero(t, txtRR.Hdr.Ttl)
	assert.True(t, upd[0].Dst.Addr().IsMulticast())

	mark = time.Now()
	require.NoError(t, p.WriteLine("REMOVE"))
	_, err = p.WaitFor(ctx, regexp.MustCompile(`^REMOVED <nil>$`))
	require.NoError(t, err, "%q", p.Lines())
	byes := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && c.Time.After(mark) && annHasAnswer(c, alpha, dns.TypeSRV)
	})
	bye := byes[0]
	var withdrawn []string
	for _, rr := range bye.Msg.Answer {
		assert.Zero(t, rr.Header().Ttl, "goodbye: %v", rr)
		withdrawn = append(withdrawn, dns.TypeToString[rr.Header().Rrtype])
	}
	assert.ElementsMatch(t, []string{"PTR", "SRV", "TXT"}, withdrawn, "Alpha's PTR, SRV and TXT; the enumeration PTR stays (Beta uses it)")
	assert.True(t, annHasPTR(bye, annType, alpha))
	time.Sleep(time.Second)
	for _, c := range annFilter(obs.Packets(), func(c lantest.Captured) bool { return annFromHost(c, h1) && c.Time.After(mark) }) {
		for _, rr := range annRecords(c) {
			if rr.Header().Ttl == 0 {
				assert.True(t, dnsname.Equal(rr.Header().Name, alpha) || annHasPTR(lantest.Captured{Msg: &dns.Msg{Answer: []dns.RR{rr}}}, annType, alpha),
					"only Alpha is withdrawn: %v", rr)
			}
		}
	}

	mark = time.Now()
	require.NoError(t, p.WriteLine("CLOSE"))
	_, err = p.WaitFor(ctx, regexp.MustCompile(`^CLOSED <nil>$`))
	require.NoError(t, err, "%q", p.Lines())
	last := annWaitPackets(t, lantest.Context(t, 5*time.Second), obs, 1, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && c.Time.After(mark) && annHasAnswer(c, beta, dns.TypeSRV)
	})
	assert.True(t, annHasPTR(last[0], "_services._dns-sd._udp.local.", annType), "the last service takes the enumeration PTR with it")
	for _, rr := range last[0].Msg.Answer {
		assert.Zero(t, rr.Header().Ttl, "%v", rr)
	}
	require.NoError(t, p.Wait(ctx))
}

// TestAnnounceInvalidSendsNothing: a TXT record that breaks the registry's
// rules makes lansd announce exit 2 with the finding, before a single
// packet is sent; with --no-validate it is announced with a warning.
func TestAnnounceInvalidSendsNothing(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	args := []string{"announce", "--service", "jnx-kcsync", "--name", "Keychain", "--port", "5000",
		"--txt", "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f",
		"--txt", "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9",
		"--txt", "uuid=db61dc092922252e45bbb264f59147138c7fd5fa"}
	p := clitest.Start(t, h1, args...)
	annCapture(t, p)
	err := p.Wait(ctx)
	require.Error(t, err)
	assert.Equal(t, 2, p.ExitCode(), "%q", p.Lines())
	assert.Contains(t, p.Lines(), `error: key "hash" at offset 0: value byte 39 (wire offset 45): found 39 hex digits, want exactly 40 (jnx-kcsync: hash=<40hex characters>)`)

	// Nothing went out. (The observer may lag a little behind the wire.)
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, annFilter(obs.Packets(), func(c lantest.Captured) bool { return annFromHost(c, h1) }), "nothing sent")

	// --no-validate: announced anyway, with the finding as a warning. Its
	// packets show that the observer would have seen the first run's.
	q := clitest.Start(t, h1, append(args, "--no-validate")...)
	annCapture(t, q)
	line, err := q.WaitFor(ctx, annAnnouncedRE)
	require.NoError(t, err, "%q", q.Lines())
	assert.Equal(t, `announced "Keychain._jnx-kcsync._tcp.local." on lan0`, line)
	assert.Contains(t, q.Lines(), `warning: ignored (--no-validate): error: key "hash" at offset 0: value byte 39 (wire offset 45): found 39 hex digits, want exactly 40 (jnx-kcsync: hash=<40hex characters>)`)
	c, err := obs.WaitFor(ctx, func(c lantest.Captured) bool {
		return annFromHost(c, h1) && annHasAnswer(c, "Keychain._jnx-kcsync._tcp.local.", dns.TypeTXT)
	})
	require.NoError(t, err)
	assert.Equal(t, "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f", annAnswerRR(c, "Keychain._jnx-kcsync._tcp.local.", dns.TypeTXT).(*dns.TXT).Txt[0])
}

// TestAnnounceFlags: --subtype publishes the subtype PTR, --host sets the
// SRV target, --ipv4-only keeps lansd off IPv6, --iface names the
// interface.
func TestAnnounceFlags(t *testing.T) {
	t.Parallel()
	lan := lantest.New(t, lantest.Hosts(2))
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 60*time.Second)
	h1 := lan.Host(1)
	_, line := annStart(t, ctx, h1, annArgs("--subtype", "_primary", "--host", "tzserver", "--ipv4-only", "--iface", "lan0")...)
	assert.Equal(t, `announced "`+annInstance+`" on lan0`, line)
	ann, err := obs.WaitFor(ctx, func(c lantest.Captured) bool { return annFromHost(c, h1) && annHasAnswer(c, annInstance, dns.TypeSRV) })
	require.NoError(t, err)
	assert.True(t, annHasPTR(ann, "_primary._sub."+annType, annInstance), "subtype PTR (RFC 6763 section 7.1)")
	for _, rr := range ann.Msg.Answer {
		if p, ok := rr.(*dns.PTR); ok && dnsname.Equal(p.Hdr.Name, "_primary._sub."+annType) {
			assert.Zero(t, p.Hdr.Class&annFlushBit, "shared")
		}
	}
	srv := annAnswerRR(ann, annInstance, dns.TypeSRV).(*dns.SRV)
	assert.True(t, dnsname.Equal(srv.Target, "tzserver.local."), "SRV target %q", srv.Target)
	time.Sleep(500 * time.Millisecond)
	pkts := annFilter(obs.Packets(), func(c lantest.Captured) bool { return annFromHost(c, h1) })
	require.NotEmpty(t, pkts)
	for _, c := range pkts {
		assert.True(t, annIsV4(c), "--ipv4-only: %v -> %v", c.Src, c.Dst)
	}
}
