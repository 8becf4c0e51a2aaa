package browse

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInstanceName(t *testing.T) {
	for in, want := range map[string][3]string{
		"Office TZ._timezone._tcp.local.":   {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		"Office TZ._timezone._tcp":          {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		"Office TZ._TimeZone._TCP.LOCAL":    {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		`Dr\. Who\\._http._tcp.local.`:      {`Dr\. Who\\._http._tcp.local.`, `Dr. Who\`, "_http._tcp"},
		`Office\032TZ._timezone._tcp.local`: {"Office TZ._timezone._tcp.local.", "Office TZ", "_timezone._tcp"},
		"Café ☕._http._tcp":                 {"Café ☕._http._tcp.local.", "Café ☕", "_http._tcp"},
	} {
		name, inst, svc, err := ParseInstanceName(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, [3]string{name, inst, svc}, in)
	}
	for in, msg := range map[string]string{
		"":                          "empty",
		"_timezone._tcp":            "want Instance._service._tcp.local.",
		"Dr. Who._http._tcp.local.": `\.`,
		"X._http._xyz.local.":       "_tcp or _udp",
		"X._http._tcp.example.com.": `\.`,
	} {
		_, _, _, err := ParseInstanceName(in)
		require.Error(t, err, in)
		assert.ErrorIs(t, err, ErrBadName, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}
