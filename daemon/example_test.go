package daemon_test

import (
	"context"
	"fmt"
	"log"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/daemon"
	"github.com/lansd/lansd/txt"
)

// A program publishes its service through the host's lansd daemon instead
// of running a responder of its own: the daemon probes and announces it,
// and withdraws it with goodbyes when the program's connection closes.
// It browses through the daemon's shared cache too.
func Example() {
	ctx := context.Background()
	c, err := daemon.Dial(ctx, daemon.DefaultSocket)
	if err != nil {
		log.Fatal(err) // no daemon: announce.New runs one in-process
	}
	defer c.Close() // goodbyes for what c registered

	rec, _ := txt.ParseArgs([]string{"path=/tz"})
	reg, err := c.Register(ctx, announce.Service{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: rec})
	if err != nil {
		log.Fatal(err) // a *daemon.RefusedError names the fields and TXT findings
	}
	fmt.Println("announced", reg.Name())

	b, err := c.Browse(ctx, []string{"timezone"}, daemon.BrowseOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	for ev := range b.Events() { // the cached instances first, then changes
		fmt.Println(ev.Kind, ev.Instance.Name, ev.Instance.Addrs, ev.Instance.Conforms())
	}
}

// A program runs the daemon itself (what lansd daemon does).
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := daemon.New(ctx, daemon.Options{
		ServicesDir:      daemon.DefaultServicesDir,
		AvahiServicesDir: "/etc/avahi/services",
		Socket:           daemon.DefaultSocket,
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, daemon.ErrRunning): another daemon runs
	}
	_ = daemon.Notify("READY=1")
	if err := s.Serve(ctx); err != nil { // until ctx ends; then goodbyes
		log.Fatal(err)
	}
}
