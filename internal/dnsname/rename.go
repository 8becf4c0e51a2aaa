package dnsname

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NextInstanceLabel returns the instance label after s, for renaming on a
// conflict (RFC 6762 section 9, RFC 6763 section 4.1): "Name" -> "Name
// (2)", "Name (2)" -> "Name (3)", shortened at a UTF-8 boundary to stay
// within 63 bytes (RFC 6763 section 4.1.1).
func NextInstanceLabel(s string) string {
	base, n := s, 1
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndex(s, " ("); i >= 0 {
			if v, err := strconv.Atoi(s[i+2 : len(s)-1]); err == nil && v >= 2 {
				base, n = s[:i], v
			}
		}
	}
	suffix := fmt.Sprintf(" (%d)", n+1)
	return truncateUTF8(base, 63-len(suffix)) + suffix
}

// NextHostLabel returns the host label after s, for renaming a host name
// on a conflict (RFC 6762 section 9): "h1" -> "h1-2", "h1-2" -> "h1-3",
// within 63 bytes.
func NextHostLabel(s string) string {
	base, n := s, 1
	if i := strings.LastIndex(s, "-"); i > 0 {
		if v, err := strconv.Atoi(s[i+1:]); err == nil && v >= 2 && !strings.HasPrefix(s[i+1:], "0") {
			base, n = s[:i], v
		}
	}
	suffix := "-" + strconv.Itoa(n+1)
	return truncateUTF8(base, 63-len(suffix)) + suffix
}

// truncateUTF8 shortens s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
