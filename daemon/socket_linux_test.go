package daemon

import (
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSocketModeAndGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the socket another group")
	}
	s := testServer(t, Options{SocketMode: 0o640, SocketGroup: 65534}, newFakePub(), &fakeBrowsers{})
	fi, err := os.Stat(s.Socket())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	assert.Equal(t, uint32(65534), fi.Sys().(*syscall.Stat_t).Gid)
}
