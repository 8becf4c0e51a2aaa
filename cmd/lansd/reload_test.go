package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
)

func TestWatchSignalsSecondExitsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		want int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		sigs := make(chan os.Signal, 2)
		ctx, cancel := context.WithCancel(context.Background())
		var errOut lockedBuffer
		exited := make(chan int, 1)
		go watchSignals(sigs, cancel, &errOut, func(code int) { exited <- code })
		sigs <- syscall.SIGTERM
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the first signal did not cancel the context")
		}
		select {
		case <-exited:
			t.Fatal("the first signal exited")
		case <-time.After(50 * time.Millisecond):
		}
		sigs <- tc.sig
		select {
		case code := <-exited:
			assert.Equal(t, tc.want, code)
		case <-time.After(5 * time.Second):
			t.Fatal("the second signal did not exit")
		}
		assert.Contains(t, errOut.String(), "exiting at once; the shutdown did not finish")
	}
}

func TestWatchSignalsNone(t *testing.T) {
	// The command ends without a signal: nothing is cancelled or exited.
	sigs := make(chan os.Signal)
	done := make(chan struct{})
	var out bytes.Buffer
	go func() {
		watchSignals(sigs, func() { t.Error("cancelled") }, &out, func(int) { t.Error("exited") })
		close(done)
	}()
	close(sigs)
	<-done
	assert.Empty(t, out.String())
}

func TestAnnounceHelpSignals(t *testing.T) {
	code, out, _, _ := announceRun(t, "--help")
	assert.Equal(t, exitOK, code)
	for _, want := range []string{"SIGHUP", "130", "143", "second"} {
		assert.Contains(t, out, want)
	}
}

// zoneConfig writes a --config file for the unicast DNS reload tests.
func zoneConfig(t *testing.T, path, services string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(`{"services": [`+services+`]}`), 0o600))
}

func TestWideAnnounceReload(t *testing.T) {
	noMulticast(t)
	s := dnstest.StartBIND(t, wideTestZone)
	before := s.Snapshot(t)
	cfg := writeFile(t, "services.json", "")
	zoneConfig(t, cfg, `
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": 2, "txt": {"v": "1"}},
  {"name": "Port", "service": "timezone", "port": 3},
  {"name": "Gone", "service": "timezone", "port": 4}`)
	ann := startLansd(t, "announce", "--config", cfg, "--domain", wideTestZone, "--server", s.Addr, "--tsig", s.TSIGSpec(),
		"--hostname", "h1", "--addr", "198.51.100.7", "--timeout", "2s")
	ann.waitOutput(t, `registered "Gone._timezone._tcp.tz.example.net."`, 10*time.Second)
	ptrs := func() []string {
		var names []string
		for _, rr := range s.Query(t, "_timezone._tcp.tz.example.net.", dns.TypePTR) {
			names = append(names, rr.(*dns.PTR).Ptr)
		}
		return names
	}
	require.ElementsMatch(t, []string{"Keep._timezone._tcp.tz.example.net.", "Txt._timezone._tcp.tz.example.net.",
		"Port._timezone._tcp.tz.example.net.", "Gone._timezone._tcp.tz.example.net."}, ptrs())

	// A broken file: every problem named, nothing changes.
	zoneConfig(t, cfg, `
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": "two"},
  {"name": "New", "service": "_no_such._tcp", "port": 5}`)
	snap := s.Snapshot(t)
	ann.hup <- syscall.SIGHUP
	ann.waitErr(t, "reload of "+cfg+" refused", 10*time.Second)
	assert.Contains(t, ann.errOut.String(), "services[1].port")
	assert.Equal(t, snap, s.Snapshot(t))

	// A changed file: added, updated, replaced, removed.
	zoneConfig(t, cfg, `
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": 2, "txt": {"v": "2"}},
  {"name": "Port", "service": "timezone", "port": 33},
  {"name": "New", "service": "timezone", "port": 5}`)
	ann.hup <- syscall.SIGHUP
	ann.waitErr(t, "reloaded "+cfg+": 1 added, 1 updated, 1 replaced, 1 removed, 1 unchanged", 10*time.Second)
	out := ann.out.String()
	assert.Contains(t, out, `removed "Gone._timezone._tcp.tz.example.net." (no longer in `+cfg+")\n")
	assert.Contains(t, out, `removed "Port._timezone._tcp.tz.example.net." (replaced:`)
	assert.Contains(t, out, `updated TXT of "Txt._timezone._tcp.tz.example.net."`)
	assert.Contains(t, out, `registered "New._timezone._tcp.tz.example.net."`)
	assert.Equal(t, 2, strings.Count(out, `registered "Port._timezone._tcp.tz.example.net."`))
	assert.ElementsMatch(t, []string{"Keep._timezone._tcp.tz.example.net.", "Txt._timezone._tcp.tz.example.net.",
		"Port._timezone._tcp.tz.example.net.", "New._timezone._tcp.tz.example.net."}, ptrs())
	srv := s.Query(t, "Port._timezone._tcp.tz.example.net.", dns.TypeSRV)
	require.Len(t, srv, 1)
	assert.Equal(t, uint16(33), srv[0].(*dns.SRV).Port)
	assert.Contains(t, s.Dig(t, "+short", "Txt._timezone._tcp.tz.example.net.", "TXT"), `"v=2"`)

	require.Equal(t, exitOK, ann.stop(t), ann.errOut.String())
	assert.Equal(t, before, s.Snapshot(t), "the zone is left as it was found")
}

func TestWideAnnounceHangupWithoutConfig(t *testing.T) {
	noMulticast(t)
	s := dnstest.StartBIND(t, wideTestZone)
	ann := startLansd(t, wideAnnounceArgs(s)...)
	ann.waitOutput(t, "registered", 10*time.Second)
	snap := s.Snapshot(t)
	ann.hup <- syscall.SIGHUP
	ann.waitErr(t, "SIGHUP ignored: there is no --config file to reload", 5*time.Second)
	assert.Equal(t, snap, s.Snapshot(t))
	require.Equal(t, exitOK, ann.stop(t), ann.errOut.String())
}
