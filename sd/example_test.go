package sd_test

import (
	"fmt"
	"net/netip"

	"github.com/lansd/lansd/sd"
)

// found is a Browser that has found some instances and stopped: its
// events are their Add events, and it is quiet.
type found struct {
	ins    []sd.Instance
	events chan sd.Event
	quiet  chan struct{}
}

func newFound(ins ...sd.Instance) *found {
	f := &found{ins: ins, events: make(chan sd.Event, len(ins)), quiet: make(chan struct{})}
	for _, in := range ins {
		f.events <- sd.Event{Kind: sd.Add, Instance: in}
	}
	close(f.events)
	close(f.quiet)
	return f
}

func (f *found) Events() <-chan sd.Event  { return f.events }
func (f *found) Quiet() <-chan struct{}   { return f.quiet }
func (f *found) Instances() []sd.Instance { return f.ins }
func (f *found) Stats() sd.Stats          { return sd.Stats{Instances: len(f.ins)} }
func (f *found) Err() error               { return nil }
func (f *found) Close() error             { return nil }

// Merge browses the link and a unicast DNS zone as one: here two Browsers
// that have already found their instances stand for a *browse.Browser and
// a browser of the zone.
func ExampleMerge() {
	link := newFound(sd.Instance{
		Name: `Office TZ._timezone._tcp.local.`, Host: "h2.local.", Port: 8080,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.12")},
	})
	zone := newFound(
		sd.Instance{Name: `Lab TZ._timezone._tcp.tz.example.net.`, Host: "h7.tz.example.net.", Port: 8080},
		sd.Instance{Name: `Hall TZ._timezone._tcp.tz.example.net.`, Host: "h8.tz.example.net.", Port: 80},
	)
	b := sd.Merge(link, zone)
	defer b.Close()

	// The events of both, until both have stopped (or use b.Quiet()).
	n := 0
	for ev := range b.Events() {
		if ev.Kind == sd.Add {
			n++
		}
	}
	if err := b.Err(); err != nil {
		fmt.Println("browsing:", err)
		return
	}
	fmt.Printf("%d added, %d instances\n", n, b.Stats().Instances)
	for _, in := range b.Instances() {
		fmt.Printf("%s at %s:%d\n", in.Name, in.Host, in.Port)
	}
	// Output:
	// 3 added, 3 instances
	// Hall TZ._timezone._tcp.tz.example.net. at h8.tz.example.net.:80
	// Lab TZ._timezone._tcp.tz.example.net. at h7.tz.example.net.:8080
	// Office TZ._timezone._tcp.local. at h2.local.:8080
}
