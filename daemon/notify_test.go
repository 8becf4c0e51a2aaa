package daemon

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNotify(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	require.NoError(t, Notify("READY=1"))
	require.NoError(t, Notify("STOPPING=1"))
	buf := make([]byte, 100)
	for _, want := range []string{"READY=1", "STOPPING=1"} {
		n, err := l.Read(buf)
		require.NoError(t, err)
		assert.Equal(t, want, string(buf[:n]))
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := "@lansd-test-notify-" + filepath.Base(shortTempDir(t))
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	require.NoError(t, err)
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", name)
	require.NoError(t, Notify("READY=1"))
	buf := make([]byte, 100)
	n, err := l.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "READY=1", string(buf[:n]))
}

func TestNotifyWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	assert.NoError(t, Notify("READY=1"), "not under systemd: nothing to do")
	t.Setenv("NOTIFY_SOCKET", "relative")
	assert.Error(t, Notify("READY=1"))
}
