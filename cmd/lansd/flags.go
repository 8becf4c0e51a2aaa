package main

import (
	"errors"
	"fmt"

	"github.com/lansd/lansd/registry"
	"github.com/spf13/pflag"
)

// newFlags returns a FlagSet for a subcommand whose --help prints usage,
// the flags and an example.
func newFlags(env *cliEnv, name, synopsis, example string) *pflag.FlagSet {
	fs := pflag.NewFlagSet("lansd "+name, pflag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: lansd %s %s\n\nFlags:\n%s\nExample:\n%s\n", name, synopsis, fs.FlagUsages(), example)
	}
	return fs
}

// parseFlags parses args; it reports whether the command should go on and,
// if not, the exit status (0 after --help, 2 after a usage error).
func parseFlags(env *cliEnv, fs *pflag.FlagSet, args []string) (bool, int) {
	err := fs.Parse(args)
	if err == nil {
		return true, exitOK
	}
	if errors.Is(err, pflag.ErrHelp) {
		fs.SetOutput(env.stdout)
		fs.Usage()
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
