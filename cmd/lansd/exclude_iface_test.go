package main

// Tests of --exclude-iface on lansd announce, browse and resolve, without a
// network: the option reaches announce.Options and browse.Options, and a
// malformed glob is a usage error before anything is opened.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/browse"
)

func TestAnnounceExcludeIface(t *testing.T) {
	base := []string{"-s", "timezone", "-n", "x", "-p", "1"}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, nil}, // the default list
		{[]string{"--exclude-iface", "none"}, []string{"none"}},
		{[]string{"--exclude-iface", "veth*", "--exclude-iface", "wlan[0-9]"}, []string{"veth*", "wlan[0-9]"}},
		{[]string{"--exclude-iface", "docker0", "--iface", "docker0"}, []string{"docker0"}},
	} {
		_, _, errOut, opened := announceRun(t, append(base, tc.args...)...)
		require.Len(t, opened, 1, "%q: %s", tc.args, errOut)
		assert.Equal(t, tc.want, opened[0].ExcludeInterfaces, "%q", tc.args)
	}

	code, out, errOut, opened := announceRun(t, append(base, "--exclude-iface", "veth*", "--exclude-iface", "br-[0-9")...)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened, "nothing is opened on a bad glob")
	assert.Empty(t, out)
	assert.Contains(t, errOut, `--exclude-iface: glob "br-[0-9": syntax error in pattern`)

	code, _, errOut, opened = announceRun(t, append(base, "--domain", "example.com.", "--exclude-iface", "none")...)
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, opened)
	assert.Contains(t, errOut, "--exclude-iface cannot be used with --domain")

	_, out, _, _ = announceRun(t, "--help")
	assert.Contains(t, out, "--exclude-iface GLOB")
	assert.Contains(t, out, "none: exclude nothing")
}

func TestBrowseAndResolveExcludeIface(t *testing.T) {
	_, _, opts := withBrowser(t, nil, false)
	code, _, errOut := lansd(t, "", "browse", "timezone", "--exclude-iface", "veth*", "--exclude-iface", "none")
	assert.Equal(t, exitOK, code, errOut)
	assert.Equal(t, []string{"veth*", "none"}, opts.ExcludeInterfaces)

	_, _, opts = withBrowser(t, nil, false)
	code, _, errOut = lansd(t, "", "browse", "timezone")
	assert.Equal(t, exitOK, code, errOut)
	assert.Nil(t, opts.ExcludeInterfaces, "no flag: the default list")

	old := resolveInstance
	t.Cleanup(func() { resolveInstance = old })
	var got browse.Options
	resolveInstance = func(_ context.Context, _ string, o browse.Options) ([]browse.Instance, error) {
		got = o
		return []browse.Instance{testInstance(t, "timezone", "Office TZ", mustRecord(t, "path=/tz"))}, nil
	}
	code, _, errOut = lansd(t, "", "resolve", "Office TZ._timezone._tcp", "--exclude-iface", "docker*")
	assert.Equal(t, exitOK, code, errOut)
	assert.Equal(t, []string{"docker*"}, got.ExcludeInterfaces)

	for _, cmd := range [][]string{{"browse", "timezone"}, {"resolve", "Office TZ._timezone._tcp"}} {
		noNetwork(t)
		code, out, errOut := lansd(t, "", append(cmd, "--exclude-iface", "[")...)
		assert.Equal(t, exitUsage, code, "%s: %s", cmd[0], errOut)
		assert.Empty(t, out)
		assert.Contains(t, errOut, `--exclude-iface: glob "[": syntax error in pattern`)
		_, out, _ = lansd(t, "", cmd[0], "--help")
		assert.Contains(t, out, "--exclude-iface GLOB", cmd[0])
	}
}
