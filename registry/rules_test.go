package registry

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// k builds an expected KeyRule.
func k(key string, kind ValueKind, n int, desc string) KeyRule {
	return KeyRule{Key: key, Value: kind, Len: n, Description: desc}
}

// bare lists keys given without a value.
func bare(keys ...string) []KeyRule {
	out := make([]KeyRule, len(keys))
	for i, key := range keys {
		out[i] = KeyRule{Key: key}
	}
	return out
}

// ruleCases are real Assignment Notes copied from the IANA file (the test
// TestRuleCasesAreReal checks that each occurs there), with the result a
// careful reading of the note gives.
var ruleCases = []struct {
	service string // a service whose note this is
	note    string
	kind    RuleKind
	reason  string // for RulesUnknown; "unparsed" matches any "unparsed: ..."
	open    bool
	keys    []KeyRule
}{
	// --- RulesKeys ---
	{"jnx-kcsync", "Defined TXT keys: hash=<40hex characters>\n      salt=<40hex characters>\n      uuid=<40hex characters>\n      Example:\n      hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8\n      salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9\n      uuid=db61dc092922252e45bbb264f59147138c7fd5fa",
		RulesKeys, "", false, []KeyRule{k("hash", ValueHex, 40, "<40hex characters>"), k("salt", ValueHex, 40, "<40hex characters>"), k("uuid", ValueHex, 40, "<40hex characters>")}},
	{"timezone", "This is an extension of the http service.  Defined\n      TXT keys: path=<context path> (as per Section 6 of [RFC6763]).",
		RulesKeys, "", false, []KeyRule{k("path", ValuePath, 0, "<context path> (as per Section 6 of [RFC6763])")}},
	{"ftp", "Defined TXT keys: u=<username> p=<password> path=<path>",
		RulesKeys, "", false, []KeyRule{k("u", ValueAny, 0, "<username>"), k("p", ValueAny, 0, "<password>"), k("path", ValuePath, 0, "<path>")}},
	{"http", "Defined TXT keys: u=<username> p=<password> path=<path to document>",
		RulesKeys, "", false, []KeyRule{k("u", ValueAny, 0, "<username>"), k("p", ValueAny, 0, "<password>"), k("path", ValuePath, 0, "<path to document>")}},
	{"nfs", "Defined TXT keys: path=<path to mount point>",
		RulesKeys, "", false, []KeyRule{k("path", ValuePath, 0, "<path to mount point>")}},
	{"qttp", "Defined TXT keys: u=<username> p=<password> path=<path to document> (Same as for _http._tcp)",
		RulesKeys, "", false, []KeyRule{k("u", ValueAny, 0, "<username>"), k("p", ValueAny, 0, "<password>"), k("path", ValuePath, 0, "<path to document> (Same as for _http._tcp)")}},
	{"daap", "Defined TXT keys: txtvers, Version, iTSh Version, Machine ID, Database ID, Machine Name, Password",
		RulesKeys, "", false, bare("txtvers", "Version", "iTSh Version", "Machine ID", "Database ID", "Machine Name", "Password")},
	{"lanrevagent", "Defined TXT keys: txtvers server=<main LANrev server for agent> vers=<version of LANrev Agent> build=<build number of LANrev Agent> id=<agent identifier>",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, ""), k("server", ValueAny, 0, "<main LANrev server for agent>"), k("vers", ValueAny, 0, "<version of LANrev Agent>"), k("build", ValueAny, 0, "<build number of LANrev Agent>"), k("id", ValueAny, 0, "<agent identifier>")}},
	{"owserver", "Defined TXT keys: txtvers", RulesKeys, "", false, bare("txtvers")},
	{"audirvana-ap", "Defined TXT keys: txtvers, protovers", RulesKeys, "", false, bare("txtvers", "protovers")},
	{"oca", "Defined TXT keys: txtvers=1 protovers=x",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, "1"), k("protovers", ValueAny, 0, "x")}},
	{"roku-rcp", "Defined TXT keys: txtvers=1", RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, "1")}},
	{"xmcp", "Defined TXT keys:     txtvers=1 (as described in the draft)\n      protovers=<comma-separated list of major/minor versions supported>\n(examples: \"protovers=1.0\" \"protovers=1.1,2.0\"",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, "1 (as described in the draft)"), k("protovers", ValueAny, 0, "<comma-separated list of major/minor versions supported>")}},
	{"mieleacs", "Defined TXT keys: txtvers and proprietary keys", RulesKeys, "", true, bare("txtvers")},
	{"homeconnect", "Defined TXT keys: txtvers + Proprietary", RulesKeys, "", true, bare("txtvers")},
	{"voalte2", "Defined TXT keys: txtvers, name, (others not publicly documented)", RulesKeys, "", true, bare("txtvers", "name")},
	{"acs-ctl-ds", "Defined TXT keys: MAC=, GW-MAC", RulesKeys, "", false, bare("MAC", "GW-MAC")},
	{"lsys-ezcfg", "Defined TXT keys:   model=value (string)\n  serial=value (sring)\n  hwversion=value (string)\n  swversion=value (string)\n  ifversion=value (string)\n  type=value (string)\n  mac=value (12 hex digits)",
		RulesKeys, "", false, []KeyRule{k("model", ValueAny, 0, "value (string)"), k("serial", ValueAny, 0, "value (sring)"), k("hwversion", ValueAny, 0, "value (string)"), k("swversion", ValueAny, 0, "value (string)"), k("ifversion", ValueAny, 0, "value (string)"), k("type", ValueAny, 0, "value (string)"), k("mac", ValueHex, 12, "value (12 hex digits)")}},
	{"b3d-convince", "Defined TXT keys: txtvers=1, protovers=<api version>, guid=<32 hex digits>",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, "1"), k("protovers", ValueAny, 0, "<api version>"), k("guid", ValueHex, 32, "<32 hex digits>")}},
	{"ncpu", "Defined TXT keys: u=username; k=keypattern; f=fstabFILE; n=namespace; h=hostkey; r=root",
		RulesKeys, "", false, []KeyRule{k("u", ValueAny, 0, "username"), k("k", ValueAny, 0, "keypattern"), k("f", ValueAny, 0, "fstabFILE"), k("n", ValueAny, 0, "namespace"), k("h", ValueAny, 0, "hostkey"), k("r", ValueAny, 0, "root")}},
	{"dbaudio", "Defined TXT keys:txtvers=<TXT-Record version>\nprotovers=<version of proprietary protocol>\nguid=<type>\nname=<name>\nsn=<serial number>\ndevice=<cleartext type>\nfwver=<firmware version>",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, "<TXT-Record version>"), k("protovers", ValueAny, 0, "<version of proprietary protocol>"), k("guid", ValueAny, 0, "<type>"), k("name", ValueAny, 0, "<name>"), k("sn", ValueAny, 0, "<serial number>"), k("device", ValueAny, 0, "<cleartext type>"), k("fwver", ValueAny, 0, "<firmware version>")}},
	{"enphase-envoy", "Defined TXT keys: - txtvers\n      - protovers\n      - serialnum", RulesKeys, "", false, bare("txtvers", "protovers", "serialnum")},
	{"soda", "Defined TXT keys: a. ssid=<Wi-Fi SSID of the device>\nb. bssid=<Wi-Fi BSSID of the device>",
		RulesKeys, "", false, []KeyRule{k("ssid", ValueAny, 0, "<Wi-Fi SSID of the device>"), k("bssid", ValueAny, 0, "<Wi-Fi BSSID of the device>")}},
	{"mqtt", "Defined TXT keys: topics=<open topic to subscribe to for information>, eg topic=/info",
		RulesKeys, "", false, []KeyRule{k("topics", ValueAny, 0, "<open topic to subscribe to for information>")}},
	{"lxi", "Defined TXT keys: txtvers, *IDN?=<response defined by IEEE 488; e.g., manufacturer, model, serial number, version>",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, ""), k("*IDN?", ValueAny, 0, "<response defined by IEEE 488; e.g., manufacturer, model, serial number, version>")}},
	{"objective", "Defined TXT keys:   txtvers='1'\n  type={'production'|'standby'|'test'|'demo'}\n  protocol={['SOAP'],['CORBA']}\n  transport=['iiop']|['http']",
		RulesKeys, "", false, []KeyRule{k("txtvers", ValueAny, 0, "'1'"), k("type", ValueAny, 0, "{'production'|'standby'|'test'|'demo'}"), k("protocol", ValueAny, 0, "{['SOAP'],['CORBA']}"), k("transport", ValueAny, 0, "['iiop']|['http']")}},
	{"wdp", "Defined TXT keys: D (device type), S (https port), A (architecture),\n    T (tags)",
		RulesKeys, "", false, []KeyRule{k("D", ValueAny, 0, "(device type)"), k("S", ValueAny, 0, "(https port)"), k("A", ValueAny, 0, "(architecture)"), k("T", ValueAny, 0, "(tags)")}},
	{"irmc", "Defined TXT keys: RMC Client Version=<version>, MAC Address=<address>",
		RulesKeys, "", false, []KeyRule{k("RMC Client Version", ValueAny, 0, "<version>"), k("MAC Address", ValueAny, 0, "<address>")}},
	{"bidib", "Defined TXT keys: bidib,node,interface,uid,prod,user - http://bidib.org/transport/bidib_net_e.html",
		RulesKeys, "", false, bare("bidib", "node", "interface", "uid", "prod", "user")},
	{"tbricks", "Defined TXT keys: txtvers=1, sesna, seid, setype, cosna, coid,\n    cotype, sysna, syna, syid, subsyid, venid, protocols, pid",
		RulesKeys, "", false, append([]KeyRule{k("txtvers", ValueAny, 0, "1")}, bare("sesna", "seid", "setype", "cosna", "coid", "cotype", "sysna", "syna", "syid", "subsyid", "venid", "protocols", "pid")...)},
	// Taken literally: the registrant listed these as keys.
	{"commfort", "Defined TXT keys: commfort, chat, communications, client-server, local chat, LAN, network, voice chat, video chat, video communication, video conference, file transfer",
		RulesKeys, "", false, bare("commfort", "chat", "communications", "client-server", "local chat", "LAN", "network", "voice chat", "video chat", "video communication", "video conference", "file transfer")},

	// --- RulesNone ---
	{"bootps", "Defined TXT keys: None", RulesNone, "", false, nil},
	{"autotunnel", "Defined TXT Keys: None", RulesNone, "", false, nil},
	{"autotargets-ap", "Defined TXT keys: none", RulesNone, "", false, nil},
	{"radioport", "Defined TXT keys: NONE", RulesNone, "", false, nil},
	{"llrp", "Defined TXT keys: None. RFID reader Low Level Reader Protocol", RulesNone, "", false, nil},
	{"devonsync", "Defined TXT keys: None at present", RulesNone, "", false, nil},
	{"ptnetprosrv2", "Defined TXT keys: None\nProfiling and performance analysis protocol for Shark 4.0 and BigTop.", RulesNone, "", false, nil},
	{"tsbiis", "Defined TXT keys: there is no TXT keys defined for this protocol", RulesNone, "", false, nil},

	// --- RulesUnknown: proprietary, to be defined, reference ---
	{"busycal", "Defined TXT keys: Proprietary", RulesUnknown, ReasonProprietary, false, nil},
	{"airmate", "Defined TXT keys: proprietary", RulesUnknown, ReasonProprietary, false, nil},
	{"uddi", "Defined TXT keys: TBD", RulesUnknown, ReasonToBeDefined, false, nil},
	{"exb", "Defined TXT keys: Will be described at www.exbiblio.com", RulesUnknown, ReasonToBeDefined, false, nil},
	{"meshcop-e", "Defined TXT keys: TXT records keys, if any, will be defined in Section 8.12 of the Thread Specification. https://www.threadgroup.org/ThreadSpec", RulesUnknown, ReasonToBeDefined, false, nil},
	{"ipp", "Defined TXT keys: See BonjourPrinting.pdf.", RulesUnknown, ReasonReference, false, nil},
	{"usp-agt-coap", "Defined TXT keys: see www.broadband-forum.org/assignments", RulesUnknown, ReasonReference, false, nil},
	{"vapix-http", "Defined TXT keys: https://help.axis.com/en-us/axis-os#axis-bonjour-implementation", RulesUnknown, ReasonReference, false, nil},
	{"mist", "Defined TXT keys: https://www.praesentia.com/medkit/mist-service-type (dn dt md mf pr sn vn)", RulesUnknown, ReasonReference, false, nil},
	{"omni-live", "Defined TXT keys: omni-livetxt.html", RulesUnknown, ReasonReference, false, nil},
	{"sipuri", "Defined TXT keys: Defined in URL specification", RulesUnknown, ReasonReference, false, nil},
	{"mn-passage", "Defined TXT keys: inherited from bonjour/iOS multipeer connectivity", RulesUnknown, ReasonReference, false, nil},
	{"meshcop", "Defined TXT keys: Thread 1.1 Specification, Section 8.4.1.1.2. https://www.threadgroup.org/ThreadSpec", RulesUnknown, ReasonReference, false, nil},

	// --- RulesUnknown: unparsed (never guessed) ---
	{"hg", "Defined TXT keys: None\n  path=<file system pathname to repository>\n  description=<descriptive name of repository>", RulesUnknown, "unparsed", false, nil},
	{"mxs", "Defined TXT keys: None\n  mxs.system.id=<system id>\n  mxs.system.version=<system layer version>\n  mxs.cluster.id=<cluster id the system belongs to>", RulesUnknown, "unparsed", false, nil},
	{"msrps", "Defined TXT keys:", RulesUnknown, "unparsed", false, nil},
	{"mavlink", "Defined TXT keys: 0", RulesUnknown, "unparsed", false, nil},
	{"psap", "Defined TXT keys: c0, c1, ..., cn", RulesUnknown, "unparsed", false, nil},
	{"ptp-req", "Defined TXT keys: txtvers, guid, c0, c1, c2, ..., where the number of c_n attributes is variable", RulesUnknown, "unparsed", false, nil},
	{"test-ok", "Defined TXT keys: TEST-OK Test Controller Card TCCxxxx", RulesUnknown, "unparsed", false, nil},
	{"hub-open-net", "Defined TXT keys: _hub._tcp.host.example.com", RulesUnknown, "unparsed", false, nil},
	{"payload-app", "Defined TXT keys: _payload._tcp.local, _payload._udp.local", RulesUnknown, "unparsed", false, nil},
	{"nasunifiler", "Defined TXT keys: companyfullname == The name of the company hosting the Nasuni Filer", RulesUnknown, "unparsed", false, nil},
	{"ims-ni", "Defined TXT keys:  SN (serial number), SVER (software version), HVER (hardware version), PVER (protocol version))", RulesUnknown, "unparsed", false, nil},
	{"rfbc", "Defined TXT keys: server=dns-name/ip-address:port of currently displayed VNC server.\n  Empty if not showing anything/available.", RulesUnknown, "unparsed", false, nil},
	{"spx-hmp", "Defined TXT keys: txtvers=1\ncport= the port for the content HTTP server\n      (secondary HTTP server used for content publishing)\n      mode= the mode in which the HMP device is currently\n      operating, one of \"normal\", \"safe\" or \"recovery\"\n      serial= serial number of the HMP device\n      firmware= firmware version string (e.g.,\n      2.1.0-0.1.7844)\n      model= model string (e.g., HMP100)", RulesUnknown, "unparsed", false, nil},
	{"aeroflex", "Defined TXT keys:   orb_server=<port #> (optional) CORBA ORB server used for resource discovery\n  product_id=<string> (optional) ID of licensed product\n  txtvers=\"*IDN?=<identifier>\" (optional) as per LXI specification (for not yet LXI compatible instruments)", RulesUnknown, "unparsed", false, nil},
	{"pgpkey-http", "Defined TXT keys: path=<path on the server where the HKP applications reside>\n                  normally: \"path=/pks/\"", RulesUnknown, "unparsed", false, nil},
	{"iot", "Defined TXT keys: <type>:application specific kind of protocol; <vers>:version of the 'type'; <device>:device descriptor", RulesUnknown, "unparsed", false, nil},
	{"vhusb", "Defined TXT keys: <serial number of server>", RulesUnknown, "unparsed", false, nil},
	{"bootstrap", "Defined TXT keys: \"url\": if present, indicates a connection url (i.e. wss://example.com/bootstrap, or https://example.com/bootstrap) to be used by the device for bootstrapping; \"namespace\": identifies the underlying application-level protocol (should be unique for the application protocol, typically a UUID or a URN)", RulesUnknown, "unparsed", false, nil},
	{"pochi", "Defined TXT keys: key \"txtvers\" for specification versioning, and key \"name\" representing the advertising presentation string value name for the audience application to retrieve and display.", RulesUnknown, "unparsed", false, nil},
	{"mazepseudo-game", "Defined TXT keys: 1 TXT record key for the RSA public key used by the server instance.", RulesUnknown, "unparsed", false, nil},
	{"av-chat-ring-01", "Defined TXT keys: There are two TXT record keys: 1st key: \"txt-vers\" associated with an 'int' entry. 2nd key: \"conn-stat\" associated with an 'int' entry.", RulesUnknown, "unparsed", false, nil},
	{"strobe-sync", "Defined TXT keys: Application will rely upon Bonjour version 3.1.0.1", RulesUnknown, "unparsed", false, nil},
	{"ncbroadcast", "Defined TXT keys: Contact The ZAZ Software <networkclipboard at thezaz.com>", RulesUnknown, "unparsed", false, nil},

	// --- RulesAbsent: keys described, but not as "Defined TXT keys" ---
	{"www-http", "This is a duplicate of the \"http\" service and should not be used for discovery purposes.\n      u=<username> p=<password> path=<path to document>", RulesAbsent, "", false, nil},
}

func TestParseRulesRealNotes(t *testing.T) {
	kinds := map[RuleKind]bool{}
	reasons := map[string]bool{}
	for _, tc := range ruleCases {
		t.Run(tc.service, func(t *testing.T) {
			r := ParseRules(tc.note)
			require.Equal(t, tc.kind, r.Kind, "reason %q", r.Reason)
			kinds[r.Kind] = true
			switch tc.kind {
			case RulesUnknown:
				reasons[strings.SplitN(r.Reason, ":", 2)[0]] = true
				if tc.reason == "unparsed" {
					assert.True(t, strings.HasPrefix(r.Reason, ReasonUnparsedPrefix), r.Reason)
					assert.Greater(t, len(r.Reason), len(ReasonUnparsedPrefix), "says why")
				} else {
					assert.Equal(t, tc.reason, r.Reason)
				}
				assert.Empty(t, r.Keys)
			case RulesKeys:
				assert.Empty(t, r.Reason)
				assert.Equal(t, tc.keys, r.Keys)
			default:
				assert.Empty(t, r.Keys)
				assert.Empty(t, r.Reason)
			}
			assert.Equal(t, tc.open, r.Open)
			if tc.kind != RulesAbsent {
				assert.NotContains(t, r.Text, "Defined TXT", "Text is what follows the phrase")
				assert.Equal(t, strings.TrimSpace(r.Text), r.Text)
			} else {
				assert.Empty(t, r.Text)
			}
		})
	}
	assert.Len(t, kinds, 4, "the table covers every kind")
	assert.Len(t, reasons, 4, "the table covers every reason: %v", reasons)
	assert.GreaterOrEqual(t, len(ruleCases), 30)
}

// Every note in the table is copied from the real file.
func TestRuleCasesAreReal(t *testing.T) {
	reg := realRegistry(t)
	for _, tc := range ruleCases {
		s, ok := reg.Lookup(tc.service)
		if !assert.True(t, ok, tc.service) {
			continue
		}
		found := false
		for _, rec := range s.Records {
			if strings.Contains(rec.Notes, tc.note) {
				found = true
			}
		}
		assert.True(t, found, "%s: note not found verbatim in the real file", tc.service)
	}
}

func TestParseRulesSynthetic(t *testing.T) {
	for _, tc := range []struct {
		note string
		kind RuleKind
		keys []KeyRule
	}{
		{"", RulesAbsent, nil},
		{"defined txt keys: none", RulesNone, nil},
		{"DEFINED\tTXT\r\nKEYS : x=<8 HEX CHARACTERS>", RulesKeys, []KeyRule{k("x", ValueHex, 8, "<8 HEX CHARACTERS>")}},
		{"Defined TXT keys: x=<0hex characters>", RulesKeys, []KeyRule{k("x", ValueAny, 0, "<0hex characters>")}},
		{"Defined TXT keys: x=<999hex characters>", RulesKeys, []KeyRule{k("x", ValueAny, 0, "<999hex characters>")}},
		{"Defined TXT keys: p=<path to the thing>", RulesKeys, []KeyRule{k("p", ValuePath, 0, "<path to the thing>")}},
		{"Defined TXT keys: p=<pathname>", RulesKeys, []KeyRule{k("p", ValueAny, 0, "<pathname>")}},
		{"Defined TXT keys: a, A", RulesUnknown, nil}, // listed twice (keys are case-insensitive)
		{"Defined TXT keys: a=1, b=2=3", RulesKeys, []KeyRule{k("a", ValueAny, 0, "1"), k("b", ValueAny, 0, "2=3")}},
		{"Defined TXT keys: (comment) a", RulesUnknown, nil},
		{"Defined TXT keys: a (x)y", RulesUnknown, nil},
		{"Defined TXT keys: a=<unclosed", RulesUnknown, nil},
		{"Defined TXT keys: a=\"unclosed", RulesUnknown, nil},
		{"Defined TXT keys: " + strings.Repeat("(", 100) + strings.Repeat(")", 100), RulesUnknown, nil},
		{"Defined TXT keys: =x", RulesUnknown, nil},
		{"Defined TXT keys: ;;,", RulesUnknown, nil},
		{"Defined TXT keys: caf\u00e9", RulesUnknown, nil},
		{"Defined TXT keys: " + strings.Repeat("k", maxRulesText+1), RulesUnknown, nil},
		{"Defined TXT keys: " + strings.Repeat("k", maxRulesText), RulesKeys, bare(strings.Repeat("k", maxRulesText))},
	} {
		r := ParseRules(tc.note)
		assert.Equal(t, tc.kind, r.Kind, "%q: %s", tc.note, r.Reason)
		assert.Equal(t, tc.keys, r.Keys, tc.note)
	}
}

// The whole real file: how many records and services get which kind. The
// expected numbers come from reading all 278 distinct notes; a parser change
// that reclassifies any note changes them.
func TestParseRulesRealFile(t *testing.T) {
	reg := realRegistry(t)
	kinds := map[RuleKind]int{}
	reasons := map[string]int{}
	for _, rec := range reg.Rows() {
		r := ParseRules(rec.Notes)
		kinds[r.Kind]++
		if r.Kind == RulesUnknown {
			reasons[reasonClass(r.Reason)]++
		}
		if r.Kind == RulesKeys {
			require.NotEmpty(t, r.Keys, rec.Name)
			for _, key := range r.Keys {
				require.NotEmpty(t, key.Key)
				require.NotContains(t, key.Key, "=")
			}
		}
	}
	t.Logf("records by rule kind: %v; unknown by reason: %v", kinds, reasons)
	assert.Equal(t, map[RuleKind]int{RulesAbsent: 13455, RulesNone: 547, RulesKeys: 306, RulesUnknown: 139}, kinds)
	assert.Equal(t, map[string]int{ReasonProprietary: 62, ReasonReference: 33, ReasonToBeDefined: 7, "unparsed": 37}, reasons)

	s := reg.Summary()
	t.Logf("services by rule kind: %v; unknown by reason: %v; value kinds: %v", s.Rules, s.Reasons, s.ValueKinds)
	assert.Equal(t, map[RuleKind]int{RulesAbsent: 6387, RulesNone: 511, RulesKeys: 260, RulesUnknown: 123}, s.Rules)
	assert.Equal(t, map[string]int{ReasonProprietary: 56, ReasonReference: 27, ReasonToBeDefined: 7, "unparsed": 33}, s.Reasons)
	assert.Equal(t, map[ValueKind]int{ValueAny: 776, ValueHex: 6, ValuePath: 17}, s.ValueKinds)
	assert.Len(t, s.Unparsed, 30, "distinct unparsed texts of the 33 unparsed services")
	for _, u := range s.Unparsed {
		assert.Equal(t, RulesUnknown, ParseRules("Defined TXT keys: "+u).Kind, u)
	}

	var open []string
	var hex []string
	for _, svc := range reg.Services() {
		if svc.TXT.Open {
			open = append(open, svc.Name)
		}
		for _, key := range svc.TXT.Keys {
			if key.Value == ValueHex {
				hex = append(hex, fmt.Sprintf("%s:%s:%d", svc.Name, key.Key, key.Len))
			}
		}
	}
	sort.Strings(open)
	assert.Equal(t, []string{"homeconnect", "mieleacs", "mieleathome", "mieleprof", "mielesemiprof", "rxxmiele", "voalte2", "voalte3"}, open)
	assert.Equal(t, []string{"b3d-convince:guid:32", "jnx-kcsync:hash:40", "jnx-kcsync:salt:40", "jnx-kcsync:uuid:40", "lsys-ezcfg:mac:12", "lsys-oamp:mac:12"}, hex)
}

// Long hostile notes are refused or scanned in linear time.
func BenchmarkParseRulesHostile(b *testing.B) {
	notes := []string{
		"Defined TXT keys: " + strings.Repeat("a1, ", maxRulesText/4),
		"Defined TXT keys: " + strings.Repeat("(<[{", maxRulesText/4),
		"Defined TXT keys: " + strings.Repeat("k=<8 hex digits> ", maxRulesText/17),
		"Defined TXT keys: " + strings.Repeat("x", 1<<20),
	}
	for b.Loop() {
		for _, n := range notes {
			_ = ParseRules(n)
		}
	}
}

func reasonClass(reason string) string {
	if strings.HasPrefix(reason, ReasonUnparsedPrefix) {
		return "unparsed"
	}
	return reason
}

func TestRuleKindString(t *testing.T) {
	assert.Equal(t, "keys", RulesKeys.String())
	assert.Equal(t, "RuleKind(9)", RuleKind(9).String())
	assert.Equal(t, "hex", ValueHex.String())
	assert.Equal(t, "ValueKind(9)", ValueKind(9).String())
}
