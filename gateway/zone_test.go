package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/txt"
	"github.com/lansd/lansd/wide"
)

// The zone mirror's tests run against a real BIND 9 (internal/dnstest)
// on 127.0.0.1 with a TSIG key; they skip without named, and fail under
// LANSD_REQUIRE_PEERS=1. Addresses written are documentation ones
// (198.51.100.0/24, 2001:db8::/32): records, never packets.

const mirrorZone = "dnssd.example.net"

var (
	mAddr4  = netip.MustParseAddr("198.51.100.7")
	mAddr6  = netip.MustParseAddr("2001:db8::7")
	mAddr4b = netip.MustParseAddr("198.51.100.8")
	mAddr4c = netip.MustParseAddr("198.51.100.9")
	mLL     = netip.MustParseAddr("fe80::7%lan0")
)

// mirrorFor returns a mirror into s's zone, closed (if the test did not)
// when the test ends.
func mirrorFor(t *testing.T, s *dnstest.Server) *ZoneMirror {
	t.Helper()
	z := Zone{Domain: s.Zone, Server: s.Addr, TSIG: tsig.Key{Name: s.KeyName, Algorithm: s.Algorithm, Secret: s.Secret}}
	m, err := NewZoneMirror(z, ZoneMirrorOptions{
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout: 3 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// mCtx returns a context for one test.
func mCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// tzInstance returns an instance of _timezone._tcp learnt by Multicast
// DNS, on host.
func tzInstance(t *testing.T, label, host string, port uint16, args ...string) sd.Instance {
	rec, err := txt.ParseArgs(args)
	require.NoError(t, err)
	return sd.Instance{
		Name:     strings.ReplaceAll(label, " ", `\ `) + "._timezone._tcp.local.",
		Instance: label, Service: "_timezone._tcp", Domain: "local.",
		Host: host, Port: port, TXT: rec,
	}
}

// rdata returns the rdata of rrs as text, sorted.
func rdata(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String())))
	}
	slices.Sort(out)
	return out
}

// resolve looks an instance up in the zone as a wide-area client does.
func resolve(t *testing.T, s *dnstest.Server, name string) sd.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := wide.Resolve(ctx, name, wide.BrowseOptions{Server: s.Addr})
	require.NoError(t, err, "resolving %s", name)
	return in
}

const (
	officeTZ = `Office\ TZ._timezone._tcp.dnssd.example.net.`
	labTZ    = `Lab\ TZ._timezone._tcp.dnssd.example.net.`
)

func TestZoneMirrorTwoLinksSameHostLabel(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.Snapshot(t)
	m := mirrorFor(t, s)
	ctx := mCtx(t)

	// Both links have a host "h1": under the links' names they differ.
	require.NoError(t, m.Put(ctx, "office", tzInstance(t, "Office TZ", "h1.local.", 8080, "path=/tz"), []netip.Addr{mAddr4, mAddr6, mLL}))
	require.NoError(t, m.Put(ctx, "lab", tzInstance(t, "Lab TZ", "H1.local.", 8081, "path=/lab"), []netip.Addr{mAddr4b}))

	assert.Equal(t, []string{"0 0 8080 h1.office.dnssd.example.net."}, rdata(s.Query(t, officeTZ, dns.TypeSRV)))
	assert.Equal(t, []string{"0 0 8081 H1.lab.dnssd.example.net."}, rdata(s.Query(t, labTZ, dns.TypeSRV)))
	assert.Equal(t, []string{`"path=/tz"`}, rdata(s.Query(t, officeTZ, dns.TypeTXT)))
	assert.Equal(t, []string{"198.51.100.7"}, rdata(s.Query(t, "h1.office."+s.Zone, dns.TypeA)))
	assert.Equal(t, []string{"2001:db8::7"}, rdata(s.Query(t, "h1.office."+s.Zone, dns.TypeAAAA)), "the link-local address is left out")
	assert.Equal(t, []string{"198.51.100.8"}, rdata(s.Query(t, "h1.lab."+s.Zone, dns.TypeA)))
	assert.Empty(t, s.Query(t, "h1.lab."+s.Zone, dns.TypeAAAA))
	assert.ElementsMatch(t, []string{officeTZ, labTZ}, rdata(s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR)), "no collision")

	// RFC 6763 section 11: the zone lists itself for browsing.
	assert.Equal(t, []string{"dnssd.example.net."}, rdata(s.Query(t, "b._dns-sd._udp."+s.Zone, dns.TypePTR)))
	assert.Equal(t, []string{"dnssd.example.net."}, rdata(s.Query(t, "lb._dns-sd._udp."+s.Zone, dns.TypePTR)))
	ds, err := wide.Domains(ctx, wide.DomainOptions{Domains: []string{s.Zone}, NoSearch: true, Server: s.Addr})
	require.NoError(t, err)
	var kinds []string
	for _, d := range ds {
		kinds = append(kinds, d.Kind+" "+d.Name)
	}
	assert.Equal(t, []string{"b dnssd.example.net.", "lb dnssd.example.net."}, kinds)

	// BIND's dig sees them as any client would.
	assert.Equal(t, "dnssd.example.net.\n", s.Dig(t, "+short", "PTR", "lb._dns-sd._udp."+s.Zone))
	assert.Equal(t, "0 0 8080 h1.office.dnssd.example.net.\n", s.Dig(t, "+short", "SRV", `Office\032TZ._timezone._tcp.`+s.Zone))

	// A wide-area client finds both: SRV target, TXT and addresses.
	in := resolve(t, s, officeTZ)
	assert.Equal(t, "h1.office.dnssd.example.net.", in.Host)
	assert.Equal(t, uint16(8080), in.Port)
	assert.Equal(t, `"path=/tz"`, in.TXT.String())
	assert.Equal(t, []netip.Addr{mAddr4, mAddr6}, in.Addrs)
	in = resolve(t, s, labTZ)
	assert.True(t, strings.EqualFold("h1.lab.dnssd.example.net.", in.Host), in.Host)
	assert.Equal(t, []netip.Addr{mAddr4b}, in.Addrs)

	b, err := wide.NewBrowser(ctx, []string{"timezone"}, wide.BrowseOptions{Domains: []string{s.Zone}, Server: s.Addr, Interval: 200 * time.Millisecond})
	require.NoError(t, err)
	found := map[string]bool{}
	timeout := time.After(15 * time.Second)
	for len(found) < 2 {
		select {
		case ev := <-b.Events():
			if ev.Kind == sd.Add {
				found[ev.Instance.Instance] = true
			}
		case <-timeout:
			t.Fatalf("browsing the zone found only %v", found)
		}
	}
	require.NoError(t, b.Close())

	// Remove one: gone when Remove returns, with its host's addresses;
	// the other stays.
	require.NoError(t, m.Remove(ctx, "office", `Office\ TZ._timezone._tcp.local.`))
	assert.Empty(t, s.Query(t, officeTZ, dns.TypeSRV))
	assert.Empty(t, s.Query(t, officeTZ, dns.TypeTXT))
	assert.Empty(t, s.Query(t, "h1.office."+s.Zone, dns.TypeA))
	assert.Empty(t, s.Query(t, "h1.office."+s.Zone, dns.TypeAAAA))
	assert.Equal(t, []string{labTZ}, rdata(s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR)))
	assert.Equal(t, []string{"0 0 8081 H1.lab.dnssd.example.net."}, rdata(s.Query(t, labTZ, dns.TypeSRV)))
	assert.Equal(t, []string{"198.51.100.8"}, rdata(s.Query(t, "h1.lab."+s.Zone, dns.TypeA)))
	require.NoError(t, m.Remove(ctx, "office", `Office\ TZ._timezone._tcp.local.`), "removing twice is harmless")

	require.NoError(t, m.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t), "Close leaves the zone as it was found")
	err = m.Put(ctx, "office", tzInstance(t, "Office TZ", "h1.local.", 8080), []netip.Addr{mAddr4})
	assert.ErrorIs(t, err, ErrMirrorClosed)
	assert.ErrorIs(t, err, sd.ErrClosed)
	assert.Equal(t, before, s.Snapshot(t))
}

func TestZoneMirrorUpdates(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.Snapshot(t)
	m := mirrorFor(t, s)
	ctx := mCtx(t)

	office := tzInstance(t, "Office TZ", "h1.local.", 8080, "path=/tz")
	second := tzInstance(t, "Second TZ", "h1.local.", 9090, "path=/2")
	require.NoError(t, m.Put(ctx, "office", office, []netip.Addr{mAddr4, mAddr6}))
	require.NoError(t, m.Put(ctx, "office", second, []netip.Addr{mAddr4, mAddr6}))
	full := s.Snapshot(t)

	// The same again: nothing changes.
	require.NoError(t, m.Put(ctx, "office", office, []netip.Addr{mAddr6, mAddr4}))
	assert.Equal(t, full, s.Snapshot(t))

	// A new TXT record replaces the old one in place.
	office = tzInstance(t, "Office TZ", "h1.local.", 8080, "path=/tz2", "v=2")
	require.NoError(t, m.Put(ctx, "office", office, []netip.Addr{mAddr4, mAddr6}))
	assert.Equal(t, []string{`"path=/tz2" "v=2"`}, rdata(s.Query(t, officeTZ, dns.TypeTXT)))
	assert.Equal(t, []string{"0 0 8080 h1.office.dnssd.example.net."}, rdata(s.Query(t, officeTZ, dns.TypeSRV)))
	after := s.Snapshot(t)
	assert.Len(t, after, len(full), "one TXT replaced by another")

	// New addresses: the host's records follow, for both its instances.
	require.NoError(t, m.Put(ctx, "office", office, []netip.Addr{mAddr4c}))
	assert.Equal(t, []string{"198.51.100.9"}, rdata(s.Query(t, "h1.office."+s.Zone, dns.TypeA)))
	assert.Empty(t, s.Query(t, "h1.office."+s.Zone, dns.TypeAAAA))
	assert.Equal(t, []string{"0 0 9090 h1.office.dnssd.example.net."}, rdata(s.Query(t, `Second\ TZ._timezone._tcp.`+s.Zone, dns.TypeSRV)), "the host's other instance is published again")
	assert.Equal(t, []string{`"path=/tz2" "v=2"`}, rdata(s.Query(t, officeTZ, dns.TypeTXT)))
	in := resolve(t, s, `Second\ TZ._timezone._tcp.`+s.Zone)
	assert.Equal(t, []netip.Addr{mAddr4c}, in.Addrs)

	// A new port: removed and added again.
	office.Port = 8443
	require.NoError(t, m.Put(ctx, "office", office, []netip.Addr{mAddr4c}))
	assert.Equal(t, []string{"0 0 8443 h1.office.dnssd.example.net."}, rdata(s.Query(t, officeTZ, dns.TypeSRV)))

	// Another host: the instance moves, the old host keeps its other
	// instance and its address.
	office.Host = "h2.local."
	require.NoError(t, m.Put(ctx, "office", office, []netip.Addr{mAddr4b}))
	assert.Equal(t, []string{"0 0 8443 h2.office.dnssd.example.net."}, rdata(s.Query(t, officeTZ, dns.TypeSRV)))
	assert.Equal(t, []string{"198.51.100.8"}, rdata(s.Query(t, "h2.office."+s.Zone, dns.TypeA)))
	assert.Equal(t, []string{"198.51.100.9"}, rdata(s.Query(t, "h1.office."+s.Zone, dns.TypeA)))

	require.NoError(t, m.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t), "Close leaves the zone as it was found")
}

func TestZoneMirrorConflictWritesNothing(t *testing.T) {
	// Someone else's "Office TZ" is in the zone already.
	s := dnstest.StartBIND(t, mirrorZone, dnstest.WithRecords(
		"_services._dns-sd._udp IN PTR _timezone._tcp",
		`_timezone._tcp IN PTR Office\032TZ._timezone._tcp`,
		`Office\032TZ._timezone._tcp IN SRV 0 0 9999 other`,
		`Office\032TZ._timezone._tcp IN TXT "path=/other"`,
		"other IN A 198.51.100.99",
	))
	before := s.Snapshot(t)
	m := mirrorFor(t, s)
	ctx := mCtx(t)

	err := m.Put(ctx, "office", tzInstance(t, "Office TZ", "h1.local.", 8080, "path=/tz"), []netip.Addr{mAddr4})
	var ce *wide.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, wide.ErrNameConflict)
	assert.Equal(t, "Office TZ._timezone._tcp.dnssd.example.net.", ce.Name)
	assert.Equal(t, before, s.Snapshot(t), "a refused Put writes nothing, browsing-domain records included")

	// The same name from two links: the first holds it, the second is
	// refused and nothing of it is written.
	require.NoError(t, m.Put(ctx, "office", tzInstance(t, "Shared TZ", "h1.local.", 8080, "path=/tz"), []netip.Addr{mAddr4}))
	mid := s.Snapshot(t)
	err = m.Put(ctx, "lab", tzInstance(t, "Shared TZ", "h1.local.", 8080, "path=/tz"), []netip.Addr{mAddr4b})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, mid, s.Snapshot(t))
	assert.Empty(t, s.Query(t, "h1.lab."+s.Zone, dns.TypeA))
	assert.Equal(t, []string{"0 0 8080 h1.office.dnssd.example.net."}, rdata(s.Query(t, `Shared\ TZ._timezone._tcp.`+s.Zone, dns.TypeSRV)))
	require.NoError(t, m.Remove(ctx, "lab", `Shared\ TZ._timezone._tcp.local.`), "not mirrored: nothing to remove")
	assert.Equal(t, mid, s.Snapshot(t), "removing what lab never had leaves office's")

	require.NoError(t, m.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t))
}

func TestZoneMirrorKeepsBrowsingDomainsFound(t *testing.T) {
	// The zone lists itself under b already (with its own TTL) and
	// another domain under lb: the mirror adds only lb -> zone, with the
	// lb RRset's TTL, and removes only that.
	s := dnstest.StartBIND(t, mirrorZone, dnstest.WithRecords(
		"b._dns-sd._udp 600 IN PTR dnssd.example.net.",
		"lb._dns-sd._udp 300 IN PTR lab.example.net.",
	))
	before := s.Snapshot(t)
	m := mirrorFor(t, s)
	ctx := mCtx(t)
	require.NoError(t, m.Put(ctx, "office", tzInstance(t, "Office TZ", "h1.local.", 8080, "path=/tz"), []netip.Addr{mAddr4}))
	assert.Equal(t, []string{"dnssd.example.net."}, rdata(s.Query(t, "b._dns-sd._udp."+s.Zone, dns.TypePTR)))
	lb := s.Query(t, "lb._dns-sd._udp."+s.Zone, dns.TypePTR)
	assert.Equal(t, []string{"dnssd.example.net.", "lab.example.net."}, rdata(lb))
	for _, rr := range lb {
		assert.Equal(t, uint32(300), rr.Header().Ttl, "the RRset keeps its TTL")
	}
	require.NoError(t, m.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t))
}

func TestZoneMirrorChecks(t *testing.T) {
	_, err := NewZoneMirror(Zone{Domain: "local."}, ZoneMirrorOptions{})
	assert.Error(t, err)
	_, err = NewZoneMirror(Zone{}, ZoneMirrorOptions{})
	assert.Error(t, err)

	// No network: the server is unused address-wise, checks come first.
	m, err := NewZoneMirror(Zone{Domain: mirrorZone, Server: "127.0.0.1:1"}, ZoneMirrorOptions{Timeout: time.Second})
	require.NoError(t, err)
	ctx := mCtx(t)
	in := tzInstance(t, "Office TZ", "h1.local.", 8080)
	err = m.Put(ctx, "office", in, []netip.Addr{mLL, netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("169.254.1.1")})
	assert.ErrorIs(t, err, ErrNoRoutableAddress)
	err = m.Put(ctx, "Bad Link", in, []netip.Addr{mAddr4})
	assert.Error(t, err)
	in.Host = ""
	err = m.Put(ctx, "office", in, []netip.Addr{mAddr4})
	var fe *sd.FieldError
	assert.True(t, errors.As(err, &fe), "%v", err)
	require.NoError(t, m.Close(ctx))
	assert.ErrorIs(t, m.Remove(ctx, "office", "x._timezone._tcp.local."), ErrMirrorClosed)

	assert.Equal(t, "h1.office.dnssd.example.net.", m.HostName("office", "h1.local."))
	assert.Equal(t, "a.b.office.dnssd.example.net.", m.HostName("office", "a.b.local"))
	assert.Equal(t, "web.office.dnssd.example.net.", m.HostName("office", "web.example.com."))
	assert.Equal(t, "Office TZ._timezone._tcp.dnssd.example.net.", m.InstanceName("Office TZ", "_timezone._tcp"))
	assert.Equal(t, []netip.Addr{mAddr4, mAddr6}, routable([]netip.Addr{mLL, mAddr4, netip.MustParseAddr("::ffff:198.51.100.7"), mAddr6, netip.MustParseAddr("ff02::fb"), {}}))
}

func TestZoneMirrorConcurrent(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.Snapshot(t)
	m := mirrorFor(t, s)
	ctx := mCtx(t)

	type put struct {
		link string
		in   sd.Instance
		addr netip.Addr
	}
	var puts []put
	for li, link := range []string{"office", "lab"} {
		for h := range 3 {
			for i := range 4 {
				label := fmt.Sprintf("TZ %s %d-%d", link, h, i)
				puts = append(puts, put{link, tzInstance(t, label, fmt.Sprintf("h%d.local.", h), uint16(8000+i), "path=/tz"),
					netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + 10*li + h)})})
			}
		}
	}
	var wg sync.WaitGroup
	for _, p := range puts {
		wg.Go(func() { assert.NoError(t, m.Put(ctx, p.link, p.in, []netip.Addr{p.addr})) })
	}
	wg.Wait()
	assert.Len(t, s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR), len(puts))
	assert.Equal(t, []string{"198.51.100.21"}, rdata(s.Query(t, "h1.lab."+s.Zone, dns.TypeA)))

	// Half removed, the other half updated, at once; a Close racing
	// with late Puts still leaves the zone as it was.
	for i, p := range puts {
		wg.Go(func() {
			if i%2 == 0 {
				assert.NoError(t, m.Remove(ctx, p.link, p.in.Name))
				return
			}
			in := p.in
			in.TXT = tzInstance(t, "x", "h.local.", 1, "path=/new").TXT
			assert.NoError(t, m.Put(ctx, p.link, in, []netip.Addr{p.addr}))
		})
	}
	wg.Wait()
	assert.Len(t, s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR), len(puts)/2)
	late := make(chan error, len(puts))
	for _, p := range puts {
		wg.Go(func() {
			in := p.in
			in.Port++
			late <- m.Put(ctx, p.link, in, []netip.Addr{p.addr})
		})
	}
	require.NoError(t, m.Close(ctx))
	wg.Wait()
	close(late)
	for err := range late {
		if err != nil {
			assert.ErrorIs(t, err, ErrMirrorClosed)
		}
	}
	assert.Equal(t, before, s.Snapshot(t), "Close leaves the zone as it was found")
}
