package wide

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/internal/udns"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/txt"
)

// The wide-area tests run against a real BIND 9 (internal/dnstest) on
// 127.0.0.1: unicast DNS only, no multicast. They skip without named and
// fail under LANSD_REQUIRE_PEERS=1.

const wideZone = "tz.example.net"

// wideRegistrar returns a registrar for s, closed when the test ends.
func wideRegistrar(t *testing.T, s *dnstest.Server) *Registrar {
	t.Helper()
	r, err := NewRegistrar(RegistrarOptions{
		Domain:   s.Zone,
		Server:   s.Addr,
		TSIG:     tsig.Key{Name: s.KeyName, Algorithm: s.Algorithm, Secret: s.Secret},
		HostName: "h1",
		Addrs:    []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")},
		Logger:   slog.New(slog.DiscardHandler),
		Timeout:  3 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func wideTXT(t *testing.T, args ...string) txt.Record {
	t.Helper()
	rec, err := txt.ParseArgs(args)
	require.NoError(t, err)
	return rec
}

func wideCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// nextEvent waits for the next event of kind on b.
func nextEvent(t *testing.T, b *Browser, kind sd.EventKind, within time.Duration) sd.Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-b.Events():
			require.True(t, ok, "browser stopped: %v", b.Err())
			if ev.Kind == kind {
				return ev
			}
			t.Logf("skipping %s %s", ev.Kind, ev.Instance.Name)
		case <-deadline:
			t.Fatalf("no %s event within %v", kind, within)
		}
	}
}

func TestWideBrowseAddUpdateRemove(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone)
	r := wideRegistrar(t, s)
	ctx := wideCtx(t, 30*time.Second)
	h, err := r.Add(ctx, sd.Service{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: wideTXT(t, "path=/tz")})
	require.NoError(t, err)

	b, err := NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr, Interval: 200 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close()

	add := nextEvent(t, b, sd.Add, 5*time.Second)
	in := add.Instance
	assert.Equal(t, `Office TZ._timezone._tcp.tz.example.net.`, in.Name)
	assert.Equal(t, "Office TZ", in.Instance)
	assert.Equal(t, "_timezone._tcp", in.Service)
	assert.Equal(t, "tz.example.net.", in.Domain)
	assert.Equal(t, "h1.tz.example.net.", in.Host)
	assert.Equal(t, uint16(8080), in.Port)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")}, in.Addrs)
	assert.Equal(t, `"path=/tz"`, in.TXT.String())
	assert.True(t, in.Conforms(), "%v", in.Report.Findings)
	assert.Equal(t, "timezone", in.Registered)
	assert.Equal(t, []string{s.Addr}, in.Ifaces)
	assert.Equal(t, 120*time.Second, in.TTL)
	select {
	case <-b.Quiet():
	case <-time.After(5 * time.Second):
		t.Fatal("not quiet after the first poll")
	}

	require.NoError(t, h.UpdateTXT(ctx, wideTXT(t, "path=/tz2")))
	up := nextEvent(t, b, sd.Update, 5*time.Second)
	assert.Equal(t, `"path=/tz2"`, up.Instance.TXT.String())

	require.NoError(t, h.Remove(ctx))
	rm := nextEvent(t, b, sd.Remove, 5*time.Second)
	assert.Equal(t, in.Name, rm.Instance.Name)
	assert.Empty(t, b.Instances())
	st := b.Stats()
	assert.Positive(t, st.Queries)
	assert.NoError(t, b.Err())
}

func TestWideBrowseVerdictAndStrict(t *testing.T) {
	// A TXT record that breaks the timezone rules, written by someone else.
	s := dnstest.StartBIND(t, wideZone)
	s.Nsupdate(t, `update add _timezone._tcp.tz.example.net. 60 PTR Bad._timezone._tcp.tz.example.net.
update add Bad._timezone._tcp.tz.example.net. 60 SRV 0 0 80 bad.tz.example.net.
update add Bad._timezone._tcp.tz.example.net. 60 TXT "path"
update add bad.tz.example.net. 60 A 198.51.100.9`)
	ctx := wideCtx(t, 20*time.Second)
	b, err := NewBrowser(ctx, []string{"_timezone._tcp"}, BrowseOptions{Strict: true, Domains: []string{wideZone + "."}, Server: s.Addr})
	require.NoError(t, err)
	defer b.Close()
	in := nextEvent(t, b, sd.Add, 5*time.Second).Instance
	assert.Equal(t, "Bad", in.Instance)
	assert.False(t, in.Conforms(), "path without a value must not conform: %v", in.Report.Findings)
	assert.Equal(t, 60*time.Second, in.TTL)
}

func TestWideBrowseServerDown(t *testing.T) {
	addr := dnstest.UnusedAddr(t)
	ctx := wideCtx(t, 20*time.Second)
	start := time.Now()
	b, err := NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: addr, Timeout: time.Second})
	require.NoError(t, err)
	defer b.Close()
	for range b.Events() {
		t.Fatal("an event from a server that is down")
	}
	err = b.Err()
	require.Error(t, err)
	var se *QueryError
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, ErrNoAnswer)
	assert.Contains(t, err.Error(), addr)
	assert.Contains(t, err.Error(), "_timezone._tcp.tz.example.net.")
	assert.Less(t, time.Since(start), 5*time.Second, "bounded wait")

	_, err = Resolve(ctx, "Office TZ._timezone._tcp.tz.example.net.", BrowseOptions{Server: addr, Timeout: time.Second})
	assert.ErrorIs(t, err, ErrNoAnswer)
	_, err = Domains(ctx, DomainOptions{Domains: []string{wideZone}, NoSearch: true, Server: addr, Timeout: time.Second})
	assert.ErrorIs(t, err, ErrNoAnswer)
}

func TestWideBrowseLargeTXTUsesTCP(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone)
	var parts []string
	for i := range 8 {
		parts = append(parts, fmt.Sprintf(`"k%d=%s"`, i, strings.Repeat("v", 200)))
	}
	s.Nsupdate(t, `update add _timezone._tcp.tz.example.net. 60 PTR Big._timezone._tcp.tz.example.net.
update add Big._timezone._tcp.tz.example.net. 60 SRV 0 0 80 big.tz.example.net.
update add Big._timezone._tcp.tz.example.net. 60 TXT `+strings.Join(parts, " ")+`
update add big.tz.example.net. 60 A 198.51.100.9`)
	ctx := wideCtx(t, 20*time.Second)
	b, err := NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr})
	require.NoError(t, err)
	defer b.Close()
	in := nextEvent(t, b, sd.Add, 5*time.Second).Instance
	require.Len(t, in.TXT.Items, 8)
	assert.Equal(t, strings.Repeat("v", 200), string(in.TXT.Items[7].Value))
	wire, err := in.TXT.Encode()
	require.NoError(t, err)
	assert.Greater(t, len(wire), udns.EDNSSize, "the answer cannot fit in UDP")
	assert.Positive(t, b.Stats().Truncated, "a truncated UDP answer was retried over TCP")
}

func TestWideMany(t *testing.T) {
	if testing.Short() {
		t.Skip("500 registrations; skipped with -short")
	}
	s := dnstest.StartBIND(t, wideZone, dnstest.WithNamedOptions("max-records-per-type 0;"))
	r := wideRegistrar(t, s)
	ctx := wideCtx(t, 60*time.Second)
	const n = 500
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, errs[i] = r.Add(ctx, sd.Service{Instance: fmt.Sprintf("Clock %03d", i), Type: "timezone", Port: uint16(8000 + i), TXT: wideTXT(t, fmt.Sprintf("path=/tz/%d", i))})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	b, err := NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr})
	require.NoError(t, err)
	defer b.Close()
	seen := map[string]uint16{}
	for len(seen) < n {
		select {
		case ev := <-b.Events():
			require.Equal(t, sd.Add, ev.Kind)
			seen[ev.Instance.Name] = ev.Instance.Port
		case <-b.Quiet():
			t.Fatalf("quiet after %d of %d instances", len(seen), n)
		}
	}
	for i := range n {
		assert.Equal(t, uint16(8000+i), seen[fmt.Sprintf("Clock %03d._timezone._tcp.tz.example.net.", i)])
	}
	assert.Positive(t, b.Stats().Truncated, "500 PTR records do not fit in a UDP answer")
}

func TestWideServicesEnumeration(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone)
	r := wideRegistrar(t, s)
	ctx := wideCtx(t, 20*time.Second)
	_, err := r.Add(ctx, sd.Service{Instance: "Web", Type: "_http._tcp", Port: 80, TXT: wideTXT(t, "path=/")})
	require.NoError(t, err)
	b, err := NewBrowser(ctx, []string{sd.ServicesType}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr})
	require.NoError(t, err)
	defer b.Close()
	in := nextEvent(t, b, sd.Add, 5*time.Second).Instance
	assert.Equal(t, "Web", in.Instance)
	assert.Equal(t, []string{"_http._tcp"}, b.Types())
}

func TestWideOptionsChecked(t *testing.T) {
	ctx := wideCtx(t, 5*time.Second)
	for _, c := range []struct {
		types []string
		opts  BrowseOptions
		want  string
	}{
		{[]string{"timezone"}, BrowseOptions{Domains: []string{"local."}, Server: "127.0.0.1:1"}, "Multicast DNS"},
		{[]string{"timezone"}, BrowseOptions{Domains: []string{"a..b"}, Server: "127.0.0.1:1"}, "not a domain name"},
		{[]string{"timezone"}, BrowseOptions{Server: "127.0.0.1:1"}, "no domain"},
		{nil, BrowseOptions{Domains: []string{wideZone}, Server: "127.0.0.1:1"}, "no service type"},
		{[]string{"_timezone._tcp.example.org."}, BrowseOptions{Domains: []string{wideZone}, Server: "127.0.0.1:1"}, "not in the type"},
		{[]string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: "a b"}, "host or host:port"},
	} {
		_, err := NewBrowser(ctx, c.types, c.opts)
		require.Error(t, err, "%v %+v", c.types, c.opts)
		assert.ErrorIs(t, err, ErrBadName)
		assert.Contains(t, err.Error(), c.want)
	}
	_, _, _, _, err := SplitInstanceName("x._timezone")
	assert.ErrorIs(t, err, ErrBadName)
	name, inst, svc, dom, err := SplitInstanceName(`A\.b._TimeZone._tcp.Example.NET`)
	require.NoError(t, err)
	assert.Equal(t, []string{`A\.b._timezone._tcp.Example.NET.`, "A.b", "_timezone._tcp", "Example.NET."}, []string{name, inst, svc, dom})
}

// Unicast DNS browsing never sends multicast: package wide does not even
// link the Multicast DNS transport or the mDNS packages.
func TestNoMulticastTransport(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/lansd/lansd/wide").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "github.com/lansd/lansd/internal/mdns", "github.com/lansd/lansd/browse", "github.com/lansd/lansd/announce":
			t.Errorf("package wide depends on %s", dep)
		}
	}
}

// NewBrowser's context bounds only its start-up, as for browse.NewBrowser
// and announce.New: the browser polls on after it ends, until Close.
func TestWideContextBoundsOnlyStartUp(t *testing.T) {
	s := dnstest.StartBIND(t, wideZone)
	s.Nsupdate(t, `update add _timezone._tcp.tz.example.net. 60 PTR Late._timezone._tcp.tz.example.net.`)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr, Interval: 200 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close()
	cancel()
	// The instance becomes complete after the start-up context ended.
	time.Sleep(300 * time.Millisecond)
	s.Nsupdate(t, `update add Late._timezone._tcp.tz.example.net. 60 SRV 0 0 80 late.tz.example.net.
update add Late._timezone._tcp.tz.example.net. 60 TXT "path=/"
update add late.tz.example.net. 60 A 198.51.100.9`)
	in := nextEvent(t, b, sd.Add, 5*time.Second).Instance
	assert.Equal(t, "Late", in.Instance)
	require.NoError(t, b.Close())
	_, open := <-b.Events()
	assert.False(t, open, "Close stops it")
	assert.NoError(t, b.Err())

	_, err = NewBrowser(ctx, []string{"timezone"}, BrowseOptions{Domains: []string{wideZone}, Server: s.Addr})
	assert.ErrorIs(t, err, context.Canceled, "a start-up whose context has ended")
}
