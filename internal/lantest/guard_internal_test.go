package lantest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runGuardChild runs the test binary as a guard child with the given command
// prefix and environment, and returns its exit code and output.
func runGuardChild(t *testing.T, prefix []string, env ...string) (int, string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	spec, err := json.Marshal(execSpec{Name: "sh", Args: []string{"-c", "echo PROGRAM-RAN"}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(append([]string(nil), prefix...), self, "-test.run=^$", "-lantest.exec.failed")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), envExec+"="+string(spec))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s", out)
		return ee.ExitCode(), string(out)
	}
	return 0, string(out)
}

func TestGuardChildFailsClosed(t *testing.T) {
	lan := New(t, Hosts(2))
	h1, h2 := lan.Hosts[0], lan.Hosts[1]
	parentUTS, err := nsID("/proc/self/ns/uts")
	require.NoError(t, err)
	machine, err := os.Hostname()
	require.NoError(t, err)
	inH1 := []string{"ip", "netns", "exec", h1.NS, "unshare", "--uts"}

	t.Run("matching namespace runs the program", func(t *testing.T) {
		code, out := runGuardChild(t, inH1, envGuard+"="+h1.NS, envHostname+"=h1", envParentUTS+"="+parentUTS)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "PROGRAM-RAN")
	})
	t.Run("other host's namespace", func(t *testing.T) {
		code, out := runGuardChild(t, inH1, envGuard+"="+h2.NS, envHostname+"=h2", envParentUTS+"="+parentUTS)
		assert.Equal(t, GuardExitCode, code, out)
		assert.NotContains(t, out, "PROGRAM-RAN")
		assert.Contains(t, out, "refusing to run")
	})
	t.Run("default namespace", func(t *testing.T) {
		code, out := runGuardChild(t, []string{"unshare", "--uts"}, envGuard+"="+h1.NS, envParentUTS+"="+parentUTS)
		assert.Equal(t, GuardExitCode, code, out)
		assert.NotContains(t, out, "PROGRAM-RAN")
	})
	t.Run("no private UTS namespace", func(t *testing.T) {
		// The machine's own name, so that even a broken check changes nothing.
		code, out := runGuardChild(t, []string{"ip", "netns", "exec", h1.NS},
			envGuard+"="+h1.NS, envHostname+"="+machine, envParentUTS+"="+parentUTS)
		assert.Equal(t, GuardExitCode, code, out)
		assert.Contains(t, out, "not setting host name")
		assert.NotContains(t, out, "PROGRAM-RAN")
	})
	t.Run("guard without program or helper", func(t *testing.T) {
		self, err := os.Executable()
		require.NoError(t, err)
		cmd := exec.Command("ip", "netns", "exec", h1.NS, self, "-test.run=^TestGuardChildFailsClosed$")
		cmd.Env = append(os.Environ(), envGuard+"="+h1.NS)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s", out)
		assert.Equal(t, GuardExitCode, ee.ExitCode(), "%s", out)
		assert.NotContains(t, string(out), "=== RUN", "no test may run inside the namespace")
	})
	t.Run("helper without guard", func(t *testing.T) {
		code, out := runGuardChild(t, inH1, envHelper+"=whoami")
		assert.Equal(t, GuardExitCode, code, out)
		assert.NotContains(t, out, "PROGRAM-RAN")
	})
	after, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, machine, after)
}

func TestCommandPIDIsTheProgram(t *testing.T) {
	lan := New(t, Hosts(1))
	p := lan.Hosts[0].Start(t, "sleep", "1000")
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + itoa(p.Pid()) + "/comm")
		return err == nil && strings.TrimSpace(string(b)) == "sleep"
	}, 10*time.Second, 10*time.Millisecond, "ip netns exec and unshare exec, they do not fork")
	pids, err := nsPIDs(lan.Hosts[0].NS)
	require.NoError(t, err)
	assert.Equal(t, []int{p.Pid()}, pids)
}

func itoa(i int) string { return strconv.Itoa(i) }
