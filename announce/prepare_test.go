package announce

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/txt"
)

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
