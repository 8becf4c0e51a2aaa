package interop

// TestCaptureFuzzCorpus regenerates the seed corpora of real packets for
// the fuzz targets that read mDNS datagrams (FuzzResponder, FuzzBrowser,
// FuzzUnpackMessage) and TXT records (txt FuzzDecode): Avahi, python-
// zeroconf and lansd announce, probe, browse, resolve, update, rename and
// say goodbye on a virtual LAN while lantest's observer captures every
// datagram on the bridge. Run only on request:
//
//	LANSD_CAPTURE_CORPUS=1 LANSD_REQUIRE_PEERS=1 go test ./interop -run '^TestCaptureFuzzCorpus$' -v
//
// It replaces the files named avahi-*, pyzc-* and lansd-* in each target's
// testdata/fuzz directory and leaves every other seed alone.

import (
	"bytes"
	"encoding/binary"
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
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// captureEnv turns TestCaptureFuzzCorpus on.
const captureEnv = "LANSD_CAPTURE_CORPUS"

// captureCap bounds the seeds written per origin and target (the TXT
// records of txt FuzzDecode: captureTXTCap).
const (
	captureCap    = 60
	captureTXTCap = 8
)

// captureOrigins are the peers whose packets become seeds, in the order
// the files are written.
var captureOrigins = []string{"avahi", "pyzc", "lansd"}

// captureConfig is lansd announce's --config on h3: the first two names
// are also Avahi's (a conflict each: lansd renames), the third has a TXT
// record of about 600 bytes.
const captureConfig = `{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz", "tz": "Europe/Paris", "v": "1", "color": true}},
  {"name": "Printer", "service": "_http._tcp", "port": 80, "subtypes": ["_printer"], "txt": ["path=/", "rp=queue", "note="]},
  {"name": "Big.TXT", "service": "_ipp._tcp", "port": 631, "txt": [%s]}
]}`

// TestCaptureFuzzCorpus: on a LAN of six hosts (h1 Avahi, h2/h5/h6
// python-zeroconf, h3/h4 lansd) every peer announces, probes, renames,
// browses, resolves and says goodbye; the distinct datagrams of each origin
// become fuzz seeds (writeCorpora). Skipped unless LANSD_CAPTURE_CORPUS=1.
func TestCaptureFuzzCorpus(t *testing.T) {
	if os.Getenv(captureEnv) != "1" {
		t.Skipf("regenerates the fuzz seed corpora from captured packets; set %s=1 to run", captureEnv)
	}
	requireAvahi(t)
	requirePython(t)
	lan := lantest.New(t, lantest.Hosts(6))
	h1, h2, h3, h4, h5, h6 := lan.Host(1), lan.Host(2), lan.Host(3), lan.Host(4), lan.Host(5), lan.Host(6)
	origin := map[netip.Addr]string{}
	for h, o := range map[*lantest.Host]string{h1: "avahi", h2: "pyzc", h5: "pyzc", h6: "pyzc", h3: "lansd", h4: "lansd"} {
		origin[h.IPv4], origin[h.LinkLocal] = o, o
	}
	obs := lan.Observe(t)
	ctx := lantest.Context(t, 3*time.Minute)

	// Avahi on h1: a static service with several TXT keys, a published one
	// with a subtype, a browser resolving _timezone._tcp; the daemon
	// publishes h1.local. with its IPv4 and IPv6 addresses.
	av := startAvahi(t, h1, avahiService{Name: "Office TZ", Port: 8081, TXT: []string{"path=/tz", "tz=Europe/Berlin", "v=2", "color", "note="}})
	avPub := av.Tool(t, "avahi-publish", "-s", "--subtype", "_printer._sub._http._tcp", "Printer", "_http._tcp", "80", "rp=lp", "ty=Laser", "pdl=application/pdf")
	avBr := av.browse(t)
	av.Tool(t, "avahi-browse", "-r", "-p", "-k", "-f", "_http._tcp")
	// An extra host name with an IPv4 and an IPv6 address.
	avA := av.Tool(t, "avahi-publish", "-a", "-R", "printer.local", "198.51.100.50")
	avAAAA := av.Tool(t, "avahi-publish", "-a", "-R", "printer.local", "fe80::50")
	for _, p := range []*lantest.Proc{avA, avAAAA} {
		_, err := p.WaitFor(ctx, regexp.MustCompile(`^Established under name`))
		require.NoError(t, err, "avahi-publish -a:\n%v", p.Lines())
	}

	// python-zeroconf: a registered instance on h2, a browser on h5 (alone
	// on its host: see TestPyZeroconfNameConflicts).
	pyBr := startPy(t, h5, "browse", "--type", pyType)
	_, err := waitPy(ctx, pyBr, "ready", "")
	require.NoError(t, err)
	py := startPy(t, h2, pyRegisterArgs(h2, "Py Zc", 8090, "path=/py", "v=1", "flag")...)
	_, err = waitPy(ctx, py, "registered", "Py Zc._timezone._tcp.local.")
	require.NoError(t, err, "pyzc.py register:\n%v", py.Lines())
	_, err = avPub.WaitFor(ctx, regexp.MustCompile(`^Established under name`))
	require.NoError(t, err, "avahi-publish:\n%v", avPub.Lines())
	// Avahi takes python's name second: it probes, loses and renames.
	avDup := av.publish(t, "Py Zc", 8095, "path=/avahi")
	_, err = avDup.WaitFor(ctx, regexp.MustCompile(`^Established under name`))
	require.NoError(t, err, "avahi-publish:\n%v", avDup.Lines())
	// python takes Avahi's name second, allowed to rename (on its own host).
	pyDup := startPy(t, h6, append(pyRegisterArgs(h6, "Office TZ", 8096, "path=/py-dup"), "--rename")...)
	_, err = waitPy(ctx, pyDup, "registered", "")
	require.NoError(t, err, "pyzc.py register --rename:\n%v", pyDup.Lines())

	// lansd on h3: three services, two of them taken by Avahi (probes,
	// conflicts, renames), and the host name h1, taken by Avahi too.
	long := make([]string, 0, 12)
	for i := range 12 {
		long = append(long, fmt.Sprintf("%q", "k"+string(rune('a'+i))+"="+strings.Repeat("v", 45)))
	}
	conf := filepath.Join(t.TempDir(), "services.json")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, captureConfig, strings.Join(long, ", ")), 0o644))
	ann := clitest.Start(t, h3, "announce", "--config", conf, "--hostname", "h1", "--iface", lantest.Iface)
	_, err = ann.WaitForN(ctx, announcedRE, 3)
	require.NoError(t, err, "lansd announce:\n%v", ann.Lines())

	// lansd on h4: a browser (known-answer queries as it re-asks), a
	// subtype browser, an enumeration, a resolve.
	br := startBrowse(t, h4)
	for _, name := range []string{"Py Zc", "Office TZ", "Office TZ (2)"} {
		_, err := clitest.WaitEvent(ctx, br, "add", name, nil)
		require.NoError(t, err, "lansd browse:\n%v", br.Lines())
	}
	sub := clitest.Start(t, h4, "browse", "_http._tcp", "--subtype", "_printer", "--json", "--iface", lantest.Iface, "--once")
	all := clitest.Start(t, h4, "browse", "--all", "--json", "--iface", lantest.Iface, "--once")
	res := clitest.Start(t, h4, "resolve", "Py Zc._timezone._tcp.local.", "--json", "--iface", lantest.Iface)
	resAv := clitest.Start(t, h4, "resolve", "Office TZ._timezone._tcp.local.", "--json", "--iface", lantest.Iface)
	for _, p := range []*lantest.Proc{sub, all, res, resAv} {
		require.NoError(t, p.Wait(ctx), "%v", p.Lines())
	}
	for _, name := range []string{"Office TZ", "Office TZ (2)"} {
		_, err = waitAvahi(ctx, avBr, "=", name, "")
		require.NoError(t, err, "avahi-browse:\n%v", avBr.Lines())
		_, err = waitPy(ctx, pyBr, "add", name+"._timezone._tcp.local.")
		require.NoError(t, err, "pyzc.py browse:\n%v", pyBr.Lines())
	}

	// The browsers' later queries carry known answers (RFC 6762 section
	// 7.1), at growing intervals.
	time.Sleep(4 * time.Second)

	// Updates and goodbyes: python's TXT, then everyone withdraws.
	require.NoError(t, py.WriteLine("TXT path=/py2 v=2"))
	_, err = clitest.WaitEvent(ctx, br, "update", "Py Zc", func(e clitest.Event) bool { return e.TXTValue("path") == "/py2" })
	require.NoError(t, err, "lansd browse:\n%v", br.Lines())
	require.NoError(t, py.WriteLine("QUIT"))
	_, err = waitPy(ctx, py, "unregistered", "")
	require.NoError(t, err)
	stopAnnounce(t, ann)
	require.NoError(t, avPub.Signal(syscall.SIGTERM))
	_, err = clitest.WaitEvent(ctx, br, "remove", "Office TZ (2)", nil)
	require.NoError(t, err, "lansd browse:\n%v", br.Lines())
	require.NoError(t, pyDup.WriteLine("QUIT"))
	require.NoError(t, av.daemon.Signal(syscall.SIGTERM))
	_, err = clitest.WaitEvent(ctx, br, "remove", "Office TZ", nil)
	require.NoError(t, err, "lansd browse:\n%v", br.Lines())
	time.Sleep(time.Second)
	require.Empty(t, obs.Errors())

	var pkts []capturedPacket
	for _, c := range obs.Packets() {
		o, ok := origin[c.Src.Addr()]
		if !ok || c.Msg == nil || (c.Src.Port() != 5353 && c.Dst.Port() != 5353) {
			continue
		}
		pkts = append(pkts, capturedPacket{Captured: c, origin: o})
	}
	t.Logf("%d mDNS datagrams captured", len(pkts))
	writeCorpora(t, "..", pkts)
}

// capturedPacket is one captured mDNS datagram and the peer that sent it.
type capturedPacket struct {
	lantest.Captured
	origin string
}

// kind names what a datagram is: a probe (a query with an authority
// section, RFC 6762 section 8.1), a known-answer query (section 7.1), a
// query, a goodbye (a response whose answers all have TTL 0, section 10.1)
// or a response.
func (p capturedPacket) kind() string {
	m := p.Msg
	switch {
	case !m.Response && len(m.Ns) > 0:
		return "probe"
	case !m.Response && len(m.Answer) > 0:
		return "kaquery"
	case !m.Response:
		return "query"
	}
	for _, rr := range m.Answer {
		if rr.Header().Ttl != 0 {
			return "response"
		}
	}
	if len(m.Answer) == 0 {
		return "response"
	}
	return "goodbye"
}

// unicast reports whether the datagram went to a host, not to the group.
func (p capturedPacket) unicast() bool { return !p.Dst.Addr().IsMulticast() }

// signature groups datagrams that look alike: kind, destination, the
// record types of each section and whether a question asks for a unicast
// reply (QU) or a record has the cache-flush bit.
func (p capturedPacket) signature() string {
	types := func(rrs []dns.RR) string {
		var s []string
		for _, rr := range rrs {
			t := dns.TypeToString[rr.Header().Rrtype]
			if rr.Header().Class&0x8000 != 0 {
				t += "!"
			}
			if !slices.Contains(s, t) {
				s = append(s, t)
			}
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	var q []string
	for _, x := range p.Msg.Question {
		t := dns.TypeToString[x.Qtype]
		if x.Qclass&0x8000 != 0 {
			t += "/QU"
		}
		if !slices.Contains(q, t) {
			q = append(q, t)
		}
	}
	slices.Sort(q)
	return fmt.Sprintf("%s %v q=%s an=%s ns=%s ar=%s", p.kind(), p.unicast(), strings.Join(q, ","),
		types(p.Msg.Answer), types(p.Msg.Ns), types(p.Msg.Extra))
}

// selectVariety picks at most n datagrams of pkts, distinct by bytes,
// round-robin over their signatures (in order of first appearance), so
// that rare kinds come before the hundredth copy of a common one.
func selectVariety(pkts []capturedPacket, n int) []capturedPacket {
	seen := map[string]bool{}
	groups := map[string][]capturedPacket{}
	var order []string
	for _, p := range pkts {
		if seen[string(p.Payload)] {
			continue
		}
		seen[string(p.Payload)] = true
		s := p.signature()
		if _, ok := groups[s]; !ok {
			order = append(order, s)
		}
		groups[s] = append(groups[s], p)
	}
	var out []capturedPacket
	for i := 0; len(out) < n; i++ {
		added := false
		for _, s := range order {
			if i < len(groups[s]) && len(out) < n {
				out = append(out, groups[s][i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	slices.SortStableFunc(out, func(a, b capturedPacket) int { return a.Time.Compare(b.Time) })
	return out
}

// next returns the first datagram after p in pkts from the same source
// address with other bytes, or nil: FuzzBrowser's second packet.
func next(pkts []capturedPacket, p capturedPacket) []byte {
	for _, q := range pkts {
		if q.Time.After(p.Time) && q.Src.Addr() == p.Src.Addr() && !bytes.Equal(q.Payload, p.Payload) {
			return q.Payload
		}
	}
	return []byte{}
}

// corpusFile renders values in the format of Go's fuzzing corpus files
// (`go test fuzz v1`, one Go literal per line), as the go command writes
// them.
func corpusFile(values ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		default:
			panic(fmt.Sprintf("corpusFile: %T", v))
		}
	}
	return b.Bytes()
}

// responderMode is FuzzResponder's mode for a captured datagram (see
// announce's fuzzDelivery): bit 0 IPv6, bit 1 unicast to the responder,
// bit 2 a source port other than 5353.
func responderMode(p capturedPacket) byte {
	var m byte
	if p.Src.Addr().Is6() {
		m |= 1
	}
	if p.unicast() {
		m |= 2
	}
	if p.Src.Port() != 5353 {
		m |= 4
	}
	return m
}

// browserMode is FuzzBrowser's mode (see browse's fuzzSource): both
// packets from the first source, bit 2 IPv6, bit 3 unicast, bit 4 a source
// port other than 5353.
func browserMode(p capturedPacket) byte {
	var m byte
	if p.Src.Addr().Is6() {
		m |= 4
	}
	if p.unicast() {
		m |= 8
	}
	if p.Src.Port() != 5353 {
		m |= 16
	}
	return m
}

// txtWire returns the RDATA of a TXT record: its strings, each after its
// length byte.
func txtWire(rr *dns.TXT) []byte {
	buf := make([]byte, dns.MaxMsgSize)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil || off < 2 {
		return nil
	}
	// The owner name is packed uncompressed, then type, class, TTL and
	// RDLENGTH.
	nameEnd, err := dns.PackDomainName(rr.Hdr.Name, buf, 0, nil, false)
	if err != nil || nameEnd+10 > off {
		return nil
	}
	n := int(binary.BigEndian.Uint16(buf[nameEnd+8:]))
	if nameEnd+10+n != off {
		return nil
	}
	return append([]byte(nil), buf[nameEnd+10:off]...)
}

// writeCorpora replaces the captured seeds (files avahi-*, pyzc-*, lansd-*)
// of every target under root with a selection of pkts per origin.
func writeCorpora(t *testing.T, root string, pkts []capturedPacket) {
	dirs := map[string]string{
		"responder": filepath.Join(root, "announce", "testdata", "fuzz", "FuzzResponder"),
		"browser":   filepath.Join(root, "browse", "testdata", "fuzz", "FuzzBrowser"),
		"unpack":    filepath.Join(root, "internal", "mdns", "testdata", "fuzz", "FuzzUnpackMessage"),
		"txt":       filepath.Join(root, "txt", "testdata", "fuzz", "FuzzDecode"),
	}
	for _, dir := range dirs {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, o := range captureOrigins {
			old, err := filepath.Glob(filepath.Join(dir, o+"-*"))
			require.NoError(t, err)
			for _, f := range old {
				require.NoError(t, os.Remove(f))
			}
		}
	}
	write := func(dir, name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	for _, o := range captureOrigins {
		var mine []capturedPacket
		for _, p := range pkts {
			if p.origin == o {
				mine = append(mine, p)
			}
		}
		sel := selectVariety(mine, captureCap)
		counts := map[string]int{}
		kinds := map[string]int{}
		for _, p := range sel {
			k := p.kind()
			counts[k]++
			kinds[k]++
			name := fmt.Sprintf("%s-%s-%02d", o, k, counts[k])
			write(dirs["responder"], name, corpusFile(responderMode(p), p.Payload))
			write(dirs["browser"], name, corpusFile(browserMode(p), p.Payload, next(mine, p)))
			write(dirs["unpack"], name, corpusFile(p.Payload))
		}
		// TXT records, distinct, for txt FuzzDecode.
		var txts [][]byte
		for _, p := range mine {
			for _, rr := range slices.Concat(p.Msg.Answer, p.Msg.Ns, p.Msg.Extra) {
				if r, ok := rr.(*dns.TXT); ok {
					if w := txtWire(r); w != nil && !slices.ContainsFunc(txts, func(x []byte) bool { return bytes.Equal(x, w) }) {
						txts = append(txts, w)
					}
				}
			}
		}
		if len(txts) > captureTXTCap {
			txts = txts[:captureTXTCap]
		}
		for i, w := range txts {
			write(dirs["txt"], fmt.Sprintf("%s-txt-%02d", o, i+1), corpusFile(w))
		}
		t.Logf("%s: %d datagrams, %d distinct, %d seeds %v, %d TXT records", o, len(mine), distinct(mine), len(sel), kinds, len(txts))
	}
}

// distinct counts the datagrams of pkts with distinct bytes.
func distinct(pkts []capturedPacket) int {
	seen := map[string]bool{}
	for _, p := range pkts {
		seen[string(p.Payload)] = true
	}
	return len(seen)
}
