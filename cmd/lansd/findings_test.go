package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/txt"
)

func TestFlagOf(t *testing.T) {
	for _, c := range []struct {
		field          string
		announce, zone string
	}{
		{"Instance", "--name", "--name"},
		{"Type", "--service", "--service"},
		{"Subtypes[1]", "--subtype[1]", "--subtype[1]"},
		{"Domain", "--domain", "--domain"},
		{"Port", "--port", "--port"},
		{"Host", "--host", "--host"},
		{"TXT", "--txt", "--txt"},
		// lansd zone's own options; lansd announce names them as fields.
		{"HostName", "HostName", "--host"},
		{"TTL", "TTL", "--ttl"},
		{"Zone", "Zone", "--domain"},
		{"Server", "Server", "Server"},
	} {
		assert.Equal(t, c.announce, fieldLabel("", 0, c.field), c.field)
		assert.Equal(t, c.zone, zoneFlag(c.field), c.field)
	}
	assert.Equal(t, "services[2].subtypes[1]", fieldLabel("services[2]", 2, "Subtypes[1]"))
}

func TestNamedField(t *testing.T) {
	fe := &announce.FieldError{Field: "Port", Value: "0", Reason: "why"}
	got := namedField(fmt.Errorf("wrapped: %w", fe), zoneFlag)
	assert.Equal(t, `--port "0": why`, got.Error())
	assert.Equal(t, "Port", fe.Field, "the original is left alone")
	assert.Nil(t, namedField(errors.New("plain"), zoneFlag))
}

func TestFindingLines(t *testing.T) {
	report := txt.Report{Findings: []*txt.Error{
		{Key: "hash", Offset: 0, Rule: "r", Reason: "bad", Severity: txt.Fatal},
		{Key: "x", Offset: 9, Rule: "r", Reason: "odd", Severity: txt.Warning},
	}}
	ve := &announce.ValidationError{Service: "S", Report: report,
		Err: errors.Join(&announce.FieldError{Field: "Subtypes[0]", Value: "a.b", Reason: "dots"}, errors.New("other"))}
	assert.Equal(t, []string{
		`error: --subtype[0] "a.b": dots`,
		`error: other`,
		`error: key "hash" at offset 0: bad (r)`,
		`warning: key "x" at offset 9: odd (r)`,
	}, findingLines("", 0, report, ve))
	assert.Equal(t, []string{
		`error: services[1].subtypes[0] "a.b": dots`,
		`error: other`,
		`error: services[1].txt: key "hash" at offset 0: bad (r)`,
		`warning: services[1].txt: key "x" at offset 9: odd (r)`,
	}, findingLines("services[1]", 1, report, ve))
}

func TestPrintZoneFindings(t *testing.T) {
	var b bytes.Buffer
	printZoneFindings(&b, &announce.ValidationError{Service: "S",
		Report: txt.Report{Findings: []*txt.Error{{Key: "k", Rule: "r", Reason: "bad", Severity: txt.Fatal}}},
		Err:    errors.Join(&announce.FieldError{Field: "HostName", Value: "h..", Reason: "bad host"}, errors.New("other"))})
	printZoneFindings(&b, &announce.FieldError{Field: "TTL", Value: "1s", Reason: "short"})
	assert.Equal(t, `lansd zone: service "S" refused; nothing printed:
  --host "h..": bad host
  other
  --txt error: key "k" at offset 0: bad (r)
lansd zone: --ttl "1s": short
`, b.String())
}

func TestPrintRefused(t *testing.T) {
	var b bytes.Buffer
	printRefused(&b, []announce.Service{{Instance: "Office TZ"}}, 1)
	printRefused(&b, make([]announce.Service, 3), 2)
	assert.Equal(t, "lansd announce: service \"Office TZ\" refused; nothing was sent\n"+
		"lansd announce: 2 of 3 services refused; nothing was sent\n", b.String())
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	newLogger(&b, false, slog.LevelWarn).Info("hidden")
	newLogger(&b, false, slog.LevelWarn).Warn("shown")
	newLogger(&b, true, slog.LevelError).Debug("verbose")
	assert.NotContains(t, b.String(), "hidden")
	assert.Contains(t, b.String(), "level=WARN msg=shown")
	assert.Contains(t, b.String(), "level=DEBUG msg=verbose")
}
