package wide

import (
	"github.com/lansd/lansd/tsig"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BIND 9 does not implement the Update Lease option (RFC 9664), so the
// lease path is tested against a small server on 127.0.0.1 that grants
// leases: it accepts every signed UPDATE and answers every query with no
// records.

// leaseServer is an UPDATE server that grants a fixed lease.
type leaseServer struct {
	addr    string
	key     tsig.Key
	granted uint32 // lease granted, seconds; 0 grants none

	mu      sync.Mutex
	updates []*dns.Msg
	notify  chan struct{}
}

func startLeaseServer(t *testing.T, granted uint32) *leaseServer {
	t.Helper()
	ls := &leaseServer{
		key:     tsig.Key{Name: "lease-key.", Algorithm: dns.HmacSHA256, Secret: "bGVhc2Ugc2VydmVyIHNlY3JldCBmb3IgdGVzdHM="},
		granted: granted,
		notify:  make(chan struct{}, 100),
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ls.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: ls, UDPSize: 4096, TsigSecret: map[string]string{ls.key.Name: ls.key.Secret}}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	// miekg/dns answers NOTIMP to anything but queries unless told.
	srv.MsgAcceptFunc = func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ls
}

// ServeDNS answers one message.
func (ls *leaseServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	if req.IsTsig() == nil || w.TsigStatus() != nil {
		resp.Rcode = dns.RcodeNotAuth
		_ = w.WriteMsg(resp)
		return
	}
	if req.Opcode == dns.OpcodeUpdate {
		ls.mu.Lock()
		ls.updates = append(ls.updates, req.Copy())
		ls.mu.Unlock()
		if ls.granted > 0 {
			opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			opt.SetUDPSize(1232)
			opt.Option = append(opt.Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: ls.granted})
			resp.Extra = append(resp.Extra, opt)
		}
		select {
		case ls.notify <- struct{}{}:
		default:
		}
	}
	resp.SetTsig(ls.key.Name, ls.key.Algorithm, 300, time.Now().Unix())
	_ = w.WriteMsg(resp)
}

// entryView is what the registrar's owner knows of a registration.
type entryView struct {
	granted time.Duration // the lease granted
	timer   bool          // a refresh is scheduled
}

// ownerView asks the owner goroutine about reg's service.
func ownerView(t *testing.T, reg *Registration) entryView {
	t.Helper()
	var v entryView
	require.NoError(t, reg.e.r.call(func() { v = entryView{granted: reg.e.granted, timer: reg.e.timer != nil} }))
	return v
}

// updateLog returns the UPDATEs received so far.
func (ls *leaseServer) updateLog() []*dns.Msg {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return append([]*dns.Msg(nil), ls.updates...)
}

// leaseOption returns the Update Lease option of m, or nil.
func leaseOption(m *dns.Msg) *dns.EDNS0_UL {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if ul, ok := o.(*dns.EDNS0_UL); ok {
				return ul
			}
		}
	}
	return nil
}

func TestLeaseRequestedGrantedAndRefreshed(t *testing.T) {
	ls := startLeaseServer(t, 2) // a 2 s lease: refreshed after about 1.6 s
	r := newTestRegistrar(t, RegistrarOptions{
		Domain: "lease.example", Server: ls.addr, TSIG: ls.key,
		HostName: "h1", Addrs: []netip.Addr{regAddr4}, Logger: regLogger(t), Timeout: 2 * time.Second,
	})
	ctx := regCtx(t)
	h, err := r.Add(ctx, officeTZ(t))
	require.NoError(t, err)

	first := ls.updateLog()
	require.Len(t, first, 1, "one UPDATE registers the service")
	ul := leaseOption(first[0])
	require.NotNil(t, ul, "the UPDATE carries the Update Lease option")
	assert.Equal(t, uint32(DefaultLease/time.Second), ul.Lease, "2 h asked for")
	require.Len(t, first[0].Answer, 1)
	assert.Equal(t, uint16(dns.ClassNONE), first[0].Answer[0].Header().Class, "prerequisite: name not in use (RFC 2136 section 2.4.5)")
	assert.Equal(t, dns.TypeANY, first[0].Answer[0].Header().Rrtype)
	assert.Equal(t, 2*time.Second, ownerView(t, h).granted)

	// The refresh comes before the granted lease runs out. (A bounded
	// wait for an event, not a speed measurement.)
	select {
	case <-ls.notify: // the first UPDATE's notification
	default:
	}
	select {
	case <-ls.notify:
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh within 10 s of a 2 s lease")
	}
	log := ls.updateLog()
	require.GreaterOrEqual(t, len(log), 2)
	refresh := log[1]
	require.NotNil(t, leaseOption(refresh), "a refresh renews the lease")
	// A refresh asserts our SRV and TXT (RFC 2136 section 2.4.2) rather
	// than that the name is free.
	var types []uint16
	for _, rr := range refresh.Answer {
		assert.Equal(t, uint16(dns.ClassINET), rr.Header().Class)
		assert.Equal(t, uint32(0), rr.Header().Ttl)
		types = append(types, rr.Header().Rrtype)
	}
	assert.ElementsMatch(t, []uint16{dns.TypeSRV, dns.TypeTXT}, types)
	assert.Equal(t, len(first[0].Ns), len(refresh.Ns), "the same records again")
}

func TestLeaseNoLeaseOption(t *testing.T) {
	ls := startLeaseServer(t, 0)
	r := newTestRegistrar(t, RegistrarOptions{
		Domain: "lease.example", Server: ls.addr, TSIG: ls.key, Lease: -1,
		HostName: "h1", Addrs: []netip.Addr{regAddr4}, Logger: regLogger(t),
	})
	h, err := r.Add(regCtx(t), officeTZ(t))
	require.NoError(t, err)
	log := ls.updateLog()
	require.Len(t, log, 1)
	assert.Nil(t, leaseOption(log[0]), "Lease < 0 sends no lease option")
	assert.False(t, ownerView(t, h).timer, "and never refreshes")
}

func TestLeaseRefreshSchedule(t *testing.T) {
	for range 100 { // the jitter is random: check the bounds on many draws
		d := refreshAfter(0, DefaultLease, false)
		assert.GreaterOrEqual(t, d, DefaultLease*3/4, "no lease granted: about 80%% of the lease asked for")
		assert.LessOrEqual(t, d, DefaultLease*4/5)
		d = refreshAfter(10*time.Minute, DefaultLease, false)
		assert.GreaterOrEqual(t, d, 10*time.Minute*3/4, "a granted lease wins")
		assert.LessOrEqual(t, d, 10*time.Minute*4/5)
		assert.LessOrEqual(t, refreshAfter(0, DefaultLease, true), retryRefresh, "sooner after a failure")
		assert.Equal(t, minRefresh, refreshAfter(time.Second, DefaultLease, false), "never more often than once a second")
	}
}
