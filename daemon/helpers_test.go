package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// fakePub is a publisher that records what it is asked: no packet is
// ever sent by the unit tests.
type fakePub struct {
	mu     sync.Mutex
	log    []string
	live   map[string]*fakeHandle
	closed bool
	addErr error
}

func newFakePub() *fakePub { return &fakePub{live: map[string]*fakeHandle{}} }

func (p *fakePub) record(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}

// take returns what was recorded since the last take, sorted.
func (p *fakePub) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.log
	p.log = nil
	slices.Sort(out)
	return out
}

// names returns the services published now, sorted.
func (p *fakePub) names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n, h := range p.live {
		out = append(out, n+" "+h.txt)
	}
	slices.Sort(out)
	return out
}

func (p *fakePub) Add(ctx context.Context, s announce.Service) (handle, error) {
	if p.addErr != nil {
		return nil, p.addErr
	}
	name := s.Instance + "." + s.Type + ".local."
	h := &fakeHandle{p: p, name: name, txt: s.TXT.String(), events: make(chan sd.RegistrationEvent, 16)}
	p.mu.Lock()
	p.live[name] = h
	p.mu.Unlock()
	p.record(fmt.Sprintf("add %s port=%d %s", name, s.Port, s.TXT.String()))
	return h, nil
}
func (p *fakePub) HostName() string     { return "h1.local." }
func (p *fakePub) Interfaces() []string { return []string{"lan0"} }
func (p *fakePub) Close() error {
	p.mu.Lock()
	p.closed = true
	for _, h := range p.live {
		h.once.Do(func() { close(h.events) })
	}
	p.mu.Unlock()
	p.record("close")
	return nil
}

type fakeHandle struct {
	p      *fakePub
	name   string
	txt    string
	events chan sd.RegistrationEvent
	once   sync.Once
}

func (h *fakeHandle) Events() <-chan sd.RegistrationEvent { return h.events }

func (h *fakeHandle) Name() string            { return h.name }
func (h *fakeHandle) Renamed() (bool, string) { return false, "" }
func (h *fakeHandle) UpdateTXT(ctx context.Context, rec txt.Record) error {
	h.p.mu.Lock()
	h.txt = rec.String()
	h.p.mu.Unlock()
	h.p.record("txt " + h.name + " " + rec.String())
	return nil
}
func (h *fakeHandle) Remove(ctx context.Context) error {
	h.p.mu.Lock()
	delete(h.p.live, h.name)
	h.p.mu.Unlock()
	h.once.Do(func() { close(h.events) })
	h.p.record("remove " + h.name)
	return nil
}

// fakeBrowser is an sd.Browser whose events the test sends.
type fakeBrowser struct {
	types  []string
	events chan sd.Event
	quiet  chan struct{}
	once   sync.Once
	closed chan struct{}
}

func (b *fakeBrowser) Events() <-chan sd.Event  { return b.events }
func (b *fakeBrowser) Quiet() <-chan struct{}   { return b.quiet }
func (b *fakeBrowser) Instances() []sd.Instance { return nil }
func (b *fakeBrowser) Stats() sd.Stats          { return sd.Stats{} }
func (b *fakeBrowser) Err() error               { return nil }
func (b *fakeBrowser) Close() error {
	b.once.Do(func() { close(b.closed); close(b.events) })
	return nil
}

// fakeBrowsers makes fakeBrowsers and keeps them.
type fakeBrowsers struct {
	mu      sync.Mutex
	started []*fakeBrowser
}

func (f *fakeBrowsers) new(ctx context.Context, types []string, opts browse.Options) (sd.Browser, error) {
	b := &fakeBrowser{types: types, events: make(chan sd.Event, 100), quiet: make(chan struct{}), closed: make(chan struct{})}
	f.mu.Lock()
	f.started = append(f.started, b)
	f.mu.Unlock()
	return b, nil
}

func (f *fakeBrowsers) all() []*fakeBrowser {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.started)
}

// testServer starts a Server over pub and the fake browsers, its socket
// in a temporary directory, served until the end of the test.
func testServer(t *testing.T, opts Options, pub publisher, fb *fakeBrowsers) *Server {
	t.Helper()
	if opts.Socket == "" {
		opts.Socket = filepath.Join(shortTempDir(t), "lansd.sock")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := prepare(opts)
	require.NoError(t, err)
	s.start(context.Background(), pub, fb.new)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		require.NoError(t, <-served)
	})
	return s
}

// shortTempDir is a temporary directory with a path short enough for a
// Unix socket (108 bytes).
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "lansd-d")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// eventually waits until cond holds, failing after d.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeFile writes data to dir/name.
func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
}

func contains(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}
