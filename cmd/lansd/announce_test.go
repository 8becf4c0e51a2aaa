package main

// Tests of lansd announce that need no network: flags, usage and
// validation. No test here may open an mDNS socket (this process runs on the
// bare machine), so newResponder is replaced for the whole test binary by a
// stub that records the call and opens nothing.

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
)

// errNoNetwork is what the stub responder returns.
var errNoNetwork = errors.New("test stub: no network in cmd/lansd tests")

// responderCalls records the Options of every attempt to open a responder.
var responderCalls struct {
	mu   sync.Mutex
	opts []announce.Options
}

func init() {
	// The machine's own networks are not the tests' business: --domains
	// asks none unless a test says which.
	localNetworks = func() ([]netip.Prefix, error) { return nil, nil }
	newResponder = func(_ context.Context, opts announce.Options) (*announce.Responder, error) {
		responderCalls.mu.Lock()
		defer responderCalls.mu.Unlock()
		responderCalls.opts = append(responderCalls.opts, opts)
		return nil, errNoNetwork
	}
}

// announceRun runs lansd announce in-process and also returns the Options
// of the responder it tried to open (nil when it opened none).
func announceRun(t *testing.T, args ...string) (code int, stdout, stderr string, opened []announce.Options) {
	t.Helper()
	responderCalls.mu.Lock()
	before := len(responderCalls.opts)
	responderCalls.mu.Unlock()
	code, stdout, stderr = lansd(t, "", append([]string{"announce"}, args...)...)
	responderCalls.mu.Lock()
	opened = append(opened, responderCalls.opts[before:]...)
	responderCalls.mu.Unlock()
	return code, stdout, stderr, opened
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestAnnounceHelp(t *testing.T) {
	code, out, _, opened := announceRun(t, "--help")
	assert.Equal(t, exitOK, code)
	assert.Empty(t, opened)
	for _, want := range []string{"Usage: lansd announce", "Example:", `--name "Office TZ"`, "--config", "--txt", "--subtype", "--iface",
		"--no-validate", "--registry", "--ipv4-only", "--ipv6-only", "--family", "--verbose", "--domain", "--host", "goodbye"} {
		assert.Contains(t, out, want)
	}
	code, out, _ = lansd(t, "", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "announce")
}

func TestAnnounceInvalidTXTExitsBeforeOpening(t *testing.T) {
	code, out, errOut, opened := announceRun(t, "--service", "jnx-kcsync", "--name", "Keychain", "--port", "5000",
		"--txt", "hash="+goodHash[:39], "--txt", "salt="+goodSalt, "--txt", "uuid="+goodUUID)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened, "validation must happen before the responder is opened")
	assert.Empty(t, out, "nothing announced")
	// The finding, printed as validate prints it.
	assert.Contains(t, errOut, `error: key "hash" at offset 0: value byte 39 (wire offset 45): found 39 hex digits, want exactly 40 (jnx-kcsync: hash=<40hex characters>)`)
	assert.Contains(t, errOut, `service "Keychain" refused; nothing was sent`)
	assert.Contains(t, errOut, "--no-validate")
}

func TestAnnounceNoValidateWarnsAndOpens(t *testing.T) {
	code, _, errOut, opened := announceRun(t, "--service", "jnx-kcsync", "--name", "Keychain", "--port", "5000",
		"--txt", "hash="+goodHash[:39], "--txt", "salt="+goodSalt, "--txt", "uuid="+goodUUID, "--no-validate")
	assert.Contains(t, errOut, `warning: ignored (--no-validate): error: key "hash" at offset 0`)
	require.Len(t, opened, 1, "--no-validate announces anyway")
	assert.True(t, opened[0].NoValidate)
	// The stub cannot open a network: that is an internal failure, not a usage error.
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, errOut, errNoNetwork.Error())
}

func TestAnnounceValidInputOpensWithOptions(t *testing.T) {
	code, _, errOut, opened := announceRun(t, "-s", "_timezone._tcp", "-n", "Office TZ", "-p", "8080", "--txt", "path=/tz",
		"--iface", "lan0", "--iface", "lan1", "--hostname", "tzhost", "--ipv6-only", "-v")
	assert.Equal(t, exitInternal, code)
	assert.NotContains(t, errOut, "error: key")
	require.Len(t, opened, 1)
	o := opened[0]
	assert.Equal(t, []string{"lan0", "lan1"}, o.Interfaces)
	assert.Equal(t, "tzhost", o.HostName)
	assert.Equal(t, []sd.Family{sd.IPv6}, o.Families)
	assert.False(t, o.NoValidate)
	assert.NotNil(t, o.Logger)
	assert.NotNil(t, o.Registry)

	for _, tc := range []struct {
		args []string
		want []sd.Family
	}{
		{nil, nil},
		{[]string{"--ipv4-only"}, []sd.Family{sd.IPv4}},
		{[]string{"-4"}, []sd.Family{sd.IPv4}},
		{[]string{"--family", "ipv6"}, []sd.Family{sd.IPv6}},
		{[]string{"--family", "both"}, nil},
	} {
		args := append([]string{"-s", "timezone", "-n", "x", "-p", "1"}, tc.args...)
		_, _, _, opened := announceRun(t, args...)
		require.Len(t, opened, 1, "%q", tc.args)
		assert.Equal(t, tc.want, opened[0].Families, "%q", tc.args)
	}
}

func TestAnnounceWarningsDoNotBlock(t *testing.T) {
	code, _, errOut, opened := announceRun(t, "-s", "timezone", "-n", "TZ", "-p", "8080", "--txt", "path=/tz", "--txt", "colour=blue")
	assert.Equal(t, exitInternal, code, "valid: the (stub) responder is opened")
	require.Len(t, opened, 1)
	assert.Contains(t, errOut, `warning: key "colour"`)
}

func TestAnnounceUsageErrors(t *testing.T) {
	cfg := writeFile(t, "ok.json", `{"services": [{"name": "Office TZ", "service": "timezone", "port": 8080}]}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "missing --service, --name, --port"},
		{"no port", []string{"-s", "timezone", "-n", "x"}, "missing --port"},
		{"bad port", []string{"-s", "timezone", "-n", "x", "-p", "70000"}, "--port"},
		{"unknown flag", []string{"--frob"}, "unknown flag: --frob"},
		{"positional TXT", []string{"-s", "timezone", "-n", "x", "-p", "1", "path=/tz"}, `unexpected argument "path=/tz"`},
		{"bad escape", []string{"-s", "timezone", "-n", "x", "-p", "1", "--txt", `a=\q`}, `--txt: txt: args[0] "a=\q"`},
		{"two families", []string{"-s", "timezone", "-n", "x", "-p", "1", "--ipv4-only", "--ipv6-only"}, "at most one of"},
		{"family and flag", []string{"-s", "timezone", "-n", "x", "-p", "1", "--ipv4-only", "--family", "ipv6"}, "at most one of"},
		{"bad family", []string{"-s", "timezone", "-n", "x", "-p", "1", "--family", "ipx"}, `--family "ipx"`},
		{"config and flags", []string{"--config", cfg, "--name", "x"}, "--name cannot be used with --config"},
		{"missing config", []string{"--config", filepath.Join(t.TempDir(), "nope.json")}, "--config"},
		{"unknown service", []string{"-s", "no-such-service-xyz", "-n", "x", "-p", "1"}, `error: --service "no-such-service-xyz": service name not in the registry`},
		{"instance too long", []string{"-s", "timezone", "-n", strings.Repeat("n", 64), "-p", "1"}, "error: --name"},
		{"bad subtype", []string{"-s", "timezone", "-n", "x", "-p", "1", "--subtype", "_a", "--subtype", "a.b"}, "error: --subtype[1]"},
		{"zone with --no-validate", []string{"-s", "timezone", "-n", "x", "-p", "1", "--domain", "example.com.", "--no-validate"}, "--no-validate cannot be used with --domain"},
		{"zone with --iface", []string{"-s", "timezone", "-n", "x", "-p", "1", "--domain", "example.com.", "--iface", "lo"}, "--iface cannot be used with --domain"},
		{"unencodable, --no-validate", []string{"-s", "timezone", "-n", strings.Repeat("n", 64), "-p", "1", "--no-validate"}, "cannot be published, even with --no-validate"},
		{"bad host name", []string{"-s", "timezone", "-n", "x", "-p", "1", "--hostname", "a.example.com"}, "--hostname: announce: host name \"a.example.com\": must be a single label"},
		{"bad registry", []string{"-s", "timezone", "-n", "x", "-p", "1", "--registry", filepath.Join(t.TempDir(), "none.csv")}, "none.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut, opened := announceRun(t, tc.args...)
			assert.Equal(t, exitUsage, code, "stderr: %s", errOut)
			assert.Empty(t, opened, "nothing may be opened on bad input")
			assert.Empty(t, out)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

func TestAnnounceBadConfigNamesServiceAndField(t *testing.T) {
	bad := writeFile(t, "bad.json", `{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}},
  {"name": "Other", "service": "_http._tcp", "port": 70000}
]}`)
	code, out, errOut, opened := announceRun(t, "--config", bad)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `services[1].port "70000": must be an integer from 0 to 65535`)
	assert.NotContains(t, errOut, "services[0]")

	syntax := writeFile(t, "syntax.json", "{\"services\": [\n  {\"name\": \"x\",}\n]}")
	code, _, errOut, opened = announceRun(t, "--config", syntax)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	assert.Contains(t, errOut, "line 2, column 16")
}

func TestAnnounceConfigValidatedAsAWhole(t *testing.T) {
	file := writeFile(t, "svc.json", `{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}},
  {"name": "Keychain", "service": "_jnx-kcsync._tcp", "port": 5000,
   "txt": {"hash": "`+goodHash[:39]+`", "salt": "`+goodSalt+`", "uuid": "`+goodUUID+`"}},
  {"name": "Mystery", "service": "no-such-service-xyz", "port": 1}
]}`)
	code, out, errOut, opened := announceRun(t, "--config", file)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened, "one bad service stops them all before anything is sent")
	assert.Empty(t, out)
	assert.Contains(t, errOut, `error: services[1].txt: key "hash" at offset 0`)
	assert.Contains(t, errOut, `error: services[2].service "no-such-service-xyz"`)
	assert.NotContains(t, errOut, "services[0]")
	assert.Contains(t, errOut, "2 of 3 services refused; nothing was sent")

	// With --no-validate the rule breaker is let through, the unpublishable
	// one still is not.
	code, _, errOut, opened = announceRun(t, "--config", file, "--no-validate")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	assert.Contains(t, errOut, `warning: ignored (--no-validate): error: services[1].txt: key "hash"`)
	assert.Contains(t, errOut, `service "Mystery" cannot be published`)

	good := writeFile(t, "good.json", `{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}},
  {"name": "Keychain", "service": "_jnx-kcsync._tcp", "port": 5000,
   "txt": {"hash": "`+goodHash+`", "salt": "`+goodSalt+`", "uuid": "`+goodUUID+`"}}
]}`)
	code, _, errOut, opened = announceRun(t, "--config", good, "--iface", "lan0")
	assert.Equal(t, exitInternal, code, errOut)
	require.Len(t, opened, 1, "a valid file opens the responder once")
	assert.Equal(t, []string{"lan0"}, opened[0].Interfaces)
}

func TestAnnounceRegistryFlag(t *testing.T) {
	// printer is not in the built-in set: its protocol is unknown there.
	code, _, errOut, opened := announceRun(t, "-s", "printer", "-n", "Laser", "-p", "515")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	assert.Contains(t, errOut, `error: --service "printer": service name not in the registry`)

	// With the full IANA registry it resolves (to _printer._tcp).
	csv := realRegistry(t)
	code, _, errOut, opened = announceRun(t, "-s", "printer", "-n", "Laser", "-p", "515", "--registry", csv)
	assert.Equal(t, exitInternal, code, "valid: the (stub) responder is opened; stderr: %s", errOut)
	require.Len(t, opened, 1)
	require.NotNil(t, opened[0].Registry)
	svc, ok := opened[0].Registry.Lookup("printer")
	require.True(t, ok, "the responder gets the registry given by --registry")
	assert.Equal(t, "_printer._tcp", svc.Type())
}
