package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/sd"
)

// daemonSocketEnv names the environment variable that gives the daemon's
// socket to lansd announce, browse and resolve when --daemon-socket is
// not given.
const daemonSocketEnv = "LANSD_DAEMON_SOCKET"

// daemonAnswer bounds how long a socket that exists has to answer before
// the command runs in-process instead.
const daemonAnswer = time.Second

// daemonFlags are --no-daemon and --daemon-socket.
type daemonFlags struct {
	no     bool
	socket string
}

func addDaemonFlags(fs *pflag.FlagSet, d *daemonFlags) {
	fs.BoolVar(&d.no, "no-daemon", false, "run in-process even when lansd daemon's socket exists")
	fs.StringVar(&d.socket, "daemon-socket", "", "lansd daemon's socket `PATH` (default: $"+daemonSocketEnv+", else "+daemon.DefaultSocket+")")
}

// path returns the daemon's socket path and whether --daemon-socket
// named it.
func (d *daemonFlags) path() (string, bool) {
	if d.socket != "" {
		return d.socket, true
	}
	if p := os.Getenv(daemonSocketEnv); p != "" {
		return p, false
	}
	return daemon.DefaultSocket, false
}

// connect returns a client of lansd daemon, with the daemon's status, or
// nil when the command runs in-process: --no-daemon, no socket, a flag of
// inProcess given (said on stderr), or a socket that does not answer
// (said on stderr).
func (d *daemonFlags) connect(ctx context.Context, env *cliEnv, log *slog.Logger, cmd string, fs *pflag.FlagSet, inProcess []string) (*daemon.Client, daemon.Status) {
	if d.no {
		log.Debug("in-process: --no-daemon")
		return nil, daemon.Status{}
	}
	path, named := d.path()
	if _, err := os.Stat(path); err != nil {
		log.Debug("in-process: no lansd daemon socket", "socket", path, "err", err)
		if named {
			fmt.Fprintf(env.stderr, "lansd %s: no lansd daemon socket at %s; running in-process\n", cmd, path)
		}
		return nil, daemon.Status{}
	}
	for _, name := range inProcess {
		if fs.Changed(name) {
			fmt.Fprintf(env.stderr, "lansd %s: --%s: running in-process, not through lansd daemon (whose settings are the host's); --no-daemon hides this note\n", cmd, name)
			return nil, daemon.Status{}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, daemonAnswer)
	defer cancel()
	c, err := daemon.Dial(dctx, path)
	var st daemon.Status
	if err == nil {
		if st, err = c.Status(dctx); err != nil {
			c.Close()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, daemon.Status{}
		}
		fmt.Fprintf(env.stderr, "lansd %s: lansd daemon does not answer on %s (%v); running in-process\n", cmd, path, err)
		return nil, daemon.Status{}
	}
	log.Debug("through lansd daemon", "socket", path, "host", st.Host, "interfaces", st.Interfaces)
	return c, st
}

// Flags that make lansd announce, browse and resolve run in-process: the
// daemon chooses interfaces, families, host name and registry for the
// host, and validates every service (no --no-validate).
var (
	announceInProcessFlags = []string{"iface", "exclude-iface", "ipv4-only", "ipv6-only", "family", "hostname", "no-validate", "registry"}
	browseInProcessFlags   = []string{"iface", "exclude-iface", "ipv4-only", "ipv6-only", "max-records", "registry"}
)

// daemonHandle is a service registered through the daemon, as a
// pubHandle.
type daemonHandle struct{ *daemon.Registration }

// Remove withdraws it: the daemon sends goodbyes (RFC 6762 section 10.1).
func (h daemonHandle) Remove(ctx context.Context) error { return h.Withdraw(ctx) }

// serveDaemon is lansd announce through lansd daemon: it registers the
// services (probed together by the daemon's responder), prints the same
// lines as in-process, reloads rl's --config file on SIGHUP, and on
// interruption withdraws them (goodbyes) and exits 0. The daemon going
// away ends it with status 3.
func serveDaemon(ctx context.Context, env *cliEnv, c *daemon.Client, st daemon.Status, services []announce.Service, rl *reloader) int {
	defer c.Close()
	out := &syncWriter{w: env.stdout}
	ifaces := "no interface"
	if len(st.Interfaces) > 0 {
		ifaces = strings.Join(st.Interfaces, ", ")
	}
	regs := make([]*daemon.Registration, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() { regs[i], errs[i] = c.Register(ctx, s) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		// Closing the connection withdraws what was registered.
		if ctx.Err() != nil {
			fmt.Fprintln(env.stderr, "lansd announce: interrupted before anything was announced")
			return exitOK
		}
		code := exitInternal
		for i, err := range errs {
			var re *daemon.RefusedError
			if errors.As(err, &re) {
				code = exitUsage
				for _, p := range re.Problems {
					fmt.Fprintf(env.stderr, "lansd announce: %q refused by lansd daemon: %s\n", services[i].Instance, p)
				}
			} else if err != nil {
				fmt.Fprintf(env.stderr, "lansd announce: %q: %v\n", services[i].Instance, err)
			}
		}
		return code
	}
	since := time.Now()
	ev := newEventCutoff(func(e announce.Event) { printDaemonEvent(out, ifaces, e) })
	var evWG sync.WaitGroup
	watch := func(h pubHandle, since time.Time) {
		ev.watch(h, since)
		evWG.Go(func() {
			for e := range h.Events() {
				ev.deliver(h, e)
			}
		})
	}
	cur := make([]published, len(regs))
	for i, r := range regs {
		out.printf("announced %q on %s%s", r.Name(), ifaces, renamedNote(r))
		cur[i] = published{svc: services[i], h: daemonHandle{r}}
		watch(cur[i].h, since)
	}
	// The daemon going away withdraws our services: the command ends.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Done():
			cancel()
		case <-dctx.Done():
		}
	}()
	pub := publisher{
		add: func(ctx context.Context, s announce.Service) (pubHandle, string, error) {
			r, err := c.Register(ctx, s)
			if err != nil {
				return nil, "", err
			}
			return daemonHandle{r}, fmt.Sprintf("announced %q on %s%s", r.Name(), ifaces, renamedNote(r)), nil
		},
		gone:  "goodbye",
		watch: watch,
	}
	cur = reloadUntilDone(dctx, env, out, rl, pub, cur)
	if ctx.Err() == nil {
		fmt.Fprintf(env.stderr, "lansd announce: lansd daemon went away (%v); its services are withdrawn\n", c.Err())
		return exitInternal
	}
	// Goodbyes (RFC 6762 section 10.1), sent by the daemon.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer wcancel()
	werrs := make([]error, len(cur))
	for i, p := range cur {
		wg.Go(func() { werrs[i] = p.h.Remove(wctx) })
	}
	wg.Wait()
	c.Close() // what could not be withdrawn goes with the connection
	evWG.Wait()
	for i, p := range cur {
		if werrs[i] != nil && !errors.Is(werrs[i], sd.ErrClosed) {
			fmt.Fprintf(env.stderr, "lansd announce: withdrawing %q: %v (the daemon withdraws it as the connection closes)\n", p.h.Name(), werrs[i])
		}
		out.printf("goodbye %q", p.h.Name())
	}
	return exitOK
}

// printDaemonEvent prints one later event of a service registered
// through the daemon, as printEvent does for the in-process responder.
func printDaemonEvent(out *syncWriter, ifaces string, ev announce.Event) {
	switch ev.Kind {
	case announce.EventRenamed:
		out.printf("renamed %q -> %q (%s)", ev.Old, ev.New, ev.Reason)
	case announce.EventConflict:
		out.printf("conflict on %q (%s); probing again", ev.Old, ev.Reason)
	case announce.EventDeferred:
		out.printf("deferred %q (%s)", ev.Old, ev.Reason)
	case announce.EventAnnounced:
		out.printf("announced %q on %s", ev.New, ifaces)
	}
}

// resolveDaemon is lansd resolve's lookup through the daemon: its cache,
// else the link, for at most timeout.
func resolveDaemon(ctx context.Context, c *daemon.Client, name string, strict bool, timeout time.Duration) ([]sd.Instance, error) {
	// The daemon gives up after timeout and says what was missing; the
	// wait for its answer gets a little longer.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+2*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			cancel() // interrupted
		}
	})
	defer stop()
	return c.ResolveWithin(wctx, name, strict, timeout)
}

// The help paragraphs of lansd announce, browse and resolve about lansd
// daemon.
const (
	daemonHelpHead = `
Through lansd daemon: when the daemon's socket exists (--daemon-socket,
else $LANSD_DAEMON_SOCKET, else /run/lansd/lansd.sock), the command goes
through the daemon (its responder announces, its shared cache browses and
resolves) with the same output lines, exit statuses and checks; without
the socket, or with --no-daemon, it runs in-process. A socket that does
not answer within 1 s: one line on stderr, then in-process. Unicast DNS
(--domain other than local.) is always in-process. The flags the daemon
decides for the whole host make the command run in-process, with a note
on stderr:
`
	daemonAnnounceHelp = daemonHelpHead + `  --iface, --exclude-iface, --ipv4-only, --ipv6-only, --family, --hostname,
  --registry, and --no-validate (the daemon refuses what does not conform).
Through the daemon, the services live as long as lansd announce runs:
SIGTERM or Ctrl-C withdraws them (the daemon sends the goodbyes) and exits
0; SIGHUP with --config registers, updates and withdraws as in-process. If
the daemon stops, its services go with it and lansd announce exits 3.`
	daemonBrowseHelp = daemonHelpHead + `  --iface, --exclude-iface, --ipv4-only, --ipv6-only, --max-records, --registry.`
)
