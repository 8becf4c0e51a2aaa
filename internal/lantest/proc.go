package lantest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Stream names the output stream a line came from.
type Stream int

// Output streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// maxLines bounds the lines a Proc keeps; older lines are dropped.
const maxLines = 100000

// maxLineLen bounds one line; longer output is split.
const maxLineLen = 1 << 20

// Command returns a command that runs name with args inside h's network
// namespace, with h.Name as its host name. The process is the test binary
// re-executed as a guard (ip netns exec NS unshare --uts TESTBINARY): it
// proves it is inside h.NS before it execs name (looked up in PATH), and
// exits with GuardExitCode otherwise. The caller starts and reaps the
// command; prefer Start, which also cleans up.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	spec, err := json.Marshal(execSpec{Name: name, Args: args})
	if err != nil { // cannot happen for strings
		panic(err)
	}
	return guardCommand(ctx, h.NS, h.Name, envExec+"="+string(spec), "-lantest.exec.failed")
}

// guardCommand builds the `ip netns exec NS unshare --uts TESTBINARY` command
// with the guard environment. extraFlag is an undefined test flag: should the
// start-up code fail to take over, the test binary stops at flag parsing
// instead of running tests inside the namespace.
func guardCommand(ctx context.Context, ns, hostname, modeEnv, extraFlag string, env ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe-unavailable"
	}
	parentUTS, err := nsID("/proc/self/ns/uts")
	if err != nil {
		parentUTS = "unknown"
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "unshare", "--uts", self, "-test.run=^$", extraFlag)
	cmd.Env = make([]string, 0, len(os.Environ())+len(env)+4)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LANTEST_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env,
		envGuard+"="+ns,
		envHostname+"="+hostname,
		envParentUTS+"="+parentUTS,
		modeEnv,
	)
	// Own process group, so that cleanup can kill what the program forks.
	setpgid(cmd)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Proc is a process started in a namespace by Start or Helper. Its output is
// kept as lines; it is killed (SIGKILL to its process group) at test cleanup
// if still running.
type Proc struct {
	// Cmd is the underlying command (already started).
	Cmd *exec.Cmd

	name   string
	stdin  io.WriteCloser
	onLine func(Stream, string)

	mu      sync.Mutex
	lines   []string
	dropped int
	changed chan struct{} // closed and replaced whenever lines grow or the process ends
	done    chan struct{} // closed when the process has exited and output is drained
	err     error         // result of Cmd.Wait
}

// Start runs name with args in h (see Command) and returns the running
// process. It fails the test if the process cannot be started, and kills it
// at cleanup.
func (h *Host) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	cmd := h.Command(context.Background(), name, args...)
	return startProc(t, cmd, name+" on "+h.Name, nil)
}

// Helper runs the helper registered as name (see RegisterHelper) in h: the
// test binary re-executed inside h.NS after the guard, with env ("KEY=value")
// added to its environment. It fails the test if the process cannot be
// started, and kills it at cleanup.
func (h *Host) Helper(t testing.TB, name string, env ...string) *Proc {
	t.Helper()
	return helperProc(t, h.NS, h.Name, name, nil, env...)
}

func helperProc(t testing.TB, ns, hostname, name string, onLine func(Stream, string), env ...string) *Proc {
	t.Helper()
	cmd := guardCommand(context.Background(), ns, hostname, envHelper+"="+name,
		"-lantest.helper.not.registered="+name, env...)
	return startProc(t, cmd, "helper "+name+" on "+hostname, onLine)
}

func startProc(t testing.TB, cmd *exec.Cmd, name string, onLine func(Stream, string)) *Proc {
	t.Helper()
	p := &Proc{
		Cmd:     cmd,
		name:    name,
		onLine:  onLine,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	stdout, stderr := &lineWriter{p: p, s: Stdout}, &lineWriter{p: p, s: Stderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("lantest: %s: %v", name, err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("lantest: starting %s: %v", name, err)
	}
	go func() {
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		p.mu.Lock()
		p.err = err
		close(p.done)
		p.notifyLocked()
		p.mu.Unlock()
	}()
	t.Cleanup(func() {
		if p.Exited() {
			if t.Failed() {
				p.logTail(t)
			}
			return
		}
		_ = p.stdin.Close()
		// The process group this Proc leads (setpgid).
		killGroup(cmd.Process.Pid)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("lantest: %s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
		}
		if t.Failed() {
			p.logTail(t)
		}
	})
	return p
}

func (p *Proc) logTail(t testing.TB) {
	lines := p.Lines()
	if len(lines) > 200 {
		lines = lines[len(lines)-200:]
	}
	t.Logf("lantest: output of %s (%v):\n%s", p.name, p.err, strings.Join(lines, "\n"))
}

// notifyLocked wakes every waiter; p.mu must be held.
func (p *Proc) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proc) addLine(s Stream, line string) {
	if p.onLine != nil {
		p.onLine(s, line)
	}
	p.mu.Lock()
	if len(p.lines) >= maxLines {
		n := copy(p.lines, p.lines[maxLines/10:])
		p.lines = p.lines[:n]
		p.dropped += maxLines / 10
	}
	p.lines = append(p.lines, line)
	p.notifyLocked()
	p.mu.Unlock()
}

// Pid returns the process ID.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Lines returns the output lines so far, stdout and stderr interleaved in
// arrival order.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// WaitFor returns the first output line (past or future) matching re. It
// fails when ctx ends or the process exits without such a line.
func (p *Proc) WaitFor(ctx context.Context, re *regexp.Regexp) (string, error) {
	return p.waitLine(ctx, re.MatchString, fmt.Sprintf("a line matching %q", re))
}

// WaitLine returns the first output line (past or future) for which match
// returns true. match sees each line once, in arrival order, and is called
// without p's lock held (it may be slow, e.g. decode JSON). WaitLine fails
// when ctx ends or the process exits without such a line.
func (p *Proc) WaitLine(ctx context.Context, match func(line string) bool) (string, error) {
	return p.waitLine(ctx, match, "the line waited for")
}

// waitLine is WaitFor and WaitLine; what names the line in errors.
func (p *Proc) waitLine(ctx context.Context, match func(string) bool, what string) (string, error) {
	next := 0 // index of the next line to look at, counting dropped lines
	for {
		p.mu.Lock()
		start := max(next-p.dropped, 0)
		lines := append([]string(nil), p.lines[start:]...)
		next = p.dropped + len(p.lines)
		changed, exited := p.changed, isClosed(p.done)
		err := p.err
		p.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l, nil
			}
		}
		if exited {
			return "", fmt.Errorf("lantest: %s exited (%v) without %s", p.name, err, what)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("lantest: waiting for %s from %s: %w", what, p.name, ctx.Err())
		case <-changed:
		}
	}
}

// WaitForN waits until at least n output lines match re and returns them.
func (p *Proc) WaitForN(ctx context.Context, re *regexp.Regexp, n int) ([]string, error) {
	for {
		p.mu.Lock()
		var got []string
		for _, l := range p.lines {
			if re.MatchString(l) {
				got = append(got, l)
			}
		}
		changed, exited := p.changed, isClosed(p.done)
		err := p.err
		p.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		if exited {
			return got, fmt.Errorf("lantest: %s exited (%v) after %d of %d lines matching %q", p.name, err, len(got), n, re)
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("lantest: %d of %d lines matching %q from %s: %w", len(got), n, re, p.name, ctx.Err())
		case <-changed:
		}
	}
}

// WriteLine writes line and a newline to the process's standard input.
func (p *Proc) WriteLine(line string) error {
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		return fmt.Errorf("lantest: writing to %s: %w", p.name, err)
	}
	return nil
}

// CloseStdin closes the process's standard input.
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

// Signal sends sig to the process (only this process, by PID).
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("lantest: signal %v to %s: %w", sig, p.name, err)
	}
	return nil
}

// Wait waits for the process to exit and its output to be drained, and
// returns its exit error (nil for status 0, *exec.ExitError otherwise).
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("lantest: waiting for %s to exit: %w", p.name, ctx.Err())
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool { return isClosed(p.done) }

// ExitCode returns the exit status, or -1 while running or when killed by a
// signal.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	var ee *exec.ExitError
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		return 0
	}
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// lineWriter splits a stream into lines for a Proc.
type lineWriter struct {
	p   *Proc
	s   Stream
	buf []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) >= maxLineLen {
				w.p.addLine(w.s, string(w.buf))
				w.buf = w.buf[:0]
			}
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.p.addLine(w.s, string(w.buf))
		w.buf = w.buf[:0]
		b = b[i+1:]
	}
	return n, nil
}

// flush emits a final unterminated line; called after the writer's last Write.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.p.addLine(w.s, string(w.buf))
		w.buf = nil
	}
}
