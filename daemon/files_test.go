package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// newFileSet returns a fileSet over the services directory dir and the
// Avahi directory avahi ("" for none), publishing with pub.
func newFileSet(pub *fakePub, dir, avahi string) *fileSet {
	kinds := []fileKind{jsonKind(dir)}
	if avahi != "" {
		kinds = append(kinds, avahiKind(avahi))
	}
	return &fileSet{kinds: kinds, pub: pub, reg: registry.Builtin(), log: slog.New(slog.DiscardHandler), files: map[string]*fileState{}}
}

func TestReloadDiffsPerFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "services.d")
	require.NoError(t, os.Mkdir(dir, 0o755))
	writeFile(t, dir, "a.json", `{"services": [
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": 2, "txt": {"v": "1"}},
  {"name": "Port", "service": "timezone", "port": 3},
  {"name": "Gone", "service": "timezone", "port": 4}]}`)
	writeFile(t, dir, "b.json", `{"services": [{"name": "B", "service": "timezone", "port": 5}]}`)
	writeFile(t, dir, "c.json", `{"services": [{"name": "C", "service": "timezone", "port": 6}]}`)
	writeFile(t, dir, ".hidden.json", `{"services": [{"name": "Hidden", "service": "timezone", "port": 6}]}`)
	writeFile(t, dir, "notes.txt", `not a services file`)
	pub := newFakePub()
	fs := newFileSet(pub, dir, "")
	ctx := context.Background()
	res := fs.reload(ctx)
	assert.Equal(t, 6, res.Added)
	assert.Empty(t, res.Refused)
	assert.Equal(t, []string{
		"add B.timezone.local. port=5 ",
		"add C.timezone.local. port=6 ",
		"add Gone.timezone.local. port=4 ",
		"add Keep.timezone.local. port=1 \"v=1\"",
		"add Port.timezone.local. port=3 ",
		"add Txt.timezone.local. port=2 \"v=1\"",
	}, pub.take())

	// a.json changes, b.json breaks, c.json goes, d.json comes.
	writeFile(t, dir, "a.json", `{"services": [
  {"name": "Keep", "service": "timezone", "port": 1, "txt": {"v": "1"}},
  {"name": "Txt", "service": "timezone", "port": 2, "txt": {"v": "2"}},
  {"name": "Port", "service": "timezone", "port": 33},
  {"name": "New", "service": "timezone", "port": 7}]}`)
	writeFile(t, dir, "b.json", `{"services": [{"name": "B", "service": "timezone", "port": 5, "txt": ["hash=123"]},
  {"name": "B2", "service": "timezone", "port": "five"}]}`)
	require.NoError(t, os.Remove(filepath.Join(dir, "c.json")))
	writeFile(t, dir, "d.json", `{"services": [{"name": "D", "service": "timezone", "port": 8}]}`)
	res = fs.reload(ctx)
	assert.Equal(t, ReloadResult{Added: 2, Updated: 1, Replaced: 1, Removed: 2, Unchanged: 1, Refused: res.Refused}, res)
	assert.Equal(t, []string{
		"add D.timezone.local. port=8 ",
		"add New.timezone.local. port=7 ",
		"add Port.timezone.local. port=33 ",
		"remove C.timezone.local.",
		"remove Gone.timezone.local.",
		"remove Port.timezone.local.",
		"txt Txt.timezone.local. \"v=2\"",
	}, pub.take())
	require.Len(t, res.Refused, 1)
	msg := res.Refused[0].Error()
	assert.Contains(t, msg, "services.d/b.json: services[1].port: must be a number")
	assert.Equal(t, "services.d/b.json", res.Refused[0].Path)
	// B stays: the refused file keeps what it published.
	assert.Contains(t, pub.names(), "B.timezone.local. ")
	st := fs.snapshot()
	require.Len(t, st, 3)
	assert.Equal(t, filepath.Join(dir, "b.json"), st[1].path)
	assert.Error(t, st[1].err)

	// A registry rule broken: the file is refused naming the field.
	writeFile(t, dir, "b.json", `{"services": [{"name": "B", "service": "jnx-kcsync", "port": 5, "txt": ["hash=123"]}]}`)
	res = fs.reload(ctx)
	require.Len(t, res.Refused, 1)
	assert.Contains(t, res.Refused[0].Error(), "services.d/b.json: services[0].txt:")
	assert.Empty(t, pub.take(), "nothing changes")

	// Fixed: applied.
	writeFile(t, dir, "b.json", `{"services": [{"name": "B", "service": "timezone", "port": 5, "txt": {"v": "3"}}]}`)
	res = fs.reload(ctx)
	assert.Empty(t, res.Refused)
	assert.Equal(t, []string{`txt B.timezone.local. "v=3"`}, pub.take())
}

func TestReloadAvahiFiles(t *testing.T) {
	dir := t.TempDir()
	avahi := filepath.Join(t.TempDir(), "avahi")
	require.NoError(t, os.Mkdir(avahi, 0o755))
	writeFile(t, avahi, "ssh.service", `<service-group><name replace-wildcards="yes">%h</name>
<service><type>_ssh._tcp</type><port>22</port></service></service-group>`)
	writeFile(t, avahi, "bad.service", `<service-group><name>x</name><service><type>_ssh._tcp</type><port>-1</port></service></service-group>`)
	pub := newFakePub()
	fs := newFileSet(pub, dir, avahi)
	res := fs.reload(context.Background())
	assert.Equal(t, []string{"add h1._ssh._tcp.local. port=22 "}, pub.take())
	require.Len(t, res.Refused, 1)
	assert.Contains(t, res.Refused[0].Error(), `avahi/bad.service: service[0].port "-1"`)
}

func TestReloadMissingDirectory(t *testing.T) {
	pub := newFakePub()
	fs := newFileSet(pub, filepath.Join(t.TempDir(), "none"), "")
	res := fs.reload(context.Background())
	assert.Equal(t, ReloadResult{}, res)
}

func TestServerReloadsOnChange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "services.d")
	require.NoError(t, os.Mkdir(dir, 0o755))
	writeFile(t, dir, "a.json", `{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"v": "1"}}]}`)
	pub := newFakePub()
	testServer(t, Options{ServicesDir: dir}, pub, &fakeBrowsers{})
	assert.Equal(t, []string{`add A.timezone.local. port=1 "v=1"`}, pub.take())
	at := time.Now()
	writeFile(t, dir, "a.json", `{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"v": "2"}}]}`)
	eventually(t, 5*time.Second, func() bool { return contains(pub.names(), `"v=2"`) }, "not reloaded: %q", pub.names())
	t.Logf("reloaded %v after the write", time.Since(at))
	assert.Less(t, time.Since(at), time.Second)
	require.NoError(t, os.Remove(filepath.Join(dir, "a.json")))
	eventually(t, 5*time.Second, func() bool { return len(pub.names()) == 0 }, "not withdrawn: %q", pub.names())
}

func TestServerReload(t *testing.T) {
	dir := t.TempDir()
	pub := newFakePub()
	s := testServer(t, Options{ServicesDir: filepath.Join(dir, "later")}, pub, &fakeBrowsers{})
	require.NoError(t, os.Mkdir(filepath.Join(dir, "later"), 0o755))
	writeFile(t, filepath.Join(dir, "later"), "a.json", `{"services": [{"name": "A", "service": "timezone", "port": 1}]}`)
	_, err := s.Reload(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"A.timezone.local. "}, pub.names())
	require.NoError(t, s.Close())
	_, err = s.Reload(context.Background())
	assert.True(t, errors.Is(err, sd.ErrClosed), "%v", err)
}
