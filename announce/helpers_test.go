package announce

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdnstest"
)

// The responder's unit tests run over the in-memory link of
// internal/mdnstest: no socket is ever opened.
var _ transport = (*mdnstest.Host)(nil)

// logRecorder is a slog handler that keeps every record, so that tests can
// check that nothing was logged at error level.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// errors returns the messages logged at error level.
func (l *logRecorder) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level >= slog.LevelError {
			var b strings.Builder
			b.WriteString(r.Message)
			r.Attrs(func(a slog.Attr) bool {
				fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
				return true
			})
			out = append(out, b.String())
		}
	}
	return out
}

// startOn starts a responder named hostName over h; the interfaces h
// attaches or detaches from now on reach it as interface changes. It must
// run inside a synctest bubble (or with real time). The responder is
// closed, and its error log checked to be empty and its inbox never to have
// overflowed (the tests are deterministic only if no packet is lost), at
// the end of the test.
func startOn(t *testing.T, h *mdnstest.Host, opts Options) *Responder {
	t.Helper()
	logs := &logRecorder{}
	if opts.Logger == nil {
		opts.Logger = slog.New(logs)
	}
	r, err := start(context.Background(), opts, h, h.Changes())
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, r.Close())
		require.Empty(t, logs.errors(), "errors were logged")
		require.Zero(t, h.Dropped(), "packets lost at the responder's full inbox")
	})
	return r
}

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// assertName checks that got is the name want (DNS comparison: escapes
// and ASCII case do not matter).
func assertName(t testing.TB, want, got string) {
	t.Helper()
	assert.True(t, dnsname.Equal(want, got), "name: want %q, got %q", want, got)
}
