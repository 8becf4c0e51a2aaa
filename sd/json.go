package sd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/lansd/lansd/txt"
)

// JSONEvent is the JSON form of an instance event, one object per line:
// what `lansd browse --json` and `lansd resolve --json` print, and what the
// local API of package daemon streams. Its members, in this order, are the
// schema; internal/clitest decodes them strictly.
type JSONEvent struct {
	// Event is "add", "update", "remove" (EventKind.String) or "resolved".
	Event    string `json:"event"`
	Instance string `json:"instance"`
	Service  string `json:"service"`
	Domain   string `json:"domain"`
	Host     string `json:"host"`
	Port     uint16 `json:"port"`
	// Addrs are the addresses, an IPv6 link-local one with its zone.
	Addrs []string `json:"addrs"`
	// TXT is the record as txt.FormatJSON writes it.
	TXT   json.RawMessage `json:"txt"`
	Iface []string        `json:"iface"`
	// TTL is in seconds.
	TTL        int64         `json:"ttl"`
	Conforms   bool          `json:"conforms"`
	Findings   []JSONFinding `json:"findings"`
	Name       string        `json:"name"`
	Registered string        `json:"registered"`
	// Time is RFC 3339 with nanoseconds.
	Time string `json:"time"`
}

// JSONFinding is the JSON form of a txt.Error.
type JSONFinding struct {
	Key      string `json:"key"`
	Offset   int    `json:"offset"`
	Rule     string `json:"rule"`
	Reason   string `json:"reason"`
	Severity string `json:"severity"` // "error" or "warning"
}

// NewJSONEvent returns the JSON form of in, reported as event at at.
func NewJSONEvent(event string, in Instance, at time.Time) JSONEvent {
	je := JSONEvent{
		Event:      event,
		Instance:   in.Instance,
		Service:    in.Service,
		Domain:     in.Domain,
		Host:       in.Host,
		Port:       in.Port,
		Addrs:      make([]string, len(in.Addrs)),
		TXT:        txt.FormatJSON(in.TXT),
		Iface:      append([]string{}, in.Ifaces...),
		TTL:        int64(in.TTL / time.Second),
		Conforms:   in.Conforms(),
		Findings:   JSONFindings(in.Report.Findings),
		Name:       in.Name,
		Registered: in.Registered,
		Time:       at.Format(time.RFC3339Nano),
	}
	for i, a := range in.Addrs {
		je.Addrs[i] = a.String()
	}
	return je
}

// JSONFindings returns the JSON form of findings: an empty list, not
// null, when there are none.
func JSONFindings(findings []*txt.Error) []JSONFinding {
	out := []JSONFinding{}
	for _, f := range findings {
		out = append(out, JSONFinding{Key: f.Key, Offset: f.Offset, Rule: f.Rule, Reason: f.Reason, Severity: f.Severity.String()})
	}
	return out
}

// Findings returns the txt.Error values of JSON findings.
func Findings(fs []JSONFinding) []*txt.Error {
	var out []*txt.Error
	for _, f := range fs {
		sev := txt.Warning
		if f.Severity == txt.Fatal.String() {
			sev = txt.Fatal
		}
		out = append(out, &txt.Error{Severity: sev, Key: f.Key, Offset: f.Offset, Rule: f.Rule, Reason: f.Reason})
	}
	return out
}

// Decode decodes the instance of je: the inverse of NewJSONEvent but for
// what the JSON form does not carry (Seen, and TXT values that are not
// valid UTF-8, which stay in their escaped text form), and the event time.
func (je JSONEvent) Decode() (Instance, time.Time, error) {
	in := Instance{
		Name:       je.Name,
		Instance:   je.Instance,
		Service:    je.Service,
		Domain:     je.Domain,
		Host:       je.Host,
		Port:       je.Port,
		Ifaces:     je.Iface,
		TTL:        time.Duration(je.TTL) * time.Second,
		Registered: je.Registered,
	}
	for _, s := range je.Addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Instance{}, time.Time{}, fmt.Errorf("addrs: %w", err)
		}
		in.Addrs = append(in.Addrs, a)
	}
	if len(je.TXT) > 0 && string(je.TXT) != "null" {
		rec, err := txt.ParseJSON(je.TXT)
		if err != nil {
			return Instance{}, time.Time{}, fmt.Errorf("txt: %w", err)
		}
		in.TXT = rec
	}
	in.Report.Findings = Findings(je.Findings)
	at, err := time.Parse(time.RFC3339Nano, je.Time)
	if err != nil {
		return Instance{}, time.Time{}, fmt.Errorf("time: %w", err)
	}
	return in, at, nil
}

// MarshalJSONLine is json.Marshal without the HTML escapes (<, > and &
// stay as they are: rules such as "hash=<40hex characters>" are read by
// people) and without a trailing newline.
func MarshalJSONLine(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
