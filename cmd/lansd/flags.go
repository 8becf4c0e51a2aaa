package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sync"

	"github.com/lansd/lansd/registry"
	"github.com/spf13/pflag"
)

// newFlags returns a FlagSet for a subcommand whose --help prints usage,
// the flags and an example.
func newFlags(env *cliEnv, name, synopsis, example string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("lansd "+name, pflag.ContinueOnError)
	// pflag prints nothing itself: parseFlags reports errors, and Usage
	// writes to stdout after --help and to stderr after a usage error.
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.Usage = func() {}
	usagesMu.Lock()
	usages[fs] = func(w io.Writer) {
		fmt.Fprintf(w, "Usage: lansd %s %s\n\nFlags:\n%s\nExample:\n%s\n", name, synopsis, fs.FlagUsages(), example)
	}
	usagesMu.Unlock()
	return fs
}

// usages holds each FlagSet's usage printer (pflag's Usage takes no writer).
var (
	usagesMu sync.Mutex
	usages   = map[*pflag.FlagSet]func(io.Writer){}
)

// printUsage writes the usage of fs to w and forgets fs.
func printUsage(w io.Writer, fs *pflag.FlagSet) {
	usagesMu.Lock()
	u := usages[fs]
	delete(usages, fs)
	usagesMu.Unlock()
	if u != nil {
		u(w)
	}
}

// parseFlags parses args; it reports whether the command should go on and,
// if not, the exit status (0 after --help, 2 after a usage error).
func parseFlags(env *cliEnv, fs *pflag.FlagSet, args []string) (bool, int) {
	err := fs.Parse(args)
	if err == nil {
		return true, exitOK
	}
	if errors.Is(err, pflag.ErrHelp) {
		printUsage(env.stdout, fs)
		return false, exitOK
	}
	fmt.Fprintf(env.stderr, "%s: %v\nRun \"%s --help\" for usage.\n", fs.Name(), err, fs.Name())
	return false, exitUsage
}

// registryFlag adds the --registry flag shared by every command.
func registryFlag(fs *pflag.FlagSet) *string {
	return fs.String("registry", "", "load the full IANA service-name registry CSV from `FILE` instead of the built-in set")
}

// loadRegistry returns the registry named by --registry, or the built-in one.
func loadRegistry(path string) (*registry.Registry, error) {
	if path == "" {
		return registry.Builtin(), nil
	}
	reg, err := registry.LoadFile(path)
	if err != nil {
		return nil, &usageError{err}
	}
	return reg, nil
}

// newLogger returns the logger of a command: slog text lines on w, from
// debug up with --verbose, else only records at level quiet or above.
func newLogger(w io.Writer, verbose bool, quiet slog.Level) *slog.Logger {
	level := quiet
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// excludeIfaceFlag adds --exclude-iface (repeatable) to fs; *dst stays nil
// when it is not given, which means the default exclude list.
func excludeIfaceFlag(fs *pflag.FlagSet, dst *[]string) {
	fs.StringArrayVar(dst, "exclude-iface", nil, "leave out interfaces matching `GLOB` (repeat for more; replaces the default "+
		"veth*, docker0, br-<12 hex digits>, cni*, flannel*; none: exclude nothing; --iface names win)")
}

// checkExcludeGlobs refuses a malformed --exclude-iface glob before anything
// is opened.
func checkExcludeGlobs(globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return usageErrorf("--exclude-iface: glob %q: %w", g, err)
		}
	}
	return nil
}
