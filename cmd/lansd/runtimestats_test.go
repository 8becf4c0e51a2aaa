package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var runtimeLineRE = regexp.MustCompile(`level=DEBUG msg=runtime pid=\d+ goroutines=\d+ heap_inuse=\d+ heap_objects=\d+ sys=\d+ num_gc=\d+$`)

func TestRuntimeStatsLogsEveryPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		stop, err := startRuntimeStats(&buf, "5s")
		require.NoError(t, err)
		time.Sleep(12 * time.Second) // at 0, 5 and 10 s
		stop()
		stop()
		time.Sleep(10 * time.Second) // stopped: nothing more
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		require.Len(t, lines, 3, buf.String())
		for _, l := range lines {
			assert.Regexp(t, runtimeLineRE, l)
		}
	})
}

func TestRuntimeStatsOffAndBadValues(t *testing.T) {
	var buf lockedBuffer
	stop, err := startRuntimeStats(&buf, "")
	require.NoError(t, err)
	stop()
	assert.Empty(t, buf.String())
	for _, v := range []string{"5", "x", "-1s", "1ms"} {
		_, err := startRuntimeStats(&buf, v)
		var ue *usageError
		assert.ErrorAs(t, err, &ue, v)
		assert.ErrorContains(t, err, runtimeStatsEnv, v)
	}
}

// TestRuntimeStatsEnv: lansd browse logs the runtime line with
// LANSD_RUNTIME_STATS set even without -v, and a bad value is a usage
// error before anything is opened.
func TestRuntimeStatsEnv(t *testing.T) {
	t.Setenv(runtimeStatsEnv, "nonsense")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), &cliEnv{stdout: &stdout, stderr: &stderr}, []string{"browse", "--domain", "example.", "timezone"})
	assert.Equal(t, exitUsage, code, stderr.String())
	assert.Contains(t, stderr.String(), runtimeStatsEnv)
	code = run(context.Background(), &cliEnv{stdout: &stdout, stderr: &stderr}, []string{"announce", "--service", "timezone"})
	assert.Equal(t, exitUsage, code, stderr.String())
	assert.Contains(t, stderr.String(), `lansd announce: `+runtimeStatsEnv)
}
