package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/pflag"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/tsig"
	"github.com/lansd/lansd/txt"
	"github.com/lansd/lansd/wide"
)

const announceExample = `  lansd announce --service timezone --name "Office TZ" --port 8080 --txt path=/tz
  lansd announce --service _http._tcp --name Printer --port 80 --subtype _printer \
      --txt path=/ --txt color --iface eth1 --ipv4-only
  lansd announce --config services.json
  lansd announce --service timezone --name "Office TZ" --port 8080 --txt path=/tz \
      --domain tz.example.net --server 127.0.0.1:5300 --tsig hmac-sha256:NAME:BASE64SECRET

A --config file holds several services; the whole file is checked before
anything is sent, and problems name services[i].field:
  {"services": [
    {"name": "Office TZ", "service": "timezone", "port": 8080,
     "txt": {"path": "/tz"}, "subtypes": [], "host": ""}
  ]}

--txt strings are key=value, key= (empty value) or key (boolean attribute);
a byte that cannot be typed is written \xHH, a backslash \\.

Each service's final name is printed once it is announced, e.g.
  announced "Office TZ (2)._timezone._tcp.local." on lan0 (renamed: ...)
and later renames print a line too. lansd announce runs until interrupted
(Ctrl-C or SIGTERM), then sends goodbye packets (TTL 0) and exits 0.
With --domain other than local., the services are registered in that unicast
DNS zone by DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945) instead: PTR,
SRV, TXT, subtype PTRs, the _services._dns-sd._udp PTR and the host's A and
AAAA records (--hostname in the zone, --addr; default: this machine's name
and addresses). No multicast is sent. Updates go to --server or, without it,
to the zone's primary server (its SOA MNAME, found through the system
resolver). --tsig takes the nsupdate -y form [ALG:]NAME:SECRET (default
algorithm hmac-sha256), --tsig-file a BIND key file (nsupdate -k). It prints
  registered "Office TZ._timezone._tcp.tz.example.net." in tz.example.net. at 127.0.0.1:5300
(with " (renamed: ...)" when the name was taken by other records and
"Office TZ (2)" was used), keeps the records there while it runs, and on
Ctrl-C or SIGTERM deletes exactly the records it added, prints
  removed "Office TZ._timezone._tcp.tz.example.net."
and exits 0. --no-rename refuses a taken name instead: exit 1.

Signals: the first Ctrl-C (SIGINT) or SIGTERM shuts down in order (goodbye
packets, or the zone records deleted). A second one during that shutdown
exits at once, saying that it did not finish, with status 130 (SIGINT) or
143 (SIGTERM). SIGHUP with --config reads the file again: the whole file
is checked first, as at start, and on any problem the problems are printed
and the services stay as they were; otherwise services new in the file are
added (probed and announced), those whose "txt" changed get the new TXT
record in place (announced again), those whose "service" spelling, "port",
"host", "subtypes" or "domain" changed are withdrawn (goodbyes) and added
again, and those no longer in the file are withdrawn, one line each:
  updated TXT of "Office TZ._timezone._tcp.local."
  goodbye "Old._timezone._tcp.local." (no longer in services.json)
A service is identified by its "name" and "service" as written (ASCII
case ignored). Without --config, SIGHUP is ignored with a message.

Exit status: 0 after an interruption, 1 when a name is taken and
--no-rename forbids renaming, 2 for invalid input (then nothing is sent),
3 when the network cannot be used (the DNS server does not answer within
--timeout, rejects the TSIG key or refuses the update), 130 or 143 after a
second SIGINT or SIGTERM cut the shutdown short.
` + daemonAnnounceHelp

// newResponder opens the mDNS responder. It is a variable so that the
// command's tests can prove that nothing is opened before the input has
// been validated.
var newResponder = announce.New

// announceFlags are the parsed flags of lansd announce.
type announceFlags struct {
	service, name, host, hostname, domain string
	port                                  uint16
	txts, subtypes, ifaces                []string
	excludeIfaces                         []string
	noValidate, verbose                   bool
	ipv4Only, ipv6Only                    bool
	family, config                        string
	// Unicast DNS (wide-area) flags.
	server, tsig, tsigFile, ttl string
	addrs                       []string
	noRename                    bool
	timeout                     time.Duration
}

// wideOnlyFlags are the flags of a unicast DNS registration, and
// localOnlyFlags those of Multicast DNS only.
var (
	wideOnlyFlags  = []string{"server", "tsig", "tsig-file", "no-rename", "addr", "ttl", "timeout"}
	localOnlyFlags = []string{"iface", "exclude-iface", "ipv4-only", "ipv6-only", "family", "no-validate"}
)

// newZoneRegistrar creates the unicast DNS registrar; tests replace it.
var newZoneRegistrar = wide.NewRegistrar

func runAnnounce(ctx context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "announce",
		"(--service TYPE --name NAME --port PORT [--txt key=value ...] | --config FILE) [flags]", announceExample)
	var f announceFlags
	fs.StringVarP(&f.service, "service", "s", "", "service `TYPE`: a registered name (timezone) or _name._tcp / _name._udp")
	fs.StringVarP(&f.name, "name", "n", "", "instance `NAME` to publish, e.g. \"Office TZ\" (renamed \"NAME (2)\" when taken)")
	fs.Uint16VarP(&f.port, "port", "p", 0, "`PORT` the service listens on")
	fs.StringArrayVar(&f.txts, "txt", nil, "a TXT string `key=value` (repeat for more)")
	fs.StringArrayVar(&f.subtypes, "subtype", nil, "publish subtype `LABEL` too, e.g. _printer (repeat for more)")
	fs.StringVar(&f.host, "host", "", "SRV target `HOST` (default: the host name this responder claims)")
	fs.StringVar(&f.hostname, "hostname", "", "host name `LABEL` to claim (default: this machine's name)")
	fs.StringArrayVar(&f.ifaces, "iface", nil, "use only interface `NAME` (repeat for more; default: every multicast interface)")
	excludeIfaceFlag(fs, &f.excludeIfaces)
	fs.StringVar(&f.domain, "domain", "local.", "`DOMAIN` to publish in (Multicast DNS serves only local.)")
	fs.BoolVar(&f.noValidate, "no-validate", false, "announce even if validation fails (findings are printed as warnings)")
	regPath := registryFlag(fs)
	fs.BoolVarP(&f.ipv4Only, "ipv4-only", "4", false, "use IPv4 only")
	fs.BoolVarP(&f.ipv6Only, "ipv6-only", "6", false, "use IPv6 only")
	fs.StringVar(&f.family, "family", "", "address `FAMILY`: ipv4, ipv6 or both (default both)")
	fs.StringVarP(&f.config, "config", "c", "", "announce the services of JSON `FILE` instead of the flags")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log what the responder does (slog debug on stderr)")
	fs.StringVar(&f.server, "server", "", "unicast DNS: send updates to `SERVER` host[:port] (default: the zone's primary, from its SOA)")
	fs.StringVar(&f.tsig, "tsig", "", "unicast DNS: sign updates with TSIG key `[ALG:]NAME:SECRET` (as nsupdate -y; ALG defaults to hmac-sha256)")
	fs.StringVar(&f.tsigFile, "tsig-file", "", "unicast DNS: read the TSIG key from BIND key `FILE` (as nsupdate -k)")
	fs.BoolVar(&f.noRename, "no-rename", false, "unicast DNS: fail (exit 1) when the name is taken in the zone, instead of renaming")
	fs.StringArrayVar(&f.addrs, "addr", nil, "unicast DNS: an `IP` address of the host, written as A or AAAA (repeat; default: this machine's)")
	fs.StringVar(&f.ttl, "ttl", "", "unicast DNS: `TTL` of the records, seconds or a duration (default 120)")
	fs.DurationVar(&f.timeout, "timeout", wide.DefaultTimeout, "unicast DNS: give up on an exchange with the server after `DURATION`")
	var df daemonFlags
	addDaemonFlags(fs, &df)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	stopRuntime, code, ok := runtimeStats(env, "announce")
	if !ok {
		return code
	}
	defer stopRuntime()
	// From now on SIGHUP reloads the --config file (once the services
	// are published) instead of ending the process.
	hup, stopHup := env.subscribeHangups()
	defer stopHup()
	rl := &reloader{hup: hup}
	if fs.Changed("config") {
		rl.path = f.config
	}
	if !isLocalDomain(f.domain) {
		return runAnnounceZone(ctx, env, fs, &f, rl)
	}
	for _, name := range wideOnlyFlags {
		if fs.Changed(name) {
			return fail(env, "announce", usageErrorf("--%s needs --domain with a unicast DNS zone (not local.)", name))
		}
	}
	families, err := announceFamilies(fs, &f)
	if err != nil {
		return fail(env, "announce", err)
	}
	if err := checkExcludeGlobs(f.excludeIfaces); err != nil {
		return fail(env, "announce", err)
	}
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return fail(env, "announce", err)
	}
	services, labels, err := announceServices(fs, &f)
	if err != nil {
		return fail(env, "announce", err)
	}
	// Everything is checked before the responder opens a socket.
	if err := announce.CheckHostName(f.hostname); err != nil {
		return fail(env, "announce", usageErrorf("--hostname: %w", err))
	}
	if !checkServices(env, services, labels, reg, f.noValidate) {
		return exitUsage
	}

	rl.load = func() ([]announce.Service, bool) {
		services, err := readConfig(f.config)
		if err != nil {
			fmt.Fprintf(env.stderr, "lansd announce: %v\n", err)
			return nil, false
		}
		return services, checkServices(env, services, configLabels(len(services)), reg, f.noValidate)
	}

	logger := newLogger(env.stderr, f.verbose, slog.LevelError)
	if c, st := df.connect(ctx, env, logger, "announce", fs, announceInProcessFlags); c != nil {
		return serveDaemon(ctx, env, c, st, services, rl)
	}
	trim := startupMemory()
	r, err := newResponder(ctx, announce.Options{
		Interfaces:        f.ifaces,
		ExcludeInterfaces: f.excludeIfaces,
		HostName:          f.hostname,
		Registry:          reg,
		Logger:            logger,
		Families:          families,
		NoValidate:        f.noValidate,
		// Probed with the host name, in the same packets (RFC 6762 section 8.1).
		Services: services,
	})
	if err != nil {
		trim()
		if ctx.Err() != nil {
			fmt.Fprintln(env.stderr, "lansd announce: interrupted before anything was announced")
			return exitOK
		}
		if errors.Is(err, sd.ErrUnknownInterface) {
			err = &usageError{err}
		}
		return fail(env, "announce", err)
	}
	return serve(ctx, env, r, trim, services, rl)
}

// announceFamilies works out the address families from --ipv4-only,
// --ipv6-only and --family; nil means both.
func announceFamilies(fs *pflag.FlagSet, f *announceFlags) ([]sd.Family, error) {
	n := 0
	for _, set := range []bool{f.ipv4Only, f.ipv6Only, fs.Changed("family")} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, usageErrorf("give at most one of --ipv4-only, --ipv6-only and --family")
	}
	switch {
	case f.ipv4Only:
		return []sd.Family{sd.IPv4}, nil
	case f.ipv6Only:
		return []sd.Family{sd.IPv6}, nil
	}
	switch strings.ToLower(f.family) {
	case "", "both", "all", "any":
		return nil, nil
	case "ipv4", "4", "inet", "v4":
		return []sd.Family{sd.IPv4}, nil
	case "ipv6", "6", "inet6", "v6":
		return []sd.Family{sd.IPv6}, nil
	}
	return nil, usageErrorf("--family %q: want ipv4, ipv6 or both", f.family)
}

// serviceFlags are the flags that describe one service, not allowed with
// --config.
var serviceFlags = []string{"service", "name", "port", "txt", "subtype", "host"}

// announceServices builds the services from --config or from the flags.
// labels[i] names services[i] in messages: "" for the flags, whose fields
// are then named by flag, or "services[i]" for a configuration file.
func announceServices(fs *pflag.FlagSet, f *announceFlags) ([]announce.Service, []string, error) {
	if len(fs.Args()) > 0 {
		return nil, nil, usageErrorf("unexpected argument %q (TXT strings go in --txt key=value)", fs.Args()[0])
	}
	if fs.Changed("config") {
		if fs.Changed("domain") && isLocalDomain(f.domain) {
			return nil, nil, usageErrorf("--domain local. cannot be used with --config (the file describes the services)")
		}
		for _, name := range serviceFlags {
			if fs.Changed(name) {
				return nil, nil, usageErrorf("--%s cannot be used with --config (the file describes the services)", name)
			}
		}
		services, err := readConfig(f.config)
		if err != nil {
			return nil, nil, err
		}
		return services, configLabels(len(services)), nil
	}
	var missing []string
	for _, name := range []string{"service", "name", "port"} {
		if !fs.Changed(name) {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, usageErrorf("missing %s (or give --config FILE)", strings.Join(missing, ", "))
	}
	rec, err := txt.ParseArgs(f.txts)
	if err != nil {
		return nil, nil, usageErrorf("--txt: %w", err)
	}
	s := announce.Service{
		Instance: f.name,
		Type:     f.service,
		Subtypes: f.subtypes,
		Domain:   f.domain,
		Port:     f.port,
		TXT:      rec,
		Host:     f.host,
	}
	return []announce.Service{s}, []string{""}, nil
}

// configLabels names the services of a --config file in messages:
// "services[0]", "services[1]", ...
func configLabels(n int) []string {
	labels := make([]string, n)
	for i := range labels {
		labels[i] = fmt.Sprintf("services[%d]", i)
	}
	return labels
}

// readConfig loads a --config file; every problem in it is one line of the
// error.
func readConfig(path string) ([]announce.Service, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("--config: %w", err)
	}
	defer file.Close()
	services, err := announce.LoadConfig(file)
	if err != nil {
		var lines []string
		for _, e := range flattenErr(err) {
			lines = append(lines, strings.TrimPrefix(e.Error(), "announce: config: "))
		}
		return nil, usageErrorf("--config %s:\n  %s", path, strings.Join(lines, "\n  "))
	}
	if len(services) == 0 {
		return nil, usageErrorf("--config %s: no services to announce", path)
	}
	return services, nil
}

// flattenErr expands wrapped joined errors into their parts, keeping the
// prefix of a single wrapper ("announce: config: ...") off the parts.
func flattenErr(err error) []error {
	if err == nil {
		return nil
	}
	for {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, flattenErr(e)...)
			}
			return out
		}
		u := errors.Unwrap(err)
		if u == nil {
			return []error{err}
		}
		if _, ok := u.(interface{ Unwrap() []error }); !ok {
			return []error{err}
		}
		err = u
	}
}

// checkServices validates every service before anything is sent and
// prints the findings on stderr. It reports whether to go on: invalid
// services stop the command unless noValidate, which prints the findings
// as warnings; services that cannot be published at all (not encodable, or
// outside local.) always stop it.
func checkServices(env *cliEnv, services []announce.Service, labels []string, reg *registry.Registry, noValidate bool) bool {
	refused, unpublishable := 0, 0
	for i, s := range services {
		report, verr := s.Validate(reg)
		perr := announce.CheckPublishable(s, reg)
		lines := findingLines(labels[i], i, report, verr)
		switch {
		case perr != nil:
			// Add would refuse it whatever the options.
			for _, l := range findingLines(labels[i], i, txt.Report{}, perr) {
				if !slices.Contains(lines, l) {
					lines = append(lines, l)
				}
			}
			printLines(env.stderr, "", lines)
			if noValidate {
				fmt.Fprintf(env.stderr, "lansd announce: service %q cannot be published, even with --no-validate\n", s.Instance)
			}
			refused++
			unpublishable++
		case verr != nil && !noValidate:
			printLines(env.stderr, "", lines)
			refused++
		case verr != nil:
			printLines(env.stderr, "warning: ignored (--no-validate): ", lines)
		default:
			// Only warnings: shown, never blocking.
			printLines(env.stderr, "", lines)
		}
	}
	if refused == 0 {
		return true
	}
	printRefused(env.stderr, services, refused)
	if !noValidate && unpublishable == 0 {
		fmt.Fprintln(env.stderr, "(--no-validate announces a service that breaks the rules anyway)")
	}
	return false
}

// syncWriter serialises whole lines from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) printf(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.w, format+"\n", a...)
}

// startupTrim is when, after the services are announced, lansd announce
// returns the memory start-up used to the system.
const startupTrim = 5 * time.Second

// startupGCPercent is the GC target while lansd announce starts: start-up
// (validation, probing, three announcements over 3 s, RFC 6762 section 8.3)
// makes garbage that an idle daemon need not keep, and a smaller heap
// target leaves fewer pages with a live object in them to keep resident.
const startupGCPercent = 50

// startupMemory lowers the GC target for start-up; the function it returns
// restores it and gives the free memory back to the system.
func startupMemory() (trim func()) {
	old := debug.SetGCPercent(startupGCPercent)
	var once sync.Once
	return func() {
		once.Do(func() {
			debug.SetGCPercent(old)
			debug.FreeOSMemory()
		})
	}
}

// serve prints the services r published (Options.Services, which are
// services), then what happens to them; reloads rl's --config file on
// SIGHUP; and on interruption says goodbye. trimStartup is called
// startupTrim after it starts.
func serve(ctx context.Context, env *cliEnv, r *announce.Responder, trimStartup func(), services []announce.Service, rl *reloader) int {
	out := &syncWriter{w: env.stdout}
	since := time.Now()
	handles := r.Handles()
	// A host name renamed while starting is told first: the services'
	// SRV records point at the new name.
	hostEvents := r.HostEvents()
	for pending := len(hostEvents); pending > 0; pending-- {
		printHostEvent(out, r, <-hostEvents, since)
	}
	for _, h := range handles {
		line := fmt.Sprintf("announced %q on %s", h.Name(), ifaceList(r))
		line += renamedNote(h)
		out.printf("%s", line)
	}

	// Once the announcements are over, back to the usual GC target, and
	// the start-up garbage goes back to the system.
	trim := time.AfterFunc(startupTrim, trimStartup)
	defer trim.Stop()

	// Later events: renames after a conflict, and the new announcements,
	// read from one stream for every service (not a goroutine per service).
	var evWG sync.WaitGroup
	evWG.Go(func() {
		for ev := range hostEvents {
			printHostEvent(out, r, ev, since)
		}
	})
	ev := newEventCutoff(func(ev announce.Event) { printEvent(out, r, "", ev) })
	cur := make([]published, len(handles))
	for i, h := range handles {
		cur[i] = published{svc: services[i], h: h}
		ev.watch(h, since)
	}
	evWG.Go(func() {
		for se := range r.ServiceEvents() {
			ev.deliver(se.Handle, se.Event)
		}
	})
	watch := func(h pubHandle, since time.Time) { ev.watch(h, since) }
	pub := publisher{
		add: func(ctx context.Context, s announce.Service) (pubHandle, string, error) {
			h, err := r.Add(ctx, s)
			if err != nil {
				return nil, "", err
			}
			line := fmt.Sprintf("announced %q on %s", h.Name(), ifaceList(r))
			line += renamedNote(h)
			return h, line, nil
		},
		gone:  "goodbye",
		watch: watch,
	}
	cur = reloadUntilDone(ctx, env, out, rl, pub, cur)

	err := r.Close() // goodbyes (RFC 6762 section 10.1); ends the event streams
	evWG.Wait()
	if err != nil {
		return fail(env, "announce", err)
	}
	for _, c := range cur {
		out.printf("goodbye %q", c.h.Name())
	}
	return exitOK
}

// printEvent prints one later event of a published service (subject "")
// or of the host name (subject "host name ").
func printEvent(out *syncWriter, r *announce.Responder, subject string, ev announce.Event) {
	switch ev.Kind {
	case announce.EventRenamed:
		out.printf("%srenamed %q -> %q (%s)", subject, ev.Old, ev.New, ev.Reason)
	case announce.EventConflict:
		out.printf("conflict on %s%q (%s); probing again", subject, ev.Old, ev.Reason)
	case announce.EventDeferred:
		out.printf("%sdeferred %q (%s)", subject, ev.Old, ev.Reason)
	case announce.EventAnnounced:
		out.printf("%sannounced %q on %s", subject, ev.New, ifaceList(r))
	}
}

// printHostEvent prints an event of the host name, except its first
// announcement (before since), which every start has.
func printHostEvent(out *syncWriter, r *announce.Responder, ev announce.Event, since time.Time) {
	if ev.Kind == announce.EventAnnounced && ev.Time.Before(since) {
		return
	}
	printEvent(out, r, "host name ", ev)
}

// ifaceList names the interfaces r is joined on, "lan0, lan1".
func ifaceList(r *announce.Responder) string {
	names := r.Interfaces()
	if len(names) == 0 {
		return "no interface"
	}
	return strings.Join(names, ", ")
}

// isLocalDomain reports whether d is the Multicast DNS domain.
func isLocalDomain(d string) bool {
	return d == "" || dnsname.Equal(d, dnsname.Local)
}

// runAnnounceZone registers the services in a unicast DNS zone
// (wide.Registrar) until ctx ends, then removes them. It opens no
// multicast socket.
func runAnnounceZone(ctx context.Context, env *cliEnv, fs *pflag.FlagSet, f *announceFlags, rl *reloader) int {
	for _, name := range localOnlyFlags {
		if fs.Changed(name) {
			why := "Multicast DNS only"
			if name == "no-validate" {
				why = "nothing invalid is written to a zone"
			}
			return fail(env, "announce", usageErrorf("--%s cannot be used with --domain %s (%s)", name, f.domain, why))
		}
	}
	zone := dns.Fqdn(f.domain)
	reg, err := loadRegistry(*registryPathOf(fs))
	if err != nil {
		return fail(env, "announce", err)
	}
	services, labels, err := announceServices(fs, f)
	if err != nil {
		return fail(env, "announce", err)
	}
	if !fs.Changed("config") {
		services[0].Domain = "" // the zone
	}
	if f.tsig != "" && f.tsigFile != "" {
		return fail(env, "announce", usageErrorf("give --tsig or --tsig-file, not both"))
	}
	var key tsig.Key
	switch {
	case f.tsig != "":
		if key, err = tsig.Parse(f.tsig); err != nil {
			return fail(env, "announce", usageErrorf("--tsig: %w", err))
		}
	case f.tsigFile != "":
		if key, err = tsig.LoadFile(f.tsigFile); err != nil {
			return fail(env, "announce", usageErrorf("--tsig-file: %w", err))
		}
	}
	ttl, err := parseTTL(f.ttl)
	if err != nil {
		return fail(env, "announce", err)
	}
	if f.timeout <= 0 {
		return fail(env, "announce", usageErrorf("--timeout must be positive"))
	}
	var addrs []netip.Addr
	if len(f.addrs) > 0 {
		host := f.hostname
		if host == "" {
			host = "h" // parseAddrs wants a host; the default one lies in the zone
		}
		if addrs, err = parseAddrs(f.addrs, host, zone); err != nil {
			return fail(env, "announce", err)
		}
	}
	// Everything is checked, as the registrar will, before anything is
	// sent: nothing invalid is written to a zone.
	ropts := wide.RecordOptions{Zone: zone, HostName: f.hostname, Addrs: addrs, TTL: ttl, Registry: reg}
	if !checkZoneServices(env, services, labels, ropts) {
		return exitUsage
	}
	rl.load = func() ([]announce.Service, bool) {
		services, err := readConfig(f.config)
		if err != nil {
			fmt.Fprintf(env.stderr, "lansd announce: %v\n", err)
			return nil, false
		}
		return services, checkZoneServices(env, services, configLabels(len(services)), ropts)
	}

	logger := newLogger(env.stderr, f.verbose, slog.LevelWarn)
	r, err := newZoneRegistrar(wide.RegistrarOptions{
		Domain:   zone,
		Server:   f.server,
		TSIG:     key,
		HostName: f.hostname,
		Addrs:    addrs,
		TTL:      ttl,
		NoRename: f.noRename,
		Registry: reg,
		Logger:   logger,
		Timeout:  f.timeout,
	})
	if err != nil {
		return fail(env, "announce", &usageError{err})
	}
	return serveZone(ctx, env, r, services, f.timeout, rl)
}

// checkZoneServices checks services as the registrar will (their
// records, built with opts), printing the problems; it reports whether
// all of them can be written to the zone.
func checkZoneServices(env *cliEnv, services []announce.Service, labels []string, opts wide.RecordOptions) bool {
	refused := 0
	for i, s := range services {
		recs, err := wide.BuildRecords(s, opts)
		var report txt.Report
		if recs != nil {
			report = recs.Report
		} else {
			var ve *announce.ValidationError
			if errors.As(err, &ve) {
				report = ve.Report
			}
		}
		printLines(env.stderr, "", findingLines(labels[i], i, report, err))
		if err != nil {
			refused++
		}
	}
	if refused > 0 {
		printRefused(env.stderr, services, refused)
		return false
	}
	return true
}

// registryPathOf returns the value of the --registry flag of fs.
func registryPathOf(fs *pflag.FlagSet) *string {
	v := fs.Lookup("registry").Value.String()
	return &v
}

// serveZone registers the services with r, prints their names, and on
// interruption removes them.
func serveZone(ctx context.Context, env *cliEnv, r *wide.Registrar, services []announce.Service, timeout time.Duration, rl *reloader) int {
	out := &syncWriter{w: env.stdout}
	handles, err := r.AddAll(ctx, services)
	server, _ := r.Primary(ctx)
	for _, h := range handles {
		if h == nil {
			continue
		}
		line := fmt.Sprintf("registered %q in %s at %s", h.Name(), r.Zone(), server)
		line += renamedNote(h)
		out.printf("%s", line)
	}
	if err != nil {
		// AddAll has removed what it added.
		var ae *wide.AddAllError
		failed := err
		if errors.As(err, &ae) {
			failed = errors.Join(ae.Errs...)
			for _, h := range handles {
				if h != nil && ae.Rollback == nil {
					out.printf("removed %q", h.Name())
				}
			}
			if ae.Rollback == nil {
				_ = r.Close(context.WithoutCancel(ctx)) // nothing left to send: ends its goroutine
			}
		}
		if ctx.Err() != nil && errors.Is(failed, context.Canceled) {
			fmt.Fprintln(env.stderr, "lansd announce: interrupted; what was registered is removed")
			return exitOK
		}
		fmt.Fprintf(env.stderr, "lansd announce: %v\n", err)
		if errors.Is(err, wide.ErrNameConflict) {
			return exitNonConf
		}
		var ve *announce.ValidationError
		if errors.As(err, &ve) {
			return exitUsage
		}
		return exitInternal
	}
	// Later events: renames after a refresh found the name taken.
	var evWG sync.WaitGroup
	watch := func(h pubHandle, _ time.Time) {
		evWG.Go(func() {
			for ev := range h.Events() {
				if ev.Kind == announce.EventRenamed {
					out.printf("renamed %q -> %q (%s)", ev.Old, ev.New, ev.Reason)
				}
			}
		})
	}
	cur := make([]published, len(handles))
	for i, h := range handles {
		cur[i] = published{svc: services[i], h: h}
		watch(h, time.Time{})
	}
	pub := publisher{
		add: func(ctx context.Context, s announce.Service) (pubHandle, string, error) {
			h, err := r.Add(ctx, s)
			if err != nil {
				return nil, "", err
			}
			line := fmt.Sprintf("registered %q in %s at %s", h.Name(), r.Zone(), server)
			line += renamedNote(h)
			return h, line, nil
		},
		gone:  "removed",
		watch: watch,
	}
	cur = reloadUntilDone(ctx, env, out, rl, pub, cur)
	names := make([]string, len(cur))
	for i, c := range cur {
		names[i] = c.h.Name()
	}
	// Removal gets its own bounded time: ctx is over by then.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*timeout+time.Second)
	defer cancel()
	err = r.Close(cctx) // deletes exactly our records (RFC 2136 section 2.5.4)
	evWG.Wait()
	if err != nil {
		return fail(env, "announce", err)
	}
	for _, n := range names {
		out.printf("removed %q", n)
	}
	return exitOK
}

// eventCutoff prints each service's events from the moment its announced
// line was printed (its cutoff) on: the earlier ones that line already
// told. An event of a service whose cutoff is not known yet (added by a
// reload, its line not printed yet) waits for it.
type eventCutoff struct {
	print func(announce.Event)

	mu      sync.Mutex
	since   map[pubHandle]time.Time
	waiting map[pubHandle][]announce.Event
}

func newEventCutoff(print func(announce.Event)) *eventCutoff {
	return &eventCutoff{print: print, since: map[pubHandle]time.Time{}, waiting: map[pubHandle][]announce.Event{}}
}

// watch sets h's cutoff, and prints what waited for it.
func (c *eventCutoff) watch(h pubHandle, since time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.since[h] = since
	for _, ev := range c.waiting[h] {
		if !ev.Time.Before(since) {
			c.print(ev)
		}
	}
	delete(c.waiting, h)
}

// deliver prints ev of h, holds it until h's cutoff is known, or drops it
// when it comes before the cutoff. A service's last event, Removed (which
// is not printed: the goodbye line tells it), forgets it, also when its
// cutoff never came (an Add that failed).
func (c *eventCutoff) deliver(h pubHandle, ev announce.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Kind == announce.EventRemoved {
		delete(c.since, h)
		delete(c.waiting, h)
		return
	}
	since, ok := c.since[h]
	switch {
	case !ok:
		c.waiting[h] = append(c.waiting[h], ev)
	case !ev.Time.Before(since):
		c.print(ev)
	}
}
