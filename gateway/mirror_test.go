package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// The runtime's zone destinations against a real BIND 9 on 127.0.0.1.
// No browser and no responder run (they would send multicast here): the
// test is the owner goroutine, feeding browse events to Gateway.browsed
// and the mirrors' outcomes to zoneDone, as Gateway.run does.

// zoneRig is a gateway with zone destinations only and the test as its
// owner.
type zoneRig struct {
	t   *testing.T
	g   *Gateway
	st  map[instKey]*entry
	pfx []netip.Prefix
}

// zoneConfig returns a configuration with link "office" mirrored into
// zone "corp" (s's zone) under rules.
func zoneConfig(t *testing.T, s *dnstest.Server, server, rules string) *Config {
	t.Helper()
	if server == "" {
		server = s.Addr
	}
	cfg, err := Parse([]byte(fmt.Sprintf(`{"links": {"office": {"interfaces": ["no-such-if0"]}},
	  "zones": {"corp": {"domain": %q, "server": %q, "tsig": %q, "ttl": 60}},
	  "rules": [%s]}`, s.Zone, server, s.TSIGSpec(), rules)))
	require.NoError(t, err)
	return cfg
}

// newZoneRig starts the zone side of a gateway for cfg: openMirrors as
// New does, and no owner goroutine.
func newZoneRig(t *testing.T, cfg *Config) *zoneRig {
	t.Helper()
	pol, err := NewPolicy(cfg, nil)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := &Gateway{cfg: cfg, pol: pol, log: log, events: make(chan Event, EventBuffer), in: make(chan any, 256), done: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.zctx, g.zcancel = context.WithCancel(context.Background())
	g.mirrors, err = openMirrors(context.Background(), cfg, zoneNames(cfg), Options{Logger: log}, log)
	require.NoError(t, err)
	close(g.done)
	r := &zoneRig{t: t, g: g, st: map[instKey]*entry{}, pfx: officePrefixes}
	t.Cleanup(func() { _ = g.Close() })
	return r
}

// browse hands the owner a browse event of link office.
func (r *zoneRig) browse(kind sd.EventKind, in sd.Instance) {
	in.Ifaces = []string{"no-such-if0"}
	r.g.browsed(r.st, browsed{link: "office", ev: sd.Event{Kind: kind, Instance: in, Time: time.Now()}}, r.pfx)
}

// wait runs the owner until an event of kind about name comes, and
// returns it.
func (r *zoneRig) wait(kind, name string) Event {
	r.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-r.g.in:
			if zr, ok := m.(zoneResult); ok {
				r.g.zoneDone(r.st, zr)
			}
		case ev := <-r.g.events:
			r.t.Logf("event: %+v", ev)
			if ev.Kind == kind && ev.Instance == name {
				return ev
			}
		case <-timeout:
			r.t.Fatalf("no %s event for %s", kind, name)
		}
	}
}

// settle runs the owner until the calls into the mirrors are done.
func (r *zoneRig) settle() {
	r.t.Helper()
	done := make(chan struct{})
	go func() { r.g.ops.Wait(); close(done) }()
	for {
		select {
		case m := <-r.g.in:
			if zr, ok := m.(zoneResult); ok {
				r.g.zoneDone(r.st, zr)
			}
		case <-done:
			for len(r.g.in) > 0 {
				if zr, ok := (<-r.g.in).(zoneResult); ok {
					r.g.zoneDone(r.st, zr)
				}
			}
			return
		}
	}
}

// zoneTZ is an instance of _timezone._tcp on link office's h1.
func zoneTZ(t *testing.T, label string, port uint16, args ...string) sd.Instance {
	in := tzInstance(t, label, "h1.local.", port, args...)
	in.Addrs = []netip.Addr{mAddr4, mLL}
	in.TTL = 120 * time.Second
	return in
}

func TestGatewayZoneMirrorsAndRemoves(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.Snapshot(t)
	r := newZoneRig(t, zoneConfig(t, s, "", `{"from": ["office"], "to_zones": ["corp"], "types": ["timezone"]}`))

	in := zoneTZ(t, "Office TZ", 8080, "path=/tz")
	r.browse(sd.Add, in)
	ev := r.wait(EventProxied, in.Name)
	assert.Equal(t, "office", ev.From)
	assert.Equal(t, "corp", ev.To)
	assert.Equal(t, 0, ev.Rule)
	assert.Equal(t, `in zone dnssd.example.net. as Office TZ._timezone._tcp.dnssd.example.net., SRV h1.office.dnssd.example.net.:8080, addresses 198.51.100.7`, ev.Reason)
	assert.Equal(t, []string{"0 0 8080 h1.office.dnssd.example.net."}, rdata(s.Query(t, officeTZ, dns.TypeSRV)))
	assert.Equal(t, []string{"198.51.100.7"}, rdata(s.Query(t, "h1.office."+s.Zone, dns.TypeA)), "no link-local address")
	srv := s.Query(t, officeTZ, dns.TypeSRV)
	assert.Equal(t, uint32(60), srv[0].Header().Ttl, "the zone's ttl")
	assert.Equal(t, []string{"dnssd.example.net."}, rdata(s.Query(t, "b._dns-sd._udp."+s.Zone, dns.TypePTR)))

	// A new TXT record: updated in place, no event.
	rec, err := txt.ParseArgs([]string{"path=/tz2"})
	require.NoError(t, err)
	in.TXT = rec
	r.browse(sd.Update, in)
	r.settle()
	assert.Equal(t, []string{`"path=/tz2"`}, rdata(s.Query(t, officeTZ, dns.TypeTXT)))
	// New addresses: the host's records follow.
	in.Addrs = []netip.Addr{mAddr4b}
	r.browse(sd.Update, in)
	r.settle()
	assert.Equal(t, []string{"198.51.100.8"}, rdata(s.Query(t, "h1.office."+s.Zone, dns.TypeA)))

	// Left its link (goodbye or expiry): removed from the zone, then
	// reported.
	r.browse(sd.Remove, in)
	ev = r.wait(EventRemoved, in.Name)
	assert.Equal(t, "instance left link office", ev.Reason)
	assert.Empty(t, s.Query(t, officeTZ, dns.TypeSRV))
	assert.Empty(t, s.Query(t, "h1.office."+s.Zone, dns.TypeA))

	// Back again, then the gateway closes: the zone is as found.
	r.browse(sd.Add, in)
	r.wait(EventProxied, in.Name)
	require.NoError(t, r.g.Close())
	assert.Equal(t, before, s.Snapshot(t), "Close leaves the zone as it was found")
}

// A name held in the zone by other data: withdrawn, never renamed,
// nothing written; not tried again until the instance leaves its link.
func TestGatewayZoneNameTaken(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone, dnstest.WithRecords(
		`_timezone._tcp IN PTR Office\032TZ._timezone._tcp`,
		`Office\032TZ._timezone._tcp IN SRV 0 0 9999 other`,
		`Office\032TZ._timezone._tcp IN TXT "path=/other"`,
		"other IN A 198.51.100.99",
	))
	before := s.Snapshot(t)
	r := newZoneRig(t, zoneConfig(t, s, "", `{"from": ["office"], "to_zones": ["corp"], "types": ["timezone"]}`))
	in := zoneTZ(t, "Office TZ", 8080, "path=/tz")
	r.browse(sd.Add, in)
	ev := r.wait(EventWithdrawn, in.Name)
	assert.Contains(t, ev.Reason, "not renamed")
	assert.Equal(t, before, s.Snapshot(t))
	in.Port = 8081
	r.browse(sd.Update, in)
	r.settle()
	assert.Equal(t, before, s.Snapshot(t), "not tried again")
	assert.Equal(t, []string{officeTZ}, rdata(s.Query(t, "_timezone._tcp."+s.Zone, dns.TypePTR)), "no other name")
	require.NoError(t, r.g.Close())
	assert.Equal(t, before, s.Snapshot(t))
}

// A non-conforming instance under "conforming" never reaches the zone;
// a conforming one does.
func TestGatewayZoneConformance(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	r := newZoneRig(t, zoneConfig(t, s, "", `{"from": ["office"], "to_zones": ["corp"], "types": ["_jnx-kcsync._tcp"], "conformance": "conforming"}`))
	bad := tzInstance(t, "Bad Sync", "h1.local.", 4000, badHash, salt)
	bad.Name, bad.Service = `Bad\ Sync._jnx-kcsync._tcp.local.`, "_jnx-kcsync._tcp"
	bad.Addrs = []netip.Addr{mAddr4}
	r.browse(sd.Add, bad)
	ev := r.wait(EventRefused, bad.Name)
	assert.Equal(t, "corp", ev.To)
	assert.Contains(t, ev.Reason, "rules[0].conformance")
	good := bad
	good.Instance, good.Name = "Good Sync", `Good\ Sync._jnx-kcsync._tcp.local.`
	rec, err := txt.ParseArgs([]string{goodHash, salt})
	require.NoError(t, err)
	good.TXT = rec
	r.browse(sd.Add, good)
	r.wait(EventProxied, good.Name)
	assert.Empty(t, s.Query(t, `Bad\ Sync._jnx-kcsync._tcp.`+s.Zone, dns.TypeSRV))
	assert.Len(t, s.Query(t, `Good\ Sync._jnx-kcsync._tcp.`+s.Zone, dns.TypeSRV), 1)
}

// A zone whose server refuses the key fails New with the zone named,
// before anything is opened on a link; one whose server does not
// answer does not: its instances are refused with the server's error,
// and written once it answers (the next refresh).
func TestGatewayZoneServerProblems(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	cfg := zoneConfig(t, s, "", `{"from": ["office"], "to_zones": ["corp"], "types": ["timezone"]}`)
	z := cfg.Zones["corp"]
	z.TSIG.Secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	cfg.Zones["corp"] = z
	_, err := New(context.Background(), cfg, Options{})
	var ce ConfigErrors
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "zones.corp", ce[0].Field)
	assert.Contains(t, err.Error(), "BADSIG")
	t.Log(err)

	down := dnstest.UnusedAddr(t)
	cfg = zoneConfig(t, s, down, `{"from": ["office"], "to_zones": ["corp"], "types": ["timezone"]}`)
	r := newZoneRig(t, cfg)
	in := zoneTZ(t, "Office TZ", 8080, "path=/tz")
	r.browse(sd.Add, in)
	ev := r.wait(EventRefused, in.Name)
	assert.Contains(t, ev.Reason, "no answer from DNS server "+down)
	// Still down at the next refresh: tried again, not reported again.
	r.g.refresh(r.st)
	r.settle()
	for len(r.g.events) > 0 {
		ev := <-r.g.events
		t.Errorf("reported again: %+v", ev)
	}
	// The server comes back (here: the mirror is pointed at it) and the
	// refresh writes the instance.
	m := r.g.mirrors["corp"]
	m.mu.Lock()
	m.server = s.Addr
	m.mu.Unlock()
	r.g.refresh(r.st)
	r.wait(EventProxied, in.Name)
	assert.Len(t, s.Query(t, officeTZ, dns.TypeSRV), 1)
}

// Under "any" the policy lets a non-conforming instance through, and the
// zone's registrar refuses its TXT record (nothing invalid is written):
// refused, with the registry's finding; nothing left in the zone.
func TestGatewayZoneRefusesInvalidTXT(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.Snapshot(t)
	r := newZoneRig(t, zoneConfig(t, s, "", `{"from": ["office"], "to_zones": ["corp"], "types": ["_jnx-kcsync._tcp"]}`))
	bad := tzInstance(t, "Bad Sync", "h1.local.", 4000, badHash, salt)
	bad.Name, bad.Service = `Bad\ Sync._jnx-kcsync._tcp.local.`, "_jnx-kcsync._tcp"
	bad.Addrs = []netip.Addr{mAddr4}
	r.browse(sd.Add, bad)
	ev := r.wait(EventRefused, bad.Name)
	assert.Equal(t, "corp", ev.To)
	assert.Contains(t, ev.Reason, "hex digits")
	r.settle()
	assert.Equal(t, before, s.Snapshot(t))
}

// A removal the server does not answer is tried again until it does:
// the instance leaves its link while the server is down, and is deleted
// (and reported removed) once the server is back.
func TestGatewayZoneRemoveRetried(t *testing.T) {
	s := dnstest.StartBIND(t, mirrorZone)
	before := s.Snapshot(t)
	r := newZoneRig(t, zoneConfig(t, s, "", `{"from": ["office"], "to_zones": ["corp"], "types": ["timezone"]}`))
	in := zoneTZ(t, "Office TZ", 8080, "path=/tz")
	r.browse(sd.Add, in)
	r.wait(EventProxied, in.Name)
	s.Stop()
	r.browse(sd.Remove, in)
	down := time.Now()
	removed := make(chan Event, 1)
	go func() {
		// Past the first try (wide.DefaultTimeout without an answer)
		// and into the retries: the server comes back.
		time.Sleep(7 * time.Second)
		s.Restart(t)
	}()
	go func() { removed <- r.wait(EventRemoved, in.Name) }()
	ev := <-removed
	t.Logf("removed %v after the instance left, the server down for 7 s: %+v", time.Since(down).Round(time.Millisecond), ev)
	assert.GreaterOrEqual(t, time.Since(down), 7*time.Second)
	assert.Empty(t, s.Query(t, officeTZ, dns.TypeSRV))
	require.NoError(t, r.g.Close())
	assert.Equal(t, before, s.Snapshot(t))
}
