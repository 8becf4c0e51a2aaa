package lantest

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// SetLoss makes the switch drop percent (0..100) of the frames it forwards
// to host ports, at random and independently per frame and port, with an
// nftables rule in the switch namespace (this kernel has no sch_netem).
// SetLoss(0) removes the rule. Frames are dropped on the way out of the
// bridge, so an Observer still captures them. It needs nft (Debian package
// nftables): without it the test is skipped, or failed when
// LANSD_REQUIRE_NETNS=1. Call it from the test goroutine.
func (l *LAN) SetLoss(percent int) {
	l.t.Helper()
	if percent < 0 || percent > 100 {
		l.t.Fatalf("lantest: SetLoss(%d): want 0..100", percent)
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		skipOrFatal(l.t, "SetLoss needs nft (apt-get install nftables): %v", err)
	}
	// Declaring the table first makes the delete succeed whether or not it
	// exists; the whole script is applied atomically.
	var script strings.Builder
	script.WriteString("table bridge lantest_loss\ndelete table bridge lantest_loss\n")
	rule := fmt.Sprintf("numgen random mod 100 < %d drop", percent)
	if percent == 100 {
		rule = "drop" // numgen values are 0..99, so "< 100" is rejected
	}
	if percent > 0 {
		fmt.Fprintf(&script, `table bridge lantest_loss {
	chain drop_some {
		type filter hook forward priority 0; policy accept;
		oifname "p*" %s
	}
}
`, rule)
	}
	cmd := exec.Command("ip", "netns", "exec", l.Switch, nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("lantest: SetLoss(%d): nft: %v: %s", percent, err, bytes.TrimSpace(out))
	}
}
