package dnsname_test

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnsname"
)

// hdr is a class IN header for name and type t with TTL ttl.
func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

func TestConstants(t *testing.T) {
	assert.Equal(t, 0x8000, dnsname.QU, "QU is the top bit of the question class (RFC 6762 section 5.4)")
	assert.Equal(t, 0x8000, dnsname.CacheFlush, "cache-flush is the top bit of the record class (RFC 6762 section 10.2)")
	assert.Equal(t, "local.", dnsname.Local)
	assert.Equal(t, "_services._dns-sd._udp", dnsname.ServicesType)
	assert.Equal(t, "_sub", dnsname.SubLabel)
}

// TestEqualASCIIOnly pins RFC 6762 section 16: ASCII letters compare
// case-insensitively, every other byte (UTF-8 included) as is.
func TestEqualASCIIOnly(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"Office.LOCAL.", "office.local.", true},
		{"office.local", "office.local.", true},
		{"ÉCOLE.local.", "école.local.", false},  // É and é: non-ASCII, not folded
		{"École.local.", "école.local.", false},  // idem, only the first letter differs
		{"ÉCOLE.local.", "École.local.", true},   // É on both sides, COLE/cole is ASCII
		{"\u212A.local.", "k.local.", false},     // KELVIN SIGN: strings.EqualFold says equal
		{"\u017Fub.local.", "sub.local.", false}, // LATIN SMALL LETTER LONG S
		{`\195\137COLE.local.`, "ÉCOLE.local.", true},
		{`\195\137COLE.local.`, "école.local.", false},
		{`\065.local.`, "a.local.", true}, // \065 is 'A'
		{`Office\ TZ._http._tcp.local.`, "office tz._http._tcp.local.", true},
		{`Office\032TZ._http._tcp.local.`, "Office TZ._http._tcp.local.", true},
		{`a\.b.local.`, "a.b.local.", false}, // one label with a dot, two labels
		{`a\\b.local.`, `a\092b.local.`, true},
		{"a.local.", "b.local.", false},
		{"a.local.", "a.local.local.", false},
	} {
		assert.Equal(t, tc.want, dnsname.Equal(tc.a, tc.b), "Equal(%q, %q)", tc.a, tc.b)
		assert.Equal(t, tc.want, dnsname.Equal(tc.b, tc.a), "Equal(%q, %q)", tc.b, tc.a)
		ka, oka := dnsname.Key(tc.a)
		kb, okb := dnsname.Key(tc.b)
		require.True(t, oka && okb, "%q and %q are valid names", tc.a, tc.b)
		assert.Equal(t, tc.want, ka == kb, "Key(%q) == Key(%q)", tc.a, tc.b)
		assert.Equal(t, tc.want, dnsname.MustKey(tc.a) == dnsname.MustKey(tc.b), "MustKey(%q) == MustKey(%q)", tc.a, tc.b)
		assert.Equal(t, tc.want, dnsname.Canonical(tc.a) == dnsname.Canonical(tc.b), "Canonical(%q) == Canonical(%q)", tc.a, tc.b)
	}
}

// TestKeyIsFoldedWire pins the key's form: the uncompressed wire form with
// ASCII letters lower-cased and every other byte kept.
func TestKeyIsFoldedWire(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{"Office.LOCAL.", "\x06office\x05local\x00"},
		{"office.local", "\x06office\x05local\x00"},
		{"ÉCOLE.local.", "\x06\xc3\x89cole\x05local\x00"}, // 0xC3 0x89 kept
		{`Office\ TZ.local.`, "\x09office tz\x05local\x00"},
		{`a\.B.local.`, "\x03a.b\x05local\x00"},
		{`\090\091.local.`, "\x02z[\x05local\x00"}, // 'Z' folded, '[' (0x5B, just past 'Z') kept
		{"@.local.", "\x01@\x05local\x00"},         // '@' (0x40, just before 'A') kept
		{".", "\x00"},
	} {
		k, ok := dnsname.Key(tc.name)
		require.True(t, ok, "Key(%q)", tc.name)
		assert.Equal(t, tc.want, k, "Key(%q)", tc.name)
		w, ok := dnsname.Wire(tc.name)
		require.True(t, ok, "Wire(%q)", tc.name)
		assert.Equal(t, []byte(tc.want), w, "Wire(%q)", tc.name)
		assert.Equal(t, tc.want, dnsname.MustKey(tc.name), "MustKey(%q)", tc.name)
	}
}

func TestKeyInvalid(t *testing.T) {
	long := strings.Repeat("x", 64)
	huge := strings.Repeat("abcdefghi.", 26) // 260 bytes of text, 261 on the wire
	for _, name := range []string{long + ".local.", "a..local.", huge} {
		_, ok := dnsname.Key(name)
		assert.False(t, ok, "Key(%q)", name)
		_, ok = dnsname.Wire(name)
		assert.False(t, ok, "Wire(%q)", name)
		k := dnsname.MustKey(name)
		assert.Equal(t, k, dnsname.MustKey(name), "MustKey(%q) is stable", name)
		assert.Equal(t, byte(0xff), k[0], "MustKey(%q) starts with a byte no packed name starts with", name)
		assert.Equal(t, k, dnsname.MustKey(strings.ToUpper(name)), "MustKey folds ASCII of an invalid name too")
		assert.True(t, dnsname.Equal(name, name))
		assert.Equal(t, k, dnsname.Canonical(name), "Canonical of an invalid name is its MustKey")
	}
	a, b := dnsname.MustKey(long+".local."), dnsname.MustKey("y"+long+".local.")
	assert.NotEqual(t, a, b, "distinct invalid names have distinct keys")
	assert.NotEqual(t, dnsname.MustKey("a..local."), dnsname.MustKey("a.local."), "an invalid name is not the valid one it resembles")
	assert.False(t, dnsname.Equal("a..local.", "a.local."))
	assert.NotEqual(t, dnsname.MustKey("É..local."), dnsname.MustKey("é..local."), "no Unicode folding for invalid names either")
}

func TestASCIILower(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"office":         "office",
		"Office.LOCAL.":  "office.local.",
		"ÉCOLE":          "École",
		"\u212A":         "\u212A",
		"@[`{AZaz":       "@[`{azaz",
		"\xc3\x89\xffAB": "\xc3\x89\xffab",
	} {
		assert.Equal(t, want, dnsname.ASCIILower(in), "ASCIILower(%q)", in)
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"Office.LOCAL":                     "office.local.",
		`Office\032TZ._HTTP._tcp.local.`:   `office\ tz._http._tcp.local.`,
		"Office TZ._http._tcp.local.":      `office\ tz._http._tcp.local.`,
		`a\.B.local.`:                      `a\.b.local.`,
		"ÉCOLE.local.":                     `\195\137cole.local.`,
		".":                                ".",
		`\"q\"\(x\)\;\@\$.local.`:          `\"q\"\(x\)\;\@$.local.`, // $ needs no escape
		"_services._dns-sd._udp.LOCAL.":    "_services._dns-sd._udp.local.",
		`tab\009x._ipp._tcp.Example.Com.`:  `tab\009x._ipp._tcp.example.com.`,
		`back\\slash._ipp._tcp.local.`:     `back\\slash._ipp._tcp.local.`,
		`\195\137COLE._ipp._tcp.local.`:    `\195\137cole._ipp._tcp.local.`,
		`printer._SUB._ipp._tcp.local.`:    `printer._sub._ipp._tcp.local.`,
		`Büro\.Uhr \\ 1._http._tcp.local.`: `b\195\188ro\.uhr\ \\\ 1._http._tcp.local.`,
	} {
		assert.Equal(t, want, dnsname.Canonical(in), "Canonical(%q)", in)
	}
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"office.local.", []string{"office", "local"}},
		{"office.local", []string{"office", "local"}},
		{`Office\.TZ\032x._http._tcp.local.`, []string{"Office.TZ x", "_http", "_tcp", "local"}},
		{`Office\ TZ._http._tcp.local.`, []string{"Office TZ", "_http", "_tcp", "local"}},
		{`a\\b.local.`, []string{`a\b`, "local"}},
		{`\195\137cole.local.`, []string{"École", "local"}},
		{".", nil},
	} {
		assert.Equal(t, tc.want, dnsname.Labels(tc.name), "Labels(%q)", tc.name)
	}
}

func TestUnescapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		`a\.b`:         "a.b",
		`a\\b`:         `a\b`,
		`Office\ TZ`:   "Office TZ", // miekg/dns writes a space so
		`Office\032TZ`: "Office TZ",
		`\195\137`:     "É",
		`\000\255`:     "\x00\xff",
		`\"q\"`:        `"q"`,
		`\256`:         "256", // not a byte: the backslash quotes '2'
		`\12`:          "12",  // two digits: the backslash quotes '1'
		`a\`:           `a\`,  // a trailing backslash stays
	} {
		assert.Equal(t, want, dnsname.UnescapeLabel(in), "UnescapeLabel(%q)", in)
	}
}

func TestEscapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Office TZ":    "Office TZ", // RFC 6763 section 4.3: spaces shown as spaces
		"a.b":          `a\.b`,
		`a\b`:          `a\\b`,
		"École":        "École",
		"\x00":         `\000`,
		"tab\tx":       `tab\009x`,
		"nl\n":         `nl\010`,
		"\x1f\x7f":     `\031\127`,
		"\xff":         "\xff", // invalid UTF-8 is kept as is, like every byte >= 0x80
		`Büro.Uhr \ 1`: `Büro\.Uhr \\ 1`,
	} {
		assert.Equal(t, want, dnsname.EscapeLabel(in), "EscapeLabel(%q)", in)
	}
}

// TestEscapeRoundTrip: a raw label, escaped, unescapes to itself and packs
// (by miekg/dns) into exactly its bytes.
func TestEscapeRoundTrip(t *testing.T) {
	for _, raw := range []string{
		"Office TZ",
		"a.b",
		`a\b`,
		`Büro.Uhr \ 1`,
		"École",
		"\x00\x01\x1f\x7f\x80\xff",
		`\032`,
		"a. b\\.c",
		"end.",
		".",
		`"quoted" (x); @$`,
	} {
		esc := dnsname.EscapeLabel(raw)
		assert.Equal(t, raw, dnsname.UnescapeLabel(esc), "UnescapeLabel(EscapeLabel(%q))", raw)
		name := esc + "._http._tcp.local."
		assert.Equal(t, []string{raw, "_http", "_tcp", "local"}, dnsname.Labels(name), "Labels(%q)", name)
		buf := make([]byte, 256)
		n, err := dns.PackDomainName(name, buf, 0, nil, false)
		require.NoError(t, err, "%q packs", name)
		require.Greater(t, n, len(raw))
		assert.Equal(t, len(raw), int(buf[0]), "first label length of %q", name)
		assert.Equal(t, raw, string(buf[1:1+len(raw)]), "first label bytes of %q", name)
		// miekg/dns's own form of the name (a space as "\ ") is the same name
		// and displays as ours.
		back, _, err := dns.UnpackDomainName(buf[:n], 0)
		require.NoError(t, err)
		assert.True(t, dnsname.Equal(back, name), "%q (miekg/dns) equals %q", back, name)
		assert.Equal(t, name, dnsname.Display(back), "Display(%q)", back)
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		`Office\ TZ._http._tcp.local.`:        "Office TZ._http._tcp.local.",
		`Office\032TZ._http._tcp.local.`:      "Office TZ._http._tcp.local.",
		`a\.b\"c\"._http._tcp.local.`:         `a\.b"c"._http._tcp.local.`,
		`\195\137cole\ \(1\)._ipp._tcp.local`: "École (1)._ipp._tcp.local.",
		`tab\009x.local.`:                     `tab\009x.local.`,
		`back\\slash.local.`:                  `back\\slash.local.`,
		"Office.LOCAL.":                       "Office.LOCAL.", // case kept
		".":                                   ".",
		"":                                    ".",
	} {
		assert.Equal(t, want, dnsname.Display(in), "Display(%q)", in)
	}
}

// oldRdata is announce's tie-break rdata before dnsname: the packed record
// with a root owner name, less the 11 bytes of name, type, class, TTL and
// rdlength.
func oldRdata(rr dns.RR) []byte {
	cp := dns.Copy(rr)
	cp.Header().Name = "."
	buf := make([]byte, dns.Len(cp)+16)
	off, err := dns.PackRR(cp, buf, 0, nil, false)
	if err != nil || off < 11 {
		return nil
	}
	return buf[11:off]
}

func TestRdata(t *testing.T) {
	srv := &dns.SRV{Hdr: hdr("X._ipp._tcp.local.", dns.TypeSRV, 120), Priority: 1, Weight: 2, Port: 631, Target: "H1.Local."}
	for _, tc := range []struct {
		rr   dns.RR
		want []byte
	}{
		{&dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: net.ParseIP("10.0.0.1")}, []byte{10, 0, 0, 1}},
		{&dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: net.IPv4(10, 0, 0, 1).To4()}, []byte{10, 0, 0, 1}},
		{&dns.AAAA{Hdr: hdr("h1.local.", dns.TypeAAAA, 120), AAAA: net.ParseIP("fe80::1")},
			[]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		// Names in rdata are raw: uncompressed, case kept (RFC 6762 section 8.2).
		{srv, []byte{0, 1, 0, 2, 0x02, 0x77, 2, 'H', '1', 5, 'L', 'o', 'c', 'a', 'l', 0}},
		{&dns.PTR{Hdr: hdr("_ipp._tcp.local.", dns.TypePTR, 4500), Ptr: `A\ b._ipp._tcp.local.`},
			append([]byte("\x03A b\x04_ipp\x04_tcp\x05local"), 0)},
		{&dns.TXT{Hdr: hdr("x.local.", dns.TypeTXT, 4500), Txt: []string{"a=1", "B"}}, []byte("\x03a=1\x01B")},
		{&dns.TXT{Hdr: hdr("x.local.", dns.TypeTXT, 4500), Txt: []string{""}}, []byte{0}},
		{&dns.NSEC{Hdr: hdr("h1.local.", dns.TypeNSEC, 120), NextDomain: "h1.local.", TypeBitMap: []uint16{dns.TypeA, dns.TypeAAAA}},
			[]byte{2, 'h', '1', 5, 'l', 'o', 'c', 'a', 'l', 0, 0, 4, 0x40, 0, 0, 0x08}},
	} {
		got := dnsname.Rdata(tc.rr)
		assert.Equal(t, tc.want, got, "Rdata(%v)", tc.rr)
		assert.Equal(t, oldRdata(tc.rr), got, "Rdata(%v) is announce's tie-break rdata", tc.rr)
	}
	// Owner name, TTL and class do not count; rr is left as it was.
	moved := dns.Copy(srv).(*dns.SRV)
	moved.Hdr.Name, moved.Hdr.Ttl, moved.Hdr.Class = "Y.example.", 0, dns.ClassINET|dnsname.CacheFlush
	assert.Equal(t, dnsname.Rdata(srv), dnsname.Rdata(moved))
	assert.Equal(t, "X._ipp._tcp.local.", srv.Hdr.Name)
	assert.Equal(t, uint32(120), srv.Hdr.Ttl)
	// A record that does not pack has no rdata.
	bad := &dns.TXT{Hdr: hdr("x.local.", dns.TypeTXT, 1), Txt: []string{strings.Repeat("x", 256)}}
	assert.Nil(t, dnsname.Rdata(bad))
}

func TestRdataKey(t *testing.T) {
	ptr := func(target string) dns.RR {
		return &dns.PTR{Hdr: hdr("_ipp._tcp.local.", dns.TypePTR, 4500), Ptr: target}
	}
	srv := func(prio, weight, port uint16, target string) dns.RR {
		return &dns.SRV{Hdr: hdr("x._ipp._tcp.local.", dns.TypeSRV, 120), Priority: prio, Weight: weight, Port: port, Target: target}
	}
	a := func(ip net.IP) dns.RR { return &dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: ip} }
	aaaa := func(ip net.IP) dns.RR { return &dns.AAAA{Hdr: hdr("h1.local.", dns.TypeAAAA, 120), AAAA: ip} }
	txt := func(s ...string) dns.RR { return &dns.TXT{Hdr: hdr("x._ipp._tcp.local.", dns.TypeTXT, 4500), Txt: s} }
	for _, tc := range []struct {
		what string
		a, b dns.RR
		same bool
	}{
		{"PTR target case", ptr("Office._ipp._tcp.LOCAL."), ptr("office._ipp._tcp.local."), true},
		{"PTR target escapes", ptr(`Office\ TZ._ipp._tcp.local.`), ptr("Office TZ._ipp._tcp.local."), true},
		{"PTR target non-ASCII case", ptr("École._ipp._tcp.local."), ptr("école._ipp._tcp.local."), false},
		{"PTR other target", ptr("a._ipp._tcp.local."), ptr("b._ipp._tcp.local."), false},
		{"SRV target case", srv(0, 0, 631, "H1.Local."), srv(0, 0, 631, "h1.local."), true},
		{"SRV port", srv(0, 0, 631, "h1.local."), srv(0, 0, 632, "h1.local."), false},
		{"SRV priority", srv(0, 0, 631, "h1.local."), srv(1, 0, 631, "h1.local."), false},
		{"SRV weight", srv(0, 0, 631, "h1.local."), srv(0, 1, 631, "h1.local."), false},
		{"IPv4 as 16 bytes and as 4", a(net.ParseIP("10.0.0.1")), a(net.IPv4(10, 0, 0, 1).To4()), true},
		{"other IPv4", a(net.ParseIP("10.0.0.1")), a(net.ParseIP("10.0.0.2")), false},
		{"IPv6", aaaa(net.ParseIP("fe80::1")), aaaa(net.ParseIP("FE80:0::1")), true},
		{"other IPv6", aaaa(net.ParseIP("fe80::1")), aaaa(net.ParseIP("fe80::2")), false},
		{"TXT same", txt("a=1"), txt("a=1"), true},
		{"TXT case counts", txt("a=1"), txt("A=1"), false},
		{"TXT strings", txt("a=1", "b"), txt("a=1b"), false},
		// Only rdata: owner name, TTL and class do not count.
		{"owner and TTL", &dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: net.ParseIP("10.0.0.1")},
			&dns.A{Hdr: dns.RR_Header{Name: "h2.local.", Rrtype: dns.TypeA, Class: dns.ClassINET | dnsname.CacheFlush, Ttl: 1}, A: net.ParseIP("10.0.0.1")}, true},
	} {
		assert.Equal(t, tc.same, dnsname.RdataKey(tc.a) == dnsname.RdataKey(tc.b), "%s: RdataKey(%v) == RdataKey(%v)", tc.what, tc.a, tc.b)
	}
	// The forms of the keys.
	assert.Equal(t, "\x0a\x00\x00\x01", dnsname.RdataKey(a(net.ParseIP("10.0.0.1"))))
	assert.Equal(t, "\x00\x01\x00\x02\x02\x77\x02h1\x05local\x00", dnsname.RdataKey(srv(1, 2, 631, "H1.local.")))
	assert.Equal(t, dnsname.MustKey("office._ipp._tcp.local."), dnsname.RdataKey(ptr("Office._ipp._tcp.local.")))
	assert.Equal(t, string(dnsname.Rdata(txt("a=1"))), dnsname.RdataKey(txt("a=1")))
}

func TestRRKey(t *testing.T) {
	a := &dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: net.ParseIP("10.0.0.1")}
	with := func(rr dns.RR, f func(h *dns.RR_Header)) dns.RR {
		cp := dns.Copy(rr)
		f(cp.Header())
		return cp
	}
	ptr := func(owner, target string) dns.RR {
		return &dns.PTR{Hdr: hdr(owner, dns.TypePTR, 4500), Ptr: target}
	}
	srv := func(target string) dns.RR {
		return &dns.SRV{Hdr: hdr("x._ipp._tcp.local.", dns.TypeSRV, 120), Port: 631, Target: target}
	}
	nsec := func(next string) dns.RR {
		return &dns.NSEC{Hdr: hdr("h1.local.", dns.TypeNSEC, 120), NextDomain: next, TypeBitMap: []uint16{dns.TypeA}}
	}
	txt := func(s string) dns.RR {
		return &dns.TXT{Hdr: hdr("x._ipp._tcp.local.", dns.TypeTXT, 4500), Txt: []string{s}}
	}
	for _, tc := range []struct {
		what string
		a, b dns.RR
		same bool
	}{
		{"TTL ignored", a, with(a, func(h *dns.RR_Header) { h.Ttl = 0 }), true},
		{"cache-flush bit ignored", a, with(a, func(h *dns.RR_Header) { h.Class |= dnsname.CacheFlush }), true},
		{"owner case ignored", a, with(a, func(h *dns.RR_Header) { h.Name = "H1.LOCAL." }), true},
		{"owner non-ASCII case counts", with(a, func(h *dns.RR_Header) { h.Name = "É.local." }), with(a, func(h *dns.RR_Header) { h.Name = "é.local." }), false},
		{"owner escapes ignored", with(a, func(h *dns.RR_Header) { h.Name = `h\ 1.local.` }), with(a, func(h *dns.RR_Header) { h.Name = `h\0321.local.` }), true},
		{"other owner", a, with(a, func(h *dns.RR_Header) { h.Name = "h2.local." }), false},
		{"other class", a, with(a, func(h *dns.RR_Header) { h.Class = dns.ClassCHAOS }), false},
		{"other address", a, &dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: net.ParseIP("10.0.0.2")}, false},
		{"IPv4 as 16 bytes and as 4", a, &dns.A{Hdr: hdr("h1.local.", dns.TypeA, 120), A: net.IPv4(10, 0, 0, 1).To4()}, true},
		{"PTR target case folded", ptr("_ipp._tcp.local.", "X._ipp._tcp.local."), ptr("_IPP._tcp.local.", "x._ipp._tcp.local."), true},
		{"PTR target non-ASCII kept", ptr("_ipp._tcp.local.", "É._ipp._tcp.local."), ptr("_ipp._tcp.local.", "é._ipp._tcp.local."), false},
		{"SRV target case folded", srv("H1.local."), srv("h1.LOCAL."), true},
		{"SRV other target", srv("h1.local."), srv("h2.local."), false},
		{"NSEC next name case folded", nsec("H1.local."), nsec("h1.local."), true},
		{"TXT case counts", txt("a=1"), txt("A=1"), false},
		{"type counts", &dns.PTR{Hdr: hdr("x.local.", dns.TypePTR, 1), Ptr: "y.local."}, &dns.CNAME{Hdr: hdr("x.local.", dns.TypeCNAME, 1), Target: "y.local."}, false},
	} {
		assert.Equal(t, tc.same, dnsname.RRKey(tc.a) == dnsname.RRKey(tc.b), "%s: RRKey(%v) == RRKey(%v)", tc.what, tc.a, tc.b)
	}
	// The key is the packed record with the TTL zero, the cache-flush bit
	// cleared and names canonical; rr itself is not changed.
	flushed := with(a, func(h *dns.RR_Header) { h.Name, h.Class = "H1.Local.", dns.ClassINET|dnsname.CacheFlush })
	assert.Equal(t, "\x02h1\x05local\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x0a\x00\x00\x01", dnsname.RRKey(flushed))
	assert.Equal(t, "H1.Local.", flushed.Header().Name)
	assert.Equal(t, uint16(dns.ClassINET|dnsname.CacheFlush), flushed.Header().Class)
	assert.Equal(t, uint32(120), flushed.Header().Ttl)
}
