package announce

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/internal/mdns"
	"github.com/lansd/lansd/internal/mdnstest"
	"github.com/lansd/lansd/registry"
)

// Tests of what `lansd announce` uses beyond the responder engine:
// Interfaces, CheckPublishable and ConfigPath.

func TestResponderInterfaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		h := l.NewHost("h1", 1)
		h.Attach(l, mdns.Interface{Index: 3, Name: "lan1", MTU: 1500, Addrs: []netip.Addr{netip.MustParseAddr("169.254.1.1")}})
		r := startOn(t, h, Options{HostName: "h1", Logger: discard()})
		assert.Equal(t, []string{"lan0", "lan1"}, r.Interfaces())
	})
}

func TestCheckPublishable(t *testing.T) {
	reg := registry.Builtin()
	ok := Service{Instance: "Office TZ", Type: "timezone", Port: 8080}
	require.NoError(t, CheckPublishable(ok, reg))
	require.NoError(t, CheckPublishable(ok, nil), "nil means the built-in registry")

	// Breaking a rule is Validate's business: NoValidate publishes it.
	ctl := Service{Instance: "Bad\x01Name", Type: "_timezone._tcp", Port: 8080}
	_, verr := ctl.Validate(reg)
	require.Error(t, verr)
	assert.NoError(t, CheckPublishable(ctl, reg))

	for _, tc := range []struct {
		name  string
		s     Service
		field string
	}{
		{"empty instance", Service{Type: "_http._tcp", Port: 80}, "Instance"},
		{"long instance", Service{Instance: strings.Repeat("x", 64), Type: "_http._tcp", Port: 80}, "Instance"},
		{"unknown bare name", Service{Instance: "a", Type: "no-such-service-xyz", Port: 80}, "Type"},
		{"bad protocol", Service{Instance: "a", Type: "_http._sctp", Port: 80}, "Type"},
		{"not local", Service{Instance: "a", Type: "_http._tcp", Domain: "example.com.", Port: 80}, "Domain"},
		{"bad subtype", Service{Instance: "a", Type: "_http._tcp", Subtypes: []string{"a.b"}, Port: 80}, "Subtypes[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPublishable(tc.s, reg)
			require.Error(t, err)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tc.field, fe.Field)
		})
	}
}

// CheckPublishable agrees with Add under NoValidate: what it refuses, Add
// refuses, and what it accepts, Add publishes.
func TestCheckPublishableMatchesAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mdnstest.NewLink()
		r := startOn(t, l.NewHost("h1", 1), Options{HostName: "h1", NoValidate: true, Logger: discard()})
		for _, s := range []Service{
			{Instance: "Fine", Type: "_http._tcp", Port: 80},
			{Instance: "Ctl\x01", Type: "_http._tcp", Port: 80},
			{Instance: "Far", Type: "_http._tcp", Domain: "example.com.", Port: 80},
			{Instance: "", Type: "_http._tcp", Port: 80},
		} {
			perr := CheckPublishable(s, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, aerr := r.Add(ctx, s)
			cancel()
			assert.Equal(t, perr == nil, aerr == nil, "%q: CheckPublishable %v, Add %v", s.Instance, perr, aerr)
		}
	})
}

func TestConfigPath(t *testing.T) {
	assert.Equal(t, "services[1].port", ConfigPath(1, "Port"))
	assert.Equal(t, "services[0].name", ConfigPath(0, "Instance"))
	assert.Equal(t, "services[3].service", ConfigPath(3, "Type"))
	assert.Equal(t, "services[0].subtypes[2]", ConfigPath(0, "Subtypes[2]"))
	assert.Equal(t, "services[2].txt", ConfigPath(2, "TXT"))
	assert.Equal(t, "services[2]", ConfigPath(2, ""))
	assert.Equal(t, "services[4].Other", ConfigPath(4, "Other"))
}

// The reason of a conflict names our instance as Handle.Name gives it, not
// in miekg/dns's escaped presentation form ("Office\ TZ").
func TestConflictReasonNamesInstanceUnescaped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Options{})
		events(f.tz)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.peer.Send(t, mdnstest.Response(mdnstest.SRV(tzInst, "peer.local.", 9999, 120)))
		f.peer.Drain()
		go defender(ctx, f.peer, func(n string) bool { return dnsname.Equal(n, tzInst) }, 0)
		time.Sleep(5 * time.Second)
		evs := events(f.tz)
		require.NotEmpty(t, evs)
		for _, ev := range evs {
			assert.NotContains(t, ev.Reason, `\`, "event %s: %q", ev.Kind, ev.Reason)
		}
		assert.Contains(t, evs[0].Reason, `"Office TZ._timezone._tcp.local."`)
		renamed, why := f.tz.Renamed()
		require.True(t, renamed)
		assert.Contains(t, why, `"Office TZ._timezone._tcp.local."`)
	})
}

func TestCheckHostName(t *testing.T) {
	for _, ok := range []string{"", "h1", "h1.local.", "h1.local", "Büro"} {
		assert.NoError(t, CheckHostName(ok), "%q", ok)
	}
	for _, bad := range []string{"a.example.com", strings.Repeat("h", 64), "bad\x01", "\xff\xfe", ".local."} {
		assert.Error(t, CheckHostName(bad), "%q", bad)
	}
}

// New refuses a bad host name before it opens the transport: this test
// runs on the bare machine, where nothing may be opened, and would
// otherwise bind port 5353 here.
func TestNewRefusesBadHostNameBeforeOpening(t *testing.T) {
	_, err := New(context.Background(), Options{HostName: "a.example.com", Interfaces: []string{"lansd-no-such-interface"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be a single label")
	assert.NotContains(t, err.Error(), "unknown interface", "refused before the transport looked at interfaces")
}
