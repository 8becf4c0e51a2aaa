// Package dnstest runs a real BIND 9 name server for tests: one primary
// zone on 127.0.0.1 that accepts RFC 2136 dynamic updates signed with a
// random TSIG key (RFC 8945), and helpers to query it, transfer it and
// update it with the stock BIND tools.
//
// It installs nothing: scripts/deps.sh installs the Debian packages bind9
// and bind9-dnsutils. Without named the tests skip, unless
// LANSD_REQUIRE_PEERS=1, when they fail.
//
// Everything is unicast on 127.0.0.1; named listens nowhere else. With
// WithRunner, named and the tools run elsewhere (in a test's network
// namespace), on that 127.0.0.1.
package dnstest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
)

// Timeouts of the harness. They bound waits; they are not speed targets.
const (
	// startTimeout bounds the wait for a new named to answer SOA.
	startTimeout = 15 * time.Second
	// stopTimeout is how long named gets to exit after SIGTERM before
	// it is killed.
	stopTimeout = 5 * time.Second
	// queryTimeout bounds one query or update of the helpers.
	queryTimeout = 5 * time.Second
	// startAttempts is how often a start is retried on another port when
	// the port picked was taken in between.
	startAttempts = 4
)

// Server is a running named serving one dynamic zone on 127.0.0.1.
type Server struct {
	// Addr is "127.0.0.1:PORT", for UDP and TCP.
	Addr string
	// Port is the port of Addr.
	Port int
	// Zone is the zone, fully qualified: "tz.example.net.".
	Zone string
	// KeyName is the TSIG key allowed to update the zone, fully
	// qualified and lower case: "lansd-test."
	KeyName string
	// Secret is the key's secret in base64.
	Secret string
	// Algorithm is the key's algorithm as miekg/dns names it:
	// dns.HmacSHA256 ("hmac-sha256.").
	Algorithm string
	// Dir is named's working directory: configuration, zone file, journal.
	Dir string

	cmd     *exec.Cmd
	run     Runner // nil: here
	logPath string
	done    chan struct{} // closed when named has exited
	stopped sync.Once
}

// config collects the options of StartBIND.
type config struct {
	alg         string
	keyName     string
	allowUpdate string
	records     []string
	options     []string
	run         Runner
}

// Runner returns the command that runs program name with args, the way
// exec.CommandContext does, but elsewhere: lantest's Host.Command runs it
// in a test host's network namespace.
type Runner func(ctx context.Context, name string, args ...string) *exec.Cmd

// WithRunner runs named, dig and nsupdate through run: in a network
// namespace (lantest's Host.Command), named then listens on that
// namespace's 127.0.0.1 (its lo must be up), where only programs run the
// same way reach it. The helpers work there through dig and nsupdate:
// the readiness probe, Query, AXFR and Snapshot parse dig's output, Dig
// and Nsupdate run through run; Update, which sends a message built in
// Go, is not available (use WithRecords or Nsupdate). Addr and Port are
// those of the namespace.
func WithRunner(run Runner) Option { return func(c *config) { c.run = run } }

// Option changes how StartBIND sets up the server.
type Option func(*config)

// WithAlgorithm makes the zone's key use alg, a miekg/dns algorithm name
// such as dns.HmacSHA512 or dns.HmacSHA1. The default is dns.HmacSHA256.
func WithAlgorithm(alg string) Option { return func(c *config) { c.alg = alg } }

// WithKeyName names the TSIG key; the default is "lansd-test.".
func WithKeyName(name string) Option { return func(c *config) { c.keyName = dns.CanonicalName(name) } }

// WithAllowUpdate replaces the zone's allow-update list, e.g. "none;"
// for a zone that refuses every update. The default allows the key.
func WithAllowUpdate(acl string) Option { return func(c *config) { c.allowUpdate = acl } }

// WithNamedOptions adds statements to named.conf's options block, e.g.
// "max-records-per-type 0;" (BIND 9.18.28 and later refuse more than 100
// records of one type at one name by default).
func WithNamedOptions(lines ...string) Option {
	return func(c *config) { c.options = append(c.options, lines...) }
}

// WithRecords adds zone-file lines (relative names are relative to the
// zone) to the zone as it is loaded.
func WithRecords(lines ...string) Option {
	return func(c *config) { c.records = append(c.records, lines...) }
}

// namedPath returns the path of named, or skips the test (fails it when
// LANSD_REQUIRE_PEERS=1) when BIND 9 is not installed.
func namedPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("named")
	if err != nil {
		for _, c := range []string{"/usr/sbin/named", "/usr/local/sbin/named"} {
			if _, serr := os.Stat(c); serr == nil {
				return c
			}
		}
		Require(t, "named (BIND 9, Debian package bind9) is not installed; run scripts/deps.sh")
	}
	return p
}

// Require skips the test with reason, or fails it when LANSD_REQUIRE_PEERS=1.
func Require(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("LANSD_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s (LANSD_REQUIRE_PEERS=1)", reason)
	}
	t.Skip(reason)
}

// Tool returns the path of a BIND tool (nsupdate, dig), or skips the
// test (fails it when LANSD_REQUIRE_PEERS=1) when it is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Require(t, fmt.Sprintf("%s (Debian package bind9-dnsutils) is not installed; run scripts/deps.sh", name))
	}
	return p
}

// StartBIND starts named in a temporary directory serving zone (e.g.
// "tz.example.net") as a primary zone with an SOA, an NS and the NS's
// address 127.0.0.1, allowing updates signed with a random key and zone
// transfers from 127.0.0.1. It returns once named answers the zone's SOA
// and stops named when the test ends. named's log is written to the test
// log if the test fails.
func StartBIND(t testing.TB, zone string, opts ...Option) *Server {
	t.Helper()
	named := namedPath(t)
	cfg := config{alg: dns.HmacSHA256, keyName: "lansd-test."}
	for _, o := range opts {
		o(&cfg)
	}
	zone = dns.CanonicalName(zone)
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		t.Fatalf("dnstest: bad zone name %q", zone)
	}
	algName, ok := bindAlgorithm(cfg.alg)
	if !ok {
		t.Fatalf("dnstest: unsupported TSIG algorithm %q", cfg.alg)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatalf("dnstest: random key: %v", err)
	}
	s := &Server{
		Zone:      zone,
		KeyName:   cfg.keyName,
		Secret:    base64.StdEncoding.EncodeToString(secret),
		Algorithm: dns.CanonicalName(cfg.alg),
		Dir:       t.TempDir(),
		run:       cfg.run,
	}
	if cfg.allowUpdate == "" {
		cfg.allowUpdate = fmt.Sprintf("key %q;", strings.TrimSuffix(s.KeyName, "."))
	}

	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("dnstest: no free port on 127.0.0.1: %v", err)
		}
		s.Port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := s.writeFiles(cfg, algName); err != nil {
			t.Fatalf("dnstest: %v", err)
		}
		lastErr = s.start(named)
		if lastErr == nil {
			break
		}
		log := s.Log()
		s.Stop()
		if !strings.Contains(log, "address in use") && !strings.Contains(log, "could not listen") {
			t.Fatalf("dnstest: named did not start: %v\nnamed log:\n%s", lastErr, log)
		}
		t.Logf("dnstest: port %d was taken, trying another: %v", port, lastErr)
	}
	if lastErr != nil {
		t.Fatalf("dnstest: named did not start after %d attempts: %v", startAttempts, lastErr)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("dnstest: named log (%s):\n%s", s.logPath, s.Log())
		}
	})
	return s
}

// bindAlgorithm maps a miekg/dns algorithm name to BIND's spelling.
func bindAlgorithm(alg string) (string, bool) {
	switch dns.CanonicalName(alg) {
	case dns.HmacSHA1:
		return "hmac-sha1", true
	case dns.HmacSHA224:
		return "hmac-sha224", true
	case dns.HmacSHA256:
		return "hmac-sha256", true
	case dns.HmacSHA384:
		return "hmac-sha384", true
	case dns.HmacSHA512:
		return "hmac-sha512", true
	}
	return "", false
}

// freePort returns a port on 127.0.0.1 that was free for both UDP and TCP
// a moment ago.
func freePort() (int, error) {
	var lastErr error
	for range 20 {
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err != nil {
			lastErr = err
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no port free for both UDP and TCP: %w", lastErr)
}

// UnusedAddr returns "127.0.0.1:PORT" for a port on which nothing listens,
// neither UDP nor TCP: a name server that is down.
func UnusedAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// writeFiles writes named.conf and the zone file for s's current port.
func (s *Server) writeFiles(cfg config, algName string) error {
	zoneFile := filepath.Join(s.Dir, "db.zone")
	var z strings.Builder
	fmt.Fprintf(&z, "$ORIGIN %s\n$TTL 300\n", s.Zone)
	fmt.Fprintf(&z, "@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 300\n", s.Zone, s.Zone)
	fmt.Fprintf(&z, "@ IN NS ns.%s\n", s.Zone)
	fmt.Fprintf(&z, "ns IN A 127.0.0.1\n")
	for _, l := range cfg.records {
		z.WriteString(l + "\n")
	}
	if err := os.WriteFile(zoneFile, []byte(z.String()), 0o644); err != nil {
		return err
	}
	// A stale journal from an earlier attempt would not match the file.
	_ = os.Remove(zoneFile + ".jnl")

	q := strconv.Quote
	conf := fmt.Sprintf(`options {
	directory %s;
	pid-file %s;
	session-keyfile %s;
	managed-keys-directory %s;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	allow-query { any; };
%s};
controls { };
key %s {
	algorithm %s;
	secret %s;
};
zone %s {
	type primary;
	file %s;
	allow-update { %s };
	allow-transfer { 127.0.0.1; };
};
`, q(s.Dir), q(filepath.Join(s.Dir, "named.pid")), q(filepath.Join(s.Dir, "session.key")), q(s.Dir),
		s.Port, extraOptions(cfg.options), q(strings.TrimSuffix(s.KeyName, ".")), algName, q(s.Secret),
		q(strings.TrimSuffix(s.Zone, ".")), q(zoneFile), cfg.allowUpdate)
	return os.WriteFile(filepath.Join(s.Dir, "named.conf"), []byte(conf), 0o644)
}

// extraOptions formats added options-block statements.
func extraOptions(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\t" + l + "\n")
	}
	return b.String()
}

// start runs named and waits until it answers the zone's SOA.
func (s *Server) start(named string) error {
	s.logPath = filepath.Join(s.Dir, "named.log")
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	// -g: foreground, log to stderr (captured in named.log); -u root: do
	// not switch to the bind user, who could not read the temporary
	// directory; -n 1: one worker thread is plenty for a test.
	args := []string{"-c", filepath.Join(s.Dir, "named.conf"), "-p", strconv.Itoa(s.Port), "-u", "root", "-g", "-n", "1"}
	cmd := s.command(context.Background(), named, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", named, err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	s.stopped = sync.Once{}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(startTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("named exited: %v", cmd.ProcessState)
		default:
		}
		if strings.Contains(s.Log(), "could not listen on") {
			return errors.New("named could not listen on its port")
		}
		lastErr = s.probe()
		if lastErr == nil {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("no SOA answer from %s within %v: %w", s.Addr, startTimeout, lastErr)
}

// command returns the command running name with args, here or through
// s.run.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if s.run != nil {
		return s.run(ctx, name, args...)
	}
	return exec.CommandContext(ctx, name, args...)
}

// probe asks for the zone's SOA and checks that the answer is ours.
func (s *Server) probe() error {
	if s.run != nil {
		rrs, rcode, err := s.digRRs(false, s.Zone, "SOA")
		if err != nil {
			return err
		}
		if rcode != "NOERROR" || len(rrs) != 1 {
			return fmt.Errorf("SOA query answered %s with %d records", rcode, len(rrs))
		}
		if soa, ok := rrs[0].(*dns.SOA); !ok || soa.Ns != "ns."+s.Zone {
			return fmt.Errorf("SOA answer is not our zone's: %v", rrs[0])
		}
		return nil
	}
	m := new(dns.Msg)
	m.SetQuestion(s.Zone, dns.TypeSOA)
	c := &dns.Client{Net: "tcp", Timeout: 500 * time.Millisecond}
	r, _, err := c.Exchange(m, s.Addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		return fmt.Errorf("SOA query answered %s with %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if soa, ok := r.Answer[0].(*dns.SOA); !ok || soa.Ns != "ns."+s.Zone {
		return fmt.Errorf("SOA answer is not our zone's: %v", r.Answer[0])
	}
	return nil
}

// Stop stops named: SIGTERM, then SIGKILL after a grace period. It is
// called when the test ends; calling it earlier makes the server "down"
// for the rest of the test. Stopping twice is harmless.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.stopped.Do(func() {
		p := s.cmd.Process
		if err := p.Signal(syscall.SIGTERM); err != nil {
			// No SIGTERM (Windows) or already gone: kill at once.
			_ = p.Kill()
		}
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			_ = p.Kill()
			<-s.done
		}
	})
}

// Restart starts named again after Stop, on the same port, with the zone
// as it was (the file and the journal of the updates): a server that was
// down and comes back. It fails the test if named does not answer.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(namedPath(t)); err != nil {
		t.Fatalf("dnstest: named did not start again: %v\nnamed log:\n%s", err, s.Log())
	}
}

// Log returns what named has logged so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// TSIGSpec returns the key in the form of nsupdate -y and lansd --tsig:
// "hmac-sha256:lansd-test:SECRET".
func (s *Server) TSIGSpec() string {
	alg, _ := bindAlgorithm(s.Algorithm)
	return alg + ":" + strings.TrimSuffix(s.KeyName, ".") + ":" + s.Secret
}

// KeyFile writes the key as a BIND key file (the form of nsupdate -k and
// tsig-keygen) in the server's directory and returns its path.
func (s *Server) KeyFile(t testing.TB) string {
	t.Helper()
	alg, _ := bindAlgorithm(s.Algorithm)
	p := filepath.Join(s.Dir, "update.key")
	body := fmt.Sprintf("key %q {\n\talgorithm %s;\n\tsecret %q;\n};\n", strings.TrimSuffix(s.KeyName, "."), alg, s.Secret)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	return p
}

// exchange sends m over TCP to the server; signed with the zone's key when
// sign is true.
func (s *Server) exchange(m *dns.Msg, sign bool) (*dns.Msg, error) {
	c := &dns.Client{Net: "tcp", Timeout: queryTimeout}
	if sign {
		c.TsigSecret = map[string]string{s.KeyName: s.Secret}
		m.SetTsig(s.KeyName, s.Algorithm, 300, time.Now().Unix())
	}
	r, _, err := c.Exchange(m, s.Addr)
	return r, err
}

// Query asks the server for name's records of type qtype over TCP and
// returns the answer section (empty when there are none). A query that
// fails, or an answer other than NOERROR or NXDOMAIN, fails the test.
func (s *Server) Query(t testing.TB, name string, qtype uint16) []dns.RR {
	t.Helper()
	if s.run != nil {
		rrs, rcode, err := s.digRRs(false, dns.Fqdn(name), dns.TypeToString[qtype])
		if err != nil {
			t.Fatalf("dnstest: query %s %s at %s: %v", name, dns.TypeToString[qtype], s.Addr, err)
		}
		if rcode != "NOERROR" && rcode != "NXDOMAIN" {
			t.Fatalf("dnstest: query %s %s at %s: %s", name, dns.TypeToString[qtype], s.Addr, rcode)
		}
		return rrs
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, err := s.exchange(m, false)
	if err != nil {
		t.Fatalf("dnstest: query %s %s at %s: %v", name, dns.TypeToString[qtype], s.Addr, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		t.Fatalf("dnstest: query %s %s at %s: %s", name, dns.TypeToString[qtype], s.Addr, dns.RcodeToString[r.Rcode])
	}
	return r.Answer
}

// AXFR transfers the whole zone (RFC 5936) and returns its records, the SOA
// once, in the server's order.
func (s *Server) AXFR(t testing.TB) []dns.RR {
	t.Helper()
	if s.run != nil {
		out, _, err := s.digRRs(true, s.Zone, "AXFR")
		if err != nil {
			t.Fatalf("dnstest: AXFR %s from %s: %v", s.Zone, s.Addr, err)
		}
		if len(out) == 0 || out[0].Header().Rrtype != dns.TypeSOA {
			t.Fatalf("dnstest: AXFR %s from %s: no SOA first: %v", s.Zone, s.Addr, out)
		}
		if n := len(out); n > 1 && out[n-1].Header().Rrtype == dns.TypeSOA {
			out = out[:n-1]
		}
		return out
	}
	m := new(dns.Msg)
	m.SetAxfr(s.Zone)
	tr := &dns.Transfer{DialTimeout: queryTimeout, ReadTimeout: queryTimeout}
	ch, err := tr.In(m, s.Addr)
	if err != nil {
		t.Fatalf("dnstest: AXFR %s from %s: %v", s.Zone, s.Addr, err)
	}
	var out []dns.RR
	for env := range ch {
		if env.Error != nil {
			t.Fatalf("dnstest: AXFR %s from %s: %v", s.Zone, s.Addr, env.Error)
		}
		out = append(out, env.RR...)
	}
	// The transfer ends with the SOA again (RFC 5936 section 2.2).
	if n := len(out); n > 1 && out[n-1].Header().Rrtype == dns.TypeSOA {
		out = out[:n-1]
	}
	return out
}

// Snapshot returns the zone's content without its SOA (whose serial every
// update changes) as sorted, canonical zone-file lines: what a test
// compares before and after.
func (s *Server) Snapshot(t testing.TB) []string {
	t.Helper()
	return Canonical(s.AXFR(t), dns.TypeSOA)
}

// Canonical returns rrs as sorted zone-file lines with the ASCII letters of
// names in lower case (dnsname.ASCIILower: DNS names fold ASCII only),
// leaving out the records of the types in skip.
func Canonical(rrs []dns.RR, skip ...uint16) []string {
	var out []string
	for _, rr := range rrs {
		if slices.Contains(skip, rr.Header().Rrtype) {
			continue
		}
		cp := dns.Copy(rr)
		cp.Header().Name = dnsname.ASCIILower(cp.Header().Name)
		switch v := cp.(type) {
		case *dns.PTR:
			v.Ptr = dnsname.ASCIILower(v.Ptr)
		case *dns.SRV:
			v.Target = dnsname.ASCIILower(v.Target)
		}
		out = append(out, cp.String())
	}
	slices.Sort(out)
	return out
}

// Update signs m (built with m.SetUpdate(s.Zone)) with the zone's key,
// sends it over TCP and returns the response's RCODE; a failed exchange
// fails the test. Tests use it to make records "someone else" owns.
func (s *Server) Update(t testing.TB, m *dns.Msg) int {
	t.Helper()
	if s.run != nil {
		t.Fatalf("dnstest: Update is not available WithRunner: use WithRecords or Nsupdate")
	}
	r, err := s.exchange(m, true)
	if err != nil {
		t.Fatalf("dnstest: update at %s: %v", s.Addr, err)
	}
	return r.Rcode
}

// Nsupdate runs BIND's nsupdate with the zone's key (-y) on script, to
// which the server and zone commands and the final "send" are added, and
// returns its output; a failure fails the test.
func (s *Server) Nsupdate(t testing.TB, script string) string {
	t.Helper()
	bin := Tool(t, "nsupdate")
	full := fmt.Sprintf("server 127.0.0.1 %d\nzone %s\n%s\nsend\n", s.Port, s.Zone, strings.TrimRight(script, "\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*queryTimeout)
	defer cancel()
	cmd := s.command(ctx, bin, "-y", s.TSIGSpec())
	cmd.Stdin = strings.NewReader(full)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dnstest: nsupdate failed: %v\nscript:\n%s\noutput:\n%s", err, full, out)
	}
	return string(out)
}

// Dig runs BIND's dig against the server (dig -p PORT @127.0.0.1 ARGS...)
// and returns its output; a failure fails the test.
func (s *Server) Dig(t testing.TB, args ...string) string {
	t.Helper()
	bin := Tool(t, "dig")
	ctx, cancel := context.WithTimeout(context.Background(), 2*queryTimeout)
	defer cancel()
	full := append([]string{"-p", strconv.Itoa(s.Port), "@127.0.0.1"}, args...)
	out, err := s.command(ctx, bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("dnstest: dig %s failed: %v\n%s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// digRRs runs dig against the server over TCP (through s.run) for name
// and qtype and returns the records it printed and the answer's status
// ("NOERROR"; "" for a zone transfer, which prints none). axfr asks for
// the whole transfer.
func (s *Server) digRRs(axfr bool, name, qtype string) ([]dns.RR, string, error) {
	bin, err := exec.LookPath("dig")
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*queryTimeout)
	defer cancel()
	args := []string{"-p", strconv.Itoa(s.Port), "@127.0.0.1", "+tcp", "+time=2", "+tries=1", "+nocmd", "+nostats", "+noquestion", "+noauthority", "+noadditional", name, qtype}
	if axfr {
		args = []string{"-p", strconv.Itoa(s.Port), "@127.0.0.1", "+time=2", "+tries=1", "+nocmd", "+nostats", "+nocomments", name, "AXFR"}
	}
	var stdout, stderr strings.Builder
	cmd := s.command(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, "", fmt.Errorf("dig %s: %v: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	var rrs []dns.RR
	status := ""
	for _, l := range strings.Split(stdout.String(), "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, "status: "); strings.HasPrefix(l, ";") && i >= 0 {
			status = strings.TrimSuffix(strings.Fields(l[i+len("status: "):])[0], ",")
			continue
		}
		if l == "" || strings.HasPrefix(l, ";") {
			if strings.Contains(l, "Transfer failed") || strings.Contains(l, "communications error") {
				return nil, "", fmt.Errorf("dig %s: %s", strings.Join(args, " "), l)
			}
			continue
		}
		rr, err := dns.NewRR(l)
		if err != nil {
			return nil, "", fmt.Errorf("dig printed %q: %w", l, err)
		}
		if rr != nil {
			rrs = append(rrs, rr)
		}
	}
	if !axfr && status == "" {
		return nil, "", fmt.Errorf("dig %s printed no status: %s", strings.Join(args, " "), stdout.String())
	}
	return rrs, status, nil
}
