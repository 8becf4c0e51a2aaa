package browse

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/engine"
	"github.com/lansd/lansd/internal/mdnstest"
)

// spoofFlood has spoofer send n distinct fake _timezone._tcp instances
// (PTR, SRV, TXT, A: one packet each) over d, waiting for the browser every
// 100 packets; at the middle, honest announces Office TZ and the time is
// returned.
func spoofFlood(t *testing.T, spoofer, honest *mdnstest.Host, n int, d time.Duration) (announced time.Time) {
	const batch = 100
	for i := range n {
		name := fmt.Sprintf("fake%d._timezone._tcp.local.", i)
		host := fmt.Sprintf("fake%d.local.", i)
		m := mdnstest.Response(mdnstest.PTR("_timezone._tcp.local.", name, 4500), mdnstest.SRV(name, host, 8080, 120),
			mdnstest.TXT(name, 4500, "path=/"), mdnstest.A(host, "198.51.100.76", 120))
		spoofer.Send(t, m)
		if i == n/2 && honest != nil {
			announced = time.Now()
			honest.Send(t, tzInstance(120))
		}
		if i%batch == batch-1 {
			synctest.Wait()
			time.Sleep(d / time.Duration(n/batch))
		}
	}
	synctest.Wait()
	return announced
}

// Issue 12: a host floods the link with fake instances; an honest host
// announces one in the middle. The honest instance is found as fast as
// without the flood and never removed; the spoofer is held to its share
// of the cache and what it loses is counted.
func TestSpoofFloodKeepsHonestInstance(t *testing.T) {
	// How long the honest instance takes to be found on a quiet link.
	var quiet time.Duration
	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		honest := tr.l.NewHost("honest", 2)
		_, log := browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		at := time.Now()
		honest.Send(t, tzInstance(120))
		synctest.Wait()
		evs := log.all()
		require.Len(t, evs, 1)
		quiet = evs[0].Time.Sub(at)
	})

	synctest.Test(t, func(t *testing.T) {
		tr := newFake(t)
		spoofer := tr.l.NewHost("spoofer", 66) // 198.51.100.76
		honest := tr.l.NewHost("honest", 2)    // 198.51.100.12
		b, log := browseFake(t, []string{"timezone"}, Options{}, tr)
		time.Sleep(200 * time.Millisecond)
		const n = 20000
		at := spoofFlood(t, spoofer, honest, n, 20*time.Second)

		var honestEvs []Event
		adds, removes := 0, 0
		for _, ev := range log.all() {
			if ev.Instance.Instance == "Office TZ" {
				honestEvs = append(honestEvs, ev)
				continue
			}
			switch ev.Kind {
			case Add:
				adds++
			case Remove:
				removes++
			}
		}
		require.Len(t, honestEvs, 1, "added once, never removed")
		assert.Equal(t, Add, honestEvs[0].Kind)
		assert.Equal(t, quiet, honestEvs[0].Time.Sub(at), "found as fast as on a quiet link")
		assert.Equal(t, "198.51.100.12", honestEvs[0].Instance.Addrs[0].String())

		st := b.Stats()
		share := engine.DefaultMaxRecords / engine.DefaultSourceShare
		assert.LessOrEqual(t, st.Records, share+5, "the spoofer holds at most its share")
		assert.Equal(t, uint64(n*4), uint64(st.Records-5)+st.DroppedRate+st.DroppedBound, "every record is cached or counted")
		assert.Zero(t, st.Evicted)
		assert.Equal(t, 2, st.Sources)
		assert.Equal(t, (st.Records-5)/4, adds)
		assert.Zero(t, removes, "no fake instance flaps either")
	})
}
