package announce

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanReload(t *testing.T) {
	load := func(s string) []Service {
		t.Helper()
		ss, err := LoadConfig(strings.NewReader(`{"services": [` + s + `]}`))
		require.NoError(t, err)
		return ss
	}
	old := load(`
  {"name": "Same", "service": "timezone", "port": 1, "txt": {"a": "1"}},
  {"name": "TXT", "service": "timezone", "port": 2, "txt": {"a": "1"}},
  {"name": "Port", "service": "timezone", "port": 3},
  {"name": "Gone", "service": "timezone", "port": 4},
  {"name": "Sub", "service": "_http._tcp", "port": 5, "subtypes": ["_a"]},
  {"name": "Host", "service": "_http._tcp", "port": 6},
  {"name": "Spelt", "service": "timezone", "port": 7},
  {"name": "Case", "service": "timezone", "port": 8}`)
	next := load(`
  {"name": "New", "service": "timezone", "port": 9},
  {"name": "Case", "service": "TIMEZONE", "port": 8},
  {"name": "Spelt", "service": "_timezone._tcp", "port": 7},
  {"name": "Host", "service": "_http._tcp", "port": 6, "host": "other"},
  {"name": "Sub", "service": "_http._tcp", "port": 5, "subtypes": ["_a", "_b"]},
  {"name": "Port", "service": "timezone", "port": 33},
  {"name": "TXT", "service": "timezone", "port": 2, "txt": ["a=2"]},
  {"name": "Same", "service": "timezone", "port": 1, "txt": ["a=1"]}`)
	plan := PlanReload(old, next)
	assert.Equal(t, []Change{
		{Kind: ChangeRemove, Old: 3, New: -1},   // Gone
		{Kind: ChangeRemove, Old: 6, New: -1},   // Spelt as "timezone": another identity
		{Kind: ChangeAdd, Old: -1, New: 0},      // New
		{Kind: ChangeReplace, Old: 7, New: 1},   // Case: the type's spelling changed
		{Kind: ChangeAdd, Old: -1, New: 2},      // Spelt as "_timezone._tcp"
		{Kind: ChangeReplace, Old: 5, New: 3},   // Host
		{Kind: ChangeReplace, Old: 4, New: 4},   // Sub
		{Kind: ChangeReplace, Old: 2, New: 5},   // Port
		{Kind: ChangeUpdateTXT, Old: 1, New: 6}, // TXT
		{Kind: ChangeKeep, Old: 0, New: 7},      // Same: the TXT record is the same on the wire
	}, plan)
}

func TestPlanReloadNothingChanged(t *testing.T) {
	ss, err := LoadConfig(strings.NewReader(`{"services": [{"name": "A", "service": "timezone", "port": 1, "txt": {"k": "v"}}]}`))
	require.NoError(t, err)
	ss2, err := LoadConfig(strings.NewReader(`{"services": [{"name": "a", "service": "timezone", "port": 1, "txt": {"k": "v"}}]}`))
	require.NoError(t, err)
	assert.Equal(t, []Change{{Kind: ChangeKeep, Old: 0, New: 0}}, PlanReload(ss, ss))
	assert.Empty(t, PlanReload(nil, nil))
	// The name's case is part of what is published: replaced, not kept.
	assert.Equal(t, []Change{{Kind: ChangeReplace, Old: 0, New: 0}}, PlanReload(ss, ss2))
	assert.Equal(t, []Change{{Kind: ChangeRemove, Old: 0, New: -1}}, PlanReload(ss, nil))
	assert.Equal(t, []Change{{Kind: ChangeAdd, Old: -1, New: 0}}, PlanReload(nil, ss))
	assert.Equal(t, "update-txt", ChangeUpdateTXT.String())
}
