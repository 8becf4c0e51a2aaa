package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/daemon"
)

// noDaemon makes newDaemon fail the test if called: flags are checked
// before anything is opened, and no test here may send multicast.
func noDaemon(t *testing.T) {
	t.Helper()
	orig := newDaemon
	newDaemon = func(context.Context, daemon.Options) (*daemon.Server, error) {
		t.Error("the daemon was started")
		return nil, context.Canceled
	}
	t.Cleanup(func() { newDaemon = orig })
}

func TestDaemonUsageErrors(t *testing.T) {
	noDaemon(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--socket-mode", "rw"}, "--socket-mode"},
		{[]string{"--socket-mode", "01777"}, "--socket-mode"},
		{[]string{"--socket-group", "no-such-group-lansd"}, "--socket-group"},
		{[]string{"--ipv4-only", "--ipv6-only"}, "exclude each other"},
		{[]string{"--exclude-iface", "["}, "--exclude-iface"},
		{[]string{"--keep-warm", "0s"}, "--keep-warm"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		code, _, stderr := lansd(t, "", append([]string{"daemon"}, tc.args...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
}

func TestStatusWithoutDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	code, _, stderr := lansd(t, "", "status", "--socket", sock)
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, stderr, "no lansd daemon answers on "+sock)
	_, err := os.Stat(sock)
	assert.True(t, os.IsNotExist(err))
}
