package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/sd"
)

const daemonExample = `  lansd daemon
  lansd daemon --services-dir /etc/lansd/services.d --avahi-services /etc/avahi/services
  lansd daemon --socket /run/lansd/lansd.sock --socket-mode 0660 --socket-group lansd --iface eth0

lansd daemon is the host's mDNS daemon: one responder (one host name
claim) for every program, one browse cache per service type for every
client, as avahi-daemon is. It runs in the foreground and logs on stderr.

Services come from --services-dir (*.json, the lansd announce --config
format, one or more services per file) and --avahi-services (Avahi static
service files, *.service). They are read again when a file changes
(inotify) and on SIGHUP; each file is applied on its own: services added,
TXT records updated in place and announced again, services withdrawn with
goodbyes. A file with a problem is refused, every problem named by file
and field ("services.d/printer.json: services[0].txt: ..."), and what it
published before stays; the other files are applied.

Programs publish, browse and resolve over the local API on --socket
(line-delimited JSON, see "go doc github.com/lansd/lansd/daemon"); its
permissions (--socket-mode, --socket-group) decide who may publish. A
service registered by a client lives as long as its connection.

Under systemd (Type=notify) it says READY=1 once the services files are
announced and the socket listens, STOPPING=1 when it stops. SIGTERM or
Ctrl-C: goodbyes for every service, then exit 0. A second lansd daemon on
the socket refuses to start (exit 3).

Exit status: 0 after SIGTERM or Ctrl-C, 2 for usage errors, 3 when the
daemon cannot start (another daemon runs, no interface, no socket).`

const statusExample = `  lansd status
  lansd status --json --socket /run/lansd/lansd.sock

Prints what lansd daemon announces (each service with its source, a file
or a client), the services files it read (and why one was refused), and
the service types it browses with their clients, instances and records.
Exit status: 0, 2 for usage errors, 3 when no daemon answers.`

// newDaemon starts the daemon; the command's tests replace it, so that
// they prove nothing is opened before the flags are checked.
var newDaemon = daemon.New

func runDaemon(ctx context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "daemon", "[flags]", daemonExample)
	servicesDir := fs.String("services-dir", daemon.DefaultServicesDir, "read services from `DIR`/*.json (the --config format of lansd announce); \"\" for none")
	avahiDir := fs.String("avahi-services", "", "read Avahi static service files from `DIR`/*.service, e.g. /etc/avahi/services")
	socket := fs.String("socket", daemon.DefaultSocket, "serve the local API on Unix socket `PATH`")
	mode := fs.String("socket-mode", "0660", "permissions of the socket, octal `MODE`: who may connect may publish")
	group := fs.String("socket-group", "", "group `NAME` or GID of the socket (default: the daemon's)")
	var ifaces, exclude []string
	fs.StringArrayVar(&ifaces, "iface", nil, "use only interface `NAME` (repeat for more; default: every multicast interface)")
	excludeIfaceFlag(fs, &exclude)
	hostname := fs.String("hostname", "", "host name `LABEL` to claim (default: this machine's name)")
	ipv4 := fs.BoolP("ipv4-only", "4", false, "use IPv4 only")
	ipv6 := fs.BoolP("ipv6-only", "6", false, "use IPv6 only")
	keepWarm := fs.Duration("keep-warm", daemon.DefaultKeepWarm, "keep browsing a type `DURATION` after its last client, its instances cached")
	regPath := registryFlag(fs)
	verbose := fs.BoolP("verbose", "v", false, "log every decision (slog debug on stderr)")
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	if len(fs.Args()) > 0 {
		return fail(env, "daemon", usageErrorf("unexpected argument %q", fs.Args()[0]))
	}
	m, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || m > 0o777 || m == 0 {
		return fail(env, "daemon", usageErrorf("--socket-mode %q: want octal permissions such as 0660", *mode))
	}
	gid := -1
	if *group != "" {
		if gid, err = lookupGroup(*group); err != nil {
			return fail(env, "daemon", usageErrorf("--socket-group: %w", err))
		}
	}
	if *ipv4 && *ipv6 {
		return fail(env, "daemon", usageErrorf("--ipv4-only and --ipv6-only exclude each other"))
	}
	var fams []sd.Family
	switch {
	case *ipv4:
		fams = []sd.Family{sd.IPv4}
	case *ipv6:
		fams = []sd.Family{sd.IPv6}
	}
	if err := checkExcludeGlobs(exclude); err != nil {
		return fail(env, "daemon", err)
	}
	if *keepWarm <= 0 {
		return fail(env, "daemon", usageErrorf("--keep-warm must be positive"))
	}
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return fail(env, "daemon", err)
	}
	hup, stopHup := env.subscribeHangups()
	defer stopHup()
	logger := newLogger(env.stderr, *verbose, slog.LevelInfo)
	if err := os.MkdirAll(filepath.Dir(*socket), 0o755); err != nil {
		return fail(env, "daemon", err)
	}
	s, err := newDaemon(ctx, daemon.Options{
		ServicesDir:       *servicesDir,
		AvahiServicesDir:  *avahiDir,
		Socket:            *socket,
		SocketMode:        os.FileMode(m),
		SocketGroup:       gid,
		Interfaces:        ifaces,
		ExcludeInterfaces: exclude,
		Families:          fams,
		HostName:          *hostname,
		Registry:          reg,
		Logger:            logger,
		KeepWarm:          *keepWarm,
	})
	if err != nil {
		if errors.Is(err, daemon.ErrRunning) {
			fmt.Fprintf(env.stderr, "lansd daemon: another lansd daemon is running on this host (%s is in use); not starting\n", *socket)
			return exitInternal
		}
		if ctx.Err() != nil {
			return exitOK
		}
		return fail(env, "daemon", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	st := s.Status()
	logger.Info("lansd daemon: ready", "host", st.Host, "interfaces", strings.Join(st.Interfaces, ","),
		"services", len(st.Services), "socket", *socket)
	if err := daemon.Notify("READY=1"); err != nil {
		logger.Warn("lansd daemon: systemd notification", "err", err)
	}
	for {
		select {
		case <-hup:
			res, err := s.Reload(ctx)
			if err != nil {
				continue
			}
			_ = daemon.Notify(fmt.Sprintf("STATUS=reloaded: %d added, %d updated, %d removed, %d file(s) refused",
				res.Added+res.Replaced, res.Updated, res.Removed, len(res.Refused)))
			logger.Info("lansd daemon: SIGHUP: reloaded the services files", "added", res.Added, "updated", res.Updated,
				"replaced", res.Replaced, "removed", res.Removed, "unchanged", res.Unchanged, "refused", len(res.Refused))
		case <-ctx.Done():
			_ = daemon.Notify("STOPPING=1")
			err := <-served // goodbyes for every service (RFC 6762 section 10.1)
			if err != nil {
				return fail(env, "daemon", err)
			}
			logger.Info("lansd daemon: stopped; goodbyes sent")
			return exitOK
		case err := <-served:
			_ = daemon.Notify("STOPPING=1")
			if err != nil {
				return fail(env, "daemon", err)
			}
			return exitOK
		}
	}
}

// lookupGroup returns the GID of a group name or number.
func lookupGroup(g string) (int, error) {
	if n, err := strconv.Atoi(g); err == nil && n >= 0 {
		return n, nil
	}
	grp, err := user.LookupGroup(g)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(grp.Gid)
}

func runStatus(ctx context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "status", "[flags]", statusExample)
	socket := fs.String("socket", daemon.DefaultSocket, "the daemon's Unix socket `PATH`")
	jsonOut := fs.Bool("json", false, "print the status as one JSON object")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after `DURATION`")
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	if len(fs.Args()) > 0 {
		return fail(env, "status", usageErrorf("unexpected argument %q", fs.Args()[0]))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := daemon.Dial(ctx, *socket)
	if err != nil {
		fmt.Fprintf(env.stderr, "lansd status: no lansd daemon answers on %s: %v\n", *socket, err)
		return exitInternal
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return fail(env, "status", err)
	}
	if *jsonOut {
		b, err := json.Marshal(st)
		if err != nil {
			return fail(env, "status", err)
		}
		fmt.Fprintf(env.stdout, "%s\n", b)
		return exitOK
	}
	w := env.stdout
	fmt.Fprintf(w, "host %s on %s; %d client(s)\n", printable(st.Host), strings.Join(st.Interfaces, ", "), st.Clients)
	fmt.Fprintf(w, "announced (%d):\n", len(st.Services))
	for _, s := range st.Services {
		fmt.Fprintf(w, "  %s  (%s)\n", printable(s.Name), s.Source)
	}
	fmt.Fprintf(w, "files (%d):\n", len(st.Files))
	for _, f := range st.Files {
		line := fmt.Sprintf("  %s  %d service(s)", f.Path, f.Services)
		if f.Error != "" {
			line += "  refused: " + printable(f.Error)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "browsing (%d):\n", len(st.Browsers))
	for _, b := range st.Browsers {
		strict := ""
		if b.Strict {
			strict = " (strict)"
		}
		fmt.Fprintf(w, "  %s%s  %d client(s)  %d instance(s)  %d record(s)\n", b.Type, strict, b.Clients, b.Instances, b.Records)
	}
	return exitOK
}
