package wide

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/sd"
)

// The steps of a claim, one by one, on dns.Msg values: no network.

// claimRecs returns the records of officeTZ in tz.example.net.
func claimRecs(t *testing.T) *Records {
	t.Helper()
	recs, err := BuildRecords(officeTZ(t), RecordOptions{Zone: regZone, HostName: "h1", Addrs: []netip.Addr{regAddr4}})
	require.NoError(t, err)
	return recs
}

// rrOf parses a zone-file line.
func rrOf(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	require.NoError(t, err, s)
	return rr
}

// prereq is a prerequisite as the tests describe it.
type prereq struct {
	name  string
	class uint16
	typ   uint16
	rdata bool // carries rdata (value dependent)
}

func prereqs(m *dns.Msg) []prereq {
	var out []prereq
	for _, rr := range m.Answer {
		h := rr.Header()
		_, isANY := rr.(*dns.ANY)
		out = append(out, prereq{h.Name, h.Class, h.Rrtype, !isANY})
	}
	return out
}

func TestClaimUpdate(t *testing.T) {
	recs := claimRecs(t)
	inst := recs.Instance
	for _, c := range []struct {
		name string
		own  ownership
		want []prereq
	}{
		{"name free (RFC 2136 section 2.4.5)", ownership{},
			[]prereq{{inst, dns.ClassNONE, dns.TypeANY, false}}},
		{"our SRV and TXT there (section 2.4.2)", ours,
			[]prereq{{inst, dns.ClassINET, dns.TypeSRV, true}, {inst, dns.ClassINET, dns.TypeTXT, true}}},
		{"our SRV there, no TXT (section 2.4.3)", ownership{owned: true, srv: true},
			[]prereq{{inst, dns.ClassINET, dns.TypeSRV, true}, {inst, dns.ClassNONE, dns.TypeTXT, false}}},
		{"our TXT there, no SRV", ownership{owned: true, txt: true},
			[]prereq{{inst, dns.ClassNONE, dns.TypeSRV, false}, {inst, dns.ClassINET, dns.TypeTXT, true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := claimUpdate("tz.example.net.", time.Hour, c.own, recs)
			assert.Equal(t, dns.OpcodeUpdate, m.Opcode)
			require.Len(t, m.Question, 1)
			assert.Equal(t, "tz.example.net.", m.Question[0].Name, "the zone section")
			assert.Equal(t, dns.TypeSOA, m.Question[0].Qtype)
			assert.Equal(t, c.want, prereqs(m))
			for _, rr := range m.Answer {
				assert.Zero(t, rr.Header().Ttl, "prerequisites have TTL 0")
			}
			// Every record added, class IN, with its TTL (section 2.5.1).
			require.Len(t, m.Ns, len(recs.RRs()))
			for i, rr := range recs.RRs() {
				assert.Equal(t, rr.String(), m.Ns[i].String())
			}
			ul := leaseOption(m)
			require.NotNil(t, ul, "the Update Lease option (RFC 9664)")
			assert.Equal(t, uint32(3600), ul.Lease)
		})
	}
	assert.Nil(t, leaseOption(claimUpdate("tz.example.net.", 0, ours, recs)), "no lease, no option")
	assert.Equal(t, uint16(dns.ClassINET), recs.SRV.Hdr.Class, "the records given are not changed")
	assert.Equal(t, uint32(120), recs.SRV.Hdr.Ttl)
}

func TestClaimTXTUpdateAndRemovals(t *testing.T) {
	recs := claimRecs(t)
	updated := *recs
	updated.TXT = rrOf(t, `Office\ TZ._timezone._tcp.tz.example.net. 120 IN TXT "path=/v2"`).(*dns.TXT)

	m := txtUpdate("tz.example.net.", time.Hour, recs, &updated)
	inst := recs.Instance
	assert.Equal(t, []prereq{{inst, dns.ClassINET, dns.TypeSRV, true}, {inst, dns.ClassINET, dns.TypeTXT, true}}, prereqs(m))
	require.Len(t, m.Ns, 2)
	assert.Equal(t, uint16(dns.ClassNONE), m.Ns[0].Header().Class, "the old TXT RR deleted (RFC 2136 section 2.5.4)")
	assert.Equal(t, []string{"path=/tz"}, m.Ns[0].(*dns.TXT).Txt)
	assert.Equal(t, uint16(dns.ClassINET), m.Ns[1].Header().Class, "the new one added")
	assert.Equal(t, []string{"path=/v2"}, m.Ns[1].(*dns.TXT).Txt)
	assert.NotNil(t, leaseOption(m))

	m = removal("tz.example.net.", recs.instanceRRs())
	assert.Empty(t, m.Answer)
	require.Len(t, m.Ns, 4, "PTR, subtype PTR, SRV, TXT")
	for _, rr := range m.Ns {
		assert.Equal(t, uint16(dns.ClassNONE), rr.Header().Class, "one RR at a time, not the RRset: %s", rr)
		assert.Zero(t, rr.Header().Ttl)
	}
	assert.Nil(t, leaseOption(m), "a removal asks no lease")

	m = enumerationRemoval("tz.example.net.", recs)
	assert.Equal(t, []prereq{{"_timezone._tcp.tz.example.net.", dns.ClassNONE, dns.TypePTR, false}}, prereqs(m),
		"only if no instance of the type is left (section 2.4.3)")
	require.Len(t, m.Ns, 1)
	assert.Equal(t, "_services._dns-sd._udp.tz.example.net.", m.Ns[0].Header().Name)
	assert.Equal(t, uint16(dns.ClassNONE), m.Ns[0].Header().Class)
}

func TestClassifyUpdate(t *testing.T) {
	for _, c := range []struct {
		rcode int
		want  updateOutcome
	}{
		{dns.RcodeSuccess, updateApplied},
		{dns.RcodeYXDomain, updateNotAsPresumed},
		{dns.RcodeYXRrset, updateNotAsPresumed},
		{dns.RcodeNXRrset, updateNotAsPresumed},
		{dns.RcodeRefused, updateFailed},
		{dns.RcodeNotAuth, updateFailed},
		{dns.RcodeNotZone, updateFailed},
		{dns.RcodeServerFailure, updateFailed},
		{dns.RcodeNameError, updateFailed},
	} {
		resp := new(dns.Msg)
		resp.Rcode = c.rcode
		assert.Equal(t, c.want, classifyUpdate(resp), dns.RcodeToString[c.rcode])
	}
}

func TestJudgeName(t *testing.T) {
	recs := claimRecs(t)
	srv := recs.SRV.String()
	txt := recs.TXT.String()
	const inst = `Office\ TZ._timezone._tcp.tz.example.net.`
	otherSRV := inst + " 300 IN SRV 0 0 9999 other.tz.example.net."
	otherTXT := inst + ` 300 IN TXT "path=/other"`
	for _, c := range []struct {
		name       string
		srvs, txts []string
		want       ownership
		existing   int
	}{
		{"nothing there", nil, nil, ownership{}, 0},
		{"exactly ours", []string{srv}, []string{txt}, ours, 2},
		{"ours with other TTLs and letter case", []string{`OFFICE\ TZ._timezone._TCP.tz.example.net. 7 IN SRV 0 0 8080 H1.TZ.example.net.`},
			[]string{inst + ` 9 IN TXT "path=/tz"`}, ours, 2},
		{"our SRV, no TXT", []string{srv}, nil, ownership{owned: true, srv: true}, 1},
		{"our TXT, no SRV", nil, []string{txt}, ownership{owned: true, txt: true}, 1},
		{"another SRV", []string{otherSRV}, []string{otherTXT}, ownership{}, 2},
		{"our TXT, another SRV", []string{otherSRV}, []string{txt}, ownership{}, 2},
		{"ours and another SRV", []string{srv, otherSRV}, []string{txt}, ownership{}, 3},
		{"TXT value differs in case", []string{srv}, []string{inst + ` 120 IN TXT "PATH=/tz"`}, ownership{}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var srvs, txts []dns.RR
			for _, s := range c.srvs {
				srvs = append(srvs, rrOf(t, s))
			}
			for _, s := range c.txts {
				txts = append(txts, rrOf(t, s))
			}
			existing, own := judgeName(recs, srvs, txts)
			assert.Equal(t, c.want, own)
			assert.Len(t, existing, c.existing)
		})
	}
}

func TestNextMove(t *testing.T) {
	some := []dns.RR{rrOf(t, "x.tz.example.net. 60 IN SRV 0 0 1 thief.tz.example.net.")}
	for _, c := range []struct {
		name     string
		found    ownership
		existing []dns.RR
		empties  int
		noRename bool
		want     move
	}{
		{"ours: adopt", ours, some, 0, false, moveAdopt},
		{"ours, NoRename: adopt", ownership{owned: true, txt: true}, some, 2, true, moveAdopt},
		{"nothing there: retry", ownership{}, nil, 0, false, moveRetry},
		{"nothing there again: retry", ownership{}, nil, 1, true, moveRetry},
		{"still nothing there: someone else's", ownership{}, nil, 2, false, moveRename},
		{"still nothing there, NoRename", ownership{}, nil, 2, true, moveConflict},
		{"someone else's: rename", ownership{}, some, 0, false, moveRename},
		{"someone else's, NoRename: conflict", ownership{}, some, 0, true, moveConflict},
	} {
		assert.Equal(t, c.want, nextMove(c.found, c.existing, c.empties, c.noRename), c.name)
	}
	assert.Equal(t, "other records", heldBy(nil))
	assert.Equal(t, "SRV 0 0 1 thief.tz.example.net.", heldBy(some))
}

// planTestRegistrar returns a registrar that sends nothing in these tests.
func planTestRegistrar(t *testing.T, noRename bool) *Registrar {
	t.Helper()
	r, err := NewRegistrar(RegistrarOptions{Domain: regZone, Server: "127.0.0.1:9", HostName: "h1",
		Addrs: []netip.Addr{regAddr4}, NoRename: noRename, Logger: regLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = r.call(func() {
			r.st.closed = true
			clear(r.st.entries) // the owner ends
		})
	})
	return r
}

// planEntry returns an entry for officeTZ, taken in.
func planEntry(t *testing.T, r *Registrar) *entry {
	t.Helper()
	zs, err := prepareService(officeTZ(t), r.zone, r.hostName, r.addrs, r.ttl, r.registry)
	require.NoError(t, err)
	reg := newRegistration(zs.p.Registered, zs.instanceName(zs.label))
	e := &entry{r: r, reg: reg, x: &exchanger{server: "127.0.0.1:9", zone: r.zone}, svc: zs, label: zs.label}
	reg.e = e
	require.True(t, r.admit(e))
	return e
}

// plan runs planClaim on the owner.
func plan(t *testing.T, r *Registrar, e *entry, c *claimState) (*Records, []dns.RR, int, error) {
	t.Helper()
	var (
		recs *Records
		ask  []dns.RR
		wait []chan struct{}
		err  error
	)
	require.NoError(t, r.call(func() { recs, ask, wait, err = r.planClaim(e, c) }))
	return recs, ask, len(wait), err
}

func TestPlanClaim(t *testing.T) {
	r := planTestRegistrar(t, false)
	first, second := planEntry(t, r), planEntry(t, r)

	// The first claim asks the TTL of every shared RRset: the PTRs and
	// the host's address.
	c1 := &claimState{}
	recs, ask, waits, err := plan(t, r, first, c1)
	require.NoError(t, err)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", recs.Instance)
	var asked []string
	for _, rr := range ask {
		asked = append(asked, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
	}
	assert.Equal(t, []string{
		"_services._dns-sd._udp.tz.example.net. PTR",
		"_timezone._tcp.tz.example.net. PTR",
		"_eu._sub._timezone._tcp.tz.example.net. PTR",
		"h1.tz.example.net. A",
	}, asked)
	assert.Zero(t, waits)

	// Another service meanwhile waits for those lookups; its name is
	// taken by the first, so it is renamed at once.
	c2 := &claimState{own: ours}
	recs2, ask2, waits2, err := plan(t, r, second, c2)
	require.NoError(t, err)
	assert.Equal(t, "Office TZ (2)._timezone._tcp.tz.example.net.", recs2.Instance)
	assert.Empty(t, ask2)
	assert.Equal(t, 4, waits2)
	assert.Equal(t, ownership{}, c2.own, "a new name is presumed free")
	assert.Equal(t, `name "Office TZ._timezone._tcp.tz.example.net." is already registered by this registrar`, c2.reason)
	assert.Equal(t, 1, c2.steps)

	// The lookups end: the type PTR RRset exists with TTL 3600, the
	// others do not. The next plan adopts that TTL and asks nothing.
	require.NoError(t, r.call(func() {
		for _, rr := range ask {
			slot := r.st.ttls[ttlKey(rr.Header().Name, rr.Header().Rrtype)]
			slot.known = true
			if rr.Header().Rrtype == dns.TypePTR && rr.Header().Name == "_timezone._tcp.tz.example.net." {
				slot.exists, slot.ttl = true, 3600
			}
			close(slot.asking)
			slot.asking = nil
		}
	}))
	recs, ask, waits, err = plan(t, r, first, c1)
	require.NoError(t, err)
	assert.Empty(t, ask)
	assert.Zero(t, waits)
	assert.Equal(t, uint32(3600), recs.PTR.Hdr.Ttl, "an RRset's TTL is the zone's")
	assert.Equal(t, uint32(120), recs.ServicesPTR.Hdr.Ttl)
	assert.Equal(t, uint32(120), recs.SRV.Hdr.Ttl, "the instance's own records keep ours")
	assert.Equal(t, 0, c1.steps, "planning sends nothing")

	// Closed: nothing more is sent.
	require.NoError(t, r.call(func() { r.st.closed = true }))
	_, _, _, err = plan(t, r, first, c1)
	assert.ErrorIs(t, err, ErrClosed)
}

func TestPlanClaimNoRenameWithin(t *testing.T) {
	r := planTestRegistrar(t, true)
	first, second := planEntry(t, r), planEntry(t, r)
	_, _, _, err := plan(t, r, first, &claimState{})
	require.NoError(t, err)
	_, _, _, err = plan(t, r, second, &claimState{})
	var ce *ConflictError
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Local)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", ce.Name)
	assert.True(t, errors.Is(err, ErrNameConflict))
}

func TestCommitClaim(t *testing.T) {
	r := planTestRegistrar(t, false)
	e := planEntry(t, r)
	c := &claimState{asked: e.reg.Name()}
	recs, _, _, err := plan(t, r, e, c)
	require.NoError(t, err)
	require.NoError(t, r.commitClaim(e, c, recs, time.Minute))
	renamed, _ := e.reg.Renamed()
	assert.False(t, renamed)
	assert.Empty(t, e.reg.Events(), "no event for the name asked for")

	// A claim that ended under another name renames the registration.
	require.NoError(t, r.call(func() { e.label = "Office TZ (2)" }))
	c = &claimState{asked: e.reg.Name(), reason: "name taken by someone"}
	recs, _, _, err = plan(t, r, e, c)
	require.NoError(t, err)
	require.NoError(t, r.commitClaim(e, c, recs, 0))
	assert.Equal(t, "Office TZ (2)._timezone._tcp.tz.example.net.", e.reg.Name())
	renamed, why := e.reg.Renamed()
	assert.True(t, renamed)
	assert.Equal(t, "name taken by someone", why)
	ev := <-e.reg.Events()
	assert.Equal(t, sd.Renamed, ev.Kind)
	assert.Equal(t, "Office TZ._timezone._tcp.tz.example.net.", ev.Old)
	require.NoError(t, r.call(func() {
		assert.Same(t, recs, e.recs)
		assert.Zero(t, e.granted)
	}))
}
