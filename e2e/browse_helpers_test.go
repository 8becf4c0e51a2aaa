package e2e

// Helper processes and shared code for the browse end-to-end tests. The
// helpers run only inside namespaces made by lantest, after its guard has
// verified that; brGuarded checks again before anything is opened.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/txt"
)

func init() {
	lantest.RegisterHelper("browse-raw", brRawSender)
	lantest.RegisterHelper("browse-responder", brResponder)
	lantest.RegisterHelper("browse-library", brLibrary)
}

var brOutMu sync.Mutex

func brPrintf(format string, a ...any) {
	brOutMu.Lock()
	defer brOutMu.Unlock()
	fmt.Printf(format+"\n", a...)
}

func brQuiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// brRawSender multicasts the messages it is given on standard input
// ("SEND <hex of a packed message>") over IPv4 from port 5353, answering
// "SENT <n>". It never answers queries.
func brRawSender() int {
	lantest.MustBeGuarded()
	ctx := context.Background()
	conn, err := mdns.Listen(ctx, mdns.Config{Families: []mdns.Family{mdns.IPv4}, Logger: brQuiet()})
	if err != nil {
		brPrintf("FATAL %v", err)
		return 1
	}
	defer conn.Close()
	brPrintf("READY")
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		if cmd != "SEND" {
			continue
		}
		b, err := hex.DecodeString(arg)
		if err != nil {
			brPrintf("FATAL %v", err)
			return 1
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			brPrintf("FATAL %v", err)
			return 1
		}
		if err := conn.SendMulticast(ctx, m, 0, mdns.IPv4); err != nil {
			brPrintf("FATAL %v", err)
			return 1
		}
		n++
		brPrintf("SENT %d", n)
	}
	return 0
}

// brResponder runs an in-process announce.Responder publishing COUNT
// services of TYPE named PREFIX-NN (port 9000+NN, TXT path=/NN) for host
// HOSTLABEL, with record TTLs TTL (a duration; empty: RFC defaults). It
// prints "READY <count>" once all are announced; on standard input, "TXT i
// key=value ..." updates service i's TXT record ("UPDATED i"), "QUIT"
// closes the responder with goodbyes ("CLOSED").
func brResponder() int {
	lantest.MustBeGuarded()
	ctx := context.Background()
	count, _ := strconv.Atoi(os.Getenv("COUNT"))
	count = max(count, 1)
	typ := os.Getenv("TYPE")
	if typ == "" {
		typ = "timezone"
	}
	var ttl time.Duration
	if v := os.Getenv("TTL"); v != "" {
		var err error
		if ttl, err = time.ParseDuration(v); err != nil {
			brPrintf("FATAL TTL: %v", err)
			return 1
		}
	}
	r, err := announce.New(ctx, announce.Options{
		HostName: os.Getenv("HOSTLABEL"),
		Logger:   brQuiet(),
		TTL:      announce.TTLs{Host: ttl, Other: ttl},
	})
	if err != nil {
		brPrintf("FATAL %v", err)
		return 1
	}
	handles := make([]*announce.Handle, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, _ := txt.ParseArgs([]string{fmt.Sprintf("path=/%02d", i)})
			handles[i], errs[i] = r.Add(ctx, announce.Service{
				Instance: fmt.Sprintf("%s-%02d", os.Getenv("PREFIX"), i),
				Type:     typ,
				Port:     uint16(9000 + i),
				TXT:      rec,
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			brPrintf("FATAL %v", err)
			return 1
		}
	}
	brPrintf("READY %d", count)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "TXT":
			i, err := strconv.Atoi(f[1])
			if err != nil || i < 0 || i >= count {
				brPrintf("FATAL bad index %q", f[1])
				continue
			}
			rec, err := txt.ParseArgs(f[2:])
			if err == nil {
				err = handles[i].UpdateTXT(ctx, rec)
			}
			if err != nil {
				brPrintf("FATAL %v", err)
				continue
			}
			brPrintf("UPDATED %d", i)
		case len(f) == 1 && f[0] == "QUIT":
			err := r.Close()
			brPrintf("CLOSED %v", err)
			return 0
		}
	}
	_ = r.Close()
	return 0
}

// brLibraryResult is what brLibrary reports.
type brLibraryResult struct {
	Before, After int
	Adds          int
	BrowseErr     string
	Resolved      string
	ResolveErr    string
	Missing       string
	Types         []string
	EnumerateErr  string
	Stack         string
}

// brLibrary uses the browse library directly: Browse until the first add
// of INSTANCE, Resolve of INSTANCE, a Resolve of a name nobody has,
// Enumerate, and a Browser closed early; then it compares the goroutine
// count with the one before and prints "RESULT <json>".
func brLibrary() int {
	lantest.MustBeGuarded()
	opts := browse.Options{Logger: brQuiet()}
	res := brLibraryResult{Before: runtime.NumGoroutine()}
	inst := os.Getenv("INSTANCE")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := browse.Browse(ctx, []string{"timezone"}, opts, func(ev browse.Event) {
		if ev.Kind == browse.Add && ev.Instance.Name == inst {
			res.Adds++
			cancel()
		}
	})
	cancel()
	if err != nil {
		res.BrowseErr = err.Error()
	}

	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	in, err := browse.Resolve(ctx, inst, opts)
	cancel()
	if err != nil {
		res.ResolveErr = err.Error()
	}
	res.Resolved = fmt.Sprintf("%s %s:%d %v %s", in.Name, in.Host, in.Port, in.Addrs, in.TXT)

	ctx, cancel = context.WithTimeout(context.Background(), 1500*time.Millisecond)
	_, err = browse.Resolve(ctx, "Nobody._timezone._tcp.local.", opts)
	cancel()
	if err != nil {
		res.Missing = err.Error()
	}

	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	res.Types, err = browse.Enumerate(ctx, opts)
	cancel()
	if err != nil {
		res.EnumerateErr = err.Error()
	}

	b, err := browse.NewBrowser(context.Background(), []string{"timezone"}, opts)
	if err == nil {
		time.Sleep(300 * time.Millisecond)
		_ = b.Close()
	}

	res.After = runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); res.After > res.Before && time.Now().Before(deadline); res.After = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if res.After > res.Before {
		buf := make([]byte, 1<<20)
		res.Stack = string(buf[:runtime.Stack(buf, true)])
	}
	b2, _ := json.Marshal(res)
	brPrintf("RESULT %s", b2)
	return 0
}

// brReady waits for a helper's READY line (failing on FATAL).
func brReady(t *testing.T, ctx context.Context, p *lantest.Proc) string {
	t.Helper()
	line, err := p.WaitFor(ctx, regexp.MustCompile(`^(READY|FATAL)`))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "READY"), line)
	return line
}

// brAnnounced waits for lansd announce to print its announced line.
func brAnnounced(t *testing.T, ctx context.Context, p *lantest.Proc) {
	t.Helper()
	_, err := p.WaitFor(ctx, regexp.MustCompile(`^announced "`))
	require.NoError(t, err, "%q", p.Lines())
}

// brSend makes the raw sender multicast m and waits until it is sent.
func brSend(t *testing.T, ctx context.Context, p *lantest.Proc, n int, m *dns.Msg) {
	t.Helper()
	b, err := m.Pack()
	require.NoError(t, err)
	require.NoError(t, p.WriteLine("SEND "+hex.EncodeToString(b)))
	_, err = p.WaitFor(ctx, regexp.MustCompile(`^(SENT `+strconv.Itoa(n)+`|FATAL)$`))
	require.NoError(t, err)
	require.NotContains(t, strings.Join(p.Lines(), "\n"), "FATAL")
}

// brResponse builds an mDNS response holding rrs.
func brResponse(rrs ...dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	m.Answer = rrs
	return m
}

// brRR parses a record in presentation form, failing the test on error.
func brRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	require.NoError(t, err, s)
	return rr
}

// brFlush sets the cache-flush bit on rr (RFC 6762 section 10.2).
func brFlush(rr dns.RR) dns.RR {
	rr.Header().Class |= 1 << 15
	return rr
}

// brExitCode waits for p to exit and returns its status.
func brExitCode(t *testing.T, ctx context.Context, p *lantest.Proc) int {
	t.Helper()
	_ = p.Wait(ctx)
	require.True(t, p.Exited(), "process did not exit: %q", p.Lines())
	return p.ExitCode()
}
