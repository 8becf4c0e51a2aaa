package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/gateway"
)

// noGateway makes newGateway fail the test if called: nothing may be
// opened before the configuration is valid.
func noGateway(t *testing.T) {
	t.Helper()
	orig := newGateway
	newGateway = func(context.Context, *gateway.Config, gateway.Options) (*gateway.Gateway, error) {
		t.Error("the gateway was started")
		return nil, context.Canceled
	}
	t.Cleanup(func() { newGateway = orig })
}

// A configuration error names each field on a line of its own and exits
// 2 before anything is opened.
func TestGatewayConfigErrors(t *testing.T) {
	noGateway(t)
	cfg := filepath.Join(t.TempDir(), "gw.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{
  "links": {"a": {"interfaces": ["lan0"]}},
  "rules": [
    {"from": ["a"], "to": ["guest"], "types": ["timezone"]},
    {"from": ["a"], "to": ["a"], "types": ["no-such-service-name"]}
  ]
}`), 0o644))
	code, out, errOut := lansd(t, "", "gateway", "--config", cfg)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.GreaterOrEqual(t, len(lines), 2, errOut)
	assert.Contains(t, errOut, "rules[0].to[0]")
	assert.Contains(t, errOut, "rules[1].to")
	for _, l := range lines {
		assert.True(t, strings.HasPrefix(l, "lansd gateway: "), l)
	}
}

// An unknown registry name among the types is found by NewPolicy, before
// anything is opened.
func TestGatewayConfigUnknownType(t *testing.T) {
	noGateway(t)
	cfg := filepath.Join(t.TempDir(), "gw.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{
  "links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["lan1"]}},
  "rules": [{"from": ["a"], "to": ["b"], "types": ["no-such-service-name"]}]
}`), 0o644))
	code, _, errOut := lansd(t, "", "gateway", "--config", cfg)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "rules[0].types[0]")
}

// Usage errors: no --config, stray arguments, a missing file.
func TestGatewayUsage(t *testing.T) {
	noGateway(t)
	code, _, errOut := lansd(t, "", "gateway")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--config FILE is required")
	code, _, _ = lansd(t, "", "gateway", "--config", "x.json", "extra")
	assert.Equal(t, exitUsage, code)
	code, _, errOut = lansd(t, "", "gateway", "--config", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "cannot read")
	code, out, _ := lansd(t, "", "gateway", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "lansd gateway --config /etc/lansd/gateway.json")
}

// Events print one line each, as text or JSON.
func TestPrintGatewayEvent(t *testing.T) {
	var b strings.Builder
	w := &syncWriter{w: &b}
	at := time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC)
	ev := gateway.Event{Kind: gateway.EventProxied, Instance: "Office TZ._timezone._tcp.local.", From: "a", To: "b", Rule: 0, Reason: "addresses 198.18.1.11", Time: at}
	printGatewayEvent(w, ev, false)
	printGatewayEvent(w, ev, true)
	assert.Equal(t, "proxied    Office TZ._timezone._tcp.local.  a -> b  rules[0]  addresses 198.18.1.11\n"+
		`{"event":"proxied","instance":"Office TZ._timezone._tcp.local.","from":"a","to":"b","rule":0,"reason":"addresses 198.18.1.11","time":"2026-12-05T01:02:03Z"}`+"\n", b.String())
}

// A zone whose server refuses the gateway's updates (New's ConfigErrors)
// is a configuration error: the zone named on a line of its own, exit 2.
func TestGatewayZoneRefused(t *testing.T) {
	orig := newGateway
	newGateway = func(context.Context, *gateway.Config, gateway.Options) (*gateway.Gateway, error) {
		return nil, gateway.ConfigErrors{{Field: "zones.corp", Reason: "the zone's server refuses the gateway's updates",
			Err: errors.New("TSIG key gateway-key rejected by 192.0.2.53:53: BADSIG")}}
	}
	t.Cleanup(func() { newGateway = orig })
	cfg := filepath.Join(t.TempDir(), "gw.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{
  "links": {"a": {"interfaces": ["lan0"]}},
  "zones": {"corp": {"domain": "dnssd.example.net.", "server": "192.0.2.53:53"}},
  "rules": [{"from": ["a"], "to_zones": ["corp"], "types": ["timezone"]}]
}`), 0o644))
	code, out, errOut := lansd(t, "", "gateway", "--config", cfg)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Equal(t, "lansd gateway: zones.corp: the zone's server refuses the gateway's updates: TSIG key gateway-key rejected by 192.0.2.53:53: BADSIG\n", errOut)
}

// SIGHUP prints one line saying what happened: reloaded in place, kept
// the old configuration (an invalid file, or one Reload cannot apply),
// or restarted because of what Reload says needs a restart. The gateway
// is a real one of no rules (nothing opened: no network); the restart's
// runs the same configuration.
func TestGatewayReloadLines(t *testing.T) {
	origNew, origReload := newGateway, reloadGateway
	t.Cleanup(func() { newGateway, reloadGateway = origNew, origReload })
	var starts int
	var mu sync.Mutex
	newGateway = func(ctx context.Context, _ *gateway.Config, opts gateway.Options) (*gateway.Gateway, error) {
		mu.Lock()
		starts++
		mu.Unlock()
		return gateway.New(ctx, &gateway.Config{}, opts)
	}
	var next error
	reloadGateway = func(g *gateway.Gateway, ctx context.Context, cfg *gateway.Config) error {
		if next != nil {
			return next
		}
		return g.Reload(ctx, &gateway.Config{})
	}
	cfg := filepath.Join(t.TempDir(), "gw.json")
	good := []byte(`{"links": {"a": {"interfaces": ["lan0"]}, "b": {"interfaces": ["lan1"]}},
  "rules": [{"from": ["a"], "to": ["b"], "types": ["timezone"]}]}`)
	require.NoError(t, os.WriteFile(cfg, good, 0o644))
	r := startLansd(t, "gateway", "--config", cfg)
	hup := func(want string) {
		t.Helper()
		r.hup <- syscall.SIGHUP
		r.waitErr(t, want, 5*time.Second)
	}
	hup("lansd gateway: reloaded " + cfg + " in place\n")

	require.NoError(t, os.WriteFile(cfg, []byte(`{"links": {"a": {"interfaces": ["lan0"]}},
  "rules": [{"from": ["a"], "to": ["guest"], "types": ["timezone"]}]}`), 0o644))
	hup("lansd gateway: kept the old configuration because " + cfg + " has errors\n")
	assert.Contains(t, r.errOut.String(), "rules[0].to[0]")

	require.NoError(t, os.WriteFile(cfg, good, 0o644))
	next = gateway.ConfigErrors{{Field: "zones.corp", Reason: "the zone's server refuses the gateway's updates", Err: errors.New("BADSIG")}}
	hup("lansd gateway: kept the old configuration because " + cfg + " cannot be applied\n")
	assert.Contains(t, r.errOut.String(), "lansd gateway: zones.corp: the zone's server refuses the gateway's updates: BADSIG\n")

	next = &gateway.RestartError{Reason: "link a changes its interfaces from [lan0] to [lan2]"}
	hup("lansd gateway: restarted with " + cfg + " because link a changes its interfaces from [lan0] to [lan2]\n")
	mu.Lock()
	assert.Equal(t, 2, starts, "started, then restarted once")
	mu.Unlock()
	assert.Equal(t, 4, strings.Count(r.errOut.String(), "lansd gateway: reloaded")+
		strings.Count(r.errOut.String(), "lansd gateway: kept")+strings.Count(r.errOut.String(), "lansd gateway: restarted"), r.errOut.String())
}
