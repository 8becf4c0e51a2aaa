package announce_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/txt"
)

// A small daemon: claim the host name, publish one service, log what
// happens to it, and say goodbye on SIGINT or SIGTERM. (No output: it
// needs a network.)
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r, err := announce.New(ctx, announce.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close() // goodbye packets for every record

	rec, err := txt.ParseArgs([]string{"path=/tz"})
	if err != nil {
		log.Fatal(err)
	}
	h, err := r.Add(ctx, announce.Service{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: rec})
	if err != nil {
		log.Fatal(err) // e.g. a *announce.ValidationError naming the TXT finding
	}
	log.Printf("published %s on host %s", h.Name(), r.HostName())
	for {
		select {
		case ev, ok := <-h.Events():
			if !ok {
				return
			}
			log.Printf("%s: %s -> %s (%s)", ev.Kind, ev.Old, ev.New, ev.Reason)
		case <-ctx.Done():
			return
		}
	}
}

// Services known at start-up are probed together with the host name, in
// the same packets, and announced about one probing sequence (~1 s) after
// New is called. (No output: it needs a network.)
func ExampleOptions_services() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rec, err := txt.ParseArgs([]string{"path=/tz"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := announce.New(ctx, announce.Options{Services: []announce.Service{
		{Instance: "Office TZ", Type: "timezone", Port: 8080, TXT: rec},
		{Instance: "Lab TZ", Type: "timezone", Port: 8081, TXT: rec},
	}})
	if err != nil {
		log.Fatal(err) // a service that does not validate is refused before anything is sent
	}
	defer r.Close()
	for _, h := range r.Handles() {
		log.Printf("published %s", h.Name())
	}
	<-ctx.Done()
}
