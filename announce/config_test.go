package announce

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
)

func TestLoadConfig(t *testing.T) {
	const file = `{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}},
  {"name": "Printer", "service": "_http._tcp", "port": 80, "txt": ["path=/", "color"],
   "subtypes": ["_printer"], "host": "printer"},
  {"name": "Bare", "service": "_http._tcp", "port": 0, "txt": null}
]}`
	ss, err := LoadConfig(strings.NewReader(file))
	require.NoError(t, err)
	require.Len(t, ss, 3)
	assert.Equal(t, "Office TZ", ss[0].Instance)
	assert.Equal(t, "timezone", ss[0].Type)
	assert.Equal(t, uint16(8080), ss[0].Port)
	v, _, ok := ss[0].TXT.Get("path")
	require.True(t, ok)
	assert.Equal(t, "/tz", string(v))
	assert.Equal(t, []string{"path", "color"}, ss[1].TXT.Keys())
	assert.Equal(t, []string{"_printer"}, ss[1].Subtypes)
	assert.Equal(t, "printer", ss[1].Host)
	assert.Empty(t, ss[2].TXT.Items)
	require.NoError(t, ValidateServices(ss, registry.Builtin()))
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error
	}{
		{"syntax", "{\"services\": [\n  {\"name\": \"x\",}\n]}", []string{"line 2, column 16"}},
		{"not JSON", "services:", []string{"line 1, column 1"}},
		{"empty", "", []string{"config"}},
		{"no services", `{}`, []string{"services: missing"}},
		{"services not an array", `{"services": {}}`, []string{"services: must be an array"}},
		{"unknown top-level field", `{"services": [], "extra": 1}`, []string{"extra: unknown field"}},
		{"unknown empty field", `{"services": [{"name": "a", "service": "_http._tcp", "port": 80, "": 1}], "": 1}`, []string{`"": unknown field`, `services[0]."": unknown field`}},
		{"service not an object", `{"services": [1]}`, []string{"services[0]: must be an object"}},
		{"missing fields", `{"services": [{}]}`, []string{"services[0].name: missing", "services[0].service: missing", "services[0].port: missing"}},
		{"port too large", `{"services": [{"name": "a", "service": "_http._tcp", "port": 70000}]}`, []string{`services[0].port "70000": must be an integer from 0 to 65535`}},
		{"negative port", `{"services": [{"name": "a", "service": "_http._tcp", "port": -1}]}`, []string{"services[0].port"}},
		{"fractional port", `{"services": [{"name": "a", "service": "_http._tcp", "port": 1.5}]}`, []string{"services[0].port"}},
		{"port as string", `{"services": [{"name": "a", "service": "_http._tcp", "port": "80"}]}`, []string{"services[0].port: must be a number"}},
		{"unknown field", `{"services": [{"name": "a", "service": "_http._tcp", "port": 80, "prot": "tcp"}]}`, []string{"services[0].prot: unknown field"}},
		{"name not a string", `{"services": [{"name": 5, "service": "_http._tcp", "port": 80}]}`, []string{"services[0].name: must be a string"}},
		{"txt false", `{"services": [{"name": "a", "service": "_http._tcp", "port": 80, "txt": {"x": false}}]}`, []string{"services[0].txt: cannot be read", `key "x"`}},
		{"subtypes not strings", `{"services": [{"name": "a", "service": "_http._tcp", "port": 80, "subtypes": [1]}]}`, []string{"services[0].subtypes"}},
		{"bad protocol", `{"services": [{"name": "a", "service": "_http._foo", "port": 80}]}`, []string{`services[0].service "_http._foo"`}},
		{"instance too long", `{"services": [{"name": "` + strings.Repeat("n", 64) + `", "service": "_http._tcp", "port": 80}]}`, []string{"services[0].name", "more than the 63"}},
		{"bad subtype", `{"services": [{"name": "a", "service": "_http._tcp", "port": 80, "subtypes": ["x", "a.b"]}]}`, []string{"services[0].subtypes[1]"}},
		{"duplicate", `{"services": [{"name": "A", "service": "_http._tcp", "port": 80}, {"name": "a", "service": "_http._tcp.local.", "port": 81}]}`, []string{"services[1].name", "same instance and type as services[0]"}},
		{"every problem reported", `{"services": [{"name": "a", "service": "_http._tcp", "port": -5}, {"name": "b", "service": "_http._tcp", "port": 99999}]}`, []string{"services[0].port", "services[1].port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := LoadConfig(strings.NewReader(tc.file))
			require.Error(t, err)
			assert.Nil(t, ss, "nothing returned on error")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadConfigTooLarge(t *testing.T) {
	_, err := LoadConfig(strings.NewReader(`{"services": [` + strings.Repeat(" ", maxConfigSize) + `]}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
}

func TestValidateServicesNamesIndex(t *testing.T) {
	file := `{"services": [
  {"name": "Office TZ", "service": "timezone", "port": 8080, "txt": {"path": "/tz"}},
  {"name": "Keychain", "service": "_jnx-kcsync._tcp", "port": 5000,
   "txt": {"hash": "` + goodHash[:39] + `", "salt": "` + goodSalt + `", "uuid": "` + goodUUID + `"}}
]}`
	ss, err := LoadConfig(strings.NewReader(file))
	require.NoError(t, err, "registry checks are not LoadConfig's")
	err = ValidateServices(ss, registry.Builtin())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "services[1]")
	assert.Contains(t, err.Error(), `key "hash"`)
	assert.NotContains(t, err.Error(), "services[0]")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "Keychain", ve.Service)
}
