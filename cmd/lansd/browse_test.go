package main

// Tests of lansd browse and lansd resolve without a network: the querier
// is replaced by fakes (newBrowser, resolveInstance).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// fakeBrowser replays events, then closes its channel (or signals quiet).
type fakeBrowser struct {
	events chan browse.Event
	quiet  chan struct{}
	err    error
	closed bool
}

func (f *fakeBrowser) Events() <-chan browse.Event  { return f.events }
func (f *fakeBrowser) Quiet() <-chan struct{}       { return f.quiet }
func (f *fakeBrowser) Instances() []browse.Instance { return nil }
func (f *fakeBrowser) Stats() browse.Stats          { return browse.Stats{} }
func (f *fakeBrowser) Err() error                   { return f.err }
func (f *fakeBrowser) Close() error                 { f.closed = true; return nil }

// withBrowser replaces newBrowser: it records the call and replays evs.
// With quiet the channel stays open and Quiet is closed after the events.
func withBrowser(t *testing.T, evs []browse.Event, quiet bool) (*fakeBrowser, *[]string, *browse.Options) {
	t.Helper()
	fb := &fakeBrowser{events: make(chan browse.Event), quiet: make(chan struct{})}
	var gotTypes []string
	var gotOpts browse.Options
	old := newBrowser
	newBrowser = func(ctx context.Context, types []string, opts browse.Options) (sd.Browser, error) {
		gotTypes, gotOpts = types, opts
		go func() {
			for _, ev := range evs {
				fb.events <- ev
			}
			if quiet {
				close(fb.quiet)
				return
			}
			close(fb.events)
		}()
		return fb, nil
	}
	t.Cleanup(func() { newBrowser = old })
	return fb, &gotTypes, &gotOpts
}

// noNetwork makes opening the network fail the test.
func noNetwork(t *testing.T) {
	t.Helper()
	oldB, oldR := newBrowser, resolveInstance
	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) {
		t.Fatal("the network was opened although the input is invalid")
		return nil, nil
	}
	resolveInstance = func(context.Context, string, browse.Options) ([]browse.Instance, error) {
		t.Fatal("the network was opened although the input is invalid")
		return nil, nil
	}
	t.Cleanup(func() { newBrowser, resolveInstance = oldB, oldR })
}

func mustRecord(t *testing.T, args ...string) txt.Record {
	t.Helper()
	r, err := txt.ParseArgs(args)
	require.NoError(t, err)
	return r
}

func testInstance(t *testing.T, svcName, inst string, rec txt.Record) browse.Instance {
	t.Helper()
	reg := registry.Builtin()
	svc, _ := reg.Lookup(svcName)
	typ := "_" + svcName + "._tcp"
	return browse.Instance{
		Name:     inst + "." + typ + ".local.",
		Instance: inst, Service: typ, Domain: "local.", Host: "h2.local.", Port: 8080,
		Addrs:      []netip.Addr{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("fe80::2%lan0")},
		TXT:        rec,
		Ifaces:     []string{"lan0"},
		Seen:       []browse.Source{{Iface: "lan0", Family: sd.IPv4}, {Iface: "lan0", Family: sd.IPv6}},
		TTL:        120 * time.Second,
		Report:     txt.Validate(rec, svc, txt.Options{}),
		Registered: svcName,
	}
}

var evTime = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)

func TestBrowseAndResolveHelp(t *testing.T) {
	for _, cmd := range []string{"browse", "resolve"} {
		code, out, _ := lansd(t, "", cmd, "--help")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "Usage: lansd "+cmd)
		assert.Contains(t, out, "Example:")
		assert.Contains(t, out, "--json")
		assert.Contains(t, out, "Exit status")
	}
	_, out, _ := lansd(t, "", "browse", "--help")
	assert.Contains(t, out, "+;IFACE;IPv4;NAME;TYPE;DOMAIN", "the --parsable mapping is documented")
	_, out, _ = lansd(t, "", "--help")
	assert.Contains(t, out, "browse")
	assert.Contains(t, out, "resolve")
}

func TestBrowseUsageErrorsOpenNothing(t *testing.T) {
	noNetwork(t)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"nosuchservice"}, `"nosuchservice" is not in the registry`},
		{[]string{"_timezone._xyz"}, "_tcp or _udp"},
		{[]string{"timezone", "--json", "--parsable"}, "exclude each other"},
		{[]string{"timezone", "-4", "-6"}, "exclude each other"},
		{[]string{"timezone", "--timeout", "-1s"}, "negative"},
		{[]string{"timezone", "--max-records", "10"}, "--max-records: 10 is less than 100"},
		{[]string{"--all", "--subtype", "_printer"}, "--subtype"},
		{[]string{"--subtype", "_printer"}, "needs a TYPE"},
		{[]string{"_printer._sub._http._tcp", "--subtype", "_x"}, "already names a subtype"},
		{[]string{"timezone", "--frobnicate"}, "unknown flag"},
		{[]string{"timezone", "--registry", "/nonexistent.csv"}, "nonexistent"},
	} {
		code, _, errOut := lansd(t, "", append([]string{"browse"}, c.args...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errOut)
		assert.Contains(t, errOut, c.msg, c.args)
	}
}

func TestResolveUsageErrorsOpenNothing(t *testing.T) {
	noNetwork(t)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "exactly one"},
		{[]string{"a._http._tcp", "b._http._tcp"}, "exactly one"},
		{[]string{"_timezone._tcp"}, "Instance._service._tcp.local."},
		{[]string{"X._timezone._xyz.local."}, "_tcp or _udp"},
		{[]string{"X._timezone._tcp", "--timeout", "0s"}, "positive"},
	} {
		code, _, errOut := lansd(t, "", append([]string{"resolve"}, c.args...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", c.args, errOut)
		assert.Contains(t, errOut, c.msg, c.args)
	}
}

func TestBrowseTypesArguments(t *testing.T) {
	reg := registry.Builtin()
	types, err := browseTypes(reg, nil, nil, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"_jnx-kcsync._tcp", "_timezone._tcp", "_timezones._tcp"}, types,
		"default: the registry's usable services with TXT keys")

	types, err = browseTypes(reg, []string{"timezone", "_http._tcp"}, []string{"printer", "_scanner"}, false)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"_printer._sub._timezone._tcp", "_scanner._sub._timezone._tcp",
		"_printer._sub._http._tcp", "_scanner._sub._http._tcp",
	}, types)

	types, err = browseTypes(reg, []string{"timezone"}, nil, true)
	require.NoError(t, err)
	assert.Equal(t, []string{browse.ServicesType, "_timezone._tcp"}, types)
}

func TestBrowseHumanOutputAndStrict(t *testing.T) {
	good := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	bad := testInstance(t, "jnx-kcsync", "Bad Sync", mustRecord(t, "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f", "salt=x"))
	goodUp := good
	goodUp.TXT = mustRecord(t, "path=/tz2")
	evs := []browse.Event{
		{Kind: browse.Add, Instance: good, Time: evTime},
		{Kind: browse.Add, Instance: bad, Time: evTime},
		{Kind: browse.Update, Instance: goodUp, Time: evTime},
		{Kind: browse.Remove, Instance: good, Time: evTime},
	}
	fb, types, opts := withBrowser(t, evs, false)
	code, out, errOut := lansd(t, "", "browse", "timezone", "jnx-kcsync", "--iface", "lan0", "-4")
	assert.Equal(t, exitOK, code, "without --strict a finding does not change the status: %s", errOut)
	assert.True(t, fb.closed)
	assert.Equal(t, []string{"_timezone._tcp", "_jnx-kcsync._tcp"}, *types)
	assert.Equal(t, []string{"lan0"}, opts.Interfaces)
	assert.Equal(t, []sd.Family{sd.IPv4}, opts.Families)
	assert.False(t, opts.Strict)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 5, out)
	assert.Equal(t, `+ Office TZ  _timezone._tcp  h2.local.:8080  198.51.100.12 fe80::2%lan0  "path=/tz"  ✓`, lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "+ Bad Sync  _jnx-kcsync._tcp  h2.local.:8080  "), lines[1])
	assert.True(t, strings.HasSuffix(lines[1], "✗"), lines[1])
	assert.Contains(t, lines[2], `    error: key "hash"`, "findings on indented lines")
	assert.Contains(t, out, "\n~ Office TZ  _timezone._tcp  h2.local.:8080  ")
	assert.True(t, strings.HasSuffix(out, "- Office TZ  _timezone._tcp  h2.local.:8080\n"), out)
	assert.NotContains(t, errOut, "browsing", "no counter when stderr is not a terminal")

	withBrowser(t, evs, false)
	code, _, _ = lansd(t, "", "browse", "--strict")
	assert.Equal(t, exitNonConf, code, "--strict: an instance does not conform")

	withBrowser(t, evs[:1], false)
	code, _, _ = lansd(t, "", "browse", "--strict")
	assert.Equal(t, exitOK, code)
}

func TestBrowseJSONOutput(t *testing.T) {
	bad := testInstance(t, "jnx-kcsync", "Bad", mustRecord(t, "hash=5e7580598c0d7064d4fc79faaeb42585e1a675f", "flag", "Salt=a", "salt=ignored", `bin=\xff`))
	withBrowser(t, []browse.Event{{Kind: browse.Add, Instance: bad, Time: evTime}}, false)
	code, out, _ := lansd(t, "", "browse", "jnx-kcsync", "--json")
	assert.Equal(t, exitOK, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1)
	assert.True(t, strings.HasPrefix(lines[0], `{"event":"add","instance":"Bad","service":"_jnx-kcsync._tcp","domain":"local.","host":"h2.local.","port":8080,`), lines[0])
	assert.Contains(t, lines[0], `"txt":{"hash":"5e7580598c0d7064d4fc79faaeb42585e1a675f","flag":true,"Salt":"a","bin":"\\xff"}`, "wire order, first occurrence wins")
	got, err := clitest.Decode(lines[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"198.51.100.12", "fe80::2%lan0"}, got.Addrs)
	assert.Equal(t, []string{"lan0"}, got.Iface)
	assert.Equal(t, int64(120), got.TTL)
	assert.False(t, got.Conforms)
	assert.Equal(t, "Bad._jnx-kcsync._tcp.local.", got.Name)
	assert.True(t, evTime.Equal(got.Time), got.Time)
	require.NotEmpty(t, got.Findings)
	var hash *clitest.Finding
	for i, f := range got.Findings {
		if f.Key == "hash" {
			hash = &got.Findings[i]
		}
	}
	require.NotNil(t, hash, "%v", got.Findings)
	assert.Equal(t, "error", hash.Severity)
	assert.Equal(t, 0, hash.Offset)
	assert.Contains(t, hash.Rule, "jnx-kcsync: hash=<40hex characters>")
	assert.Contains(t, lines[0], `"rule":"jnx-kcsync: hash=<40hex characters>"`, "no HTML escapes")
	assert.NotEmpty(t, hash.Reason)
}

func TestBrowseParsableOutput(t *testing.T) {
	in := testInstance(t, "timezone", `Office; TZ\1.x`, mustRecord(t, "path=/tz", `q=a"b`))
	in.Addrs = append(in.Addrs, netip.MustParseAddr("fe80::2%other"))
	up := in
	up.TXT = mustRecord(t, "path=/tz2")
	withBrowser(t, []browse.Event{
		{Kind: browse.Add, Instance: in, Time: evTime},
		{Kind: browse.Update, Instance: up, Time: evTime},
		{Kind: browse.Remove, Instance: up, Time: evTime},
	}, false)
	code, out, _ := lansd(t, "", "browse", "timezone", "-p")
	assert.Equal(t, exitOK, code)
	name := `Office\059\032TZ\\1\.x`
	want := strings.Join([]string{
		`+;lan0;IPv4;` + name + `;_timezone._tcp;local`,
		`+;lan0;IPv6;` + name + `;_timezone._tcp;local`,
		`=;lan0;IPv4;` + name + `;_timezone._tcp;local;h2.local;198.51.100.12;8080;"path=/tz" "q=a\034b"`,
		`=;lan0;IPv6;` + name + `;_timezone._tcp;local;h2.local;fe80::2;8080;"path=/tz" "q=a\034b"`,
		`=;lan0;IPv4;` + name + `;_timezone._tcp;local;h2.local;198.51.100.12;8080;"path=/tz2"`,
		`=;lan0;IPv6;` + name + `;_timezone._tcp;local;h2.local;fe80::2;8080;"path=/tz2"`,
		`-;lan0;IPv4;` + name + `;_timezone._tcp;local`,
		`-;lan0;IPv6;` + name + `;_timezone._tcp;local`,
	}, "\n") + "\n"
	assert.Equal(t, want, out)
}

// --parsable prints one line per interface and per family an instance was
// seen over: a family seen later (an update of Seen only) gets its + and =
// lines then, and nothing else is printed again. The same name on two
// interfaces is two instances with lines of their own.
func TestBrowseParsableFamiliesAndLinks(t *testing.T) {
	a := testInstance(t, "timezone", "Same TZ", mustRecord(t, "path=/tz"))
	a.Ifaces = []string{"lanA"}
	a.Addrs = []netip.Addr{netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("fe80::2%lanA")}
	a.Seen = []browse.Source{{Iface: "lanA", Family: sd.IPv4}}
	a6 := a
	a6.Seen = []browse.Source{{Iface: "lanA", Family: sd.IPv4}, {Iface: "lanA", Family: sd.IPv6}}
	b := testInstance(t, "timezone", "Same TZ", mustRecord(t, "path=/tz"))
	b.Ifaces = []string{"lanB"}
	b.Port = 9090
	b.Addrs = []netip.Addr{netip.MustParseAddr("198.18.2.2")}
	b.Seen = []browse.Source{{Iface: "lanB", Family: sd.IPv4}}
	evs := []browse.Event{
		{Kind: browse.Add, Instance: a, Time: evTime},
		{Kind: browse.Add, Instance: b, Time: evTime},
		{Kind: browse.Update, Instance: a6, Time: evTime},
		{Kind: browse.Remove, Instance: a6, Time: evTime},
	}
	withBrowser(t, evs, false)
	code, out, _ := lansd(t, "", "browse", "timezone", "-p")
	assert.Equal(t, exitOK, code)
	want := strings.Join([]string{
		`+;lanA;IPv4;Same\032TZ;_timezone._tcp;local`,
		`=;lanA;IPv4;Same\032TZ;_timezone._tcp;local;h2.local;198.18.1.2;8080;"path=/tz"`,
		`+;lanB;IPv4;Same\032TZ;_timezone._tcp;local`,
		`=;lanB;IPv4;Same\032TZ;_timezone._tcp;local;h2.local;198.18.2.2;9090;"path=/tz"`,
		`+;lanA;IPv6;Same\032TZ;_timezone._tcp;local`,
		`=;lanA;IPv6;Same\032TZ;_timezone._tcp;local;h2.local;fe80::2;8080;"path=/tz"`,
		`-;lanA;IPv4;Same\032TZ;_timezone._tcp;local`,
		`-;lanA;IPv6;Same\032TZ;_timezone._tcp;local`,
	}, "\n") + "\n"
	assert.Equal(t, want, out)

	// The human and JSON forms print no update for a family seen later.
	withBrowser(t, evs, false)
	code, out, _ = lansd(t, "", "browse", "timezone", "--json")
	assert.Equal(t, exitOK, code)
	var kinds, ifaces []string
	for _, e := range clitest.Output(t, out) {
		kinds = append(kinds, e.Event)
		ifaces = append(ifaces, strings.Join(e.Iface, ","))
	}
	assert.Equal(t, []string{"add", "add", "remove"}, kinds)
	assert.Equal(t, []string{"lanA", "lanB", "lanA"}, ifaces, `"iface" names the one interface`)
	withBrowser(t, evs, false)
	_, out, _ = lansd(t, "", "browse", "timezone")
	assert.Equal(t, 3, strings.Count(out, "\n"), out)
}

// A ';' anywhere (TXT value, interface, host, domain) is escaped: every
// --parsable line splits at ';' into the same fields. An instance without
// address has an empty ADDRESS field.
func TestBrowseParsableSemicolons(t *testing.T) {
	in := testInstance(t, "timezone", "A;B", mustRecord(t, "path=/a;b", "k;ey=v;;"))
	in.Host = "h;2.local."
	in.Domain = "ex;ample."
	in.Name = `A;B._timezone._tcp.ex;ample.`
	in.Ifaces = []string{`odd;if\`}
	in.Seen = []browse.Source{{Iface: `odd;if\`, Family: sd.IPv4}}
	in.Addrs = nil
	withBrowser(t, []browse.Event{
		{Kind: browse.Add, Instance: in, Time: evTime},
		{Kind: browse.Remove, Instance: in, Time: evTime},
	}, false)
	code, out, _ := lansd(t, "", "browse", "timezone", "-p")
	assert.Equal(t, exitOK, code)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Equal(t, `+;odd\059if\\;IPv4;A\059B;_timezone._tcp;ex\059ample`, lines[0])
	assert.Equal(t, `=;odd\059if\\;IPv4;A\059B;_timezone._tcp;ex\059ample;h\0592.local;;8080;"path=/a\059b" "k\059ey=v\059\059"`, lines[1])
	assert.Len(t, strings.Split(lines[0], ";"), 6)
	assert.Len(t, strings.Split(lines[1], ";"), 10)
	assert.Len(t, strings.Split(lines[2], ";"), 6)
}

func TestBrowseOnceStopsWhenQuiet(t *testing.T) {
	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	fb, _, _ := withBrowser(t, []browse.Event{{Kind: browse.Add, Instance: in, Time: evTime}}, true)
	code, out, _ := lansd(t, "", "browse", "timezone", "--once")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "+ Office TZ")
	assert.True(t, fb.closed)
}

func TestBrowseNetworkFailure(t *testing.T) {
	old := newBrowser
	t.Cleanup(func() { newBrowser = old })
	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) {
		return nil, errors.New("browse: mdns: listen: no usable interface")
	}
	code, _, errOut := lansd(t, "", "browse", "timezone")
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, errOut, "no usable interface")

	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) {
		return nil, sd.ErrUnknownInterface
	}
	code, _, _ = lansd(t, "", "browse", "timezone", "--iface", "nope0")
	assert.Equal(t, exitUsage, code)

	fb := &fakeBrowser{events: make(chan browse.Event), quiet: make(chan struct{}), err: errors.New("reading packets: boom")}
	close(fb.events)
	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) { return fb, nil }
	code, _, errOut = lansd(t, "", "browse", "timezone")
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, errOut, "boom")
}

func TestResolveOutput(t *testing.T) {
	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=relative"))
	old := resolveInstance
	t.Cleanup(func() { resolveInstance = old })
	var gotName string
	var gotDeadline bool
	resolveInstance = func(ctx context.Context, name string, opts browse.Options) ([]browse.Instance, error) {
		gotName = name
		_, gotDeadline = ctx.Deadline()
		return []browse.Instance{in}, nil
	}
	code, out, _ := lansd(t, "", "resolve", "Office TZ._timezone._tcp")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "Office TZ._timezone._tcp.local.", gotName)
	assert.True(t, gotDeadline, "--timeout defaults to 5s")
	assert.True(t, strings.HasPrefix(out, `= Office TZ  _timezone._tcp  h2.local.:8080  198.51.100.12 fe80::2%lan0  "path=relative"  ✗`), out)
	assert.Contains(t, out, `    error: key "path"`)

	code, _, _ = lansd(t, "", "resolve", "Office TZ._timezone._tcp", "--strict")
	assert.Equal(t, exitNonConf, code)

	code, out, _ = lansd(t, "", "resolve", "Office TZ._timezone._tcp", "--json")
	assert.Equal(t, exitOK, code)
	got, err := clitest.Decode(strings.TrimSuffix(out, "\n"))
	require.NoError(t, err)
	assert.Equal(t, "resolved", got.Event)
	assert.Equal(t, "Office TZ", got.Instance)

	resolveInstance = func(ctx context.Context, name string, opts browse.Options) ([]browse.Instance, error) {
		// As browse.ResolveAll returns it: wrapped, with the package prefix.
		return nil, fmt.Errorf("browse: %w", &browse.ResolveError{Name: name, Missing: []string{"SRV record", "TXT record"}, Err: context.DeadlineExceeded})
	}
	code, out, errOut := lansd(t, "", "resolve", "Nobody._timezone._tcp", "--timeout", "1s")
	assert.Equal(t, exitNonConf, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `lansd resolve: browse: resolving "Nobody._timezone._tcp.local.": no SRV record, no TXT record`)
}

// The same name on two links resolves to one line (or JSON object) per
// link; --iface goes to the querier.
func TestResolveOutputTwoLinks(t *testing.T) {
	a := testInstance(t, "timezone", "Same TZ", mustRecord(t, "path=/tz"))
	a.Ifaces = []string{"lanA"}
	a.Addrs = []netip.Addr{netip.MustParseAddr("198.18.1.2")}
	b := testInstance(t, "timezone", "Same TZ", mustRecord(t, "path=relative"))
	b.Ifaces = []string{"lanB"}
	b.Port = 9090
	b.Addrs = []netip.Addr{netip.MustParseAddr("198.18.2.2")}
	old := resolveInstance
	t.Cleanup(func() { resolveInstance = old })
	var gotIfaces []string
	resolveInstance = func(ctx context.Context, name string, opts browse.Options) ([]browse.Instance, error) {
		gotIfaces = opts.Interfaces
		if len(opts.Interfaces) == 1 && opts.Interfaces[0] == "lanB" {
			return []browse.Instance{b}, nil
		}
		return []browse.Instance{a, b}, nil
	}
	code, out, _ := lansd(t, "", "resolve", "Same TZ._timezone._tcp")
	assert.Equal(t, exitOK, code)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out) // two instances, the second with a finding
	assert.Equal(t, `= Same TZ  _timezone._tcp  h2.local.:8080  198.18.1.2  "path=/tz"  ✓`, lines[0])
	assert.Equal(t, `= Same TZ  _timezone._tcp  h2.local.:9090  198.18.2.2  "path=relative"  ✗`, lines[1])

	code, _, _ = lansd(t, "", "resolve", "Same TZ._timezone._tcp", "--strict")
	assert.Equal(t, exitNonConf, code, "one link's instance does not conform")

	code, out, _ = lansd(t, "", "resolve", "Same TZ._timezone._tcp", "--json")
	assert.Equal(t, exitOK, code)
	evs := clitest.Output(t, out)
	require.Len(t, evs, 2)
	assert.Equal(t, []string{"lanA"}, evs[0].Iface)
	assert.Equal(t, uint16(8080), evs[0].Port)
	assert.Equal(t, []string{"lanB"}, evs[1].Iface)
	assert.Equal(t, uint16(9090), evs[1].Port)

	code, out, _ = lansd(t, "", "resolve", "Same TZ._timezone._tcp", "--iface", "lanB", "--json")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, []string{"lanB"}, gotIfaces)
	evs = clitest.Output(t, out)
	require.Len(t, evs, 1)
	assert.Equal(t, uint16(9090), evs[0].Port)
}

func TestResolveNotFound(t *testing.T) {
	old := resolveInstance
	t.Cleanup(func() { resolveInstance = old })
	resolveInstance = func(ctx context.Context, name string, opts browse.Options) ([]browse.Instance, error) {
		return nil, fmt.Errorf("browse: %w", &browse.ResolveError{Name: name, Missing: []string{"SRV record", "TXT record"}, Err: context.DeadlineExceeded})
	}
	code, out, errOut := lansd(t, "", "resolve", "Nobody._timezone._tcp", "--timeout", "1s")
	assert.Equal(t, exitNonConf, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `lansd resolve: browse: resolving "Nobody._timezone._tcp.local.": no SRV record, no TXT record`)
}

func TestHumanOutputIsOneLinePerEvent(t *testing.T) {
	assert.Equal(t, `Café ☕ \\ x\010y\027[2J\173\194\155`, printable("Café ☕ \\ x\ny\x1b[2J\xad\u009b"))
	in := testInstance(t, "timezone", "Evil\n+ Forged  line", mustRecord(t, "path=/tz"))
	var out strings.Builder
	writeHuman(&out, "+", in, true)
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), out.String())
	assert.True(t, strings.HasPrefix(out.String(), `+ Evil\010+ Forged  line  _timezone._tcp`), out.String())
}

func TestAvahiEscaping(t *testing.T) {
	assert.Equal(t, `Office\032TZ`, avahiEscapeLabel("Office TZ"))
	assert.Equal(t, `a\059b\\c\.d_e-f`, avahiEscapeLabel(`a;b\c.d_e-f`))
	assert.Equal(t, `caf\195\169`, avahiEscapeLabel("café"))
	assert.Equal(t, `"a=1" "flag" "k=\010x"`, avahiTXT(mustRecord(t, "a=1", "flag", `k=\x0ax`)))
	assert.Equal(t, ``, avahiTXT(txt.Record{}))
}

func TestBrowseCounterOnlyOnTerminal(t *testing.T) {
	master, tty := openPTY(t)
	assert.True(t, isTerminal(tty))
	assert.False(t, isTerminal(&strings.Builder{}))
	assert.False(t, isTerminal(os.NewFile(^uintptr(0), "bad")))

	in := testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))
	fb := &fakeBrowser{events: make(chan browse.Event), quiet: make(chan struct{})}
	old := newBrowser
	t.Cleanup(func() { newBrowser = old })
	newBrowser = func(context.Context, []string, browse.Options) (sd.Browser, error) {
		go func() {
			time.Sleep(700 * time.Millisecond) // the counter ticks meanwhile
			fb.events <- browse.Event{Kind: browse.Add, Instance: in, Time: evTime}
			close(fb.events)
		}()
		return fb, nil
	}
	var got strings.Builder
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			got.Write(buf[:n])
			if err != nil || strings.Count(got.String(), "\r\x1b[K") >= 3 {
				return
			}
		}
	}()
	var out bytes.Buffer
	code := run(context.Background(), &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: tty}, []string{"browse", "timezone"})
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out.String(), "+ Office TZ")
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		master.Close() // unblocks the reader
		<-readDone
	}
	s := got.String()
	assert.Contains(t, s, "browsing 1 type(s): 0 instance(s), 0 record(s), 0 query packet(s)")
	assert.Contains(t, s, "\r\x1b[K", "the counter line is erased before output")
}

// --max-records sets the browser's cache bound; by default it is
// browse.DefaultMaxRecords.
func TestBrowseMaxRecords(t *testing.T) {
	_, _, opts := withBrowser(t, nil, false)
	code, _, errOut := lansd(t, "", "browse", "timezone")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, browse.DefaultMaxRecords, opts.MaxRecords)
	_, _, opts = withBrowser(t, nil, false)
	code, _, errOut = lansd(t, "", "browse", "timezone", "--max-records", "10000")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 10000, opts.MaxRecords)
}
