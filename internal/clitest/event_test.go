package clitest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/clitest"
	"github.com/lansd/lansd/internal/lantest"
)

// badLine is lansd browse --json's line for an instance with a finding, a
// boolean attribute, a duplicate key (written once) and a value that is not
// UTF-8 (cmd/lansd's TestBrowseJSONOutput).
const badLine = `{"event":"add","instance":"Bad","service":"_jnx-kcsync._tcp","domain":"local.",` +
	`"host":"h2.local.","port":8080,"addrs":["198.51.100.12","fe80::2%lan0"],` +
	`"txt":{"hash":"5e7580598c0d7064d4fc79faaeb42585e1a675f","flag":true,"Salt":"a","bin":"\\xff"},` +
	`"iface":["lan0"],"ttl":120,"conforms":false,` +
	`"findings":[{"key":"hash","offset":0,"rule":"jnx-kcsync: hash=<40hex characters>","reason":"39 hex digits","severity":"error"}],` +
	`"name":"Bad._jnx-kcsync._tcp.local.","registered":"jnx-kcsync","time":"2025-05-01T10:00:00Z"}`

// line returns a well-formed event line of kind for instance.
func line(kind, instance string) string {
	return strings.Replace(strings.Replace(badLine, `"event":"add"`, `"event":"`+kind+`"`, 1),
		`"instance":"Bad"`, `"instance":"`+instance+`"`, 1)
}

func TestDecode(t *testing.T) {
	ev, err := clitest.Decode(badLine)
	require.NoError(t, err)
	assert.Equal(t, "add", ev.Event)
	assert.Equal(t, "Bad", ev.Instance)
	assert.Equal(t, "_jnx-kcsync._tcp", ev.Service)
	assert.Equal(t, "local.", ev.Domain)
	assert.Equal(t, "h2.local.", ev.Host)
	assert.Equal(t, uint16(8080), ev.Port)
	assert.Equal(t, []string{"198.51.100.12", "fe80::2%lan0"}, ev.Addrs)
	assert.Equal(t, []string{"lan0"}, ev.Iface)
	assert.Equal(t, int64(120), ev.TTL)
	assert.False(t, ev.Conforms)
	assert.Equal(t, []clitest.Finding{{Key: "hash", Offset: 0, Rule: "jnx-kcsync: hash=<40hex characters>", Reason: "39 hex digits", Severity: "error"}}, ev.Findings)
	assert.Equal(t, "Bad._jnx-kcsync._tcp.local.", ev.Name)
	assert.Equal(t, "jnx-kcsync", ev.Registered)
	assert.True(t, ev.Time.Equal(time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)), ev.Time)

	// The TXT object in its order; true is a boolean attribute; the \xHH
	// text of a value that is not UTF-8 stays text.
	assert.Equal(t, `"hash=5e7580598c0d7064d4fc79faaeb42585e1a675f" "flag" "Salt=a" "bin=\\xff"`, ev.TXT.String())
	require.Len(t, ev.TXT.Items, 4)
	assert.False(t, ev.TXT.Items[1].HasValue)
	assert.Equal(t, "a", ev.TXTValue("salt"), "a client's lookup")
	assert.Empty(t, ev.TXTValue("flag"))
	assert.Empty(t, ev.TXTValue("none"))

	ev, err = clitest.Decode(strings.Replace(badLine, `"txt":{"hash":"5e7580598c0d7064d4fc79faaeb42585e1a675f","flag":true,"Salt":"a","bin":"\\xff"}`, `"txt":{}`, 1))
	require.NoError(t, err)
	assert.Empty(t, ev.TXT.Items, "no TXT strings")
}

// Anything but the schema lansd writes is an error naming the line.
func TestDecodeIsStrict(t *testing.T) {
	for _, c := range []struct{ name, from, to string }{
		{"member missing", `"registered":"jnx-kcsync",`, ``},
		{"member added", `"ttl":120,`, `"ttl":120,"extra":1,`},
		{"members reordered", `"domain":"local.","host":"h2.local.",`, `"host":"h2.local.","domain":"local.",`},
		{"null member", `"addrs":["198.51.100.12","fe80::2%lan0"]`, `"addrs":null`},
		{"wrong type", `"port":8080`, `"port":"8080"`},
		{"port out of range", `"port":8080`, `"port":70000`},
		{"bad time", `"time":"2025-05-01T10:00:00Z"`, `"time":"yesterday"`},
		{"txt an array", `"txt":{"hash":"5e7580598c0d7064d4fc79faaeb42585e1a675f","flag":true,"Salt":"a","bin":"\\xff"}`, `"txt":["path=/tz"]`},
		{"txt false", `"flag":true`, `"flag":false`},
		{"txt number", `"Salt":"a"`, `"Salt":1`},
		{"txt nested", `"Salt":"a"`, `"Salt":{}`},
		{"finding member unknown", `"severity":"error"`, `"severity":"error","hint":""`},
		{"data after the object", `"time":"2025-05-01T10:00:00Z"}`, `"time":"2025-05-01T10:00:00Z"} {}`},
		{"not an object", badLine, `["add"]`},
		{"truncated", `"time":"2025-05-01T10:00:00Z"}`, `"time":"2025-05-01T10:00:00Z"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(badLine, c.from, c.to, 1)
			require.NotEqual(t, badLine, bad)
			_, err := clitest.Decode(bad)
			var de *clitest.DecodeError
			require.True(t, errors.As(err, &de), "%v", err)
			assert.Equal(t, bad, de.Line)
			assert.Contains(t, err.Error(), bad)
		})
	}
}

func TestEventsAndSelect(t *testing.T) {
	lines := []string{
		"time=2025-05-01T10:00:00Z level=WARN msg=x",
		line("add", "A"),
		line("add", "B"),
		"",
		line("remove", "A"),
	}
	evs := clitest.Events(t, lines)
	require.Len(t, evs, 3)
	kinds := func(evs []clitest.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.Event+" "+e.Instance)
		}
		return out
	}
	assert.Equal(t, []string{"add A", "add B", "remove A"}, kinds(evs))
	assert.Equal(t, []string{"add A", "remove A"}, kinds(clitest.Select(evs, "", "A")))
	assert.Equal(t, []string{"add A", "add B"}, kinds(clitest.Select(evs, "add", "")))
	assert.Equal(t, []string{"remove A"}, kinds(clitest.Select(evs, "remove", "A")))
	assert.Empty(t, clitest.Select(evs, "update", ""))

	out := line("add", "A") + "\n" + line("remove", "A") + "\n"
	assert.Equal(t, []string{"add A", "remove A"}, kinds(clitest.Output(t, out)))
	assert.Empty(t, clitest.Output(t, ""))
}

// WaitEvent finds an event by kind, instance and predicate in the output
// of a process (here sh in a namespace, printing lines as told), and fails
// on a JSON line that is not an event.
func TestWaitEvent(t *testing.T) {
	lan := lantest.New(t, lantest.Hosts(1))
	ctx := lantest.Context(t, 30*time.Second)
	p := lan.Hosts[0].Start(t, "sh", "-c", `while read -r l; do printf '%s\n' "$l"; done`)
	require.NoError(t, p.WriteLine("log line"))
	require.NoError(t, p.WriteLine(line("add", "A")))
	require.NoError(t, p.WriteLine(line("update", "A")))

	ev, err := clitest.WaitEvent(ctx, p, "update", "A", nil)
	require.NoError(t, err)
	assert.Equal(t, "update", ev.Event)

	// A later event, by predicate.
	later := strings.Replace(line("update", "A"), `"port":8080`, `"port":9090`, 1)
	go func() { time.Sleep(100 * time.Millisecond); _ = p.WriteLine(later) }()
	ev, err = clitest.WaitEvent(ctx, p, "update", "A", func(e clitest.Event) bool { return e.Port == 9090 })
	require.NoError(t, err)
	assert.Equal(t, uint16(9090), ev.Port)

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = clitest.WaitEvent(short, p, "remove", "A", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), `no remove event for "A"`)

	require.NoError(t, p.WriteLine(`{"event":"remove","instance":"A"}`))
	_, err = clitest.WaitEvent(ctx, p, "remove", "A", nil)
	var de *clitest.DecodeError
	require.ErrorAs(t, err, &de, "a JSON line that is not an event fails the wait")
}
