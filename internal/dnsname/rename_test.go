package dnsname

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNextNames(t *testing.T) {
	seq := []string{"Office TZ"}
	for range 3 {
		seq = append(seq, NextInstanceLabel(seq[len(seq)-1]))
	}
	assert.Equal(t, []string{"Office TZ", "Office TZ (2)", "Office TZ (3)", "Office TZ (4)"}, seq)
	assert.Equal(t, "A (11)", NextInstanceLabel("A (10)"))
	assert.Equal(t, "A (1) (2)", NextInstanceLabel("A (1)"), "(1) is not a rename suffix")
	assert.Equal(t, "A(2) (2)", NextInstanceLabel("A(2)"))
	long := strings.Repeat("x", 63)
	n := NextInstanceLabel(long)
	assert.Len(t, n, 63)
	assert.True(t, strings.HasSuffix(n, "x (2)"))
	accents := strings.Repeat("é", 31) // 62 bytes
	n = NextInstanceLabel(accents)
	assert.LessOrEqual(t, len(n), 63)
	assert.True(t, strings.HasSuffix(n, " (2)"))
	assert.True(t, strings.HasPrefix(n, strings.Repeat("é", 29)+" "), "cut at a character boundary: %q", n)

	hs := []string{"h1"}
	for range 3 {
		hs = append(hs, NextHostLabel(hs[len(hs)-1]))
	}
	assert.Equal(t, []string{"h1", "h1-2", "h1-3", "h1-4"}, hs)
	assert.Equal(t, "my-host-2", NextHostLabel("my-host"))
	assert.Equal(t, "h-09-2", NextHostLabel("h-09"))
	assert.Equal(t, "web-1-2", NextHostLabel("web-1"))
	assert.Len(t, NextHostLabel(strings.Repeat("h", 63)), 63)
}
