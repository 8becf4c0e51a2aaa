package announce_test

import (
	"context"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

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

// A gateway publishes on its interface eth0.20 a printer it learnt on
// another link: the printer's host name and routable address, TTLs never
// beyond what its source still holds, and the TXT record and expiry
// refreshed as the source's records are. A name someone on eth0.20
// already uses is withdrawn there, never renamed. (No output: it needs a
// network.)
func ExampleResponder_AddProxy() {
	ctx := context.Background()
	r, err := announce.New(ctx, announce.Options{HostName: "gateway"})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	rec, err := txt.ParseArgs([]string{"rp=ipp/print", "ty=Lab Printer"})
	if err != nil {
		log.Fatal(err)
	}
	opts := announce.ProxyOptions{
		Interfaces: []string{"eth0.20"},
		HostAddrs:  []netip.Addr{netip.MustParseAddr("198.51.100.20")},
		Expires:    time.Now().Add(120 * time.Second), // when the source's records run out
	}
	h, err := r.AddProxy(ctx, announce.Service{Instance: "Lab Printer", Type: "_ipp._tcp", Port: 631, Host: "printer.local.", TXT: rec}, opts)
	if err != nil {
		log.Fatal(err) // refused, or withdrawn from every interface (the reasons)
	}
	// The source refreshed its records: move the expiry.
	opts.Expires = time.Now().Add(120 * time.Second)
	if err := h.UpdateProxy(ctx, rec, opts); err != nil {
		log.Print(err)
	}
	for ev := range h.Events() {
		log.Printf("%s: %s (%s)", ev.Kind, ev.New, ev.Reason) // e.g. conflict, withdrawn
	}
	log.Printf("no longer published: %v", h.Err())
}
