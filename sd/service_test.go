package sd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

const (
	goodHash = "5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	goodSalt = "f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
	goodUUID = "db61dc092922252e45bbb264f59147138c7fd5fa"
)

func tzService(t testing.TB, instance string) Service {
	t.Helper()
	rec, err := txt.ParseArgs([]string{"path=/tz"})
	require.NoError(t, err)
	return Service{Instance: instance, Type: "_timezone._tcp", Port: 8080, TXT: rec}
}

func kcsync(t testing.TB, hash string) Service {
	t.Helper()
	rec, err := txt.ParseArgs([]string{"hash=" + hash, "salt=" + goodSalt, "uuid=" + goodUUID})
	require.NoError(t, err)
	return Service{Instance: "Keychain", Type: "_jnx-kcsync._tcp", Port: 5000, TXT: rec}
}

func TestValidateJnxKcsync(t *testing.T) {
	rep, err := kcsync(t, goodHash).Validate(nil)
	require.NoError(t, err)
	assert.True(t, rep.Conforms())

	rep, err = kcsync(t, goodHash[:39]).Validate(nil)
	require.Error(t, err)
	assert.False(t, rep.Conforms())
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "Keychain", ve.Service)
	var finding *txt.Error
	require.ErrorAs(t, err, &finding, "the TXT finding is reachable with errors.As")
	assert.Equal(t, "hash", finding.Key)
	assert.Equal(t, txt.Fatal, finding.Severity)
	assert.Contains(t, finding.Rule, "jnx-kcsync")
	assert.Contains(t, err.Error(), `key "hash"`)
}

func TestValidateFields(t *testing.T) {
	base := func() Service { return tzService(t, "Office TZ") }
	tests := []struct {
		name    string
		edit    func(*Service)
		wantErr bool
		field   string // the *FieldError's field, if any
		hard    bool
	}{
		{"valid", func(*Service) {}, false, "", false},
		{"bare registered name", func(s *Service) { s.Type = "timezone" }, false, "", false},
		{"type with domain", func(s *Service) { s.Type = "_timezone._tcp.local." }, false, "", false},
		{"empty instance", func(s *Service) { s.Instance = "" }, true, "Instance", true},
		{"64-byte instance", func(s *Service) { s.Instance = strings.Repeat("x", 64) }, true, "Instance", true},
		{"63-byte instance", func(s *Service) { s.Instance = strings.Repeat("x", 63) }, false, "", false},
		{"dots and UTF-8 are fine", func(s *Service) { s.Instance = "Büro.Uhr" }, false, "", false},
		{"control character", func(s *Service) { s.Instance = "Office\tTZ" }, true, "Instance", false},
		{"DEL", func(s *Service) { s.Instance = "Office\x7f" }, true, "Instance", false},
		{"invalid UTF-8", func(s *Service) { s.Instance = "Office \xff" }, true, "Instance", false},
		{"empty type", func(s *Service) { s.Type = "" }, true, "Type", true},
		{"bad protocol label", func(s *Service) { s.Type = "_timezone._sctp" }, true, "Type", true},
		{"name breaking RFC 6335", func(s *Service) { s.Type = "_contamac_icm._tcp"; s.TXT = txt.Record{} }, true, "Type", false},
		{"unknown bare name", func(s *Service) { s.Type = "nosuchservice" }, true, "Type", true},
		{"subtype with a dot", func(s *Service) { s.Subtypes = []string{"_a.b"} }, true, "Subtypes[0]", true},
		{"bad TXT value", func(s *Service) { s.TXT, _ = txt.ParseArgs([]string{"path=tz"}) }, true, "", false},
		{"bad host", func(s *Service) { s.Host = "a..b" }, true, "Host", true},
		{"domain clash", func(s *Service) { s.Type = "_timezone._tcp.example."; s.Domain = "local." }, true, "Domain", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.edit(&s)
			_, err := s.Validate(nil)
			res := s.resolve(registry.Builtin())
			if !tc.wantErr {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tc.field != "" {
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field, "error: %v", err)
				assert.Equal(t, tc.hard, len(res.hard) > 0, "hard: %v", res.hard)
			}
		})
	}
}

// TestSubtypesFoldASCIIOnly: subtypes that are the same name (ASCII case,
// RFC 6762 section 16) are published once; subtypes that differ in the case
// of a non-ASCII letter are different names and are both published.
func TestSubtypesFoldASCIIOnly(t *testing.T) {
	s := Service{Instance: "x", Type: "_http._tcp", Port: 80,
		Subtypes: []string{"_Printer", "_printer", "_PRINTER", "_École", "_école", "_\u212Aiosk", "_kiosk"}}
	res := s.resolve(registry.Builtin())
	require.Empty(t, res.hard)
	assert.Equal(t, []string{"_Printer", "_École", "_école", "_\u212Aiosk", "_kiosk"}, res.p.Subtypes)
}

func TestPortZeroIsAWarning(t *testing.T) {
	s := tzService(t, "Office TZ")
	s.Port = 0
	rep, err := s.Validate(nil)
	require.NoError(t, err)
	require.Len(t, rep.Warnings(), 1)
	assert.Contains(t, rep.Warnings()[0].Reason, "port 0")
}

func TestRegistrationEventKindStrings(t *testing.T) {
	want := map[RegistrationEventKind]string{Announced: "announced", Conflict: "conflict", Renamed: "renamed", Deferred: "deferred", Removed: "removed", Withdrawn: "withdrawn", RegistrationEventKind(99): "EventKind(99)"}
	for k, s := range want {
		assert.Equal(t, s, k.String())
	}
}

func TestFieldErrorUnwraps(t *testing.T) {
	_, err := Service{Instance: "x", Type: "_timezone._sctp", Port: 1}.Validate(nil)
	var te *registry.TypeError
	require.ErrorAs(t, err, &te, "the registry's error is kept")
	assert.Equal(t, "_sctp", te.Label)
	assert.Contains(t, err.Error(), `Type "_timezone._sctp"`)
}

func TestServicePrepare(t *testing.T) {
	rec, err := txt.ParseArgs([]string{"path=/tz"})
	require.NoError(t, err)
	s := Service{Instance: "Office TZ", Type: "timezone", Subtypes: []string{"eu", "_eu"}, Port: 8080, TXT: rec, Host: "h1.example.net"}

	p, err := s.Prepare("", nil)
	require.NoError(t, err)
	assert.Equal(t, Prepared{Instance: "Office TZ", Type: "_timezone._tcp", Domain: "local.", Subtypes: []string{"_eu"},
		Port: 8080, TXT: rec, Host: "h1.example.net.", Registered: p.Registered, Report: p.Report}, p)
	require.NotNil(t, p.Registered, "the registry knows timezone")
	assert.True(t, p.Report.Conforms())

	p, err = s.Prepare("tz.example.net.", nil)
	require.NoError(t, err)
	assert.Equal(t, "tz.example.net.", p.Domain, "the default domain given")

	s.Type = "_timezone._tcp.other.example."
	p, err = s.Prepare("tz.example.net.", nil)
	require.NoError(t, err)
	assert.Equal(t, "other.example.", p.Domain, "a type that names its domain keeps it")

	s.Type, s.Domain = "timezone", "Elsewhere.example"
	p, err = s.Prepare("tz.example.net.", nil)
	require.NoError(t, err)
	assert.Equal(t, "Elsewhere.example.", p.Domain, "Domain wins")

	s.TXT, err = txt.ParseArgs([]string{"path=relative"})
	require.NoError(t, err)
	_, err = s.Prepare("tz.example.net.", nil)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve, "a relative path breaks the registry's rule: refused as Validate refuses")
	_, verr := s.Validate(nil)
	assert.Equal(t, verr.Error(), err.Error())
}

// ServicesType is spelled out for the documentation; it is the name
// package dnsname holds.
func TestServicesTypeIsDnsname(t *testing.T) {
	assert.Equal(t, dnsname.ServicesType, ServicesType)
}

// PrepareEncodable refuses only what cannot be encoded: a service that
// breaks a rule is prepared, and Validate still refuses it.
func TestPrepareEncodable(t *testing.T) {
	s := tzService(t, "Office\tTZ") // a control character: a rule, not encoding
	_, err := s.Prepare("", nil)
	require.Error(t, err)
	p, err := s.PrepareEncodable("", registry.Builtin())
	require.NoError(t, err)
	assert.Equal(t, "Office\tTZ", p.Instance)
	assert.Equal(t, "_timezone._tcp", p.Type)
	assert.Equal(t, "local.", p.Domain)
	assert.NotNil(t, p.Registered)

	s.TXT = txt.Record{Items: []txt.Item{{Key: "path", Value: []byte("relative"), HasValue: true}}}
	p, err = s.PrepareEncodable("tz.example.net.", registry.Builtin())
	require.NoError(t, err, "a TXT record breaking the registry's rules is still encodable")
	assert.False(t, p.Report.Conforms(), "the report holds its errors")
	assert.Equal(t, "tz.example.net.", p.Domain)

	for _, bad := range []Service{
		{Type: "_http._tcp", Port: 80},
		{Instance: "x", Type: "_http._sctp", Port: 80},
		{Instance: "x", Type: "no-such-service-xyz", Port: 80},
		{Instance: "x", Type: "_http._tcp", Subtypes: []string{"a.b"}, Port: 80},
	} {
		_, err := bad.PrepareEncodable("", registry.Builtin())
		var ve *ValidationError
		assert.ErrorAs(t, err, &ve, "%+v", bad)
	}
}

// With nil reg PrepareEncodable consults no registry: a bare name is taken
// as a TCP service, not looked up.
func TestPrepareEncodableWithoutRegistry(t *testing.T) {
	p, err := Service{Instance: "x", Type: "no-such-service-xyz", Port: 80}.PrepareEncodable("", nil)
	require.NoError(t, err)
	assert.Equal(t, "_no-such-service-xyz._tcp", p.Type)
	assert.Nil(t, p.Registered)
}

// A ValidationError names no package: publishers wrap it with theirs.
func TestValidationErrorMessage(t *testing.T) {
	_, err := Service{Instance: "x", Type: "_timezone._sctp", Port: 1}.Validate(nil)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), `service "x" refused: Type "_timezone._sctp": not a DNS-SD service type: `), err.Error())
}
