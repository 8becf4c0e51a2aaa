package sd_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lansd/lansd/sd"
)

func TestFamilyOf(t *testing.T) {
	for in, want := range map[string]sd.Family{
		"198.51.100.7":        sd.IPv4,
		"0.0.0.0":             sd.IPv4,
		"::ffff:198.51.100.7": sd.IPv4, // 4-in-6 (IPv4-mapped) is IPv4
		"2001:db8::1":         sd.IPv6,
		"fe80::1%lan0":        sd.IPv6,
		"::":                  sd.IPv6,
		"::198.51.100.7":      sd.IPv6, // IPv4-compatible (deprecated), not mapped: IPv6
		"64:ff9b::c633:6407":  sd.IPv6, // NAT64 prefix: IPv6
	} {
		assert.Equal(t, want, sd.FamilyOf(netip.MustParseAddr(in)), "FamilyOf(%s)", in)
	}
}

func TestFamilyString(t *testing.T) {
	assert.Equal(t, "IPv4", sd.IPv4.String())
	assert.Equal(t, "IPv6", sd.IPv6.String())
	assert.Equal(t, "Family(5)", sd.Family(5).String())
	assert.Equal(t, sd.Family(4), sd.IPv4, "the values are the IP version numbers")
	assert.Equal(t, sd.Family(6), sd.IPv6)
}
