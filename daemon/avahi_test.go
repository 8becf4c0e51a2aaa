package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/registry"
)

func TestLoadAvahiService(t *testing.T) {
	const file = `<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name replace-wildcards="yes">Printer on %h</name>
  <service protocol="ipv4">
    <type>_ipp._tcp</type>
    <subtype>_universal._sub._ipp._tcp</subtype>
    <subtype>_color</subtype>
    <port>631</port>
    <txt-record>rp=printers/office</txt-record>
    <txt-record>duplex</txt-record>
    <txt-record value-format="binary-hex">bin=ff00</txt-record>
    <txt-record value-format="binary-base64">b64=aGk=</txt-record>
  </service>
  <service>
    <type>_http._tcp</type>
    <domain-name>local</domain-name>
    <host-name>printer.local</host-name>
    <port>80</port>
  </service>
</service-group>`
	services, err := LoadAvahiService(strings.NewReader(file), "h1")
	require.NoError(t, err)
	require.Len(t, services, 2)
	s := services[0]
	assert.Equal(t, "Printer on h1", s.Instance)
	assert.Equal(t, "_ipp._tcp", s.Type)
	assert.Equal(t, []string{"_universal", "_color"}, s.Subtypes)
	assert.Equal(t, uint16(631), s.Port)
	require.Len(t, s.TXT.Items, 4)
	assert.Equal(t, "rp", s.TXT.Items[0].Key)
	assert.Equal(t, "printers/office", string(s.TXT.Items[0].Value))
	assert.False(t, s.TXT.Items[1].HasValue, "duplex is a boolean attribute")
	assert.Equal(t, []byte{0xff, 0}, s.TXT.Items[2].Value)
	assert.Equal(t, "hi", string(s.TXT.Items[3].Value))
	h := services[1]
	assert.Equal(t, "Printer on h1", h.Instance)
	assert.Equal(t, "local.", h.Domain)
	assert.Equal(t, "printer.local", h.Host)
	assert.Equal(t, uint16(80), h.Port)
	for i, s := range services {
		assert.Empty(t, serviceProblems(s, registry.Builtin()), "service %d passes validation", i)
	}
}

func TestLoadAvahiServiceNoWildcards(t *testing.T) {
	services, err := LoadAvahiService(strings.NewReader(`<service-group><name>100%h</name>
<service><type>_http._tcp</type><port>80</port></service></service-group>`), "h1")
	require.NoError(t, err)
	assert.Equal(t, "100%h", services[0].Instance, "without replace-wildcards, %h stays")
}

func TestLoadAvahiServiceErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"syntax", "<service-group>\n<name>x</name>\n<service>\n</service-group>", []string{"line 4"}},
		{"no name", `<service-group><service><type>_http._tcp</type><port>80</port></service></service-group>`, []string{"name: missing"}},
		{"no service", `<service-group><name>x</name></service-group>`, []string{"service: missing"}},
		{"port", `<service-group><name>x</name><service><type>_http._tcp</type><port>http</port></service></service-group>`,
			[]string{`service[0].port "http": must be an integer`}},
		{"missing", `<service-group><name>x</name><service><port>1</port></service><service><type>_http._tcp</type></service></service-group>`,
			[]string{"service[0].type: missing", "service[1].port: missing"}},
		{"unknown", `<service-group><name>x</name><colour/><service><type>_http._tcp</type><port>1</port><prot/></service></service-group>`,
			[]string{"colour: unknown element", "service[0].prot: unknown element"}},
		{"subtype of another type", `<service-group><name>x</name><service><type>_http._tcp</type><subtype>_a._sub._ipp._tcp</subtype><port>1</port></service></service-group>`,
			[]string{"service[0].subtype[0]"}},
		{"txt format", `<service-group><name>x</name><service><type>_http._tcp</type><port>1</port><txt-record value-format="binary-hex">a=zz</txt-record></service></service-group>`,
			[]string{"service[0].txt-record[0]"}},
		{"bad type", `<service-group><name>x</name><service><type>_http._xyz</type><port>1</port></service></service-group>`,
			[]string{"service[0].type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadAvahiService(strings.NewReader(tc.file), "h1")
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
