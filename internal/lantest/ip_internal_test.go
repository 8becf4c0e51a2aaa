package lantest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Host.IP refuses what could reach a namespace the test did not make.
func TestCheckIPRefuses(t *testing.T) {
	ns := nsPrefix + "999-h1"
	l := &LAN{created: []string{ns}}
	h := &Host{NS: ns, lan: l}
	assert.NoError(t, h.checkIP([]string{"addr add 198.18.1.11/24 dev lan0", "addr del 198.51.100.11/24 dev lan0"}))
	for _, cmds := range [][]string{
		nil,
		{""},
		{"netns add x"},
		{"-n other addr add 198.18.1.11/24 dev lan0"},
		{"link add veth1 type veth peer name c0 netns somebody-else"},
		{"link add veth1 type veth peer name c0 netns"},
		{"addr add 198.18.1.11/24 dev lan0\nlink del lan0"},
	} {
		assert.Error(t, h.checkIP(cmds), "%q", cmds)
	}
	for _, other := range []*Host{
		{NS: ns},                     // no LAN
		{NS: "lansd-1-1-h1", lan: l}, // not created by l
		{NS: "default", lan: &LAN{created: []string{"default"}}}, // not a lantest name
	} {
		assert.Error(t, other.checkIP([]string{"addr show"}), "%q", other.NS)
	}
}
