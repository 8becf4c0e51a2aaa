package wide

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
)

// The registrar's tests run against a real BIND 9 (internal/dnstest) on
// 127.0.0.1; they skip without named, and fail under LANSD_REQUIRE_PEERS=1.

const regZone = "tz.example.net"

var (
	regAddr4 = netip.MustParseAddr("198.51.100.7")
	regAddr6 = netip.MustParseAddr("2001:db8::7")
)

// regLogger logs into the test's output.
func regLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serverKey returns the TSIG key of a test server.
func serverKey(s *dnstest.Server) tsig.Key {
	return tsig.Key{Name: s.KeyName, Algorithm: s.Algorithm, Secret: s.Secret}
}

// zoneOptions returns registrar options for s: host h1 in the zone with
// two documentation addresses.
func regOptions(t *testing.T, s *dnstest.Server) RegistrarOptions {
	return RegistrarOptions{
		Domain:   s.Zone,
		Server:   s.Addr,
		TSIG:     serverKey(s),
		HostName: "h1",
		Addrs:    []netip.Addr{regAddr4, regAddr6},
		Logger:   regLogger(t),
		Timeout:  3 * time.Second,
	}
}

// newRegistrar returns a registrar closed when the test ends.
func newTestRegistrar(t *testing.T, o RegistrarOptions) *Registrar {
	t.Helper()
	r, err := NewRegistrar(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// officeTZ is the service the tests register.
func officeTZ(t *testing.T) sd.Service {
	rec, err := txt.ParseArgs([]string{"path=/tz"})
	require.NoError(t, err)
	return sd.Service{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: rec, Subtypes: []string{"_eu"}}
}

// txtRecord parses key=value arguments.
func regTXT(t *testing.T, args ...string) txt.Record {
	rec, err := txt.ParseArgs(args)
	require.NoError(t, err)
	return rec
}

// ctxT returns a context for one step of a test.
func regCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rdataOf returns the rdata strings of rrs ("0 0 8080 h1.tz.example.net.").
func rdataOf(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String())))
	}
	return out
}

// otherInstance writes, as somebody else would with nsupdate, an instance
// "Office TZ" of _timezone._tcp whose SRV points at another host.
func otherInstance(t *testing.T, s *dnstest.Server) {
	s.Nsupdate(t, `update add _services._dns-sd._udp.tz.example.net. 300 IN PTR _timezone._tcp.tz.example.net.
update add _timezone._tcp.tz.example.net. 300 IN PTR Office\032TZ._timezone._tcp.tz.example.net.
update add Office\032TZ._timezone._tcp.tz.example.net. 300 IN SRV 0 0 9999 other.tz.example.net.
update add Office\032TZ._timezone._tcp.tz.example.net. 300 IN TXT "path=/other"`)
}

func TestRegistrarRegisterSeenByPlainQueries(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)

	h, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	inst := `Office\ TZ._timezone._tcp.tz.example.net.`
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", h.Name())
	renamed, _ := h.Renamed()
	assert.False(t, renamed)
	select {
	case ev := <-h.Events():
		assert.Equal(t, sd.Announced, ev.Kind)
	default:
		t.Error("no announced event")
	}

	assert.Equal(t, []string{inst}, rdataOf(s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR)))
	assert.Equal(t, []string{inst}, rdataOf(s.Query(t, "_eu._sub._timezone._tcp."+s.Zone, dns.TypePTR)))
	assert.Equal(t, []string{"_timezone._tcp.tz.example.net."}, rdataOf(s.Query(t, "_services._dns-sd._udp."+s.Zone, dns.TypePTR)))
	srv := s.Query(t, inst, dns.TypeSRV)
	assert.Equal(t, []string{"0 0 8080 h1.tz.example.net."}, rdataOf(srv))
	require.Len(t, srv, 1)
	assert.Equal(t, uint32(120), srv[0].Header().Ttl, "DefaultTTL")
	assert.Equal(t, []string{`"path=/tz"`}, rdataOf(s.Query(t, inst, dns.TypeTXT)))
	assert.Equal(t, []string{"198.51.100.7"}, rdataOf(s.Query(t, "h1."+s.Zone, dns.TypeA)))
	assert.Equal(t, []string{"2001:db8::7"}, rdataOf(s.Query(t, "h1."+s.Zone, dns.TypeAAAA)))

	// A real client sees them too.
	out := s.Dig(t, "+noall", "+answer", "SRV", `Office\032TZ._timezone._tcp.`+s.Zone)
	assert.Contains(t, out, "8080 h1.tz.example.net.")
	out = s.Dig(t, "+short", "PTR", "_timezone._tcp."+s.Zone)
	assert.Equal(t, `Office\032TZ._timezone._tcp.tz.example.net.`+"\n", out, "dig writes the space as \\032")

	// The zone holds exactly what BuildRecords builds, besides what
	// was there.
	recs, err := BuildRecords(officeTZ(t), RecordOptions{Zone: s.Zone, HostName: "h1", Addrs: []netip.Addr{regAddr4, regAddr6}})
	require.NoError(t, err)
	want := append(append([]string{}, before...), dnstest.Canonical(recs.RRs())...)
	assert.ElementsMatch(t, want, s.Snapshot(t))

	require.NoError(t, h.Remove(ctx))
	assert.Equal(t, before, s.Snapshot(t), "Remove leaves the zone as it was")
	for ev := range h.Events() { // closed after removal
		if ev.Kind == sd.Removed {
			return
		}
	}
	t.Error("no removed event")
}

func TestRegistrarUpdateTXT(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	h, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	inst := "Office\\ TZ._timezone._tcp." + s.Zone

	require.NoError(t, h.UpdateTXT(ctx, regTXT(t, "path=/tz/v2")))
	assert.Equal(t, []string{`"path=/tz/v2"`}, rdataOf(s.Query(t, inst, dns.TypeTXT)), "the old TXT is gone, the new one there")
	assert.Equal(t, []string{"0 0 8080 h1.tz.example.net."}, rdataOf(s.Query(t, inst, dns.TypeSRV)))

	// A record that does not validate is refused and nothing changes.
	snap := s.Snapshot(t)
	err = h.UpdateTXT(ctx, regTXT(t, "path=relative"))
	var ve *sd.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, snap, s.Snapshot(t))

	// A refresh after UpdateTXT asserts the new record.
	require.NoError(t, r.Refresh(ctx))
	assert.Equal(t, []string{`"path=/tz/v2"`}, rdataOf(s.Query(t, inst, dns.TypeTXT)))

	require.NoError(t, h.Remove(ctx))
	assert.Equal(t, before, s.Snapshot(t))
	err = h.UpdateTXT(ctx, regTXT(t, "path=/x"))
	assert.ErrorIs(t, err, sd.ErrRemoved)
	assert.EqualError(t, err, "wide: service removed")
	assert.NoError(t, h.Remove(ctx), "removing twice is harmless")
}

func TestRegistrarConflictRenames(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	otherInstance(t, s)
	theirs := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)

	h, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	assert.Equal(t, "Office TZ (2)._timezone._tcp.tz.example.net.", h.Name())
	renamed, why := h.Renamed()
	assert.True(t, renamed)
	assert.Contains(t, why, "9999 other.tz.example.net.", "the reason names what holds the name")
	var kinds []sd.RegistrationEventKind
	for len(h.Events()) > 0 {
		kinds = append(kinds, (<-h.Events()).Kind)
	}
	assert.Equal(t, []sd.RegistrationEventKind{sd.Renamed, sd.Announced}, kinds)

	ptrs := rdataOf(s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR))
	assert.ElementsMatch(t, []string{`Office\ TZ._timezone._tcp.tz.example.net.`, `Office\ TZ\ \(2\)._timezone._tcp.tz.example.net.`}, ptrs)
	assert.Equal(t, []string{"0 0 9999 other.tz.example.net."}, rdataOf(s.Query(t, `Office\ TZ._timezone._tcp.`+s.Zone, dns.TypeSRV)), "theirs untouched")
	assert.Equal(t, []string{"0 0 8080 h1.tz.example.net."}, rdataOf(s.Query(t, `Office\ TZ\ \(2\)._timezone._tcp.`+s.Zone, dns.TypeSRV)))

	// Removing ours leaves theirs, and the shared _services PTR, which
	// their instance still needs.
	require.NoError(t, h.Remove(ctx))
	assert.Equal(t, theirs, s.Snapshot(t))
}

func TestRegistrarConflictNoRename(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	otherInstance(t, s)
	theirs := s.Snapshot(t)
	o := regOptions(t, s)
	o.NoRename = true
	r := newTestRegistrar(t, o)

	_, err := r.Add(regCtx(t), officeTZ(t))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNameConflict)
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", ce.Name)
	assert.Equal(t, s.Addr, ce.Server)
	assert.Contains(t, rdataOf(ce.Existing), "0 0 9999 other.tz.example.net.")
	assert.Contains(t, err.Error(), "9999 other.tz.example.net.")
	assert.Equal(t, theirs, s.Snapshot(t), "nothing written")
}

func TestRegistrarSameTXTDifferentSRVIsConflict(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	// Same TXT as ours, but the SRV points elsewhere: someone else's.
	s.Nsupdate(t, `update add Office\032TZ._timezone._tcp.tz.example.net. 300 IN SRV 0 0 8080 h2.tz.example.net.
update add Office\032TZ._timezone._tcp.tz.example.net. 300 IN TXT "path=/tz"`)
	r := newTestRegistrar(t, regOptions(t, s))
	h, err := r.Add(regCtx(t), officeTZ(t))
	require.NoError(t, err)
	assert.Equal(t, "Office TZ (2)._timezone._tcp.tz.example.net.", h.Name())
}

func TestRegistrarReregistrationIsNotConflict(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	ctx := regCtx(t)

	// A registrar that "crashes": its records stay in the zone.
	crashed, err := NewRegistrar(regOptions(t, s))
	require.NoError(t, err)
	_, err = crashed.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	left := s.Snapshot(t)

	// Its successor registers the same service: same name, no rename,
	// nothing added twice. It crashes too.
	successor, err := NewRegistrar(regOptions(t, s))
	require.NoError(t, err)
	h, err := successor.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", h.Name())
	renamed, why := h.Renamed()
	assert.False(t, renamed, why)
	assert.Equal(t, left, s.Snapshot(t))

	// Also when only part of our records is left (the SRV was deleted).
	s.Nsupdate(t, `update delete Office\032TZ._timezone._tcp.tz.example.net. SRV`)
	r := newTestRegistrar(t, regOptions(t, s))
	h2, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	assert.Equal(t, h.Name(), h2.Name())
	renamed, why = h2.Renamed()
	assert.False(t, renamed, why)
	assert.Equal(t, left, s.Snapshot(t))

	// Closing removes the service. The host's address records were in
	// the zone when this registrar started (a crashed one wrote them), so
	// they are not its to delete.
	require.NoError(t, r.Close(ctx))
	want := append(slices.Clone(before), "h1.tz.example.net.\t120\tIN\tA\t198.51.100.7", "h1.tz.example.net.\t120\tIN\tAAAA\t2001:db8::7")
	slices.Sort(want)
	assert.Equal(t, want, s.Snapshot(t))
}

func TestRegistrarSameNameTwice(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	// Identical services: the second must not take the first's records
	// for its own.
	var names []string
	for range 3 {
		h, err := r.Add(ctx, officeTZ(t))
		require.NoError(t, err)
		names = append(names, h.Name())
	}
	assert.Equal(t, []string{
		"Office TZ._timezone._tcp.tz.example.net.",
		"Office TZ (2)._timezone._tcp.tz.example.net.",
		"Office TZ (3)._timezone._tcp.tz.example.net.",
	}, names)
	assert.Len(t, s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR), 3)
	require.NoError(t, r.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t))
	_, err := r.Add(ctx, officeTZ(t))
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, err, sd.ErrClosed, "as for a closed Responder")
	assert.EqualError(t, err, "wide: registrar closed")
}

func TestRegistrarWrongTSIGKey(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	ctx := regCtx(t)
	cases := []struct {
		name  string
		key   tsig.Key
		tsig  string
		label string
	}{
		{"wrong secret", tsig.Key{Name: s.KeyName, Algorithm: s.Algorithm, Secret: "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1zZXJ2ZXJzLWtleQ=="}, "BADSIG", "lansd-test"},
		{"unknown key", tsig.Key{Name: "stranger.", Algorithm: s.Algorithm, Secret: s.Secret}, "BADKEY", "stranger"},
		{"wrong algorithm", tsig.Key{Name: s.KeyName, Algorithm: dns.HmacSHA512, Secret: s.Secret}, "BADKEY", "lansd-test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := regOptions(t, s)
			o.TSIG = c.key
			r := newTestRegistrar(t, o)
			_, err := r.Add(ctx, officeTZ(t))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrTSIGRejected)
			assert.Contains(t, err.Error(), fmt.Sprintf("TSIG key %s rejected by %s: %s", c.label, s.Addr, c.tsig))
			assert.Equal(t, before, s.Snapshot(t), "nothing written")
		})
	}
}

func TestRegistrarUpdatesRefused(t *testing.T) {
	t.Run("unsigned", func(t *testing.T) {
		s := dnstest.StartBIND(t, regZone)
		before := s.Snapshot(t)
		o := regOptions(t, s)
		o.TSIG = tsig.Key{}
		r := newTestRegistrar(t, o)
		_, err := r.Add(regCtx(t), officeTZ(t))
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrUpdateRefused)
		assert.Contains(t, err.Error(), "refused by "+s.Addr+": REFUSED (the zone does not accept unsigned updates)")
		assert.Equal(t, before, s.Snapshot(t))
	})
	t.Run("zone without updates", func(t *testing.T) {
		s := dnstest.StartBIND(t, regZone, dnstest.WithAllowUpdate("none;"))
		before := s.Snapshot(t)
		r := newTestRegistrar(t, regOptions(t, s))
		_, err := r.Add(regCtx(t), officeTZ(t))
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrUpdateRefused)
		assert.NotErrorIs(t, err, ErrTSIGRejected)
		assert.Contains(t, err.Error(), "REFUSED (the zone does not accept updates signed with key lansd-test)")
		assert.Equal(t, before, s.Snapshot(t))
	})
}

func TestRegistrarServerDown(t *testing.T) {
	ctx := regCtx(t)
	const timeout = 1500 * time.Millisecond

	t.Run("nothing listening", func(t *testing.T) {
		addr := dnstest.UnusedAddr(t)
		r := newTestRegistrar(t, RegistrarOptions{Domain: regZone, Server: addr, HostName: "h1", Addrs: []netip.Addr{regAddr4}, Timeout: timeout, Logger: regLogger(t)})
		start := time.Now()
		_, err := r.Add(ctx, officeTZ(t))
		waited := time.Since(start)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNoAnswer)
		assert.Contains(t, err.Error(), "no answer from DNS server "+addr)
		assert.Contains(t, err.Error(), "connection refused")
		assert.Less(t, waited, 2*timeout, "bounded by the timeout")
	})
	t.Run("silent server", func(t *testing.T) {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { pc.Close() })
		go func() { // reads and never answers
			buf := make([]byte, 2048)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
		addr := pc.LocalAddr().String()
		r := newTestRegistrar(t, RegistrarOptions{Domain: regZone, Server: addr, HostName: "h1", Addrs: []netip.Addr{regAddr4}, Timeout: timeout, Logger: regLogger(t)})
		start := time.Now()
		_, err = r.Add(ctx, officeTZ(t))
		waited := time.Since(start)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNoAnswer)
		var ue *UnreachableError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, addr, ue.Server)
		assert.GreaterOrEqual(t, ue.Tries, 2, "retransmitted")
		assert.GreaterOrEqual(t, waited, timeout-100*time.Millisecond)
		assert.Less(t, waited, 2*timeout, "bounded by the timeout")
	})
	t.Run("server stops before Remove", func(t *testing.T) {
		s := dnstest.StartBIND(t, regZone)
		r := newTestRegistrar(t, regOptions(t, s))
		r.timeout = timeout
		h, err := r.Add(ctx, officeTZ(t))
		require.NoError(t, err)
		h.e.x.timeout = timeout
		s.Stop()
		err = h.Remove(ctx)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNoAnswer)
		assert.Contains(t, err.Error(), s.Addr)
		assert.Contains(t, err.Error(), "its records are still there")
	})
}

func TestRegistrarCloseLeavesZoneAsFound(t *testing.T) {
	// The zone already has the host's IPv4 address (static), another
	// service type and its enumeration PTR.
	s := dnstest.StartBIND(t, regZone, dnstest.WithRecords(
		"h1 IN A 198.51.100.7",
		"_services._dns-sd._udp IN PTR _http._tcp",
		"_http._tcp IN PTR web._http._tcp",
		"web._http._tcp IN SRV 0 0 80 web",
		`web._http._tcp IN TXT "path=/"`,
	))
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	_, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	web := sd.Service{Instance: "Second web", Type: "_http._tcp", Port: 8081, TXT: regTXT(t, "path=/2")}
	_, err = r.Add(ctx, web)
	require.NoError(t, err)
	assert.Len(t, s.Query(t, "_http._tcp."+s.Zone, dns.TypePTR), 2)
	assert.Len(t, s.Query(t, "_services._dns-sd._udp."+s.Zone, dns.TypePTR), 2)
	assert.Len(t, s.Query(t, "h1."+s.Zone, dns.TypeAAAA), 1)

	require.NoError(t, r.Close(ctx))
	after := s.Snapshot(t)
	assert.Equal(t, before, after, "the static A record, the other instance and its enumeration PTR remain")
	assert.Empty(t, s.Query(t, "h1."+s.Zone, dns.TypeAAAA), "the AAAA we added is gone")
	assert.NoError(t, r.Close(ctx), "closing twice is harmless")
}

func TestRegistrarHostRecordsSharedByServices(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	h1, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	web := sd.Service{Instance: "Web", Type: "_http._tcp", Port: 80, TXT: regTXT(t, "path=/")}
	h2, err := r.Add(ctx, web)
	require.NoError(t, err)
	// An explicit Host gets no address records from us.
	printer := sd.Service{Instance: "Printer", Type: "_ipp._tcp", Port: 631, Host: "printer", TXT: regTXT(t, "rp=ipp/print")}
	h3, err := r.Add(ctx, printer)
	require.NoError(t, err)
	assert.Equal(t, []string{"0 0 631 printer.tz.example.net."}, rdataOf(s.Query(t, `Printer._ipp._tcp.`+s.Zone, dns.TypeSRV)))
	assert.Empty(t, s.Query(t, "printer."+s.Zone, dns.TypeA))

	require.NoError(t, h1.Remove(ctx))
	assert.Len(t, s.Query(t, "h1."+s.Zone, dns.TypeA), 1, "still used by Web")
	require.NoError(t, h3.Remove(ctx))
	assert.Len(t, s.Query(t, "h1."+s.Zone, dns.TypeA), 1, "still used by Web")
	require.NoError(t, h2.Remove(ctx))
	assert.Empty(t, s.Query(t, "h1."+s.Zone, dns.TypeA))
	assert.Equal(t, before, s.Snapshot(t))
}

func TestRegistrarRefreshRepairs(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	h, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	registered := s.Snapshot(t)
	// nsupdate's spelling of the instance name.
	inst := `Office\032TZ._timezone._tcp.tz.example.net.`

	// An operator deletes some of our records: a refresh puts them back.
	s.Nsupdate(t, "update delete "+inst+" SRV\nupdate delete _timezone._tcp.tz.example.net. PTR")
	require.NoError(t, r.Refresh(ctx))
	assert.Equal(t, registered, s.Snapshot(t))

	// All of them: the refresh registers again under the same name.
	s.Nsupdate(t, "update delete "+inst+"\nupdate delete _timezone._tcp.tz.example.net. PTR\nupdate delete _services._dns-sd._udp.tz.example.net. PTR\nupdate delete _eu._sub._timezone._tcp.tz.example.net. PTR")
	require.NoError(t, r.Refresh(ctx))
	assert.Equal(t, registered, s.Snapshot(t))
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", h.Name())

	// Someone else takes the name meanwhile: the refresh renames.
	for len(h.Events()) > 0 {
		<-h.Events()
	}
	s.Nsupdate(t, "update delete "+inst+"\nupdate add "+inst+" 60 IN SRV 0 0 1 thief.tz.example.net.")
	require.NoError(t, r.Refresh(ctx))
	assert.Equal(t, "Office TZ (2)._timezone._tcp.tz.example.net.", h.Name())
	renamed, why := h.Renamed()
	assert.True(t, renamed)
	assert.Contains(t, why, "thief")
	ev := <-h.Events()
	assert.Equal(t, sd.Renamed, ev.Kind)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", ev.Old)

	// Removing deletes everything of ours under the new name. The
	// records that point at the lost name are left: that name is the
	// other owner's instance now.
	require.NoError(t, h.Remove(ctx))
	snap := strings.Join(s.Snapshot(t), "\n")
	assert.NotContains(t, snap, `\(2\)`)
	assert.NotContains(t, snap, "h1.tz.example.net.")
	assert.Contains(t, snap, "0 0 1 thief.tz.example.net.")
	assert.NotEqual(t, before, s.Snapshot(t))
}

func TestRegistrarRefreshConflictNoRename(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	o := regOptions(t, s)
	o.NoRename = true
	r := newTestRegistrar(t, o)
	ctx := regCtx(t)
	h, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	<-h.Events() // the announced event
	// nsupdate's spelling of the instance name.
	inst := `Office\032TZ._timezone._tcp.tz.example.net.`
	s.Nsupdate(t, "update delete "+inst+"\nupdate add "+inst+" 60 IN SRV 0 0 1 thief.tz.example.net.")
	err = r.Refresh(ctx)
	assert.ErrorIs(t, err, ErrNameConflict)
	ev := <-h.Events()
	assert.Equal(t, sd.Conflict, ev.Kind)
	assert.Contains(t, ev.Reason, "thief")
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", h.Name(), "not renamed")
}

func TestRegistrarManyInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("500 registrations; skipped with -short")
	}
	// BIND 9.18.28+ holds at most 100 records of a type at a name unless
	// told otherwise; 500 instances of one type need more PTRs.
	s := dnstest.StartBIND(t, regZone, dnstest.WithNamedOptions("max-records-per-type 0;"))
	before := s.Snapshot(t)
	o := regOptions(t, s)
	o.Logger = slog.New(slog.DiscardHandler)
	r := newTestRegistrar(t, o)
	ctx := regCtx(t)

	const n, parallel = 500, 16
	names := make([]string, n)
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			svc := sd.Service{Instance: fmt.Sprintf("Clock %03d", i), Type: "_timezone._tcp", Port: uint16(8000 + i), TXT: regTXT(t, fmt.Sprintf("path=/tz/%d", i))}
			h, err := r.Add(ctx, svc)
			errs[i] = err
			if err == nil {
				names[i] = h.Name()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	ptrs := rdataOf(s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR))
	assert.Len(t, ptrs, n)
	for i, name := range names {
		assert.Equal(t, fmt.Sprintf("Clock %03d._timezone._tcp.tz.example.net.", i), name)
	}
	axfr := s.AXFR(t)
	srvs := 0
	for _, rr := range axfr {
		if srv, ok := rr.(*dns.SRV); ok {
			srvs++
			var i int
			_, err := fmt.Sscanf(srv.Hdr.Name, `Clock\ %03d.`, &i)
			require.NoError(t, err, srv.Hdr.Name)
			assert.Equal(t, uint16(8000+i), srv.Port)
		}
	}
	assert.Equal(t, n, srvs)

	require.NoError(t, r.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t))
}

func TestRegistrarAlgorithms(t *testing.T) {
	for _, alg := range []string{dns.HmacSHA1, dns.HmacSHA512} {
		t.Run(alg, func(t *testing.T) {
			s := dnstest.StartBIND(t, regZone, dnstest.WithAlgorithm(alg))
			before := s.Snapshot(t)
			r := newTestRegistrar(t, regOptions(t, s))
			ctx := regCtx(t)
			h, err := r.Add(ctx, officeTZ(t))
			require.NoError(t, err)
			assert.Len(t, s.Query(t, `Office\ TZ._timezone._tcp.`+s.Zone, dns.TypeSRV), 1)
			require.NoError(t, h.Remove(ctx))
			assert.Equal(t, before, s.Snapshot(t))
		})
	}
}

func TestRegistrarKeyFileAgainstBIND(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	k, err := tsig.LoadFile(s.KeyFile(t))
	require.NoError(t, err)
	spec, err := tsig.Parse(s.TSIGSpec())
	require.NoError(t, err)
	assert.Equal(t, spec, k)
	o := regOptions(t, s)
	o.TSIG = k
	r := newTestRegistrar(t, o)
	_, err = r.Add(regCtx(t), officeTZ(t))
	require.NoError(t, err)
}

func TestRegistrarInvalidServiceWritesNothing(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	bad := []sd.Service{
		{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: regTXT(t, "path=relative")},
		{Instance: "", Type: "timezone", Port: 8080},
		{Instance: "X", Type: "_timezone._tcp", Domain: "elsewhere.example.", Port: 1},
		{Instance: "X", Type: "_timezone._tcp", Host: "printer.local.", Port: 1},
		{Instance: "X", Type: "not-in-the-registry", Port: 1},
	}
	for _, svc := range bad {
		_, err := r.Add(ctx, svc)
		var ve *sd.ValidationError
		assert.ErrorAs(t, err, &ve, "%+v", svc)
	}
	assert.Equal(t, before, s.Snapshot(t))

	// A subdomain of the zone is fine.
	sub := officeTZ(t)
	sub.Domain = "berlin.tz.example.net"
	h, err := r.Add(ctx, sub)
	require.NoError(t, err)
	assert.Equal(t, "Office TZ._timezone._tcp.berlin.tz.example.net.", h.Name())
	assert.Len(t, s.Query(t, "_services._dns-sd._udp.berlin.tz.example.net.", dns.TypePTR), 1)
}

func TestRegistrarPrimaryFromSOA(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	ctx := regCtx(t)
	p, err := findPrimary(ctx, s.Zone, []string{s.Addr}, 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:53", p, "the SOA MNAME ns.tz.example.net. has address 127.0.0.1")

	_, err = findPrimary(ctx, "ns."+s.Zone, []string{s.Addr}, 2*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ns.tz.example.net. is not a zone apex; it lies in zone tz.example.net.")
	_, err = findPrimary(ctx, "sub."+s.Zone, []string{s.Addr}, 2*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sub.tz.example.net. does not exist; it lies in zone tz.example.net.")

	r, err := NewRegistrar(RegistrarOptions{Domain: s.Zone, HostName: "h1", Addrs: []netip.Addr{regAddr4}, Logger: regLogger(t)})
	require.NoError(t, err)
	r.resolve = []string{s.Addr}
	got, err := r.Primary(ctx)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:53", got)

	_, err = findPrimary(ctx, s.Zone, []string{dnstest.UnusedAddr(t)}, 500*time.Millisecond)
	assert.ErrorIs(t, err, ErrNoAnswer)
}

func TestRegistrarOptionsChecked(t *testing.T) {
	good := RegistrarOptions{Domain: regZone, HostName: "h1", Addrs: []netip.Addr{regAddr4}}
	for _, c := range []struct {
		mod  func(*RegistrarOptions)
		want string
	}{
		{func(o *RegistrarOptions) { o.Domain = "" }, "Domain: no zone given"},
		{func(o *RegistrarOptions) { o.Domain = "local." }, "Multicast DNS"},
		{func(o *RegistrarOptions) { o.Domain = "a..b" }, "not a valid domain name"},
		{func(o *RegistrarOptions) { o.HostName = "h1.local." }, "HostName"},
		{func(o *RegistrarOptions) { o.TTL = -time.Second }, "TTL"},
		{func(o *RegistrarOptions) { o.TSIG = tsig.Key{Name: "k", Algorithm: "hmac-md5", Secret: "c2VjcmV0"} }, "TSIG algorithm"},
		{func(o *RegistrarOptions) { o.Server = "a b" }, "Server"},
	} {
		o := good
		c.mod(&o)
		_, err := NewRegistrar(o)
		require.Error(t, err, c.want)
		assert.Contains(t, err.Error(), c.want)
		assert.True(t, strings.HasPrefix(err.Error(), "wide: RegistrarOptions: "), err.Error())
	}
	r, err := NewRegistrar(RegistrarOptions{Domain: regZone, Server: "127.0.0.1"})
	require.NoError(t, err)
	p, err := r.Primary(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:53", p)
	assert.Equal(t, "tz.example.net.", r.Zone())
}

func TestRegistrarRRsetLimitIsAClearError(t *testing.T) {
	// BIND's default limit of 100 records of one type at one name: the
	// 101st instance of a type fails with SERVFAIL; the error says where
	// to look, and the failed update wrote nothing.
	s := dnstest.StartBIND(t, regZone)
	o := regOptions(t, s)
	o.Logger = slog.New(slog.DiscardHandler)
	r := newTestRegistrar(t, o)
	ctx := regCtx(t)
	for i := range 100 {
		_, err := r.Add(ctx, sd.Service{Instance: fmt.Sprintf("Clock %03d", i), Type: "_timezone._tcp", Port: 8000, TXT: regTXT(t, "path=/tz")})
		require.NoError(t, err)
	}
	before := s.Snapshot(t)
	_, err := r.Add(ctx, sd.Service{Instance: "Clock 100", Type: "_timezone._tcp", Port: 8000, TXT: regTXT(t, "path=/tz")})
	require.Error(t, err)
	var se *UpdateError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, dns.RcodeServerFailure, se.Rcode)
	assert.Contains(t, err.Error(), "max-records-per-type")
	assert.Equal(t, before, s.Snapshot(t), "the update is atomic: nothing written")
	assert.Contains(t, s.Log(), "too many records")
}

func TestRegistrarLargeTXT(t *testing.T) {
	// A TXT record too big for a 1232-byte UDP message: the UPDATE goes
	// over TCP (RFC 7766; see TestRegistrarExchangeChoosesTCP), and the whole
	// record lands in the zone.
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	var args []string
	for i := range 10 {
		args = append(args, fmt.Sprintf("k%d=%s", i, strings.Repeat("v", 200)))
	}
	svc := sd.Service{Instance: "Big", Type: "_http._tcp", Port: 80, TXT: regTXT(t, args...)}
	h, err := r.Add(ctx, svc)
	require.NoError(t, err)
	got := s.Query(t, "Big._http._tcp."+s.Zone, dns.TypeTXT)
	require.Len(t, got, 1)
	assert.Len(t, got[0].(*dns.TXT).Txt, 10)
	require.NoError(t, h.UpdateTXT(ctx, regTXT(t, append(args, "more=yes")...)))
	got = s.Query(t, "Big._http._tcp."+s.Zone, dns.TypeTXT)
	require.Len(t, got, 1)
	assert.Len(t, got[0].(*dns.TXT).Txt, 11)
	require.NoError(t, h.Remove(ctx))
	assert.Equal(t, before, s.Snapshot(t))
}

func TestRegistrarNoRenameWithin(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	o := regOptions(t, s)
	o.NoRename = true
	r := newTestRegistrar(t, o)
	ctx := regCtx(t)
	_, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)
	_, err = r.Add(ctx, officeTZ(t))
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Local)
	assert.Contains(t, err.Error(), "taken in the zone at "+s.Addr+" by another service of this registrar")
	assert.Len(t, s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR), 1)
}

func TestRegistrarExchangeChoosesTCP(t *testing.T) {
	// The lease server listens on UDP only: a small message is answered,
	// a large one is sent over TCP and finds nobody there.
	ls := startLeaseServer(t, 0)
	x := &exchanger{server: ls.addr, zone: "lease.example.", key: &ls.key, timeout: time.Second}
	small := new(dns.Msg)
	small.SetQuestion("lease.example.", dns.TypeSOA)
	_, err := x.exchange(regCtx(t), small, "query")
	require.NoError(t, err)

	big := new(dns.Msg)
	big.SetQuestion("lease.example.", dns.TypeSOA)
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: "lease.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}}
	for range 6 {
		rr.Txt = append(rr.Txt, strings.Repeat("x", 200))
	}
	big.Extra = append(big.Extra, rr)
	_, err = x.exchange(regCtx(t), big, "query")
	require.ErrorIs(t, err, ErrNoAnswer)
	assert.Contains(t, err.Error(), "dial tcp")
}

func TestRegistrarAddAll(t *testing.T) {
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	web := sd.Service{Instance: "Web", Type: "_http._tcp", Port: 80, TXT: regTXT(t, "path=/")}
	regs, err := r.AddAll(ctx, []sd.Service{officeTZ(t), web})
	require.NoError(t, err)
	require.Len(t, regs, 2)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", regs[0].Name())
	assert.Equal(t, "Web._http._tcp.tz.example.net.", regs[1].Name())
	assert.Len(t, s.Query(t, "h1."+s.Zone, dns.TypeA), 1)
	require.NoError(t, r.Close(ctx))
	assert.Equal(t, before, s.Snapshot(t))

	// All or nothing: the second service's name is taken and renaming is
	// off, so the first, added meanwhile, is removed again.
	otherInstance(t, s)
	theirs := s.Snapshot(t)
	o := regOptions(t, s)
	o.NoRename = true
	r = newTestRegistrar(t, o)
	regs, err = r.AddAll(ctx, []sd.Service{web, officeTZ(t)})
	var ae *AddAllError
	require.ErrorAs(t, err, &ae)
	assert.ErrorIs(t, err, ErrNameConflict)
	require.Len(t, ae.Errs, 2)
	assert.NoError(t, ae.Errs[0])
	assert.ErrorIs(t, ae.Errs[1], ErrNameConflict)
	assert.NoError(t, ae.Rollback)
	assert.Equal(t, ae.Errs[1].Error(), err.Error(), "the message is the failures'")
	require.Len(t, regs, 2)
	require.NotNil(t, regs[0], "the registration that was rolled back, for its name")
	assert.Equal(t, "Web._http._tcp.tz.example.net.", regs[0].Name())
	assert.Nil(t, regs[1])
	assert.Equal(t, theirs, s.Snapshot(t), "what was added is removed again")
	assert.NoError(t, regs[0].Remove(ctx), "removing again is harmless")
}

func TestRegistrarOperationsTakeTurns(t *testing.T) {
	// UpdateTXT, Refresh and Remove of one service at once: they run one
	// after the other, and the zone ends as it began.
	s := dnstest.StartBIND(t, regZone)
	before := s.Snapshot(t)
	r := newTestRegistrar(t, regOptions(t, s))
	ctx := regCtx(t)
	for round := range 5 {
		reg, err := r.Add(ctx, officeTZ(t))
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		ops := []func() error{
			func() error { return reg.UpdateTXT(ctx, regTXT(t, "path=/a")) },
			func() error { return r.Refresh(ctx) },
			func() error { return reg.UpdateTXT(ctx, regTXT(t, "path=/b")) },
			func() error { return reg.Remove(ctx) },
		}
		for i, op := range ops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i*round) * 200 * time.Microsecond)
				errs[i] = op()
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, sd.ErrRemoved) {
				t.Errorf("round %d, op %d: %v", round, i, err)
			}
		}
		require.Equal(t, before, s.Snapshot(t), "round %d", round)
	}
}
