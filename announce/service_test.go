package announce

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

const (
	goodHash = "5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	goodSalt = "f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
	goodUUID = "db61dc092922252e45bbb264f59147138c7fd5fa"
)

func kcsync(t testing.TB, hash string) Service {
	t.Helper()
	rec, err := txt.ParseArgs([]string{"hash=" + hash, "salt=" + goodSalt, "uuid=" + goodUUID})
	require.NoError(t, err)
	return Service{Instance: "Keychain", Type: "_jnx-kcsync._tcp", Port: 5000, TXT: rec}
}

func TestAddRefusesInvalidUnlessNoValidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r := startOn(t, l.NewHost("h1", 1), Options{HostName: "h1"})
		l.Reset()
		_, err := r.Add(context.Background(), kcsync(t, goodHash[:39]))
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		var finding *txt.Error
		require.ErrorAs(t, err, &finding)
		assert.Equal(t, "hash", finding.Key)
		assert.True(t, strings.HasPrefix(err.Error(), `announce: service "Keychain" refused: TXT `), err.Error())
		assert.Empty(t, l.Packets(mdnstest.From("h1")), "nothing sent for a refused service")

		_, err = r.Add(context.Background(), Service{Instance: strings.Repeat("x", 64), Type: "_http._tcp", Port: 80})
		require.ErrorAs(t, err, &ve)

		_, err = r.Add(context.Background(), Service{Instance: "Far", Type: "_http._tcp", Domain: "example.com.", Port: 80})
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "Domain", fe.Field)
		assert.EqualError(t, err, `announce: service "Far" refused: Domain "example.com.": Multicast DNS publishes only in local. (RFC 6762 section 3)`)
	})
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r := startOn(t, l.NewHost("h1", 1), Options{HostName: "h1", NoValidate: true})
		hd, err := r.Add(context.Background(), kcsync(t, goodHash[:39]))
		require.NoError(t, err, "published anyway with NoValidate")
		assert.Equal(t, "Keychain._jnx-kcsync._tcp.local.", hd.Name())
		_, err = r.Add(context.Background(), Service{Instance: "Legacy", Type: "_contamac_icm._tcp", Port: 1})
		require.NoError(t, err, "a legacy service name with NoValidate")
		_, err = r.Add(context.Background(), Service{Instance: strings.Repeat("x", 64), Type: "_http._tcp", Port: 80})
		require.Error(t, err, "what cannot be encoded is refused even with NoValidate")
	})
}

func TestAddResolvesBareNameAndTypeSubtype(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r := startOn(t, l.NewHost("h1", 1), Options{HostName: "h1", Families: []sd.Family{sd.IPv4}})
		hd, err := r.Add(context.Background(), Service{Instance: "Clock", Type: "timezone", Port: 8080})
		require.NoError(t, err)
		assert.Equal(t, "Clock._timezone._tcp.local.", hd.Name())
		hd, err = r.Add(context.Background(), Service{Instance: "Laser", Type: "_printer._sub._http._tcp", Subtypes: []string{"color"}, Port: 80})
		require.NoError(t, err)
		assert.Equal(t, "Laser._http._tcp.local.", hd.Name())
		ann := l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer("Laser._http._tcp.local.", dns.TypeSRV))
		require.NotEmpty(t, ann)
		assert.NotNil(t, mdnstest.FindRR(ann[0].Msg.Answer, "_printer._sub._http._tcp.local.", dns.TypePTR))
		assert.NotNil(t, mdnstest.FindRR(ann[0].Msg.Answer, "_color._sub._http._tcp.local.", dns.TypePTR), "underscore added")
		hd, err = r.Add(context.Background(), Service{Instance: "Elsewhere", Type: "_http._tcp", Host: "printer", Port: 80})
		require.NoError(t, err)
		ann = l.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer(hd.Name(), dns.TypeSRV))
		require.NotEmpty(t, ann)
		assertName(t, "printer.local.", mdnstest.FindRR(ann[0].Msg.Answer, hd.Name(), dns.TypeSRV).(*dns.SRV).Target)
		assert.Nil(t, mdnstest.FindRR(ann[0].Msg.Extra, "h1.local.", dns.TypeA), "no addresses for a host that is not ours")
	})
}

func TestUpdateTXTReannounces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		rec, err := txt.ParseArgs([]string{"path=/tz2"})
		require.NoError(t, err)
		require.NoError(t, f.tz.UpdateTXT(context.Background(), rec))
		first := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, first, 1, "announced at once")
		tx := mdnstest.FindRR(first[0].Msg.Answer, tzInst, dns.TypeTXT)
		require.NotNil(t, tx)
		assert.Equal(t, []string{"path=/tz2"}, tx.(*dns.TXT).Txt)
		assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), tx.Header().Class, "cache-flush replaces the old data")
		time.Sleep(5 * time.Second)
		assert.Len(t, f.responses(mdnstest.Family(mdns.IPv4), mdnstest.HasAnswer(tzInst, dns.TypeTXT)), 3, "announced again like a new record (RFC 6762 section 8.4)")
		assert.Empty(t, f.l.Packets(mdnstest.From("h1"), mdnstest.IsProbe), "no probing for a data change")

		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(tzInst, dns.TypeTXT)))
		synctest.Wait()
		resp := f.responses(mdnstest.Family(mdns.IPv4))
		require.Len(t, resp, 1)
		assert.Equal(t, []string{"path=/tz2"}, resp[0].Msg.Answer[0].(*dns.TXT).Txt)

		bad, err := txt.ParseArgs([]string{"path=tz"})
		require.NoError(t, err)
		err = f.tz.UpdateTXT(context.Background(), bad)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, "a relative path is refused for _timezone")
	})
}

func TestTXTEncodingRoundTrip(t *testing.T) {
	// Arbitrary bytes in keys' values survive miekg/dns escaping.
	rec := txt.Record{Items: []txt.Item{
		{Key: "bin", Value: []byte{0, 1, '"', '\\', 0xff, ' '}, HasValue: true},
		{Key: "flag"},
	}}
	wire, err := rec.Encode()
	require.NoError(t, err)
	p, err := Service{Instance: "x", Type: "_http._tcp", Port: 1, TXT: rec}.PrepareEncodable("", nil)
	require.NoError(t, err)
	d, err := newSvcData(p)
	require.NoError(t, err)
	rr := d.txtRR("x._http._tcp.local.", 10)
	assert.Equal(t, wire, dnsname.Rdata(rr))
}

func TestNoGoroutinesLeft(t *testing.T) {
	// Real time, not a bubble: the responder's goroutines must all be gone
	// after Close.
	before := runtime.NumGoroutine()
	l := mdnstest.NewLink()
	r, err := start(context.Background(), Options{HostName: "h1", Logger: discard()}, l.NewHost("h1", 1), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hd, err := r.Add(ctx, tzService(t, "Office TZ"))
	require.NoError(t, err)
	go func() {
		for range hd.Events() {
		}
	}()
	require.NoError(t, r.Close())
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Close")
}

func TestHostLabel(t *testing.T) {
	for in, want := range map[string]string{"h1": "h1", "h1.local.": "h1", "H1.LOCAL": "H1"} {
		got, err := hostLabel(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, bad := range []string{"a.example.com", strings.Repeat("h", 64), "a\x01b", "\xff"} {
		_, err := hostLabel(bad)
		assert.Error(t, err, bad)
	}
	got, err := hostLabel("")
	require.NoError(t, err)
	assert.NotEmpty(t, got)
	assert.NotContains(t, got, ".")
}

func TestStartFailsCleanly(t *testing.T) {
	l := mdnstest.NewLink()
	h := l.NewHost("h1", 1)
	_, err := start(context.Background(), Options{HostName: "a.b.c"}, h, nil)
	require.Error(t, err)
	assert.True(t, h.Closed(), "transport closed on failure")

	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		h := mdnstest.NewLink().NewHost("h1", 1)
		_, err := start(ctx, Options{HostName: "h1", Logger: discard()}, h, nil)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded))
		assert.True(t, h.Closed())
	})
}

func TestInterfaceAddedReprobes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		b := mdnstest.NewLink()
		// Reported to the responder as internal/mdns reports an interface
		// joined at a rescan.
		f.h.Attach(b, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{f.h.Addr4().Next()}})
		time.Sleep(5 * time.Second)
		assert.NotEmpty(t, b.Packets(mdnstest.From("h1"), mdnstest.IsProbe), "probed on the new link (RFC 6762 section 8)")
		assert.NotEmpty(t, b.Packets(mdnstest.From("h1"), mdnstest.IsResponse, mdnstest.HasAnswer(tzInst, dns.TypeSRV)), "and announced there")
		assert.Equal(t, tzInst, f.tz.Name())
	})
}

func TestInstanceNameEscaping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{Families: []sd.Family{sd.IPv4}})
		const raw = "Büro.Uhr \\ 1"
		hd, err := f.r.Add(context.Background(), Service{Instance: raw, Type: "_http._tcp", Port: 80})
		require.NoError(t, err)
		ann := f.responses(mdnstest.HasAnswer(hd.Name(), dns.TypeSRV))
		require.NotEmpty(t, ann)
		srv := mdnstest.FindRR(ann[0].Msg.Answer, hd.Name(), dns.TypeSRV)
		// The first label on the wire holds the raw bytes, dot included.
		buf := make([]byte, 256)
		n, err := dns.PackDomainName(srv.Header().Name, buf, 0, nil, false)
		require.NoError(t, err)
		require.Greater(t, n, len(raw))
		assert.Equal(t, len(raw), int(buf[0]))
		assert.Equal(t, raw, string(buf[1:1+len(raw)]))
		assert.Equal(t, `Büro\.Uhr \\ 1._http._tcp.local.`, hd.Name())
		// Queried in the escaped form miekg/dns prints, and in upper case.
		time.Sleep(5 * time.Second)
		f.settle()
		f.peer.Send(t, mdnstest.Query(mdnstest.QM(strings.ToUpper(srv.Header().Name), dns.TypeSRV)))
		synctest.Wait()
		assert.Len(t, f.responses(), 1)
	})
}
