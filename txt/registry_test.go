package txt

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/regtest"
	"github.com/lansd/lansd/registry"
)

// fullRegistry loads the full IANA registry CSV from ../shared/data/ next
// to the repository (the directory holding go.mod). It skips the test when
// the file is absent, unless LANSD_REQUIRE_DATA=1.
func fullRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	path := regtest.FullPath(t)
	reg, err := registry.LoadFile(path)
	require.NoError(t, err)
	return reg
}

// sampleValue returns a value that passes rule's check.
func sampleValue(rule registry.KeyRule) string {
	switch rule.Value {
	case registry.ValueHex:
		return strings.Repeat("0", rule.Len)
	case registry.ValuePath:
		return "/"
	}
	return "x"
}

// TestValidateAgainstFullRegistry validates records against every service of
// the real IANA registry: the empty record conforms for every one, a record
// with every defined key and a fitting value has no registry error, and an
// undefined key is flagged exactly when the service's rules say so.
func TestValidateAgainstFullRegistry(t *testing.T) {
	reg := fullRegistry(t)
	kinds := map[registry.RuleKind]int{}
	flagged := 0
	for _, svc := range reg.Services() {
		kinds[svc.TXT.Kind]++

		report := Validate(Record{}, svc, Options{Strict: true})
		require.Empty(t, report.Findings, svc.Name)

		undefined := mustArgs(t, "zzundef=1")
		report = Validate(undefined, svc, Options{})
		want := svc.TXT.Kind == registry.RulesNone || (svc.TXT.Kind == registry.RulesKeys && !svc.TXT.Open)
		if want {
			flagged++
			require.Len(t, report.Findings, 1, svc.Name)
			assert.Equal(t, Warning, report.Findings[0].Severity)
			assert.True(t, strings.HasPrefix(report.Findings[0].Rule, svc.Name+": "), report.Findings[0].Rule)
		} else {
			require.Empty(t, report.Findings, svc.Name)
		}

		if svc.TXT.Kind != registry.RulesKeys {
			continue
		}
		var args []string
		for _, k := range svc.TXT.Keys {
			args = append(args, FormatArg(Item{Key: k.Key, Value: []byte(sampleValue(k)), HasValue: true}))
		}
		rec, err := ParseArgs(args)
		require.NoError(t, err, svc.Name)
		for _, f := range Validate(rec, svc, Options{}).Findings {
			assert.False(t, strings.HasPrefix(f.Rule, svc.Name+":"), "%s: %v", svc.Name, f)
		}
	}
	t.Logf("%d services: rules %v; an undefined key is flagged for %d", len(reg.Services()), kinds, flagged)
	assert.Positive(t, kinds[registry.RulesKeys])
	assert.Positive(t, kinds[registry.RulesNone])
	assert.Positive(t, flagged)
}
