package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

func TestRegisterUpdateWithdrawDisconnect(t *testing.T) {
	pub := newFakePub()
	s := testServer(t, Options{}, pub, &fakeBrowsers{})
	ctx := context.Background()
	c, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	rec, err := txt.ParseArgs([]string{"path=/tz"})
	require.NoError(t, err)
	r1, err := c.Register(ctx, announce.Service{Instance: "One", Type: "_timezone._tcp", Port: 1, TXT: rec})
	require.NoError(t, err)
	assert.Equal(t, "One._timezone._tcp.local.", r1.Name())
	r2, err := c.Register(ctx, announce.Service{Instance: "Two", Type: "timezone", Port: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{`add One._timezone._tcp.local. port=1 "path=/tz"`, "add Two.timezone.local. port=2 "}, pub.take())

	// Status lists them, with their client.
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "h1.local.", st.Host)
	assert.Equal(t, 1, st.Clients)
	assert.Equal(t, []StatusService{{Name: "One._timezone._tcp.local.", Source: "client 1"}, {Name: "Two.timezone.local.", Source: "client 1"}}, st.Services)

	// Update: checked against the registry first.
	good, err := txt.ParseArgs([]string{"hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8", "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9", "uuid=db61dc092922252e45bbb264f59147138c7fd5fa"})
	require.NoError(t, err)
	kc, err := c.Register(ctx, announce.Service{Instance: "Keychain", Type: "jnx-kcsync", Port: 5000, TXT: good})
	require.NoError(t, err)
	pub.take()
	bad, err := txt.ParseArgs([]string{"hash=5e75", "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9", "uuid=db61dc092922252e45bbb264f59147138c7fd5fa"})
	require.NoError(t, err)
	err = kc.UpdateTXT(ctx, bad)
	var re *RefusedError
	require.ErrorAs(t, err, &re, "%v", err)
	assert.Contains(t, re.Problems[0], "service.txt:")
	assert.Empty(t, pub.take(), "nothing announced")
	require.NoError(t, kc.Withdraw(ctx))
	pub.take()
	rec2, err := txt.ParseArgs([]string{"path=/tz2"})
	require.NoError(t, err)
	require.NoError(t, r1.UpdateTXT(ctx, rec2))
	assert.Equal(t, []string{`txt One._timezone._tcp.local. "path=/tz2"`}, pub.take())

	require.NoError(t, r2.Withdraw(ctx))
	assert.Equal(t, []string{"remove Two.timezone.local."}, pub.take())
	assert.Error(t, r2.Withdraw(ctx), "withdrawn already")

	// Disconnecting withdraws the rest.
	require.NoError(t, c.Close())
	eventually(t, 2*time.Second, func() bool { return len(pub.names()) == 0 }, "not withdrawn: %q", pub.names())
	assert.Equal(t, []string{"remove One._timezone._tcp.local."}, pub.take())
}

func TestRegisterRefused(t *testing.T) {
	pub := newFakePub()
	s := testServer(t, Options{}, pub, &fakeBrowsers{})
	ctx := context.Background()
	c, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	defer c.Close()
	rec, err := txt.ParseArgs([]string{"hash=5e7580598c0d7064d4fc79faaeb42585e1a675f", "salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9", "uuid=db61dc092922252e45bbb264f59147138c7fd5fa"})
	require.NoError(t, err)
	_, err = c.Register(ctx, announce.Service{Instance: "Keychain", Type: "jnx-kcsync", Port: 5000, TXT: rec})
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.NotEmpty(t, re.Problems)
	assert.Contains(t, re.Problems[0], "service.txt:")
	assert.Contains(t, re.Problems[0], "found 39 hex digits")
	require.NotEmpty(t, re.Report.Findings)
	assert.Equal(t, "hash", re.Report.Findings[0].Key)
	assert.Empty(t, pub.take(), "nothing announced")

	// Raw protocol: fields named in the service object.
	nc, err := net.Dial("unix", s.Socket())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte(`{"id":7,"op":"register","service":{"name":"X","service":"timezone","port":"80","colour":1}}` + "\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(nc).ReadString('\n')
	require.NoError(t, err)
	var r Response
	require.NoError(t, json.Unmarshal([]byte(line), &r))
	assert.Equal(t, int64(7), r.ID)
	require.NotNil(t, r.OK)
	assert.False(t, *r.OK)
	assert.Contains(t, r.Problems, "service.colour: unknown field")
	assert.Contains(t, line, `service.port: must be a number`)
}

func TestServiceEncoding(t *testing.T) {
	rec := txt.Record{Items: []txt.Item{{Key: "bin", Value: []byte{0xff, 'A', '\\'}, HasValue: true}, {Key: "flag"}, {Key: "e", HasValue: true, Value: []byte{}}}}
	in := announce.Service{Instance: "A.b \\ c", Type: "_http._tcp", Subtypes: []string{"_printer"}, Port: 80, Host: "printer", Domain: "local.", TXT: rec}
	raw, err := EncodeService(in)
	require.NoError(t, err)
	out, err := DecodeService(raw)
	require.NoError(t, err)
	assert.Equal(t, in.Instance, out.Instance)
	assert.Equal(t, in.Subtypes, out.Subtypes)
	assert.Equal(t, in.Host, out.Host)
	w1, _ := in.TXT.Encode()
	w2, _ := out.TXT.Encode()
	assert.Equal(t, w1, w2, "the TXT record survives byte for byte")

	_, err = DecodeService(json.RawMessage(`{"name":"X","service":"timezone"}`))
	assert.ErrorContains(t, err, "service.port: missing")
	_, err = DecodeService(json.RawMessage(`[1]`))
	assert.ErrorContains(t, err, "service: must be an object")
	_, err = DecodeService(nil)
	assert.ErrorContains(t, err, "service: missing")
}

func TestEventLineRoundTrip(t *testing.T) {
	rec, err := txt.ParseArgs([]string{"path=/tz", "flag"})
	require.NoError(t, err)
	in := sd.Instance{Name: "Office TZ._timezone._tcp.local.", Instance: "Office TZ", Service: "_timezone._tcp", Domain: "local.",
		Host: "h2.local.", Port: 8080, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("fe80::2%lan0")},
		TXT: rec, Ifaces: []string{"lan0"}, Seen: []sd.Source{{Iface: "lan0", Family: sd.IPv4}, {Iface: "lan0", Family: sd.IPv6}},
		TTL: 120 * time.Second, Registered: "timezone",
		Report: txt.Report{Findings: []*txt.Error{{Severity: txt.Warning, Key: "flag", Offset: 9, Rule: "r", Reason: "why"}}}}
	at := time.Date(2026, 11, 25, 20, 36, 39, 5, time.UTC)
	line, err := sd.MarshalJSONLine(eventLine(3, "update", in, at))
	require.NoError(t, err)
	var r Response
	require.NoError(t, json.Unmarshal(line, &r))
	assert.Nil(t, r.OK)
	ev, err := decodeEvent(r)
	require.NoError(t, err)
	assert.Equal(t, sd.Update, ev.Kind)
	assert.True(t, at.Equal(ev.Time))
	assert.Equal(t, in.Addrs, ev.Instance.Addrs)
	assert.Equal(t, in.Seen, ev.Instance.Seen)
	assert.Equal(t, in.Report, ev.Instance.Report)
	assert.Equal(t, in.TXT.String(), ev.Instance.TXT.String())
	in.TXT, ev.Instance.TXT = txt.Record{}, txt.Record{}
	in.Report, ev.Instance.Report = txt.Report{}, txt.Report{}
	assert.Equal(t, in, ev.Instance)
	// The event members are those of lansd browse --json, in its order.
	assert.Regexp(t, `^\{"id":3,"event":"update","instance":"Office TZ","service":"_timezone._tcp","domain":"local.","host":"h2.local.","port":8080,"addrs":\["198.51.100.12","fe80::2%lan0"\],"txt":\{"path":"/tz","flag":true\},"iface":\["lan0"\],"ttl":120,"conforms":true,"findings":\[\{"key":"flag","offset":9,"rule":"r","reason":"why","severity":"warning"\}\],"name":"Office TZ._timezone._tcp.local.","registered":"timezone","time":"2026-11-25T20:36:39.000000005Z","seen":\["lan0/IPv4","lan0/IPv6"\]\}$`, string(line))
}

// instance returns an instance of _timezone._tcp named name.
func instance(name string, port uint16) sd.Instance {
	return sd.Instance{Name: name + "._timezone._tcp.local.", Instance: name, Service: "_timezone._tcp", Domain: "local.",
		Host: "h2.local.", Port: port, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.12")}, Ifaces: []string{"lan0"}, TTL: 120 * time.Second}
}

func TestBrowseSharesOneCache(t *testing.T) {
	fb := &fakeBrowsers{}
	s := testServer(t, Options{KeepWarm: 200 * time.Millisecond}, newFakePub(), fb)
	ctx := context.Background()
	c1, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	defer c1.Close()
	b1, err := c1.Browse(ctx, []string{"timezone"}, BrowseOptions{})
	require.NoError(t, err)
	require.Len(t, fb.all(), 1)
	fake := fb.all()[0]
	assert.Equal(t, []string{"_timezone._tcp"}, fake.types)
	fake.events <- sd.Event{Kind: sd.Add, Instance: instance("A", 1), Time: time.Now()}
	ev := <-b1.Events()
	assert.Equal(t, sd.Add, ev.Kind)
	assert.Equal(t, "A", ev.Instance.Instance)
	close(fake.quiet)
	<-b1.Quiet()

	// A second client, same type written otherwise: the same browser; what
	// it holds comes at once, and it is quiet at once.
	c2, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	defer c2.Close()
	at := time.Now()
	b2, err := c2.Browse(ctx, []string{"_timezone._tcp"}, BrowseOptions{})
	require.NoError(t, err)
	ev = <-b2.Events()
	<-b2.Quiet()
	t.Logf("warm browse: first event and quiet after %v", time.Since(at))
	assert.Equal(t, "A", ev.Instance.Instance)
	assert.Len(t, fb.all(), 1, "one browser for the host")
	st, err := c2.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Browsers, 1)
	assert.Equal(t, StatusBrowser{Type: "_timezone._tcp", Clients: 2}, st.Browsers[0])

	// Both see later events.
	fake.events <- sd.Event{Kind: sd.Update, Instance: instance("A", 2), Time: time.Now()}
	for _, b := range []sd.Browser{b1, b2} {
		ev := <-b.Events()
		assert.Equal(t, sd.Update, ev.Kind)
		assert.Equal(t, uint16(2), ev.Instance.Port)
		assert.Len(t, b.Instances(), 1)
	}

	// Resolve from the cache.
	found, err := c2.Resolve(ctx, "A._timezone._tcp.local.", false)
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, uint16(2), found[0].Port)

	// Closing both: the browser stays warm a while, then stops.
	require.NoError(t, b1.Close())
	require.NoError(t, b2.Close())
	eventually(t, 2*time.Second, func() bool {
		st, err := c2.Status(ctx)
		return err == nil && len(st.Browsers) == 1 && st.Browsers[0].Clients == 0
	}, "clients not released")
	select {
	case <-fake.closed:
		t.Fatal("stopped before KeepWarm")
	default:
	}
	select {
	case <-fake.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("not stopped after KeepWarm")
	}
}

func TestResolveNotCached(t *testing.T) {
	s := testServer(t, Options{}, newFakePub(), &fakeBrowsers{})
	s.resolver = func(ctx context.Context, name string, strict bool) ([]sd.Instance, error) {
		if name == "B._timezone._tcp.local." {
			return []sd.Instance{instance("B", 9)}, nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ctx := context.Background()
	c, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	defer c.Close()
	found, err := c.Resolve(ctx, "B._timezone._tcp", false)
	require.NoError(t, err)
	require.Len(t, found, 1)
	assert.Equal(t, uint16(9), found[0].Port)
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = c.Resolve(tctx, "Nobody._timezone._tcp", false)
	assert.Error(t, err)
}

func TestSecondDaemonRefused(t *testing.T) {
	s := testServer(t, Options{}, newFakePub(), &fakeBrowsers{})
	_, err := prepare(Options{Socket: s.Socket()})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrRunning), "%v", err)
	// The first one still answers.
	c, err := Dial(context.Background(), s.Socket())
	require.NoError(t, err)
	c.Close()
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "lansd.sock")
	require.NoError(t, os.WriteFile(path, nil, 0o600)) // a dead daemon's
	s := testServer(t, Options{Socket: path, SocketMode: 0o600}, newFakePub(), &fakeBrowsers{})
	fi, err := os.Stat(s.Socket())
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket, fi.Mode().Type())
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestCloseWithdrawsAndRemovesSocket(t *testing.T) {
	pub := newFakePub()
	path := filepath.Join(shortTempDir(t), "lansd.sock")
	s, err := prepare(Options{Socket: path})
	require.NoError(t, err)
	s.start(context.Background(), pub, (&fakeBrowsers{}).new)
	done := make(chan error)
	go func() { done <- s.Serve(context.Background()) }()
	c, err := Dial(context.Background(), path)
	require.NoError(t, err)
	_, err = c.Register(context.Background(), announce.Service{Instance: "A", Type: "timezone", Port: 1})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, <-done)
	assert.Contains(t, pub.take(), "close")
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "socket removed: %v", err)
	// The lock is free: a new daemon starts.
	s2, err := prepare(Options{Socket: path})
	require.NoError(t, err)
	s2.start(context.Background(), newFakePub(), (&fakeBrowsers{}).new)
	require.NoError(t, s2.Close())
}

func TestRegistrationEvents(t *testing.T) {
	pub := newFakePub()
	s := testServer(t, Options{}, pub, &fakeBrowsers{})
	ctx := context.Background()
	c, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	defer c.Close()
	reg, err := c.Register(ctx, announce.Service{Instance: "A", Type: "timezone", Port: 1})
	require.NoError(t, err)
	pub.mu.Lock()
	h := pub.live["A.timezone.local."]
	pub.mu.Unlock()
	at := time.Now().Add(time.Millisecond)
	time.Sleep(2 * time.Millisecond)
	h.events <- sd.RegistrationEvent{Kind: sd.Conflict, Old: "A.timezone.local.", New: "A.timezone.local.", Reason: "SRV record from 198.51.100.12", Time: time.Now()}
	h.events <- sd.RegistrationEvent{Kind: sd.Renamed, Old: "A.timezone.local.", New: "A (2).timezone.local.", Reason: "name conflict", Time: time.Now()}
	for _, want := range []sd.RegistrationEventKind{sd.Conflict, sd.Renamed} {
		select {
		case ev := <-reg.Events():
			assert.Equal(t, want, ev.Kind)
			assert.True(t, ev.Time.After(at))
			if want == sd.Renamed {
				assert.Equal(t, "A (2).timezone.local.", ev.New)
				assert.Equal(t, "name conflict", ev.Reason)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no %v event", want)
		}
	}
	require.NoError(t, reg.Withdraw(ctx))
	select {
	case _, ok := <-reg.Events():
		assert.False(t, ok, "closed once withdrawn")
	case <-time.After(2 * time.Second):
		t.Fatal("events not closed after Withdraw")
	}
}

func TestDaemonAnsweringWithoutLockRefused(t *testing.T) {
	s := testServer(t, Options{}, newFakePub(), &fakeBrowsers{})
	require.NoError(t, os.Remove(s.Socket()+".lock")) // a lock file deleted by hand
	_, err := prepare(Options{Socket: s.Socket()})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrRunning), "%v", err)
	c, err := Dial(context.Background(), s.Socket())
	require.NoError(t, err, "the first one's socket is left alone")
	c.Close()
}
