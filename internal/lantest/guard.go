package lantest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Environment variables that turn a re-executed test binary into a guard.
const (
	envGuard     = "LANTEST_GUARD"      // namespace the process must be in
	envHostname  = "LANTEST_HOSTNAME"   // UTS host name to set
	envParentUTS = "LANTEST_PARENT_UTS" // "dev:ino" of the starter's UTS namespace
	envExec      = "LANTEST_EXEC"       // JSON execSpec of the program to exec
	envHelper    = "LANTEST_HELPER"     // registered helper to run
)

// GuardExitCode is the exit status of a guard process that refused to run
// anything because a check failed.
const GuardExitCode = 97

// ErrNotInNamespace is returned (wrapped) by Guard when the check fails.
var ErrNotInNamespace = errors.New("not inside the expected test network namespace")

// forbiddenNet is the machine's own network; no test traffic may touch it.
var forbiddenNet = netip.MustParsePrefix("192.0.2.0/24")

// Guard proves that the calling process runs inside network namespace ns
// (created by this package): the device and inode of /proc/thread-self/ns/net
// must equal those of /run/netns/ns, no interface named eth0 may be visible,
// and no visible interface may carry an address in 192.0.2.0/24. Any failure,
// or any check that cannot be made, is an error wrapping ErrNotInNamespace:
// the caller must then refuse to send.
func Guard(ns string) error {
	if !validNS.MatchString(ns) {
		return fmt.Errorf("lantest: guard: %q is not a lantest namespace name: %w", ns, ErrNotInNamespace)
	}
	want, err := nsID(filepath.Join(netnsDir, ns))
	if err != nil {
		return fmt.Errorf("lantest: guard: %w: %w", err, ErrNotInNamespace)
	}
	self := "/proc/thread-self/ns/net"
	if _, err := os.Stat(self); err != nil {
		self = "/proc/self/ns/net"
	}
	got, err := nsID(self)
	if err != nil {
		return fmt.Errorf("lantest: guard: %w: %w", err, ErrNotInNamespace)
	}
	if got != want {
		return fmt.Errorf("lantest: guard: network namespace %s is not %s (%s): %w", got, ns, want, ErrNotInNamespace)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("lantest: guard: listing interfaces: %w: %w", err, ErrNotInNamespace)
	}
	for _, ifi := range ifs {
		if ifi.Name == "eth0" {
			return fmt.Errorf("lantest: guard: interface eth0 is visible in %s: %w", ns, ErrNotInNamespace)
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return fmt.Errorf("lantest: guard: addresses of %s: %w: %w", ifi.Name, err, ErrNotInNamespace)
		}
		for _, a := range addrs {
			if p, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(p.IP); ok && forbiddenNet.Contains(ip.Unmap()) {
					return fmt.Errorf("lantest: guard: %s has %s in %s: %w", ifi.Name, ip, forbiddenNet, ErrNotInNamespace)
				}
			}
		}
	}
	return nil
}

// guardedNS is the namespace Guard proved at start-up ("" when this process is
// not a guarded child); helperName is the helper it was started to run.
var guardedNS, helperName string

// InNamespace reports the namespace this process was verified to run in by
// the start-up guard, and whether it is such a guarded child at all. Helpers
// may use it as a final assertion before sending.
func InNamespace() (ns string, ok bool) { return guardedNS, guardedNS != "" }

// MustBeGuarded is the last check a helper makes before it sends anything:
// the process must be a guarded child, and Guard must still pass for its
// namespace. Otherwise it prints why and exits with GuardExitCode.
func MustBeGuarded() {
	ns, ok := InNamespace()
	if !ok {
		refuse(ErrNotInNamespace)
	}
	if err := Guard(ns); err != nil {
		refuse(err)
	}
}

// execSpec is the program a guard execs, carried in LANTEST_EXEC.
type execSpec struct {
	Name string   `json:"name"`
	Args []string `json:"args"`
}

var (
	helpersMu sync.Mutex
	helpers   = map[string]func() int{
		observerHelper: runObserver,
	}
)

// RegisterHelper registers fn as the helper called name, to be started in a
// namespace with (*Host).Helper. Call it from an init function of a _test.go
// file:
//
//	func init() { lantest.RegisterHelper("udp-echo", udpEcho) }
//
// In the normal test process this only records fn. In a helper process (after
// the start-up guard has passed) started for name, RegisterHelper runs fn at
// once and exits with its return value; fn therefore must not rely on init
// functions of other files. Helpers take parameters from the environment (the
// env arguments of (*Host).Helper) and report on stdout and stderr, which the
// test reads through the returned Proc.
func RegisterHelper(name string, fn func() int) {
	helpersMu.Lock()
	if _, dup := helpers[name]; dup {
		helpersMu.Unlock()
		panic("lantest: helper " + name + " registered twice")
	}
	helpers[name] = fn
	helpersMu.Unlock()
	MaybeRunHelper()
}

// MaybeRunHelper runs the helper this guarded process was started for (its
// LANTEST_HELPER) and exits, if that helper is registered; otherwise it
// returns. RegisterHelper calls it; call it yourself only from a TestMain
// that registers helpers after init.
func MaybeRunHelper() {
	if helperName == "" {
		return
	}
	if guardedNS == "" {
		refuse(fmt.Errorf("helper %q requested outside a guarded namespace", helperName))
	}
	helpersMu.Lock()
	fn := helpers[helperName]
	helpersMu.Unlock()
	if fn == nil {
		// Not (yet) registered; if it never is, the flag added by Helper
		// makes the test binary exit with "flag provided but not defined".
		return
	}
	os.Exit(fn())
}

// refuse reports why the guard refused and exits without running anything.
func refuse(err error) {
	fmt.Fprintf(os.Stderr, "lantest guard: refusing to run: %v\n", err)
	os.Exit(GuardExitCode)
}

// init is the start-up guard. In a process started by this package (env
// LANTEST_GUARD set) it proves the namespace, sets the host name, and then
// execs the program or runs the helper; it refuses (exit 97) on any failure
// and when neither is given, so no test can run inside a namespace by
// accident. Elsewhere it does nothing.
func init() {
	ns, ok := os.LookupEnv(envGuard)
	if !ok {
		if _, h := os.LookupEnv(envHelper); h {
			refuse(errors.New(envHelper + " set without " + envGuard))
		}
		return
	}
	if err := Guard(ns); err != nil {
		refuse(err)
	}
	if name := os.Getenv(envHostname); name != "" {
		if err := setHostname(name); err != nil {
			refuse(err)
		}
	}
	spec, helper := os.Getenv(envExec), os.Getenv(envHelper)
	// Nothing a guarded process starts later inherits the guard settings.
	for _, k := range []string{envGuard, envHostname, envParentUTS, envExec, envHelper} {
		os.Unsetenv(k)
	}
	guardedNS = ns
	switch {
	case spec != "":
		execProgram(spec)
	case helper != "":
		helperName = helper
		MaybeRunHelper()
	default:
		refuse(errors.New("neither " + envExec + " nor " + envHelper + " given"))
	}
}

// setHostname sets the UTS host name, but only after checking that this
// process has its own UTS namespace (made by `unshare --uts`), so the
// machine's host name can never change.
func setHostname(name string) error {
	parent := os.Getenv(envParentUTS)
	if parent == "" {
		return errors.New(envParentUTS + " missing: cannot prove a private UTS namespace")
	}
	self, err := nsID("/proc/self/ns/uts")
	if err != nil {
		return fmt.Errorf("uts namespace: %w", err)
	}
	if self == parent {
		return fmt.Errorf("uts namespace %s is the test process's own: not setting host name", self)
	}
	if err := sethostname(name); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}

// execProgram replaces this (guarded) process with the program in spec.
func execProgram(spec string) {
	var s execSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil || s.Name == "" {
		refuse(fmt.Errorf("bad %s %q: %v", envExec, spec, err))
	}
	path, err := exec.LookPath(s.Name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lantest guard: %v\n", err)
		os.Exit(127)
	}
	env := make([]string, 0, len(os.Environ()))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANTEST_") {
			env = append(env, kv)
		}
	}
	err = execve(path, append([]string{s.Name}, s.Args...), env)
	fmt.Fprintf(os.Stderr, "lantest guard: exec %s: %v\n", path, err)
	os.Exit(126)
}
