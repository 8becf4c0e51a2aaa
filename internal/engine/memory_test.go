package engine

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/registry"
)

// hostInstances returns count instances of one host as lansd announce
// publishes them: PTR, SRV, TXT and NSEC per instance, then the host's A,
// AAAA and NSEC.
func hostInstances(count int) [][]dns.RR {
	var out [][]dns.RR
	for i := range count {
		name := fmt.Sprintf("Office TZ %d._timezone._tcp.local.", i)
		nsec := &dns.NSEC{Hdr: hdr(name, dns.TypeNSEC, 120, true), NextDomain: name, TypeBitMap: []uint16{dns.TypeTXT, dns.TypeSRV}}
		out = append(out, []dns.RR{
			ptrRR("_timezone._tcp.local.", name, 4500),
			srvRR(name, "h1.local.", uint16(9000+i%50000), 120),
			txtRR(name, 4500, "tzdist=/.well-known/timezone"),
			nsec,
		})
	}
	out = append(out, []dns.RR{aRR("h1.local.", "198.51.100.11", 120), aaaaRR("h1.local.", "fe80::1", 120)})
	return out
}

// BenchmarkCacheMemory measures the engine's memory per cached instance:
// the heap after a browser of _timezone._tcp has cached and reported
// memInstances instances of one host (four records each), less the heap
// before, per instance ("B/instance"), after a GC. b.N repetitions.
func BenchmarkCacheMemory(b *testing.B) {
	const memInstances = 10000
	pkts := hostInstances(memInstances)
	if os.Getenv("ENGINE_MEM_FAKE") == "1" { // one host per instance, as a spoofer's
		pkts = pkts[:0]
		for i := range memInstances {
			pkts = append(pkts, fakeInstance(i, 120))
		}
	}
	bt, _ := ParseType("timezone", registry.Builtin())
	var per float64
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		e := New(Config{Asker: &recAsker{}, MaxRecords: 100000})
		e.AddType(bt, t0)
		now := t0
		for _, p := range pkts {
			putFrom(e, 2, honestAddr, now, p...)
		}
		e.Settle(now.Add(time.Second))
		for {
			if _, n := e.NextEvent(); n == 0 {
				break
			}
			e.EventSent()
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		if got := len(e.Instances()); got != memInstances {
			b.Fatalf("%d instances, want %d", got, memInstances)
		}
		per = float64(m1.HeapAlloc-m0.HeapAlloc) / memInstances
		if path := os.Getenv("ENGINE_HEAP_PROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			_ = pprof.WriteHeapProfile(f)
			_ = f.Close()
		}
		runtime.KeepAlive(e)
	}
	b.ReportMetric(per, "B/instance")
}

// At the default bounds, a link where one host announces 10,000 instances
// fits: every instance is cached and reported, nothing is dropped by the
// per-source bound or rate (fairness.go), nothing is evicted.
func TestDefaultBoundFitsTenThousandInstancesOfOneHost(t *testing.T) {
	e := New(Config{Asker: &recAsker{}})
	bt, _ := ParseType("timezone", registry.Builtin())
	e.AddType(bt, t0)
	for _, p := range hostInstances(10000) {
		putFrom(e, 2, honestAddr, t0, p...)
	}
	e.Settle(t0.Add(time.Second))
	if got := len(e.Instances()); got != 10000 {
		t.Fatalf("%d instances, want 10000", got)
	}
	st := e.Stats()
	if st.DroppedBound != 0 || st.DroppedRate != 0 || st.Evicted != 0 {
		t.Fatalf("dropped %d (bound) %d (rate), evicted %d", st.DroppedBound, st.DroppedRate, st.Evicted)
	}
}
