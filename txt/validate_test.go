package txt

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
)

// The example values of the jnx-kcsync registry note.
const (
	goodHash = "5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	goodSalt = "f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
	goodUUID = "db61dc092922252e45bbb264f59147138c7fd5fa"
)

// builtin looks a service up in the built-in registry.
func builtin(t testing.TB, name string) *registry.Service {
	t.Helper()
	svc, ok := registry.Builtin().Lookup(name)
	require.True(t, ok, "built-in registry has no %q", name)
	return svc
}

// mustArgs parses arguments that are known to be good.
func mustArgs(t testing.TB, args ...string) Record {
	t.Helper()
	rec, err := ParseArgs(args)
	require.NoError(t, err)
	return rec
}

func TestValidateJnxKcsyncConforms(t *testing.T) {
	svc := builtin(t, "jnx-kcsync")
	rec := mustArgs(t, "hash="+goodHash, "salt="+goodSalt, "uuid="+goodUUID)
	report := Validate(rec, svc, Options{Strict: true})
	assert.Empty(t, report.Findings)
	assert.True(t, report.Conforms())

	// The same record from the wire form and from JSON.
	wire, err := rec.Encode()
	require.NoError(t, err)
	dec, err := Decode(wire)
	require.NoError(t, err)
	assert.Empty(t, Validate(dec, svc, Options{}).Findings)
	js, err := ParseJSON([]byte(`{"hash": "` + goodHash + `", "salt": "` + goodSalt + `", "uuid": "` + goodUUID + `"}`))
	require.NoError(t, err)
	assert.Empty(t, Validate(js, svc, Options{}).Findings)

	// Keys are compared ignoring case, so the check still applies.
	report = Validate(mustArgs(t, "HASH="+goodHash[:39]), svc, Options{})
	require.Len(t, report.Findings, 1)
	assert.Equal(t, "HASH", report.Findings[0].Key)
}

// wantValueFinding checks a Fatal registry finding against the key rule's own
// verdict, and that the wire offset the reason names is the offending byte.
func wantValueFinding(t *testing.T, rec Record, svc *registry.Service, f *Error, item int) {
	t.Helper()
	it := rec.Items[item]
	rule, ok := svc.TXT.Lookup(it.Key)
	require.True(t, ok)
	var ve *registry.ValueError
	require.True(t, errors.As(rule.Check(it.Value, it.HasValue), &ve))

	assert.Equal(t, Fatal, f.Severity)
	assert.Equal(t, it.Key, f.Key)
	assert.Equal(t, it.Offset, f.Offset)
	abs := it.Offset + 1 + len(it.Key) + 1 + ve.Offset
	assert.Equal(t, fmt.Sprintf("value byte %d (wire offset %d): %s", ve.Offset, abs, ve.Reason), f.Reason)
	wire, err := rec.Encode()
	require.NoError(t, err)
	if ve.Offset < len(it.Value) {
		assert.Equal(t, it.Value[ve.Offset], wire[abs], "the wire offset names the offending byte")
	}
}

func TestValidateJnxKcsyncBadHash(t *testing.T) {
	svc := builtin(t, "jnx-kcsync")

	// A 39-digit hash: the string is at offset 0.
	rec := mustArgs(t, "hash="+goodHash[:39], "salt="+goodSalt, "uuid="+goodUUID)
	report := Validate(rec, svc, Options{})
	assert.False(t, report.Conforms())
	require.Len(t, report.Findings, 1)
	f := report.Findings[0]
	assert.Equal(t, "jnx-kcsync: hash=<40hex characters>", f.Rule)
	assert.Equal(t, 0, f.Offset)
	wantValueFinding(t, rec, svc, f, 0)
	assert.Contains(t, f.Error(), `key "hash" at offset 0`)

	// A non-hex digit in the second string: the reason points at it.
	rec = mustArgs(t, "salt="+goodSalt, "hash=5e758g598c0d7064d4fc79faaeb42585e1a675f8", "uuid="+goodUUID)
	report = Validate(rec, svc, Options{})
	require.Len(t, report.Findings, 1)
	assert.Equal(t, 46, report.Findings[0].Offset)
	wantValueFinding(t, rec, svc, report.Findings[0], 1)
	assert.Contains(t, report.Findings[0].Reason, "value byte 5 (wire offset 57)")

	// A boolean "hash" has no value at all.
	rec = mustArgs(t, "salt="+goodSalt, "hash")
	report = Validate(rec, svc, Options{})
	require.Len(t, report.Findings, 1)
	assert.Equal(t, Fatal, report.Findings[0].Severity)
	assert.Equal(t, 46, report.Findings[0].Offset)
	assert.NotContains(t, report.Findings[0].Reason, "wire offset")

	// Every bad value is reported, in wire order.
	rec = mustArgs(t, "uuid=x", "salt=", "hash="+goodHash+"0")
	report = Validate(rec, svc, Options{})
	require.Len(t, report.Findings, 3)
	for i, f := range report.Findings {
		assert.Equal(t, rec.Items[i].Key, f.Key)
		assert.Equal(t, rec.Items[i].Offset, f.Offset)
	}
	wantValueFinding(t, rec, svc, report.Findings[2], 2)
}

func TestValidateTimezone(t *testing.T) {
	for _, name := range []string{"timezone", "timezones"} {
		svc := builtin(t, name)
		report := Validate(mustArgs(t, "path=/tz"), svc, Options{Strict: true})
		assert.True(t, report.Conforms(), "%v", report.Findings)
		assert.Empty(t, report.Findings)

		rec := mustArgs(t, "path=tz")
		report = Validate(rec, svc, Options{})
		assert.False(t, report.Conforms())
		require.Len(t, report.Findings, 1)
		rule, ok := svc.TXT.Lookup("path")
		require.True(t, ok)
		assert.Equal(t, name+": path="+rule.Description, report.Findings[0].Rule)
		assert.True(t, strings.HasPrefix(report.Findings[0].Rule, name+": path=<context path>"), report.Findings[0].Rule)
		wantValueFinding(t, rec, svc, report.Findings[0], 0)

		// A service without TXT data conforms: defined keys are not mandatory.
		assert.Empty(t, Validate(Record{}, svc, Options{Strict: true}).Findings)
	}
}

func TestValidateUndefinedKeyAndStrict(t *testing.T) {
	svc := builtin(t, "timezone")
	rec := mustArgs(t, "path=/tz", "colour=blue")

	report := Validate(rec, svc, Options{})
	assert.True(t, report.Conforms())
	require.Len(t, report.Findings, 1)
	f := report.Findings[0]
	assert.Equal(t, Warning, f.Severity)
	assert.Equal(t, "colour", f.Key)
	assert.Equal(t, 9, f.Offset)
	assert.Equal(t, "key not defined by the registry for timezone", f.Reason)
	assert.Equal(t, "timezone: Defined TXT keys: path", f.Rule)
	assert.Len(t, report.Warnings(), 1)
	assert.Empty(t, report.Errors())

	strict := Validate(rec, svc, Options{Strict: true})
	assert.False(t, strict.Conforms())
	require.Len(t, strict.Findings, 1)
	assert.Equal(t, Fatal, strict.Findings[0].Severity)
	assert.Equal(t, f.Rule, strict.Findings[0].Rule, "the rule text is kept")
	assert.Equal(t, f.Reason, strict.Findings[0].Reason)
	assert.Len(t, strict.Errors(), 1)
	assert.Empty(t, strict.Warnings())

	// Strict also turns syntax warnings into errors.
	long := mustArgs(t, "averylongkey=1")
	assert.True(t, Validate(long, nil, Options{}).Conforms())
	assert.False(t, Validate(long, nil, Options{Strict: true}).Conforms())
}

func TestValidateRuleKinds(t *testing.T) {
	rec := mustArgs(t, "txtvers=1", "averylongkey=x", "=v")
	syntax := Check(rec)
	require.Len(t, syntax, 2)

	keys := registry.Rules{Kind: registry.RulesKeys, Keys: []registry.KeyRule{{Key: "txtvers", Description: "1"}}}
	open := keys
	open.Open = true
	tests := []struct {
		name  string
		rules registry.Rules
		extra []string // reasons of the registry findings, in order
	}{
		{"keys", keys, []string{"key not defined by the registry for svc"}},
		{"open keys", open, nil},
		{"none", registry.Rules{Kind: registry.RulesNone}, []string{"service defines no TXT keys", "service defines no TXT keys"}},
		{"unknown", registry.Rules{Kind: registry.RulesUnknown, Reason: "proprietary"}, nil},
		{"absent", registry.Rules{Kind: registry.RulesAbsent}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &registry.Service{Name: "svc", TXT: tt.rules}
			report := Validate(rec, svc, Options{})
			var reasons []string
			for _, f := range report.Findings {
				if f.Rule == "RFC 6763 section 6.4" {
					continue
				}
				assert.Equal(t, Warning, f.Severity)
				assert.NotEmpty(t, f.Key, "no registry checks on an empty key")
				reasons = append(reasons, f.Reason)
			}
			assert.Equal(t, tt.extra, reasons)
			assert.Len(t, report.Findings, len(syntax)+len(tt.extra))
			assert.False(t, report.Conforms(), "the empty key stays Fatal")
		})
	}

	// No service: syntax only.
	assert.Equal(t, syntax, Validate(rec, nil, Options{}).Findings)
}

func TestValidateDuplicatesAndOrder(t *testing.T) {
	svc := builtin(t, "jnx-kcsync")
	rec := mustArgs(t, "colour=red", "hash="+goodHash, "Hash=bad", "=x")
	report := Validate(rec, svc, Options{})
	require.Len(t, report.Findings, 4)
	// colour (undefined), then at the duplicate: the syntax warning first,
	// then the registry error, then the empty key.
	assert.Equal(t, "colour", report.Findings[0].Key)
	assert.Equal(t, Warning, report.Findings[0].Severity)
	dup := rec.Items[2].Offset
	assert.Equal(t, dup, report.Findings[1].Offset)
	assert.Equal(t, "RFC 6763 section 6.4", report.Findings[1].Rule)
	assert.Equal(t, Warning, report.Findings[1].Severity)
	assert.Equal(t, dup, report.Findings[2].Offset)
	assert.Equal(t, "jnx-kcsync: hash=<40hex characters>", report.Findings[2].Rule)
	assert.Equal(t, Fatal, report.Findings[2].Severity)
	assert.Equal(t, rec.Items[3].Offset, report.Findings[3].Offset)
	assert.Len(t, report.Errors(), 2)
	assert.Len(t, report.Warnings(), 2)

	// Get sees only the first hash.
	v, _, ok := rec.Get("HASH")
	require.True(t, ok)
	assert.Equal(t, goodHash, string(v))
}
