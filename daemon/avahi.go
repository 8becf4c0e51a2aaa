package daemon

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/txt"
)

// maxAvahiSize bounds an Avahi static service file.
const maxAvahiSize = 1 << 20

// avahiGroup is an Avahi static service file (avahi.service(5)).
type avahiGroup struct {
	XMLName xml.Name `xml:"service-group"`
	Name    *struct {
		Value    string `xml:",chardata"`
		Wildcard string `xml:"replace-wildcards,attr"`
	} `xml:"name"`
	Services []avahiService `xml:"service"`
	Other    []xmlAny       `xml:",any"`
}

type avahiService struct {
	Protocol string   `xml:"protocol,attr"`
	Type     *string  `xml:"type"`
	Subtypes []string `xml:"subtype"`
	Domain   *string  `xml:"domain-name"`
	Host     *string  `xml:"host-name"`
	Port     *string  `xml:"port"`
	TXT      []struct {
		Value  string `xml:",chardata"`
		Format string `xml:"value-format,attr"`
	} `xml:"txt-record"`
	Other []xmlAny `xml:",any"`
}

type xmlAny struct {
	XMLName xml.Name
}

// LoadAvahiService reads an Avahi static service file (the *.service
// files of /etc/avahi/services, avahi.service(5)):
//
//	<service-group>
//	  <name replace-wildcards="yes">%h printer</name>
//	  <service>
//	    <type>_ipp._tcp</type>
//	    <subtype>_universal._sub._ipp._tcp</subtype>
//	    <port>631</port>
//	    <txt-record>rp=printers/office</txt-record>
//	  </service>
//	</service-group>
//
// Each <service> is one announce.Service named by the group's <name>, in
// which, with replace-wildcards="yes", "%h" is replaced by hostName (the
// host's name, a single label). <subtype> is the full subtype name
// ("_universal._sub._ipp._tcp") or a label ("_universal"); <host-name> is
// the SRV target, <domain-name> the domain ("local"); <txt-record> is one
// string, "key=value", with value-format="binary-hex" or "binary-base64"
// for a value given in those forms. The protocol attribute is ignored: the
// daemon's families apply. Every problem is reported, each naming its
// element ("service[1].port: ..."), as *announce.FieldError values joined.
// The registry's checks are made later, as for a services.d file.
func LoadAvahiService(r io.Reader, hostName string) ([]announce.Service, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAvahiSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAvahiSize {
		return nil, fmt.Errorf("larger than %d bytes", maxAvahiSize)
	}
	var g avahiGroup
	dec := xml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&g); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("line %d: %w", se.Line, err)
		}
		return nil, err
	}
	var errs []error
	bad := func(field, value, reason string, err error) {
		errs = append(errs, &announce.FieldError{Field: field, Value: value, Reason: reason, Err: err})
	}
	for _, o := range g.Other {
		bad(o.XMLName.Local, "", "unknown element", nil)
	}
	name := ""
	switch {
	case g.Name == nil:
		bad("name", "", "missing", nil)
	default:
		name = strings.TrimSpace(g.Name.Value)
		if g.Name.Wildcard == "yes" {
			name = strings.ReplaceAll(name, "%h", hostName)
		}
		if name == "" {
			bad("name", "", "empty", nil)
		}
	}
	if len(g.Services) == 0 {
		bad("service", "", "missing: a service-group needs at least one <service>", nil)
	}
	var out []announce.Service
	for i, as := range g.Services {
		field := func(n string) string { return fmt.Sprintf("service[%d].%s", i, n) }
		n := len(errs)
		for _, o := range as.Other {
			bad(field(o.XMLName.Local), "", "unknown element", nil)
		}
		s := announce.Service{Instance: name}
		if as.Type == nil {
			bad(field("type"), "", "missing", nil)
		} else {
			s.Type = strings.TrimSpace(*as.Type)
		}
		if as.Port == nil {
			bad(field("port"), "", "missing", nil)
		} else if p, err := strconv.ParseUint(strings.TrimSpace(*as.Port), 10, 16); err != nil {
			bad(field("port"), strings.TrimSpace(*as.Port), "must be an integer from 0 to 65535", nil)
		} else {
			s.Port = uint16(p)
		}
		if as.Domain != nil {
			s.Domain = strings.TrimSpace(*as.Domain)
			if s.Domain != "" && !strings.HasSuffix(s.Domain, ".") {
				s.Domain += "."
			}
		}
		if as.Host != nil {
			s.Host = strings.TrimSpace(*as.Host)
		}
		for j, st := range as.Subtypes {
			st = strings.TrimSpace(st)
			label, rest, full := strings.Cut(st, "._sub.")
			if full && s.Type != "" && !strings.EqualFold(strings.TrimSuffix(rest, "."), strings.TrimSuffix(s.Type, ".")) {
				bad(field(fmt.Sprintf("subtype[%d]", j)), st, fmt.Sprintf("is a subtype of %s, not of the service's type %s", rest, s.Type), nil)
				continue
			}
			s.Subtypes = append(s.Subtypes, label)
		}
		for j, t := range as.TXT {
			it, err := avahiTXT(t.Value, t.Format)
			if err != nil {
				bad(field(fmt.Sprintf("txt-record[%d]", j)), t.Value, "cannot be read", err)
				continue
			}
			s.TXT.Items = append(s.TXT.Items, it)
		}
		if len(errs) > n {
			continue
		}
		// Only what a registry cannot change: the registry's checks come
		// with the services.d files'.
		if _, err := s.PrepareEncodable("", nil); err != nil {
			for _, e := range fieldProblems(err) {
				errs = append(errs, renameField(e, func(f string) string { return avahiPath(i, f) }))
			}
			continue
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// avahiTXT reads one <txt-record>: "key=value" (the value as written, or
// in hex or base64 with value-format), or "key".
func avahiTXT(s, format string) (txt.Item, error) {
	key, value, has := strings.Cut(s, "=")
	it := txt.Item{Key: key, HasValue: has}
	if !has {
		return it, nil
	}
	switch format {
	case "", "text":
		it.Value = []byte(value)
	case "binary-hex":
		b, err := hex.DecodeString(value)
		if err != nil {
			return it, err
		}
		it.Value = b
	case "binary-base64":
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return it, err
		}
		it.Value = b
	default:
		return it, fmt.Errorf("value-format %q: want text, binary-hex or binary-base64", format)
	}
	return it, nil
}

// avahiElements names the elements of an Avahi service file that set
// announce.Service's fields.
var avahiElements = map[string]string{
	"Instance": "name",
	"Type":     "type",
	"Subtypes": "subtype",
	"Domain":   "domain-name",
	"Port":     "port",
	"Host":     "host-name",
	"TXT":      "txt-record",
}

// avahiPath names, in an Avahi service file, the element of service[i]
// that a FieldError of Service.Validate names ("Port" is
// "service[0].port"); the group's <name> is "name".
func avahiPath(i int, field string) string {
	name, suffix := field, ""
	if j := strings.IndexByte(name, '['); j >= 0 {
		name, suffix = name[:j], name[j:]
	}
	if name == "Instance" {
		return "name"
	}
	if el, ok := avahiElements[name]; ok {
		name = el
	}
	if field == "" {
		return fmt.Sprintf("service[%d]", i)
	}
	return fmt.Sprintf("service[%d].%s%s", i, name, suffix)
}
