package dnstest

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDNSTestBINDServesZone(t *testing.T) {
	s := StartBIND(t, "tz.example.net", WithRecords(`static IN TXT "hello world"`))
	assert.Equal(t, "tz.example.net.", s.Zone)
	assert.Equal(t, "127.0.0.1", strings.Split(s.Addr, ":")[0])

	soa := s.Query(t, s.Zone, dns.TypeSOA)
	require.Len(t, soa, 1)
	assert.Equal(t, "ns.tz.example.net.", soa[0].(*dns.SOA).Ns)
	a := s.Query(t, "ns."+s.Zone, dns.TypeA)
	require.Len(t, a, 1)
	assert.Equal(t, "127.0.0.1", a[0].(*dns.A).A.String())
	txt := s.Query(t, "static."+s.Zone, dns.TypeTXT)
	require.Len(t, txt, 1)
	assert.Equal(t, []string{"hello world"}, txt[0].(*dns.TXT).Txt)
	assert.Empty(t, s.Query(t, "absent."+s.Zone, dns.TypeTXT))

	axfr := s.AXFR(t)
	require.NotEmpty(t, axfr)
	assert.Equal(t, dns.TypeSOA, axfr[0].Header().Rrtype, "an AXFR starts with the SOA")
	for _, rr := range axfr[1:] {
		assert.NotEqual(t, dns.TypeSOA, rr.Header().Rrtype, "the closing SOA is dropped")
	}
	assert.Equal(t, []string{
		"ns.tz.example.net.\t300\tIN\tA\t127.0.0.1",
		"static.tz.example.net.\t300\tIN\tTXT\t\"hello world\"",
		"tz.example.net.\t300\tIN\tNS\tns.tz.example.net.",
	}, s.Snapshot(t))
}

func TestDNSTestBINDAcceptsSignedUpdates(t *testing.T) {
	s := StartBIND(t, "upd.example")
	before := s.Snapshot(t)

	// With the stock tools: nsupdate adds, dig sees it.
	s.Nsupdate(t, "update add web.upd.example. 60 IN A 198.51.100.7")
	got := s.Query(t, "web.upd.example.", dns.TypeA)
	require.Len(t, got, 1)
	assert.Equal(t, "198.51.100.7", got[0].(*dns.A).A.String())
	assert.Contains(t, s.Dig(t, "+short", "web.upd.example.", "A"), "198.51.100.7")

	// A raw signed update removes it again.
	m := new(dns.Msg)
	m.SetUpdate(s.Zone)
	rr, err := dns.NewRR("web.upd.example. 0 IN A 198.51.100.7")
	require.NoError(t, err)
	m.Remove([]dns.RR{rr})
	assert.Equal(t, dns.RcodeSuccess, s.Update(t, m))
	assert.Empty(t, s.Query(t, "web.upd.example.", dns.TypeA))
	assert.Equal(t, before, s.Snapshot(t), "the zone is back to what it was")
}

func TestDNSTestBINDRejectsUnsignedAndWrongKey(t *testing.T) {
	s := StartBIND(t, "strict.example", WithAlgorithm(dns.HmacSHA512), WithKeyName("other-key"))
	assert.Equal(t, "other-key.", s.KeyName)
	assert.Equal(t, dns.HmacSHA512, s.Algorithm)
	assert.True(t, strings.HasPrefix(s.TSIGSpec(), "hmac-sha512:other-key:"), s.TSIGSpec())

	rr, err := dns.NewRR("x.strict.example. 60 IN A 198.51.100.1")
	require.NoError(t, err)
	m := new(dns.Msg)
	m.SetUpdate(s.Zone)
	m.Insert([]dns.RR{rr})
	r, err := s.exchange(m, false)
	require.NoError(t, err)
	assert.Equal(t, dns.RcodeRefused, r.Rcode, "an unsigned update is refused")
	assert.Empty(t, s.Query(t, "x.strict.example.", dns.TypeA))

	// Signed with the right key it is accepted.
	m = new(dns.Msg)
	m.SetUpdate(s.Zone)
	m.Insert([]dns.RR{dns.Copy(rr)})
	assert.Equal(t, dns.RcodeSuccess, s.Update(t, m))
	assert.Len(t, s.Query(t, "x.strict.example.", dns.TypeA), 1)
}

func TestDNSTestBINDUpdatesRefused(t *testing.T) {
	s := StartBIND(t, "ro.example", WithAllowUpdate("none;"))
	rr, err := dns.NewRR("x.ro.example. 60 IN A 198.51.100.1")
	require.NoError(t, err)
	m := new(dns.Msg)
	m.SetUpdate(s.Zone)
	m.Insert([]dns.RR{rr})
	assert.Equal(t, dns.RcodeRefused, s.Update(t, m))
}

func TestDNSTestBINDStop(t *testing.T) {
	s := StartBIND(t, "stop.example")
	pid := s.cmd.Process.Pid
	s.Stop()
	select {
	case <-s.done:
	default:
		t.Fatal("named still running after Stop")
	}
	assert.NotNil(t, s.cmd.ProcessState, "named %d was reaped", pid)
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err == nil {
		c.Close()
	}
	assert.Error(t, err, "nothing listens after Stop")
	s.Stop() // harmless
}

func TestDNSTestUnusedAddr(t *testing.T) {
	addr := UnusedAddr(t)
	host, _, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	assert.Error(t, err, "nothing listens on %s", addr)
}

func TestDNSTestCanonical(t *testing.T) {
	a, err := dns.NewRR("B.Example. 60 IN PTR X.Example.")
	require.NoError(t, err)
	b, err := dns.NewRR("a.example. 60 IN SOA ns.example. h.example. 1 2 3 4 5")
	require.NoError(t, err)
	c, err := dns.NewRR("a.example. 60 IN SRV 0 0 80 H.Example.")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"a.example.\t60\tIN\tSRV\t0 0 80 h.example.",
		"b.example.\t60\tIN\tPTR\tx.example.",
	}, Canonical([]dns.RR{a, b, c}, dns.TypeSOA))
	assert.Equal(t, "B.Example.", a.Header().Name, "the input is not changed")
}

// WithRunner: named, dig and nsupdate run through the runner (here one
// that counts its commands and runs them here), and the helpers give
// what they give without it, from dig's output.
func TestDNSTestWithRunner(t *testing.T) {
	var mu sync.Mutex
	ran := map[string]int{}
	run := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		mu.Lock()
		ran[filepath.Base(name)]++
		mu.Unlock()
		return exec.CommandContext(ctx, name, args...)
	}
	plain := StartBIND(t, "tz.example.net", WithRecords(`static IN TXT "hello world"`, `Office\032TZ._timezone._tcp IN SRV 0 0 8080 h1`))
	s := StartBIND(t, "tz.example.net", WithRunner(run), WithRecords(`static IN TXT "hello world"`, `Office\032TZ._timezone._tcp IN SRV 0 0 8080 h1`))
	assert.Equal(t, plain.Snapshot(t), s.Snapshot(t))
	assert.Equal(t, Canonical(plain.AXFR(t), dns.TypeSOA), Canonical(s.AXFR(t), dns.TypeSOA))
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"static.tz.example.net.", dns.TypeTXT}, {`Office\ TZ._timezone._tcp.tz.example.net.`, dns.TypeSRV}, {"absent.tz.example.net.", dns.TypeA}, {"tz.example.net.", dns.TypeSOA}} {
		assert.Equal(t, Canonical(plain.Query(t, q.name, q.qtype)), Canonical(s.Query(t, q.name, q.qtype)), q.name)
	}
	s.Nsupdate(t, "update add web.tz.example.net. 60 IN A 198.51.100.7")
	assert.Equal(t, "198.51.100.7\n", s.Dig(t, "+short", "web.tz.example.net.", "A"))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, ran["named"])
	assert.Equal(t, 1, ran["nsupdate"])
	assert.GreaterOrEqual(t, ran["dig"], 8)
}
