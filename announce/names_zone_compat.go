package announce

import (
	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/dnsname"
)

// The zone registrar (zone*.go) still calls the name helpers by their old
// names; each is dnsname's, so that the rules live in one place. This file
// goes when the registrar moves to package wide (issue 10); nothing else in
// announce uses these names.

// nameKey is dnsname.MustKey.
func nameKey(s string) string { return dnsname.MustKey(s) }

// sameName is dnsname.Equal.
func sameName(a, b string) bool { return dnsname.Equal(a, b) }

// rrKey is dnsname.RRKey.
func rrKey(rr dns.RR) string { return dnsname.RRKey(rr) }

// escapeLabel is dnsname.EscapeLabel.
func escapeLabel(s string) string { return dnsname.EscapeLabel(s) }

// Fixed names of DNS-SD (RFC 6763), as the registrar writes them.
const (
	enumLabels  = dnsname.ServicesType + "."
	subLabel    = "." + dnsname.SubLabel + "."
	localDomain = dnsname.Local
)
