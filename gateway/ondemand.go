package gateway

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Queries on demand (RFC 8766: a discovery proxy that gets a
// query asks the link it proxies for at once). A question received on an
// interface of a destination link (announce.Options.OnQuestion: not a
// probe, not one of the gateway's own queries) for a service type, a
// subtype, or the type enumeration, that a rule proxies to that link
// makes the gateway's browser of each of the rule's source links ask its
// question for that type there now, rather than at its next continuous
// query (whose interval grows to 60 minutes, RFC 6762 section 5.2).
//
// Bounds: at most one query on demand per question per source link per
// OnDemandInterval, counting the browser's own queries of that question
// (browse.Browser.QueryNow sends none within a second of the last one);
// questions arriving faster than the gateway takes them are dropped
// (onDemandBuffer). So two gateways between the same links cannot keep
// each other asking: gateway 1's query on link A is a query on gateway
// 2's destination link A, which may make gateway 2 ask on link B, which
// is a query on gateway 1's destination link B; but gateway 1 asked that
// type on B less than a second before (the query that started it, or its
// answer to it), and asks nothing. A chain of queries on demand ends once
// every gateway has asked once.

// OnDemandInterval is the least time between two queries on demand for
// one question on one source link.
const OnDemandInterval = time.Second

// onDemandBuffer is how many received questions wait for the on-demand
// goroutine; more are dropped.
const onDemandBuffer = 256

// maxOnDemandMemory bounds the rate limiter's table: past it, entries
// older than OnDemandInterval are forgotten.
const maxOnDemandMemory = 4096

// heard is the responder's callback (announce.Options.OnQuestion): it
// hands the question over without blocking, dropping it when the
// on-demand goroutine lags.
func (g *Gateway) heard(q announce.ReceivedQuestion) {
	if q.Type != dns.TypePTR && q.Type != dns.TypeANY {
		return
	}
	select {
	case g.asks <- q:
	default:
	}
}

// onDemandKey is a question on a source link.
type onDemandKey struct{ link, name string }

// onDemand decides the queries on demand; its state belongs to the
// goroutine running Gateway.onDemand.
type onDemand struct {
	cfg  *Config
	pol  *Policy
	last map[onDemandKey]time.Time
}

// ask is a query on demand to send: name on source link.
type ask struct{ link, name string }

// plan returns the queries on demand that question q, received at now,
// calls for, within the rate limit: for each source link whose rules
// proxy q's type to the link q arrived on, q's name (a type, a subtype or
// the enumeration name, in the local. domain), and for a subtype its base
// type too (a rule of the base type browses that). Nothing when q's
// interface is not on a destination link, or no rule proxies its type
// there.
func (o *onDemand) plan(q announce.ReceivedQuestion, now time.Time) []ask {
	if q.Type != dns.TypePTR && q.Type != dns.TypeANY {
		return nil
	}
	to, ok := o.cfg.LinkOf(q.Iface)
	if !ok {
		return nil
	}
	names, typ := questionTypes(q.Name)
	if len(names) == 0 {
		return nil
	}
	var out []ask
	for _, from := range o.pol.SourcesFor(to, typ) {
		k := onDemandKey{from, dnsname.MustKey(names[0])}
		if t, ok := o.last[k]; ok && now.Sub(t) < OnDemandInterval {
			continue
		}
		if len(o.last) >= maxOnDemandMemory {
			for k, t := range o.last {
				if now.Sub(t) >= OnDemandInterval {
					delete(o.last, k)
				}
			}
		}
		o.last[k] = now
		for _, n := range names {
			out = append(out, ask{link: from, name: n})
		}
	}
	return out
}

// questionTypes reads a question's name: the PTR question names to ask
// (the name, and for a subtype its base type) and the type to give
// Policy.SourcesFor; none when name is not a service type, a subtype or
// the enumeration name in local.
func questionTypes(name string) ([]string, string) {
	if dnsname.Equal(name, sd.ServicesType+"."+dnsname.Local) {
		return []string{sd.ServicesType + "." + dnsname.Local}, sd.ServicesType
	}
	if !strings.HasSuffix(strings.ToLower(dns.Fqdn(name)), "."+dnsname.Local) {
		return nil, ""
	}
	t, err := registry.ParseType(name)
	if err != nil || t.Proto == "" || (t.Domain != "" && !dnsname.Equal(t.Domain, dnsname.Local)) {
		return nil, ""
	}
	base := registry.Type{Service: t.Service, Proto: t.Proto}.String() + "." + dnsname.Local
	typ := registry.Type{Service: t.Service, Proto: t.Proto, Subtype: t.Subtype}.String()
	if t.Subtype == "" {
		return []string{base}, typ
	}
	return []string{typ + "." + dnsname.Local, base}, typ
}

// onDemandView is what the on-demand goroutine works from: the
// configuration in force, its policy and the browsers of each source
// link. Reload replaces it (setOnDemand).
type onDemandView struct {
	cfg    *Config
	pol    *Policy
	byLink map[string][]*browse.Browser
}

// setOnDemand makes the on-demand goroutine work from cfg, pol and the
// running browsers (g.srcs). Under reloadMu, or in New.
func (g *Gateway) setOnDemand(cfg *Config, pol *Policy) {
	byLink := map[string][]*browse.Browser{}
	for _, id := range slices.Sorted(maps.Keys(g.srcs)) {
		src := g.srcs[id]
		byLink[src.link] = append(byLink[src.link], src.b)
	}
	g.odMu.Lock()
	g.od = onDemandView{cfg: cfg, pol: pol, byLink: byLink}
	g.odMu.Unlock()
}

// onDemand runs the queries on demand until the gateway closes.
func (g *Gateway) onDemand() {
	o := &onDemand{last: map[onDemandKey]time.Time{}}
	for {
		select {
		case <-g.ctx.Done():
			return
		case q := <-g.asks:
			g.odMu.Lock()
			view := g.od
			g.odMu.Unlock()
			o.cfg, o.pol = view.cfg, view.pol
			byLink := view.byLink
			for _, a := range o.plan(q, time.Now()) {
				for _, b := range byLink[a.link] {
					if b.QueryNow(a.name) {
						g.log.Debug("gateway: query on demand", "name", a.name, "on", a.link,
							"heard", q.Name, "if", q.Iface, "src", q.Src)
					}
				}
			}
		}
	}
}
