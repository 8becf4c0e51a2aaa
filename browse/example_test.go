package browse_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/lansd/lansd/browse"
)

// Follow the time-zone servers on the link until Ctrl-C, printing each
// change with its conformance verdict. (No output: it needs a network.)
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := browse.Browse(ctx, []string{"timezone"}, browse.Options{}, func(ev browse.Event) {
		in := ev.Instance
		fmt.Printf("%s %s at %s:%d %v %s conforms=%v\n",
			ev.Kind, in.Name, in.Host, in.Port, in.Addrs, in.TXT, in.Conforms())
		for _, f := range in.Report.Findings {
			fmt.Println("   ", f)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
}

// Resolve one instance by name, giving up after five seconds with an error
// that says what was never found.
func ExampleResolve() {
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	in, err := browse.Resolve(ctx, "Office TZ._timezone._tcp.local.", browse.Options{})
	if err != nil {
		log.Fatal(err) // e.g. browse: resolving "...": no TXT record: context deadline exceeded
	}
	fmt.Println(in.Host, in.Port, in.Addrs, in.TXT)
}

// Run a browser for ten seconds and print the instances it found. The
// context given to NewBrowser bounds only opening the transport; the
// browser runs until Close.
func ExampleNewBrowser() {
	b, err := browse.NewBrowser(context.Background(), []string{"timezone"}, browse.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	stop := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-b.Events():
			if !ok {
				log.Fatal(b.Err())
			}
			fmt.Println(ev.Kind, ev.Instance.Name)
		case <-stop:
			fmt.Println(len(b.Instances()), "instances")
			return
		}
	}
}
