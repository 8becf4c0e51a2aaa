package bench

// Helper processes: one browser and one announcer per Go library, and the
// legacy-unicast query load generator. They run only in processes that
// lantest's guard started inside a test namespace; guarded() checks that
// again before any socket is opened. Every timestamp they print is
// CLOCK_MONOTONIC in nanoseconds (mono).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/brutella/dnssd"
	dnssdlog "github.com/brutella/dnssd/log"
	"github.com/grandcat/zeroconf"
	hmdns "github.com/hashicorp/mdns"
	"github.com/miekg/dns"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/txt"
)

func init() {
	lantest.RegisterHelper("bench-browse", helperBrowse)
	lantest.RegisterHelper("bench-announce", helperAnnounce)
	lantest.RegisterHelper("bench-query", helperQuery)
}

// benchType is the service type every benchmark publishes and browses.
const benchType = "_timezone._tcp"

// guarded exits unless this process is a guarded child still inside the
// namespace lantest proved.
func guarded() {
	ns, ok := lantest.InNamespace()
	if !ok {
		fmt.Fprintln(os.Stderr, "bench helper: refusing: not in a guarded namespace")
		os.Exit(lantest.GuardExitCode)
	}
	if err := lantest.Guard(ns); err != nil {
		fmt.Fprintln(os.Stderr, "bench helper: refusing:", err)
		os.Exit(lantest.GuardExitCode)
	}
}

var outMu sync.Mutex

func outf(format string, a ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf(format+"\n", a...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// firstLabel returns the instance label of a full instance name.
func firstLabel(name string) string {
	if i := strings.Index(name, "."); i >= 0 {
		return name[:i]
	}
	return name
}

// helperBrowse browses _timezone._tcp with library LIB (lansd, grandcat,
// hashicorp, dnssd, avahi) on lan0 until SIGTERM or DURATION (default 60s).
// It prints "START ts" just before the library's browse call, then "ADD ts
// label" when an instance is first reported complete and "REMOVE ts label"
// when it is reported gone (libraries that have no removal never print it).
// With ADDRS=1, lansd and avahi also print "ADDRS ts label a,b,..." with the
// instance's addresses each time the library reports them (lansd: every add
// and update event; avahi-browse: every resolved "=" line, one address). LIB=avahi runs
// `avahi-browse -r -p -k` against the avahi-daemon of this host, on the
// D-Bus named by AVAHI_BUS (bench/avahi_test.go starts both).
func helperBrowse() int {
	guarded()
	d, err := time.ParseDuration(os.Getenv("DURATION"))
	if err != nil {
		d = 60 * time.Second
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, d)
	defer cancel2()
	ifc, err := net.InterfaceByName(lantest.Iface)
	if err != nil {
		outf("FATAL %v", err)
		return 1
	}
	withAddrs := os.Getenv("ADDRS") == "1"
	addrs := func(label string, a []string) {
		if withAddrs {
			outf("ADDRS %d %s %s", mono(), label, strings.Join(a, ","))
		}
	}
	seen := map[string]bool{}
	var seenMu sync.Mutex
	add := func(label string) {
		t := mono()
		seenMu.Lock()
		defer seenMu.Unlock()
		if !seen[label] {
			seen[label] = true
			outf("ADD %d %s", t, label)
		}
	}
	rmv := func(label string) {
		t := mono()
		seenMu.Lock()
		defer seenMu.Unlock()
		if seen[label] {
			delete(seen, label)
			outf("REMOVE %d %s", t, label)
		}
	}
	defer startProfile()()
	switch lib := os.Getenv("LIB"); lib {
	case "lansd":
		outf("START %d", mono())
		b, err := browse.NewBrowser(ctx, []string{benchType}, browse.Options{Interfaces: []string{lantest.Iface}, Logger: quiet()})
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		// The browser runs until Close; ctx bounds the run.
	events:
		for {
			select {
			case ev, ok := <-b.Events():
				if !ok {
					break events
				}
				switch ev.Kind {
				case browse.Add:
					add(ev.Instance.Instance)
					addrs(ev.Instance.Instance, addrStrings(ev.Instance.Addrs))
				case browse.Update:
					addrs(ev.Instance.Instance, addrStrings(ev.Instance.Addrs))
				case browse.Remove:
					rmv(ev.Instance.Instance)
				}
			case <-ctx.Done():
				break events
			}
		}
		_ = b.Close()
	case "grandcat":
		outf("START %d", mono())
		r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{*ifc}))
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		entries := make(chan *zeroconf.ServiceEntry, 64)
		if err := r.Browse(ctx, benchType, "local.", entries); err != nil {
			outf("FATAL %v", err)
			return 1
		}
		for e := range entries {
			if e.TTL == 0 {
				rmv(e.Instance)
			} else {
				add(e.Instance)
			}
		}
	case "hashicorp":
		// hashicorp/mdns has one-shot queries only (Query with a timeout):
		// browsing is a Query repeated back to back, 1 s each, the way
		// applications use it.
		outf("START %d", mono())
		entries := make(chan *hmdns.ServiceEntry, 256)
		go func() {
			for e := range entries {
				if e.Port > 0 && (e.AddrV4 != nil || e.AddrV6 != nil) {
					add(firstLabel(e.Name))
				}
			}
		}()
		for ctx.Err() == nil {
			p := hmdns.DefaultParams(benchType)
			p.Domain = "local"
			p.Timeout = time.Second
			p.Interface = ifc
			p.Entries = entries
			p.Logger = log.New(io.Discard, "", 0)
			if err := hmdns.QueryContext(ctx, p); err != nil && ctx.Err() == nil {
				outf("FATAL %v", err)
				return 1
			}
		}
	case "dnssd":
		dnssdlog.Info.SetOutput(io.Discard)
		outf("START %d", mono())
		err := dnssd.LookupType(ctx, benchType+".local.",
			func(e dnssd.BrowseEntry) { add(e.Name) },
			func(e dnssd.BrowseEntry) { rmv(e.Name) })
		if err != nil && ctx.Err() == nil {
			outf("FATAL %v", err)
			return 1
		}
	case "avahi":
		// avahi-browse resolves each instance once per interface and
		// protocol ("=" lines) and frees its resolver: it reports no
		// later change of an instance's address.
		cmd := exec.CommandContext(ctx, "stdbuf", "-oL", "-eL", "avahi-browse", "-r", "-p", "-k", benchType)
		cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+os.Getenv("AVAHI_BUS"))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		outf("START %d", mono())
		if err := cmd.Start(); err != nil {
			outf("FATAL %v", err)
			return 1
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), ";", 10)
			if len(f) < 6 {
				continue
			}
			label := dnsname.UnescapeLabel(f[3])
			switch {
			case f[0] == "=" && len(f) == 10:
				// One line per protocol the instance was browsed over,
				// each with the one address Avahi resolved (either
				// family, whatever the protocol).
				if f[2] == "IPv4" {
					add(label)
				}
				addrs(label, []string{f[7]})
			case f[0] == "-":
				rmv(label)
			}
		}
		_ = cmd.Wait()
	default:
		outf("FATAL unknown LIB %q", lib)
		return 1
	}
	outf("DONE %d", mono())
	return 0
}

// addrStrings formats addresses for an ADDRS line.
func addrStrings(a []netip.Addr) []string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = x.String()
	}
	return s
}

// instanceNames returns the COUNT instance labels of an announcer: NAME
// itself for one, NAME-i for more.
func instanceNames(prefix string, count int) []string {
	if count <= 1 {
		return []string{prefix}
	}
	names := make([]string, count)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return names
}

// helperAnnounce publishes COUNT (default 1) instances of _timezone._tcp
// named NAME (or NAME-i) on ports 9000+i with TXT path=/bench, with library
// LIB on lan0 (lansd with ANY_IFACE=1: on every interface, those that come
// later included, as lansd announce does by default). It prints "REG ts" just before the first registration call
// and "READY ts" when the library's calls have returned. SIGTERM shuts the
// library down the way it does on exit (lansd and dnssd send goodbyes),
// prints "BYE ts" and exits 0.
func helperAnnounce() int {
	guarded()
	count, _ := strconv.Atoi(os.Getenv("COUNT"))
	count = max(count, 1)
	names := instanceNames(os.Getenv("NAME"), count)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	ctx := context.Background()
	ifc, err := net.InterfaceByName(lantest.Iface)
	if err != nil {
		outf("FATAL %v", err)
		return 1
	}
	host, _ := os.Hostname()
	var stopProfile func()
	if os.Getenv("PROFILE_ALL") == "1" { // from the start, not from READY
		stopProfile = startProfile()
	}
	var shutdown func()
	switch lib := os.Getenv("LIB"); lib {
	case "lansd":
		outf("REG %d", mono())
		rec, err := txt.ParseArgs([]string{"path=/bench"})
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		services := make([]announce.Service, count)
		for i, n := range names {
			services[i] = announce.Service{Instance: n, Type: benchType, Port: uint16(9000 + i), TXT: rec}
		}
		// As lansd announce does: the services are probed together with
		// the host name, and New returns once all are announced.
		opts := announce.Options{Interfaces: []string{lantest.Iface}, Logger: quiet(), Services: services}
		if os.Getenv("ANY_IFACE") == "1" {
			opts.Interfaces = nil
		}
		r, err := announce.New(ctx, opts)
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		shutdown = func() { _ = r.Close() }
	case "grandcat":
		outf("REG %d", mono())
		var srvs []*zeroconf.Server
		for i, n := range names {
			s, err := zeroconf.Register(n, benchType, "local.", 9000+i, []string{"path=/bench"}, []net.Interface{*ifc})
			if err != nil {
				outf("FATAL %v", err)
				return 1
			}
			srvs = append(srvs, s)
		}
		shutdown = func() {
			for _, s := range srvs {
				s.Shutdown()
			}
		}
	case "hashicorp":
		addrs, err := ifc.Addrs()
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		var ips []net.IP
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				ips = append(ips, n.IP)
			}
		}
		outf("REG %d", mono())
		var srvs []*hmdns.Server
		for i, n := range names {
			z, err := hmdns.NewMDNSService(n, benchType, "local.", host+".local.", 9000+i, ips, []string{"path=/bench"})
			if err != nil {
				outf("FATAL %v", err)
				return 1
			}
			s, err := hmdns.NewServer(&hmdns.Config{Zone: z, Iface: ifc, Logger: log.New(io.Discard, "", 0)})
			if err != nil {
				outf("FATAL %v", err)
				return 1
			}
			srvs = append(srvs, s)
		}
		shutdown = func() {
			for _, s := range srvs {
				_ = s.Shutdown()
			}
		}
	case "dnssd":
		dnssdlog.Info.SetOutput(io.Discard)
		outf("REG %d", mono())
		rp, err := dnssd.NewResponder()
		if err != nil {
			outf("FATAL %v", err)
			return 1
		}
		for i, n := range names {
			sv, err := dnssd.NewService(dnssd.Config{
				Name: n, Type: benchType, Domain: "local", Port: 9000 + i,
				Text: map[string]string{"path": "/bench"}, Ifaces: []string{lantest.Iface},
			})
			if err != nil {
				outf("FATAL %v", err)
				return 1
			}
			if _, err := rp.Add(sv); err != nil {
				outf("FATAL %v", err)
				return 1
			}
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = rp.Respond(rctx)
		}()
		shutdown = func() {
			cancel()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
			}
		}
	default:
		outf("FATAL unknown LIB %q", lib)
		return 1
	}
	outf("READY %d", mono())
	if stopProfile == nil {
		stopProfile = startProfile()
	}
	<-sigs
	stopProfile()
	shutdown()
	outf("BYE %d", mono())
	return 0
}

// helperQuery sends legacy unicast queries (RFC 6762 section 6.7: from an
// ephemeral port, not 5353) to DST (host:port) as fast as answers return,
// WINDOW (default 1) outstanding at a time, each asking SRV of NAME-i for i
// cycling through COUNT instances, for DURATION (default 5s) or MAX queries
// (default 1,000,000), whichever comes first. A query unanswered within
// 250 ms is counted lost and replaced. It prints "LOAD sent answered lost
// elapsed_ns".
func helperQuery() int {
	guarded()
	dst, err := net.ResolveUDPAddr("udp4", os.Getenv("DST"))
	if err != nil {
		outf("FATAL %v", err)
		return 1
	}
	count, _ := strconv.Atoi(os.Getenv("COUNT"))
	count = max(count, 1)
	window, _ := strconv.Atoi(os.Getenv("WINDOW"))
	window = max(window, 1)
	maxQ, _ := strconv.Atoi(os.Getenv("MAX"))
	if maxQ <= 0 {
		maxQ = 1000000
	}
	d, err := time.ParseDuration(os.Getenv("DURATION"))
	if err != nil {
		d = 5 * time.Second
	}
	names := instanceNames(os.Getenv("NAME"), count)
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		outf("FATAL %v", err)
		return 1
	}
	defer c.Close()
	var (
		sent, answered, lost int
		nextID               uint16
		outstanding          = map[uint16]time.Time{}
		buf                  = make([]byte, 9000)
	)
	send := func() error {
		nextID++
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(names[sent%len(names)]+"."+benchType+".local"), dns.TypeSRV)
		m.Id = nextID
		m.RecursionDesired = false
		b, err := m.Pack()
		if err != nil {
			return err
		}
		if _, err := c.WriteToUDP(b, dst); err != nil {
			return err
		}
		outstanding[nextID] = time.Now()
		sent++
		return nil
	}
	start := time.Now()
	end := start.Add(d)
	for time.Now().Before(end) && sent < maxQ {
		for len(outstanding) < window && sent < maxQ {
			if err := send(); err != nil {
				outf("FATAL %v", err)
				return 1
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			m := new(dns.Msg)
			if m.Unpack(buf[:n]) == nil && m.Response {
				if _, ok := outstanding[m.Id]; ok && len(m.Answer) > 0 {
					delete(outstanding, m.Id)
					answered++
				}
			}
		}
		for id, t := range outstanding {
			if time.Since(t) > 250*time.Millisecond {
				delete(outstanding, id)
				lost++
			}
		}
	}
	outf("LOAD %d %d %d %d", sent, answered, lost, time.Since(start).Nanoseconds())
	return 0
}

// startProfile starts a CPU profile written to $CPUPROFILE when set, and
// returns the function that stops it and writes a heap profile (after a
// GC) to $MEMPROFILE when set, with the runtime's memory statistics on a
// "MEMSTATS" line.
func startProfile() (stop func()) {
	var f *os.File
	if path := os.Getenv("CPUPROFILE"); path != "" {
		var err error
		if f, err = os.Create(path); err != nil {
			outf("FATAL %v", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			outf("FATAL %v", err)
			os.Exit(1)
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			_ = f.Close()
		}
		if path := os.Getenv("MEMPROFILE"); path != "" {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			outf("MEMSTATS heap_inuse=%d heap_sys=%d stack_inuse=%d sys=%d goroutines=%d",
				ms.HeapInuse, ms.HeapSys, ms.StackInuse, ms.Sys, runtime.NumGoroutine())
			if mf, err := os.Create(path); err == nil {
				_ = pprof.WriteHeapProfile(mf)
				_ = mf.Close()
			}
		}
	}
}
