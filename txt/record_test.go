package txt

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetFirstOccurrenceIgnoringCase(t *testing.T) {
	rec, err := Decode(wireOf("=hidden", "Path=/first", "flag", "PATH=/second", "empty="))
	require.NoError(t, err)

	v, hasValue, ok := rec.Get("path")
	assert.True(t, ok)
	assert.True(t, hasValue)
	assert.Equal(t, []byte("/first"), v, "RFC 6763 section 6.4: the first occurrence wins")

	v, hasValue, ok = rec.Get("FLAG")
	assert.True(t, ok)
	assert.False(t, hasValue, "boolean attribute")
	assert.Nil(t, v)

	v, hasValue, ok = rec.Get("empty")
	assert.True(t, ok)
	assert.True(t, hasValue)
	assert.Empty(t, v)

	_, _, ok = rec.Get("absent")
	assert.False(t, ok)
	_, _, ok = rec.Get("")
	assert.False(t, ok, "strings with an empty key are ignored")

	// ASCII case folding only: the Kelvin sign is not 'k'.
	rec, err = Decode(wireOf("k=1"))
	require.NoError(t, err)
	_, _, ok = rec.Get("\u212a")
	assert.False(t, ok)
	_, _, ok = rec.Get("K")
	assert.True(t, ok)
}

func TestKeysAndMap(t *testing.T) {
	rec, err := Decode(wireOf("b=1", "", "A", "=x", "B=2", "c="))
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "A", "c"}, rec.Keys())

	m := rec.Map()
	require.Len(t, m, 3)
	assert.Equal(t, []byte("1"), m["b"].Value, "first occurrence wins")
	assert.Equal(t, 0, m["b"].Offset)
	assert.Equal(t, "A", m["a"].Key, "keyed by lower case, original spelling kept")
	assert.True(t, m["c"].HasValue)

	assert.Empty(t, Record{}.Keys())
	assert.Empty(t, Record{}.Map())
}

func TestString(t *testing.T) {
	tests := []struct {
		rec  Record
		want string
	}{
		{Record{}, ``},
		{Record{Items: []Item{{}}}, `""`},
		{Record{Items: []Item{
			{Key: "path", Value: []byte("/tz"), HasValue: true},
			{Key: "flag"},
			{Key: "e", Value: []byte{}, HasValue: true},
		}}, `"path=/tz" "flag" "e="`},
		{Record{Items: []Item{{Key: "note", Value: []byte(`say "hi" \ bye`), HasValue: true}}}, `"note=say \"hi\" \\ bye"`},
		{Record{Items: []Item{{Key: "b", Value: []byte{0, 0x7f, 0xff, '\t'}, HasValue: true}}}, `"b=\x00\x7f\xff\x09"`},
		{Record{Items: []Item{{Key: "city", Value: []byte("Zürich"), HasValue: true}}}, `"city=Zürich"`},
		{Record{Items: []Item{{Key: "k\xc3\xbc", Value: []byte("="), HasValue: true}}}, `"k\xc3\xbc=="`},
		{Record{Items: []Item{{Key: "a=b"}}}, `"a\x3db"`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.rec.String())
	}
}
