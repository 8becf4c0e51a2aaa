// Command lansd announces, discovers and validates DNS-SD services
// (RFC 6762, RFC 6763) against the IANA Service Name registry (RFC 6335).
//
// Usage:
//
//	lansd validate --service jnx-kcsync hash=... salt=... uuid=...
//	lansd registry list [--txt-keys]
//	lansd registry show timezone
//	lansd registry check service-names-port-numbers.csv
//
// Run "lansd COMMAND --help" for the flags of each command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit statuses shared by every command.
const (
	exitOK       = 0 // success; the input conforms
	exitNonConf  = 1 // the input does not conform (validate, browse --strict)
	exitUsage    = 2 // usage or input error
	exitInternal = 3 // the command failed for another reason (network, I/O)
	// A second SIGINT or SIGTERM during shutdown exits at once with 128 +
	// the signal's number: 130 (SIGINT), 143 (SIGTERM); see abortStatus.
)

// command is one lansd subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) int
}

// cliEnv carries the process's streams so commands are testable in-process.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// hangups, when set, starts delivering SIGHUP to the channel it
	// returns (instead of the default action, ending the process) until
	// stop is called. lansd announce reloads its --config file on each.
	hangups func() (sigs <-chan os.Signal, stop func())
}

// subscribeHangups is env.hangups, or a channel that never delivers
// anything when env has none (tests).
func (env *cliEnv) subscribeHangups() (<-chan os.Signal, func()) {
	if env.hangups == nil {
		return nil, func() {}
	}
	return env.hangups()
}

func commands() []command {
	return []command{
		{"validate", "check a TXT record against RFC 6763 and the registry's rules", runValidate},
		{"registry", "list, show and check IANA service-name registry data", runRegistry},
		{"announce", "publish a service on the local link by multicast DNS until interrupted", runAnnounce},
		{"zone", "print the DNS zone-file records that publish a service in a unicast DNS domain", runZone},
		{"browse", "discover services on the local link, with their TXT verdicts, until interrupted", runBrowse},
		{"resolve", "look up one service instance by name: host, port, addresses, TXT and verdict", runResolve},
		{"gateway", "carry services from links to other links by policy (--config FILE), until interrupted", runGateway},
		{"daemon", "be the host's mDNS daemon: one responder and browse cache for every program, services.d, local API", runDaemon},
		{"status", "print what lansd daemon announces and caches", runStatus},
	}
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchSignals(sigs, cancel, os.Stderr, os.Exit)
	code := run(ctx, &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, hangups: notifyHangups}, os.Args[1:])
	signal.Stop(sigs)
	cancel()
	os.Exit(code)
}

// notifyHangups delivers SIGHUP to the channel it returns until stop.
func notifyHangups() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// watchSignals handles SIGINT and SIGTERM: the first cancels the
// command's context, so that it shuts down in order (lansd announce sends
// its goodbyes or deletes its records); a second one while it does exits
// at once, by exit, with abortStatus, saying that the shutdown did not
// finish.
func watchSignals(sigs <-chan os.Signal, cancel func(), stderr io.Writer, exit func(int)) {
	if _, ok := <-sigs; !ok {
		return
	}
	cancel()
	sig, ok := <-sigs
	if !ok {
		return
	}
	fmt.Fprintf(stderr, "lansd: second signal (%v): exiting at once; the shutdown did not finish (goodbyes or record removals may not have been sent)\n", sig)
	exit(abortStatus(sig))
}

// abortStatus is the exit status after a second SIGINT or SIGTERM: 128
// plus the signal's number, as a shell reports a process killed by it
// (130 for SIGINT, 143 for SIGTERM).
func abortStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok && s > 0 && s < 128 {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

// run dispatches args to a subcommand and returns the exit status.
func run(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 {
		usage(env.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(env.stdout)
		return exitOK
	case "-v", "--version", "version":
		fmt.Fprintf(env.stdout, "lansd %s\n", version)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.stderr, "lansd: unknown command %q\n\n", args[0])
	usage(env.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "lansd: DNS-based service discovery with the IANA service-name registry")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: lansd COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fmt.Fprintln(w, "  -h, --help      show this help")
	fmt.Fprintln(w, "  -v, --version   print the version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "lansd COMMAND --help" for a command's flags and an example.`)
}

// usageError marks errors that are the user's: they exit with status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// fail prints err and returns the exit status it deserves.
func fail(env *cliEnv, cmd string, err error) int {
	fmt.Fprintf(env.stderr, "lansd %s: %v\n", cmd, err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitInternal
}
