package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/sd"
)

// TestWarmBrowseQuietAfterCached: through a warm type, the stream's quiet
// line comes after the add line of every cached instance, so that lansd
// browse --once prints them all.
func TestWarmBrowseQuietAfterCached(t *testing.T) {
	fb := &fakeBrowsers{}
	s := testServer(t, Options{}, newFakePub(), fb)
	ctx := context.Background()
	c1, err := Dial(ctx, s.Socket())
	require.NoError(t, err)
	defer c1.Close()
	b1, err := c1.Browse(ctx, []string{"timezone"}, BrowseOptions{})
	require.NoError(t, err)
	fake := fb.all()[0]
	const n = 20
	for i := range n {
		fake.events <- sd.Event{Kind: sd.Add, Instance: instance(fmt.Sprint("I", i), uint16(i+1)), Time: time.Now()}
		<-b1.Events()
	}
	close(fake.quiet)
	<-b1.Quiet()

	for try := range 20 {
		nc, err := net.Dial("unix", s.Socket())
		require.NoError(t, err)
		_, err = nc.Write([]byte(`{"id":1,"op":"browse","types":["timezone"]}` + "\n"))
		require.NoError(t, err)
		sc := bufio.NewScanner(nc)
		adds := 0
		for sc.Scan() {
			var r Response
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
			if r.JSONEvent != nil {
				adds++
			}
			if r.Quiet {
				break
			}
		}
		require.Equal(t, n, adds, "try %d: every cached instance before the quiet line", try)
		nc.Close()
	}
}
