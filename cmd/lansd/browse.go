package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
	"github.com/lansd/lansd/wide"
)

const browseExample = `  lansd browse timezone
  lansd browse _timezone._tcp jnx-kcsync --json --timeout 5s
  lansd browse --all --once --parsable
  lansd browse _http._tcp --subtype _printer
  lansd browse timezone --domain tz.example.net --server 127.0.0.1:5300
  lansd browse timezone --domain local. --domain tz.example.net --once
  lansd browse --domains --domain example.net

TYPE is a registered service name (timezone, jnx-kcsync), a DNS-SD type
(_timezone._tcp) or a subtype (_printer._sub._http._tcp). Without TYPE,
every service type of the registry that defines TXT keys is browsed.

One line per event, the instance name, its type, host:port, addresses, TXT
record and verdict:
  + added   ~ updated (TXT, port, host or addresses)   - removed
  ✓ the TXT record conforms to the registry's rules, ✗ it does not; the
    findings follow on indented lines.

Multicast DNS names are per link: the same name on two interfaces is two
instances, each with its own events, addresses and verdict (iface). An
instance whose host has no address is reported once its addresses have
been asked for three times (about 4 s; in a --domain zone, after one poll),
with "(no address)" and the warning: no address for host "h9.local.";
an address arriving later is an update.

--json prints one object per line: event, instance, service, domain, host,
port, addrs, txt (an object; a boolean attribute is true), iface (a list of
one interface), ttl (seconds), conforms, findings (list of {key, offset,
rule, reason, severity}), name, registered, time. The human and --json
forms print an update only when something they show changed.

--parsable prints the semicolon-separated lines of "avahi-browse -p -r":
  +;IFACE;IPv4;NAME;TYPE;DOMAIN                                    added
  =;IFACE;IPv4;NAME;TYPE;DOMAIN;HOST;ADDRESS;PORT;"txt" "txt"...   resolved
  -;IFACE;IPv4;NAME;TYPE;DOMAIN                                    removed
one line per interface and per address family (IPv4, IPv6) the instance was
seen over: when it is first seen over families, their + lines, then their
= lines; an update prints = lines; a removal a - line for each + line.
ADDRESS is an address of that family (IPv6 link-local without zone), or
another address when the host has none of that family, empty when it has
none at all. NAME is escaped as avahi escapes labels: '.' and '\' are
written \. and \\, every byte other than a letter, digit, '-' or '_' is
\DDD (decimal; a space is \032, ';' is \059). HOST and DOMAIN lose their
final dot. TXT strings are quoted; inside, '"', '\', ';' and control bytes
are \DDD. A ';' in any other field is \059 too, so that every line splits
at ';' into the same fields (unlike avahi-browse -p, avahi issue 772).

--domain D browses the unicast DNS domain D (wide-area DNS-SD, RFC 6763)
instead of the local link: PTR, then SRV, TXT, A and AAAA queries over
UDP (TCP when an answer is truncated) to --server, or to the system's
resolvers (/etc/resolv.conf). "local." is the link, by Multicast DNS; repeat
--domain to browse several. A domain is polled again at the smallest TTL
of its records (at least 1 s, at most 5 min) or every --interval; events,
formats and verdicts are those of the link. IFACE in --parsable lines is
the server asked. --once stops after the first poll.

--domains lists the browsing domains (RFC 6763 section 11) that each
--domain and each search domain of /etc/resolv.conf recommend: the PTR
records of b._dns-sd._udp (browse), db._dns-sd._udp (default browse) and
lb._dns-sd._udp (legacy browse), one line each: KIND  DOMAIN  (from FROM).

Exit status: 0 (done, or interrupted), 1 with --strict when an instance
found does not conform, 2 for usage errors, 3 when the network cannot be
used or the DNS server does not answer.
` + daemonBrowseHelp

const resolveExample = `  lansd resolve "Office TZ._timezone._tcp.local."
  lansd resolve "Office TZ._timezone._tcp" --json --timeout 2s
  lansd resolve "Office TZ._timezone._tcp.tz.example.net." --server 127.0.0.1:5300

A name outside local. is resolved over unicast DNS: SRV, TXT, A and AAAA
queries to --server, or to the system's resolvers (/etc/resolv.conf).

A dot or backslash inside the instance label is written \. or \\; \DDD
gives any byte. The output is one line as in lansd browse, marked "=":
  = Office TZ  _timezone._tcp  h2.local.:8080  198.51.100.12 fe80::2%lan0  "path=/tz"  ✓
Multicast DNS names are per link: when the name is announced on several of
this host's networks, one line (or JSON object) per interface, each with
that link's host, port and addresses; --iface NAME asks on that interface
only. An instance whose host has no address is not resolved.
Exit status: 0 resolved, 1 not found before --timeout (the message says
what was missing) or, with --strict, found but not conforming; 2 usage
error; 3 when the network cannot be used.
` + daemonBrowseHelp

// newBrowser and resolveInstance open the network; they are variables so
// that the command's tests can check nothing is opened before the input is
// valid, and feed events without a network.
var (
	newBrowser = func(ctx context.Context, types []string, opts browse.Options) (sd.Browser, error) {
		return browse.NewBrowser(ctx, types, opts)
	}
	resolveInstance = browse.ResolveAll
	// newWideBrowser, resolveWide and listDomains use unicast DNS only.
	newWideBrowser = func(ctx context.Context, types []string, opts wide.BrowseOptions) (sd.Browser, error) {
		return wide.NewBrowser(ctx, types, opts)
	}
	resolveWide = wide.Resolve
	listDomains = wide.Domains
	// localNetworks lists this host's networks for --domains.
	localNetworks = wide.LocalNetworks
)

// netFlags are the network flags shared by browse and resolve.
type netFlags struct {
	ifaces             []string
	excludeIfaces      []string
	ipv4Only, ipv6Only bool
	verbose, strict    bool
	jsonOut            bool
	timeout            time.Duration
	regPath            *string
	server             string
	maxRecords         int
}

func addNetFlags(fs *pflag.FlagSet, f *netFlags, defTimeout time.Duration, timeoutHelp string) {
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON object per line")
	fs.DurationVarP(&f.timeout, "timeout", "t", defTimeout, timeoutHelp)
	fs.BoolVar(&f.strict, "strict", false, "treat TXT warnings as errors, and exit 1 if an instance does not conform")
	fs.StringArrayVar(&f.ifaces, "iface", nil, "use only interface `NAME` (repeat for more; default: every multicast interface)")
	excludeIfaceFlag(fs, &f.excludeIfaces)
	f.regPath = registryFlag(fs)
	fs.BoolVarP(&f.ipv4Only, "ipv4-only", "4", false, "use IPv4 only")
	fs.BoolVarP(&f.ipv6Only, "ipv6-only", "6", false, "use IPv6 only")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log what the querier does (slog debug on stderr)")
	fs.IntVar(&f.maxRecords, "max-records", browse.DefaultMaxRecords, "cache at most `N` records (memory: about 1.3 KB each, see README Reliability)")
	fs.StringVar(&f.server, "server", "", "unicast DNS `SERVER` (host or host:port) for domains other than local. (default: the system's resolvers)")
}

// wideOptions returns the unicast DNS browsing options.
func (f *netFlags) wideOptions(opts browse.Options, domains []string, interval time.Duration) wide.BrowseOptions {
	return wide.BrowseOptions{Registry: opts.Registry, Logger: opts.Logger, Strict: opts.Strict, MaxRecords: opts.MaxRecords,
		Domains: domains, Server: f.server, Interval: interval}
}

// splitDomains sorts --domain values into whether local. (Multicast DNS) is
// among them and the unicast DNS domains; no --domain means local. only.
func splitDomains(domains []string) (local bool, unicast []string, err error) {
	if len(domains) == 0 {
		return true, nil, nil
	}
	for _, d := range domains {
		if dnsname.Equal(d, dnsname.Local) {
			local = true
			continue
		}
		w, err := wide.CheckDomain(d)
		if err != nil {
			return false, nil, usageErrorf("--domain: %w", err)
		}
		unicast = append(unicast, w)
	}
	return local, unicast, nil
}

// options checks the shared flags and builds the browse options.
func (f *netFlags) options(env *cliEnv, reg *registry.Registry) (browse.Options, error) {
	if f.ipv4Only && f.ipv6Only {
		return browse.Options{}, usageErrorf("--ipv4-only and --ipv6-only exclude each other")
	}
	if f.timeout < 0 {
		return browse.Options{}, usageErrorf("--timeout: %v is negative", f.timeout)
	}
	if err := checkExcludeGlobs(f.excludeIfaces); err != nil {
		return browse.Options{}, err
	}
	if f.maxRecords < 100 {
		return browse.Options{}, usageErrorf("--max-records: %d is less than 100", f.maxRecords)
	}
	var fams []sd.Family
	switch {
	case f.ipv4Only:
		fams = []sd.Family{sd.IPv4}
	case f.ipv6Only:
		fams = []sd.Family{sd.IPv6}
	}
	return browse.Options{
		Interfaces:        f.ifaces,
		ExcludeInterfaces: f.excludeIfaces,
		Families:          fams,
		Registry:          reg,
		Logger:            newLogger(env.stderr, f.verbose, slog.LevelError),
		Strict:            f.strict,
		MaxRecords:        f.maxRecords,
	}, nil
}

// openError maps an error from opening the querier to an exit status.
func openError(env *cliEnv, cmd string, err error) int {
	if errors.Is(err, browse.ErrBadName) || errors.Is(err, sd.ErrUnknownInterface) {
		err = &usageError{err}
	}
	return fail(env, cmd, err)
}

func runBrowse(ctx context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "browse", "[TYPE ...] [flags]", browseExample)
	var f netFlags
	addNetFlags(fs, &f, 0, "stop after `DURATION` (default: run until interrupted)")
	once := fs.Bool("once", false, "exit once the first queries have gone quiet (three queries, then a second without news)")
	parsable := fs.BoolP("parsable", "p", false, "print avahi-browse -p style lines (see below)")
	all := fs.BoolP("all", "a", false, "browse every service type found on the link (_services._dns-sd._udp)")
	subtypes := fs.StringArray("subtype", nil, "browse only subtype `LABEL` of each TYPE, e.g. _printer (repeat for more)")
	domainArgs := fs.StringArray("domain", nil, "browse `DOMAIN`: local. (Multicast DNS, the default) or a unicast DNS domain (repeat for more)")
	interval := fs.Duration("interval", 0, "poll unicast DNS domains every `DURATION` (default: at the records' TTL, 1s to 5m)")
	listDoms := fs.Bool("domains", false, "list the browsing domains (RFC 6763 section 11) of each --domain, search domain and network, then exit")
	networks := fs.StringArray("network", nil, "with --domains: also ask the reverse-mapping domain of network `PREFIX`, e.g. 198.51.100.0/24 (repeat for more; default: this host's networks)")
	var df daemonFlags
	addDaemonFlags(fs, &df)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	stopRuntime, code, ok := runtimeStats(env, "browse")
	if !ok {
		return code
	}
	defer stopRuntime()
	if f.jsonOut && *parsable {
		return fail(env, "browse", usageErrorf("--json and --parsable exclude each other"))
	}
	if *interval < 0 {
		return fail(env, "browse", usageErrorf("--interval: %v is negative", *interval))
	}
	if len(*networks) > 0 && !*listDoms {
		return fail(env, "browse", usageErrorf("--network goes with --domains"))
	}
	if *listDoms {
		return runDomains(ctx, env, &f, fs.Args(), *domainArgs, *networks, *parsable)
	}
	local, unicast, err := splitDomains(*domainArgs)
	if err != nil {
		return fail(env, "browse", err)
	}
	reg, err := loadRegistry(*f.regPath)
	if err != nil {
		return fail(env, "browse", err)
	}
	types, err := browseTypes(reg, fs.Args(), *subtypes, *all)
	if err != nil {
		return fail(env, "browse", err)
	}
	opts, err := f.options(env, reg)
	if err != nil {
		return fail(env, "browse", err)
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	var parts []sd.Browser
	if len(unicast) > 0 {
		wb, err := newWideBrowser(ctx, types, f.wideOptions(opts, unicast, *interval))
		if err != nil {
			return openError(env, "browse", err)
		}
		parts = append(parts, wb)
	}
	if local {
		var lb sd.Browser
		var err error
		if c, _ := df.connect(ctx, env, opts.Logger, "browse", fs, browseInProcessFlags); c != nil {
			// The daemon's shared cache: known instances come at once.
			defer c.Close()
			lb, err = c.Browse(ctx, types, daemon.BrowseOptions{Strict: f.strict})
		} else {
			// Only here does lansd browse open the Multicast DNS transport.
			lb, err = newBrowser(ctx, types, opts)
		}
		if err != nil {
			for _, p := range parts {
				p.Close()
			}
			return openError(env, "browse", err)
		}
		parts = append(parts, lb)
	}
	b := sd.Merge(parts...)
	defer b.Close()

	out := newEventPrinter(env, f.jsonOut, *parsable)
	stopCounter := out.startCounter(b, len(types), *all)
	defer stopCounter()
	stopStats := logStats(opts.Logger, b, statsEvery)
	defer stopStats()
	var quiet <-chan struct{}
	if *once {
		quiet = b.Quiet()
	}
	nonConforming := 0
loop:
	for {
		select {
		case ev, ok := <-b.Events():
			if !ok {
				break loop
			}
			if ev.Kind != browse.Remove && !ev.Instance.Conforms() {
				nonConforming++
			}
			out.event(ev)
		case <-quiet:
			// What came before the quiet mark is printed (a browse
			// through lansd daemon sends its cached instances, then the
			// mark, at once).
			for {
				select {
				case ev, ok := <-b.Events():
					if !ok {
						break loop
					}
					if ev.Kind != browse.Remove && !ev.Instance.Conforms() {
						nonConforming++
					}
					out.event(ev)
					continue
				default:
				}
				break loop
			}
		case <-ctx.Done():
			// --timeout or an interrupt: the browsers run until Close.
			break loop
		}
	}
	stopCounter()
	stopStats()
	if err := b.Err(); err != nil {
		return fail(env, "browse", err)
	}
	if f.strict && nonConforming > 0 {
		return exitNonConf
	}
	return exitOK
}

// browseTypes returns the types to browse: the arguments (each a
// registered name or a DNS-SD type), with --subtype applied, ServicesType
// for --all, or by default every usable registry service with TXT rules.
func browseTypes(reg *registry.Registry, args, subtypes []string, all bool) ([]string, error) {
	if all && len(subtypes) > 0 {
		return nil, usageErrorf("--subtype needs explicit TYPEs, not --all")
	}
	var types []string
	if all {
		types = append(types, browse.ServicesType)
	}
	if len(args) == 0 && !all {
		if len(subtypes) > 0 {
			return nil, usageErrorf("--subtype needs a TYPE")
		}
		for _, s := range reg.Services() {
			if s.Usable() && s.DefinesKeys() {
				types = append(types, s.Type())
			}
		}
		if len(types) == 0 {
			return nil, usageErrorf("the registry has no service with TXT keys; give a TYPE")
		}
		return types, nil
	}
	for _, a := range args {
		t, err := registry.ParseType(a)
		if err != nil {
			return nil, usageErrorf("service type %q: %w", a, err)
		}
		typ := a
		if t.Proto == "" {
			s, ok := reg.Lookup(a)
			if !ok || !s.Usable() {
				return nil, usageErrorf("service %q is not in the registry; give the type as _%s._tcp or _%s._udp", a, a, a)
			}
			typ = s.Type()
		} else if t.Subtype != "" && len(subtypes) > 0 {
			return nil, usageErrorf("%q already names a subtype; leave out --subtype", a)
		}
		if len(subtypes) == 0 {
			types = append(types, typ)
			continue
		}
		for _, st := range subtypes {
			if st == "" {
				return nil, usageErrorf("--subtype: empty label")
			}
			if !strings.HasPrefix(st, "_") {
				st = "_" + st
			}
			types = append(types, st+"._sub."+typ)
		}
	}
	return types, nil
}

func runResolve(ctx context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "resolve", "NAME [flags]", resolveExample)
	var f netFlags
	addNetFlags(fs, &f, 5*time.Second, "give up after `DURATION`")
	var df daemonFlags
	addDaemonFlags(fs, &df)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fail(env, "resolve", usageErrorf("want exactly one instance name, got %d arguments", fs.NArg()))
	}
	name, _, _, domain, err := wide.SplitInstanceName(fs.Arg(0))
	isLocal := err != nil || dnsname.Equal(domain, dnsname.Local)
	if isLocal {
		// Multicast DNS, or a bad name: said as for local. names.
		if name, _, _, err = browse.ParseInstanceName(fs.Arg(0)); err != nil {
			return fail(env, "resolve", &usageError{err})
		}
	}
	reg, err := loadRegistry(*f.regPath)
	if err != nil {
		return fail(env, "resolve", err)
	}
	opts, err := f.options(env, reg)
	if err != nil {
		return fail(env, "resolve", err)
	}
	if f.timeout == 0 {
		return fail(env, "resolve", usageErrorf("--timeout must be positive"))
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var ins []browse.Instance
	if isLocal {
		if c, _ := df.connect(ctx, env, opts.Logger, "resolve", fs, browseInProcessFlags); c != nil {
			defer c.Close()
			ins, err = resolveDaemon(ctx, c, fs.Arg(0), f.strict, f.timeout)
			var nf *daemon.ResolveNotFoundError
			if errors.As(err, &nf) {
				fmt.Fprintf(env.stderr, "lansd resolve: %v\n", err)
				return exitNonConf
			}
		} else {
			ins, err = resolveInstance(ctx, name, opts)
		}
	} else {
		var in browse.Instance
		in, err = resolveWide(ctx, name, f.wideOptions(opts, nil, 0))
		ins = []browse.Instance{in}
	}
	if err != nil {
		var re *browse.ResolveError
		if errors.As(err, &re) {
			fmt.Fprintf(env.stderr, "lansd resolve: %v\n", err)
			return exitNonConf
		}
		return openError(env, "resolve", err)
	}
	out := newEventPrinter(env, f.jsonOut, false)
	conforms := true
	for _, in := range ins {
		out.resolved(in)
		conforms = conforms && in.Conforms()
	}
	if f.strict && !conforms {
		return exitNonConf
	}
	return exitOK
}

// runDomains lists browsing domains (lansd browse --domains).
func runDomains(ctx context.Context, env *cliEnv, f *netFlags, args, domains, networks []string, parsable bool) int {
	if len(args) > 0 {
		return fail(env, "browse", usageErrorf("--domains takes no TYPE (got %q)", args[0]))
	}
	var nets []netip.Prefix
	for _, n := range networks {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return fail(env, "browse", usageErrorf("--network %q: want a prefix such as 198.51.100.0/24", n))
		}
		nets = append(nets, p)
	}
	if len(networks) == 0 {
		// RFC 6763 section 11: the host's own networks' reverse-mapping
		// domains are asked too.
		nets, _ = localNetworks()
	}
	var asked []string
	for _, d := range domains {
		if dnsname.Equal(d, dnsname.Local) {
			continue // Multicast DNS has no browsing-domain records
		}
		w, err := wide.CheckDomain(d)
		if err != nil {
			return fail(env, "browse", usageErrorf("--domain: %w", err))
		}
		asked = append(asked, w)
	}
	timeout := f.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ds, err := listDomains(ctx, wide.DomainOptions{Domains: asked, Server: f.server, Networks: nets})
	if err != nil {
		if errors.Is(err, browse.ErrBadName) {
			err = &usageError{err}
		}
		return fail(env, "browse", err)
	}
	for _, d := range ds {
		switch {
		case f.jsonOut:
			b, err := marshalNoHTML(map[string]any{"kind": d.Kind, "domain": d.Name, "from": d.From, "ttl": int64(d.TTL / time.Second)})
			if err != nil {
				return fail(env, "browse", err)
			}
			fmt.Fprintf(env.stdout, "%s\n", b)
		case parsable:
			fmt.Fprintf(env.stdout, "%s;%s;%s\n", d.Kind, strings.TrimSuffix(d.Name, "."), strings.TrimSuffix(d.From, "."))
		default:
			fmt.Fprintf(env.stdout, "%-2s  %s  (from %s)\n", d.Kind, printable(d.Name), printable(d.From))
		}
	}
	if len(ds) == 0 {
		fmt.Fprintln(env.stderr, "lansd browse: no browsing domain found")
	}
	return exitOK
}

// eventPrinter writes events in one of the three formats, and a live
// counter on stderr when stderr is a terminal.
type eventPrinter struct {
	env      *cliEnv
	jsonOut  bool
	parsable bool

	mu      sync.Mutex // serialises stdout lines and the counter
	counter bool       // the counter line is showing
	// shown holds each instance as last printed, by instanceKey, until its
	// removal: what an update changes, and the --parsable lines printed.
	shown map[string]browse.Instance
}

func newEventPrinter(env *cliEnv, jsonOut, parsable bool) *eventPrinter {
	return &eventPrinter{env: env, jsonOut: jsonOut, parsable: parsable, shown: map[string]browse.Instance{}}
}

// instanceKey identifies an instance: its full name and its interface.
func instanceKey(in browse.Instance) string {
	return in.Name + "\x00" + strings.Join(in.Ifaces, "\x00")
}

// shownChanged reports whether b differs from a in what the human and JSON
// forms show beyond the TTL: host, port, addresses, TXT record (and so the
// verdict).
func shownChanged(a, b browse.Instance) bool {
	if a.Host != b.Host || a.Port != b.Port || !slices.Equal(a.Addrs, b.Addrs) {
		return true
	}
	wa, _ := a.TXT.Encode()
	wb, _ := b.TXT.Encode()
	return !bytes.Equal(wa, wb)
}

// startCounter shows "browsing N types: I instances, R records, Q queries"
// on stderr, refreshed four times a second, when stderr is a terminal. The
// returned function stops and erases it (idempotent).
func (p *eventPrinter) startCounter(b sd.Browser, ntypes int, all bool) func() {
	if !isTerminal(p.env.stderr) {
		return func() {}
	}
	what := fmt.Sprintf("%d type(s)", ntypes)
	if all {
		what = "all types"
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s := b.Stats()
			p.mu.Lock()
			fmt.Fprintf(p.env.stderr, "\r\033[Kbrowsing %s: %d instance(s), %d record(s), %d query packet(s)…",
				what, s.Instances, s.Records, s.Queries)
			p.counter = true
			p.mu.Unlock()
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			p.mu.Lock()
			p.clearCounter()
			p.mu.Unlock()
		})
	}
}

// clearCounter erases the counter line; p.mu must be held.
func (p *eventPrinter) clearCounter() {
	if p.counter {
		fmt.Fprint(p.env.stderr, "\r\033[K")
		p.counter = false
	}
}

// event prints one browse event. An update that changes nothing the
// format shows (the address families an instance was seen over, for the
// human and JSON forms) prints nothing.
func (p *eventPrinter) event(ev browse.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := instanceKey(ev.Instance)
	prev, had := p.shown[key]
	if ev.Kind == browse.Remove {
		delete(p.shown, key)
	} else {
		p.shown[key] = ev.Instance
	}
	if p.parsable {
		var printed []browse.Source
		if had {
			printed = parsableSources(prev)
		}
		p.clearCounter()
		writeParsable(p.env.stdout, ev, printed, had && !shownChanged(prev, ev.Instance))
		return
	}
	if ev.Kind == browse.Update && had && !shownChanged(prev, ev.Instance) {
		return
	}
	p.clearCounter()
	if p.jsonOut {
		writeJSONEvent(p.env.stdout, ev.Kind.String(), ev.Instance, ev.Time)
		return
	}
	writeHuman(p.env.stdout, marks[ev.Kind], ev.Instance, ev.Kind != browse.Remove)
}

// resolved prints the result of lansd resolve.
func (p *eventPrinter) resolved(in browse.Instance) {
	if p.jsonOut {
		writeJSONEvent(p.env.stdout, "resolved", in, time.Now())
		return
	}
	writeHuman(p.env.stdout, "=", in, true)
}

var marks = map[browse.EventKind]string{browse.Add: "+", browse.Update: "~", browse.Remove: "-"}

// writeHuman prints an instance on one line (fields separated by two
// spaces, since names hold spaces), then its findings indented.
func writeHuman(w io.Writer, mark string, in browse.Instance, verdict bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  %s  %s:%d", mark, printable(in.Instance), printable(in.Service), printable(in.Host), in.Port)
	if !verdict {
		fmt.Fprintln(w, b.String())
		return
	}
	addrs := make([]string, len(in.Addrs))
	for i, a := range in.Addrs {
		addrs[i] = a.String()
	}
	if len(addrs) == 0 {
		addrs = []string{"(no address)"}
	}
	fmt.Fprintf(&b, "  %s  %s  ", strings.Join(addrs, " "), txtOrEmpty(in.TXT))
	if in.Conforms() {
		b.WriteString("✓")
	} else {
		b.WriteString("✗")
	}
	fmt.Fprintln(w, b.String())
	printFindings(w, "    ", in.Report.Findings)
}

// printable writes control bytes and bytes that are not UTF-8 as \DDD, and
// a backslash as \\, so that a hostile instance name cannot forge lines or
// terminal escapes.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, "\\%03d", s[i])
		case 0x80 <= r && r < 0xa0: // C1 controls (CSI is 0x9b)
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\%03d", c)
			}
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func txtOrEmpty(r txt.Record) string {
	if s := r.String(); s != "" {
		return s
	}
	return "(no TXT strings)"
}

// writeJSONEvent prints in as one line of --json (sd.JSONEvent, the form
// the daemon's local API streams too).
func writeJSONEvent(w io.Writer, event string, in browse.Instance, at time.Time) {
	b, err := marshalNoHTML(sd.NewJSONEvent(event, in, at))
	if err != nil {
		fmt.Fprintf(w, "{\"event\":%q,\"error\":%q}\n", event, err.Error())
		return
	}
	fmt.Fprintf(w, "%s\n", b)
}

// marshalNoHTML is json.Marshal without the HTML escapes (<, >, & stay as
// they are: rules such as "hash=<40hex characters>" are read by people).
func marshalNoHTML(v any) ([]byte, error) { return sd.MarshalJSONLine(v) }

// parsableSources returns the interface and family lines --parsable
// prints for in: one per Source it was seen over (n/a and IPv4 when none
// is known).
func parsableSources(in browse.Instance) []browse.Source {
	if len(in.Seen) == 0 {
		return []browse.Source{{Iface: "n/a", Family: sd.IPv4}}
	}
	return in.Seen
}

// writeParsable prints ev as avahi-browse -p -r lines (see browseExample):
// printed are the sources whose + lines were printed before (nil for an
// instance not printed yet), same says that nothing but the sources
// changed since. A source new to the instance gets its + line, then its =
// line; on an update that changed more, every source gets its = line; a
// removal gets a - line for every source printed.
func writeParsable(w io.Writer, ev browse.Event, printed []browse.Source, same bool) {
	in := ev.Instance
	name := avahiEscapeLabel(in.Instance)
	domain := parsableField(strings.TrimSuffix(in.Domain, "."))
	service := parsableField(in.Service)
	head := func(mark string, s browse.Source) string {
		return fmt.Sprintf("%s;%s;IPv%d;%s;%s;%s", mark, parsableIface(s.Iface), int(s.Family), name, service, domain)
	}
	if ev.Kind == browse.Remove {
		if printed == nil {
			printed = parsableSources(in)
		}
		for _, s := range printed {
			fmt.Fprintln(w, head("-", s))
		}
		return
	}
	var fresh []browse.Source
	for _, s := range parsableSources(in) {
		if !slices.Contains(printed, s) {
			fresh = append(fresh, s)
			fmt.Fprintln(w, head("+", s))
		}
	}
	resolved := parsableSources(in)
	if same {
		resolved = fresh
	}
	host := parsableField(strings.TrimSuffix(in.Host, "."))
	txts := avahiTXT(in.TXT)
	for _, s := range resolved {
		addr := ""
		if a := addrFor(in.Addrs, s); a.IsValid() {
			addr = a.WithZone("").String()
		}
		fmt.Fprintf(w, "%s;%s;%s;%d;%s\n", head("=", s), host, addr, in.Port, txts)
	}
}

// parsableField writes a ';' in a name in presentation form (which writes
// a backslash \\) as \059, so that a --parsable line always splits into
// the same fields.
func parsableField(s string) string { return strings.ReplaceAll(s, ";", `\059`) }

// parsableIface writes an interface name (or a unicast DNS server) for a
// --parsable line: a backslash as \\, ';' and control bytes as \DDD.
func parsableIface(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == ';' || c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// addrFor picks the address to show for source s: one of its family (for
// IPv6 link-local, one zoned with its interface), else the first.
func addrFor(addrs []netip.Addr, s browse.Source) netip.Addr {
	var fallback netip.Addr
	for _, a := range addrs {
		if a.Is4() != (s.Family == sd.IPv4) {
			continue
		}
		if a.Zone() == "" || a.Zone() == s.Iface {
			return a
		}
		if !fallback.IsValid() {
			fallback = a
		}
	}
	if fallback.IsValid() {
		return fallback
	}
	if len(addrs) > 0 {
		return addrs[0]
	}
	return netip.Addr{}
}

// avahiEscapeLabel escapes a label as avahi_escape_label does: '.' and
// '\' get a backslash, letters, digits, '-' and '_' are kept, every other
// byte is \DDD (three decimal digits).
func avahiEscapeLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	return b.String()
}

// avahiTXT formats a TXT record as avahi_string_list_to_string does: each
// non-empty string in double quotes, separated by spaces; '"', '\', ';'
// and control bytes are written \DDD here so that the line stays one line
// and splits at ';' into the same fields whatever the record holds.
func avahiTXT(r txt.Record) string {
	var parts []string
	for _, it := range r.Items {
		s := it.Key
		if it.HasValue {
			s += "=" + string(it.Value)
		}
		if s == "" {
			continue
		}
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '"' || c == '\\' || c == ';' || c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, "\\%03d", c)
				continue
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
		parts = append(parts, b.String())
	}
	return strings.Join(parts, " ")
}

// statsEvery is how often -v logs the browser's counters while they change.
const statsEvery = 5 * time.Second

// logStats logs b's counters at debug (-v) every period while they change,
// and once more when the returned function is called (idempotent): what the
// cache holds and from how many sources, what it evicted, and the records
// it dropped to keep one source from crowding out the others (see
// sd.Stats). It does nothing when log does not log at debug.
func logStats(log *slog.Logger, b sd.Browser, period time.Duration) (stop func()) {
	if log == nil || !log.Enabled(context.Background(), slog.LevelDebug) {
		return func() {}
	}
	var last sd.Stats
	emit := func(final bool) {
		s := b.Stats()
		if s == last && !final {
			return
		}
		last = s
		log.Debug("browse: stats", "records", s.Records, "instances", s.Instances, "sources", s.Sources,
			"packets", s.Packets, "ignored", s.Ignored, "queries", s.Queries,
			"expired", s.Expired, "flushed", s.Flushed, "goodbyes", s.Goodbyes,
			"evicted", s.Evicted, "evicted_related", s.EvictedRelated,
			"dropped_rate", s.DroppedRate, "dropped_bound", s.DroppedBound)
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				emit(false)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-exited
			emit(true)
		})
	}
}
