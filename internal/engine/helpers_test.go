package engine

// Record builders and a recording Asker for the engine's tests.

import (
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
)

func hdr(name string, rrtype uint16, ttl uint32, flush bool) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if flush {
		class |= dnsname.CacheFlush
	}
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: class, Ttl: ttl}
}

func ptrRR(owner, target string, ttl uint32) *dns.PTR {
	return &dns.PTR{Hdr: hdr(owner, dns.TypePTR, ttl, false), Ptr: target}
}

func srvRR(name, target string, port uint16, ttl uint32) *dns.SRV {
	return &dns.SRV{Hdr: hdr(name, dns.TypeSRV, ttl, true), Target: target, Port: port}
}

func txtRR(name string, ttl uint32, strs ...string) *dns.TXT {
	return &dns.TXT{Hdr: hdr(name, dns.TypeTXT, ttl, true), Txt: strs}
}

func aRR(name, addr string, ttl uint32) *dns.A {
	return &dns.A{Hdr: hdr(name, dns.TypeA, ttl, true), A: net.ParseIP(addr).To4()}
}

func aaaaRR(name, addr string, ttl uint32) *dns.AAAA {
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl, true), AAAA: net.ParseIP(addr)}
}

// call is one call the engine made on its Asker.
type call struct {
	Method string
	Args   string
	Now    time.Time
}

// recAsker records the engine's calls; interfaces are named "eth<index>".
type recAsker struct{ calls []call }

func (a *recAsker) Browse(name string, now time.Time, learnt bool) {
	a.calls = append(a.calls, call{"Browse", fmt.Sprintf("%s learnt=%v", name, learnt), now})
}

func (a *recAsker) Resolve(qs []Question, now time.Time) {
	s := ""
	for i, q := range qs {
		if i > 0 {
			s += " "
		}
		s += q.Name + "/" + dns.TypeToString[q.Type]
	}
	a.calls = append(a.calls, call{"Resolve", s, now})
}

func (a *recAsker) Refresh(q Question, now time.Time) {
	a.calls = append(a.calls, call{"Refresh", q.Name + "/" + dns.TypeToString[q.Type], now})
}

func (a *recAsker) IfaceName(index int) string { return fmt.Sprintf("eth%d", index) }

// take returns the calls recorded since the last take.
func (a *recAsker) take() []call {
	out := a.calls
	a.calls = nil
	return out
}

// methods returns "Method Args" of calls.
func methods(cs []call) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Method+" "+c.Args)
	}
	return out
}
