package lantest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// IP changes h's network namespace: it runs cmds, each an ip(8) command
// line without the leading "ip" ("addr add 198.18.1.11/24 dev lan0"), in
// order, in one `ip -n NS -batch -` process, and fails the test on error.
// It is how a test changes a host's interfaces and addresses while programs
// run (an address replaced, a link taken down, a bridge added): nothing it
// does can reach the machine's own namespace, since it refuses a host whose
// namespace this LAN did not create, `ip netns` commands, and a "netns X"
// argument (a veth end moved elsewhere) naming a namespace this process did
// not create. Call it from the test goroutine.
func (h *Host) IP(tb testing.TB, cmds ...string) {
	tb.Helper()
	if err := h.checkIP(cmds); err != nil {
		tb.Fatalf("lantest: IP: %v", err)
	}
	if err := ipBatch(h.NS, cmds...); err != nil {
		tb.Fatalf("lantest: IP: %v", err)
	}
}

// checkIP returns why cmds may not run in h, or nil.
func (h *Host) checkIP(cmds []string) error {
	if h.lan == nil || !validNS.MatchString(h.NS) || !slices.Contains(h.lan.created, h.NS) {
		return fmt.Errorf("refusing namespace %q: not made by this LAN", h.NS)
	}
	if len(cmds) == 0 {
		return fmt.Errorf("no command")
	}
	ours, err := Namespaces()
	if err != nil {
		return err
	}
	for _, c := range cmds {
		f := strings.Fields(c)
		if len(f) == 0 {
			return fmt.Errorf("empty command")
		}
		if f[0] == "netns" || strings.HasPrefix(f[0], "-") || strings.ContainsAny(c, "\n\r") {
			return fmt.Errorf("refusing %q: only plain commands on the host's namespace", c)
		}
		for i, w := range f {
			if w == "netns" && (i+1 >= len(f) || !slices.Contains(ours, f[i+1])) {
				return fmt.Errorf("refusing %q: netns must name a namespace this process made", c)
			}
		}
	}
	return nil
}
