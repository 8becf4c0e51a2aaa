package browse

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
)

// fuzzMaxRecords is the cache bound of FuzzBrowser's browser: small, so
// that inputs can fill it.
const fuzzMaxRecords = 24

// fuzzBrowserSeeds returns the seed pairs of packets written in code (more
// are in testdata/fuzz/FuzzBrowser): an instance announced, updated, said
// goodbye to, flushed; many instances at once; an enumeration answer.
func fuzzBrowserSeeds(t testing.TB) [][2][]byte {
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		require.NoError(t, err)
		return b
	}
	many := mdnstest.Response()
	for i := range 12 {
		name := dnsname.EscapeLabel("Spoof "+string(rune('a'+i))) + "._timezone._tcp.local."
		many.Answer = append(many.Answer, mdnstest.PTR("_timezone._tcp.local.", name, 120),
			mdnstest.SRV(name, "h3.local.", 80, 120), mdnstest.TXT(name, 120, "path=/x"))
	}
	many.Extra = append(many.Extra, mdnstest.A("h3.local.", "198.51.100.13", 120))
	enum := mdnstest.Response(mdnstest.PTR("_services._dns-sd._udp.local.", "_timezone._tcp.local.", 4500))
	return [][2][]byte{
		{pack(tzInstance(120)), pack(tzInstance(120, "path=/tz2"))},
		{pack(tzInstance(120)), pack(mdnstest.Goodbye(tzInstance(120)))},
		{pack(tzInstance(1)), pack(mdnstest.Response(mdnstest.A("h2.local.", "198.51.100.99", 120)))},
		{pack(many), pack(tzInstance(120))},
		{pack(enum), pack(mdnstest.Query(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)))},
	}
}

// fuzzSource returns where FuzzBrowser's packet i comes from, by the bits
// of mode: bit i the source host (198.51.100.12 or .13, fe80::2 or ::3),
// bit 2 the family, bit 3 unicast to the browser instead of multicast,
// bit 4 a source port other than 5353.
func fuzzSource(mode byte, i int) (fam mdns.Family, src netip.AddrPort, dst netip.Addr) {
	fam = mdns.IPv4
	addrs := [2]string{"198.51.100.12", "198.51.100.13"}
	dst = netip.MustParseAddr("198.51.100.11")
	if mode&4 != 0 {
		fam, addrs, dst = mdns.IPv6, [2]string{"fe80::2", "fe80::3"}, netip.MustParseAddr("fe80::1")
	}
	if mode&8 == 0 {
		dst = mdns.Group(fam).Addr()
	}
	port := uint16(mdns.Port)
	if mode&16 != 0 {
		port = 40000
	}
	return fam, netip.AddrPortFrom(netip.MustParseAddr(addrs[mode>>i&1]), port), dst
}

// FuzzBrowser feeds two datagrams, a second apart, to a browser of
// _timezone._tcp with a cache of fuzzMaxRecords records on an in-memory
// link, as mode says (fuzzSource), lets it run for two minutes (its
// queries, resolutions, expiries), and checks that:
//   - it did not panic;
//   - its cache stayed within its bound (Stats.Records, at every step);
//   - every query it sent fits its interface's MTU (RFC 6762 section 17);
//   - its events are well-formed: per instance name and interface, Add
//     only when not reported, Update and Remove only when reported, and
//     what is reported at the end is what Instances and Stats.Instances
//     say.
//
// Datagrams that do not unpack are dropped, as internal/mdns drops them.
func FuzzBrowser(f *testing.F) {
	for _, s := range fuzzBrowserSeeds(f) {
		for _, mode := range []byte{0, 2, 4 | 1} {
			f.Add(mode, s[0], s[1])
		}
	}
	f.Fuzz(func(t *testing.T, mode byte, p0, p1 []byte) { fuzzBrowserOnce(t, mode, p0, p1) })
}

// fuzzBrowserOnce runs one input of FuzzBrowser and returns its events.
func fuzzBrowserOnce(t *testing.T, mode byte, pkts ...[]byte) (evs []Event) {
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		b, log := browseFake(t, []string{"timezone"}, Options{MaxRecords: fuzzMaxRecords}, tr)
		time.Sleep(200 * time.Millisecond)
		for i, p := range pkts {
			fam, src, dst := fuzzSource(mode, i)
			_ = tr.l.InjectWire(tr.h, fakeEth0.Index, fam, src, dst, p) // what does not unpack is dropped
			synctest.Wait()
			require.LessOrEqual(t, b.Stats().Records, fuzzMaxRecords, "cache over its bound")
			time.Sleep(time.Second)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()

		st := b.Stats()
		require.LessOrEqual(t, st.Records, fuzzMaxRecords, "cache over its bound")
		require.GreaterOrEqual(t, st.Records, 0)
		for _, p := range tr.sent() {
			require.LessOrEqual(t, p.Size, mdns.PacketLimit(fakeEth0.MTU, p.Family), "query over the MTU: %v", p.Msg)
		}
		evs = log.all()
		live := map[string]bool{}
		for _, ev := range evs {
			require.Len(t, ev.Instance.Ifaces, 1)
			k := dnsname.MustKey(ev.Instance.Name) + "%" + ev.Instance.Ifaces[0]
			switch ev.Kind {
			case Add:
				require.False(t, live[k], "Add of %s, already reported", k)
				live[k] = true
			case Update, Remove:
				require.True(t, live[k], "%v of %s, not reported", ev.Kind, k)
				if ev.Kind == Remove {
					delete(live, k)
				}
			default:
				t.Fatalf("event kind %v", ev.Kind)
			}
		}
		require.Len(t, b.Instances(), len(live), "Instances and the events disagree")
		require.Equal(t, len(live), st.Instances, "Stats.Instances and the events disagree")
	})
	return evs
}

// The harness of FuzzBrowser reaches the browser: an announcement is
// added, its update reported and its expiry, a goodbye removes it, a 1 s
// TTL expires, and a source filling its share of the cache does not keep
// another's instance out.
func TestFuzzBrowserHarness(t *testing.T) {
	seeds := fuzzBrowserSeeds(t)
	kinds := func(evs []Event) []EventKind {
		var out []EventKind
		for _, ev := range evs {
			out = append(out, ev.Kind)
		}
		return out
	}
	require.Equal(t, []EventKind{Add, Update, Remove}, kinds(fuzzBrowserOnce(t, 0, seeds[0][:]...)), "the last on expiry")
	require.Equal(t, []EventKind{Add, Remove}, kinds(fuzzBrowserOnce(t, 0, seeds[1][:]...)))
	require.Equal(t, []EventKind{Add, Remove}, kinds(fuzzBrowserOnce(t, 4, seeds[2][:]...)))
	honest := 0
	for _, ev := range fuzzBrowserOnce(t, 2, seeds[3][:]...) {
		if ev.Instance.Instance == "Office TZ" && ev.Kind == Add {
			honest++
		}
	}
	require.Equal(t, 1, honest, "the second source's instance is added past the first's flood")
}

// readCorpusFile reads a seed of FuzzBrowser from testdata/fuzz (the
// `go test fuzz v1` format: a byte and two []byte, as Go literals).
func readCorpusFile(t *testing.T, path string) (mode byte, p0, p1 []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 4, "%s", path)
	require.Equal(t, "go test fuzz v1", lines[0])
	m, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "byte("), ")"))
	require.NoError(t, err, "%s", path)
	require.Len(t, m, 1, "%s", path)
	var pkts [2][]byte
	for i := range pkts {
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2+i], "[]byte("), ")"))
		require.NoError(t, err, "%s", path)
		pkts[i] = []byte(s)
	}
	return m[0], pkts[0], pkts[1]
}

// The seeds captured from Avahi, python-zeroconf and lansd on the virtual
// LAN (interop TestCaptureFuzzCorpus) reach the browser: some of each
// origin's report an instance of _timezone._tcp.
func TestFuzzBrowserCapturedSeeds(t *testing.T) {
	for _, origin := range []string{"avahi", "pyzc", "lansd"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzBrowser", origin+"-*"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "no captured seeds of %s", origin)
		added := 0
		for _, f := range files {
			mode, p0, p1 := readCorpusFile(t, f)
			for _, ev := range fuzzBrowserOnce(t, mode, p0, p1) {
				if ev.Kind == Add {
					added++
					break
				}
			}
		}
		t.Logf("%s: %d captured seeds, %d reported an instance", origin, len(files), added)
		require.Positive(t, added, "no seed of %s reached the browser", origin)
	}
}
