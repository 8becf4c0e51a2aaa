package announce

import (
	"bytes"
	"errors"
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
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// fuzzIfc is the responder's interface in FuzzResponder: an MTU of 1280
// (the IPv6 minimum) so that the larger answers must be split.
var fuzzIfc = mdns.Interface{Index: 2, Name: "lan0", MTU: 1280, Addrs: []netip.Addr{
	netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("fe80::1")}}

// fuzzServices are what the responder publishes in FuzzResponder: PTR,
// SRV and TXT records of three types, one with a subtype, one with a TXT
// record of about 600 bytes.
func fuzzServices(t testing.TB) []Service {
	tz := tzService(t, "Office TZ")
	long := make([]string, 0, 12)
	for i := range 12 {
		long = append(long, "k"+string(rune('a'+i))+"="+strings.Repeat("v", 45))
	}
	rec, err := txt.ParseArgs(long)
	require.NoError(t, err)
	return []Service{
		tz,
		{Instance: "Printer", Type: "_http._tcp", Subtypes: []string{"_printer"}, Port: 80},
		{Instance: "Big.TXT", Type: "_ipp._tcp", Port: 631, TXT: rec},
	}
}

// fuzzOurs returns every owner name the responder of FuzzResponder may
// send records about: its host name and instance names, with the names a
// conflict would rename them to, the service types, the subtype and the
// enumeration name (RFC 6763 section 9).
func fuzzOurs() map[string]bool {
	ours := map[string]bool{}
	add := func(n string) { ours[dnsname.MustKey(n)] = true }
	for _, n := range []string{"_timezone._tcp.local.", "_http._tcp.local.", "_ipp._tcp.local.",
		"_printer._sub._http._tcp.local.", "_services._dns-sd._udp.local."} {
		add(n)
	}
	host := "h1"
	for range 50 {
		add(dnsname.EscapeLabel(host) + ".local.")
		host = dnsname.NextHostLabel(host)
	}
	for _, in := range []struct{ label, typ string }{{"Office TZ", "_timezone._tcp"}, {"Printer", "_http._tcp"}, {"Big.TXT", "_ipp._tcp"}} {
		label := in.label
		for range 50 {
			add(dnsname.EscapeLabel(label) + "." + in.typ + ".local.")
			label = dnsname.NextInstanceLabel(label)
		}
	}
	return ours
}

// isOurs reports whether name is one of ours.
func isOurs(ours map[string]bool, name string) bool {
	k, ok := dnsname.Key(name)
	return ok && ours[k]
}

// fuzzDelivery is how FuzzResponder delivers its input, from the bits of
// mode: bit 0 the family (IPv4, IPv6), bit 1 multicast or unicast to the
// responder's address, bit 2 the source port (5353, or a legacy querier's
// 40000), bit 3 the source (the peer on the link, or a host that is not:
// for IPv4 one off the link's subnet).
func fuzzDelivery(mode byte) (fam sd.Family, src netip.AddrPort, dst netip.Addr) {
	fam = sd.IPv4
	if mode&1 != 0 {
		fam = sd.IPv6
	}
	port := uint16(mdns.Port)
	if mode&4 != 0 {
		port = 40000
	}
	srcAddr := map[sd.Family][2]string{sd.IPv4: {"198.51.100.12", "198.18.0.12"}, sd.IPv6: {"fe80::2", "fe80::99"}}[fam][mode>>3&1]
	src = netip.AddrPortFrom(netip.MustParseAddr(srcAddr), port)
	dst = mdns.Group(fam).Addr()
	if mode&2 != 0 {
		a, _ := func() (netip.Addr, bool) {
			for _, a := range fuzzIfc.Addrs {
				if sd.FamilyOf(a) == fam {
					return a, true
				}
			}
			return netip.Addr{}, false
		}()
		dst = a
	}
	return fam, src, dst
}

// fuzzSeeds returns the seed inputs written in code (more are in
// testdata/fuzz/FuzzResponder): queries of every kind for our names and
// others, responses that conflict with ours, say goodbye to ours or are
// about others.
func fuzzSeeds(t testing.TB) [][]byte {
	tzInst := `Office\ TZ._timezone._tcp.local.`
	var msgs []*dns.Msg
	q := mdnstest.Query
	msgs = append(msgs,
		q(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR)),
		q(mdnstest.QU("_services._dns-sd._udp.local.", dns.TypePTR)),
		q(mdnstest.QM("_printer._sub._http._tcp.local.", dns.TypePTR)),
		q(mdnstest.QM("h1.local.", dns.TypeANY), mdnstest.QM("Big\\.TXT._ipp._tcp.local.", dns.TypeANY)),
		q(mdnstest.QM(tzInst, dns.TypeSRV), mdnstest.QM(tzInst, dns.TypeTXT), mdnstest.QM("h1.local.", dns.TypeAAAA)),
		q(mdnstest.QM("other.local.", dns.TypeA)),
		mdnstest.Response(mdnstest.A("h1.local.", "198.51.100.99", 120)),
		mdnstest.Goodbye(mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", tzInst, 4500))),
		mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", `Other._timezone._tcp.local.`, 4500)),
		mdnstest.Response(mdnstest.SRV(tzInst, "h9.local.", 1, 120)),
	)
	ka := q(mdnstest.QM("_timezone._tcp.local.", dns.TypePTR))
	ka.Answer = []dns.RR{mdnstest.PTR("_timezone._tcp.local.", tzInst, 4500)}
	probe := q(mdnstest.QU("h1.local.", dns.TypeANY))
	probe.Ns = []dns.RR{mdnstest.A("h1.local.", "198.51.100.1", 120)}
	msgs = append(msgs, ka, probe)
	var out [][]byte
	for _, m := range msgs {
		b, err := m.Pack()
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// FuzzResponder delivers each input, a datagram, to a responder that has
// announced three services on an in-memory link, the way mode says (see
// fuzzDelivery), lets it run every timer for 5 s, and checks that:
//   - it did not panic (handlePacket recovers and logs at error level; the
//     log must hold no error);
//   - every packet it sent fits its interface's MTU (RFC 6762 section 17);
//   - every record it sent is about a name of its own;
//   - a response about none of its names made it send nothing.
//
// Inputs that do not unpack are dropped, as internal/mdns drops them
// before any responder sees them.
func FuzzResponder(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		for _, mode := range []byte{0, 2, 5} {
			f.Add(mode, b)
		}
	}
	ours := fuzzOurs()
	f.Fuzz(func(t *testing.T, mode byte, b []byte) { fuzzResponderOnce(t, ours, mode, b) })
}

// fuzzResponderOnce runs one input of FuzzResponder and returns the
// packets the responder sent (nil for an input the transport drops).
func fuzzResponderOnce(t *testing.T, ours map[string]bool, mode byte, b []byte) (sent []mdnstest.Packet) {
	in := new(dns.Msg)
	if err := in.Unpack(b); err != nil || len(b) > mdns.MaxPacket {
		return nil // dropped by the transport
	}
	aboutOurs := false
	for _, rr := range append(append(append([]dns.RR{}, in.Answer...), in.Ns...), in.Extra...) {
		if isOurs(ours, rr.Header().Name) {
			aboutOurs = true
		}
	}
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1, fuzzIfc)
		peer := l.NewHost("peer", 2)
		peer.SetSourcePort(40000) // hears the responder's unicast replies to a legacy querier too
		startOn(t, h, Options{HostName: "h1", Services: fuzzServices(t)})
		time.Sleep(5 * time.Second) // every announcement sent
		l.Reset()

		fam, src, dst := fuzzDelivery(mode)
		require.NoError(t, l.InjectWire(h, fuzzIfc.Index, fam, src, dst, b))
		time.Sleep(5 * time.Second)
		synctest.Wait()

		sent = l.Packets(mdnstest.From("h1"))
		for _, p := range sent {
			require.LessOrEqual(t, p.Size, mdns.PacketLimit(fuzzIfc.MTU, p.Family), "packet over the MTU: %v", p.Msg)
			for _, rr := range append(append(append([]dns.RR{}, p.Msg.Answer...), p.Msg.Ns...), p.Msg.Extra...) {
				require.True(t, isOurs(ours, rr.Header().Name), "record about a name not ours: %v", rr)
			}
		}
		if in.Response && !aboutOurs {
			require.Empty(t, sent, "sent in reply to a response about names not ours")
		}
	})
	return sent
}

// The harness of FuzzResponder reaches the responder: a query for our PTR
// is answered (multicast, and by unicast to a legacy querier), a
// conflicting A record makes it probe its host name again, and a goodbye for
// our PTR is rescued.
func TestFuzzResponderHarness(t *testing.T) {
	ours := fuzzOurs()
	seeds := fuzzSeeds(t)
	ptrQuery, conflict, goodbye, other := seeds[0], seeds[6], seeds[7], seeds[8]
	sent := fuzzResponderOnce(t, ours, 0, ptrQuery)
	require.NotEmpty(t, sent)
	require.True(t, sent[0].Multicast())
	sent = fuzzResponderOnce(t, ours, 4|2, ptrQuery)
	require.NotEmpty(t, sent)
	require.Equal(t, "198.51.100.12:40000", sent[0].Dst.String())
	sent = fuzzResponderOnce(t, ours, 0, conflict)
	require.NotEmpty(t, sent)
	require.True(t, mdnstest.IsProbe(sent[0]), "a conflict on the host name makes it probe again (RFC 6762 section 9)")
	sent = fuzzResponderOnce(t, ours, 0, goodbye)
	require.NotEmpty(t, sent)
	require.Empty(t, fuzzResponderOnce(t, ours, 0, other))
	require.Nil(t, fuzzResponderOnce(t, ours, 0, []byte{1, 2, 3}))
}

// leafErrors returns the errors joined (errors.Join) under err, depth
// first; an error that joins nothing is its own leaf.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	if u := errors.Unwrap(err); u != nil {
		if _, ok := u.(interface{ Unwrap() []error }); ok {
			return leafErrors(u)
		}
	}
	return []error{err}
}

// FuzzLoadConfig reads arbitrary --config files: LoadConfig never panics;
// every problem it reports names where it is (a field, a service index, or
// the line and column of a JSON error); the services of a file it accepts
// are encodable (Service.PrepareEncodable), distinct, and either pass
// ValidateServices or have every problem named by service index; and
// loading is deterministic.
func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		`{"services": [{"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}, "subtypes": [], "host": ""}]}`,
		`{"services": [{"name": "A", "service": "_http._tcp", "port": 80, "txt": ["path=/", "color", "note="], "subtypes": ["_printer"], "domain": "local."},
		  {"name": "A", "service": "http", "port": 65536}]}`,
		`{"services": [{"name": "x.y\\z", "service": "_ipp._tcp", "port": 631, "host": "h2"}], "extra": 1}`,
		`{"services": {}}`,
		"{\"services\": [\n{\"name\": 5}]}",
		`{"services": [{"name": "B", "service": "jnx-kcsync", "port": 1, "txt": {"bin": "\\xff", "": "x"}}]}`,
		`[]`, ``, `{"services": [null, 1, "s"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		svcs, err := LoadConfig(bytes.NewReader(data))
		svcs2, err2 := LoadConfig(bytes.NewReader(data))
		require.Equal(t, err == nil, err2 == nil, "deterministic")
		if err != nil {
			require.Equal(t, err.Error(), err2.Error(), "deterministic")
			require.Nil(t, svcs)
			require.True(t, strings.HasPrefix(err.Error(), "announce: config: "), "%v", err)
			for _, e := range leafErrors(err) {
				var fe *FieldError
				if errors.As(e, &fe) {
					require.NotEmpty(t, fe.Field, "%v", e)
					continue
				}
				msg := e.Error()
				require.True(t, strings.Contains(msg, "services[") || strings.Contains(msg, "line ") ||
					strings.Contains(msg, "larger than") || strings.Contains(msg, "JSON input"),
					"error naming no place: %v", e)
			}
			return
		}
		require.Equal(t, len(svcs), len(svcs2))
		type id struct{ inst, typ string }
		seen := map[id]bool{}
		for i, s := range svcs {
			p, err := s.PrepareEncodable("", nil)
			require.NoError(t, err, "services[%d] accepted but not encodable", i)
			k := id{dnsname.MustKey(dnsname.EscapeLabel(s.Instance) + "."), dnsname.MustKey(p.Type + "." + p.Domain)}
			require.False(t, seen[k], "services[%d] twice", i)
			seen[k] = true
		}
		if err := ValidateServices(svcs, nil); err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				require.True(t, strings.HasPrefix(e.Error(), "services["), "%v", e)
			}
		}
	})
}

// readCorpusFile reads a seed of FuzzResponder from testdata/fuzz (the
// `go test fuzz v1` format: a byte, then a []byte, as Go literals).
func readCorpusFile(t *testing.T, path string) (mode byte, b []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 3, "%s", path)
	require.Equal(t, "go test fuzz v1", lines[0])
	m, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "byte("), ")"))
	require.NoError(t, err, "%s", path)
	require.Len(t, m, 1, "%s", path)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "[]byte("), ")"))
	require.NoError(t, err, "%s", path)
	return m[0], []byte(s)
}

// The seeds captured from Avahi, python-zeroconf and lansd on the virtual
// LAN (interop TestCaptureFuzzCorpus) unpack and reach the responder: some
// of each origin's make it answer or defend its names (they ask about
// _timezone._tcp, h1.local. and names ours would conflict with).
func TestFuzzResponderCapturedSeeds(t *testing.T) {
	ours := fuzzOurs()
	for _, origin := range []string{"avahi", "pyzc", "lansd"} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzResponder", origin+"-*"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "no captured seeds of %s", origin)
		answered := 0
		for _, f := range files {
			mode, b := readCorpusFile(t, f)
			require.NoError(t, new(dns.Msg).Unpack(b), "%s", f)
			if len(fuzzResponderOnce(t, ours, mode, b)) > 0 {
				answered++
			}
		}
		t.Logf("%s: %d captured seeds, %d made the responder send", origin, len(files), answered)
		require.Positive(t, answered, "no seed of %s reached the responder", origin)
	}
}
