package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
)

// FuzzLoad: Load never panics; on success Records() equals the number of
// CSV rows after the header, and every record is in exactly one service or
// has no name; on failure nothing is returned and the error is typed.
func FuzzLoad(f *testing.F) {
	f.Add(builtinCSV)
	f.Add([]byte(header + "a1,,tcp,,,,,,,,,\r\n"))
	f.Add([]byte(header + "x,1-2,UDP,\"multi\nline\",,,,,,,,\"Defined TXT keys: a=<4 hex digits>\"\r\n"))
	f.Add([]byte(header + "bad,\"1\"x,tcp,,,,,,,,,\r\n"))
	f.Add([]byte("\uFEFF" + header))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := Load(bytes.NewReader(data))
		if err != nil {
			if reg != nil {
				t.Fatalf("error %v with a non-nil registry", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if pe != nil && (pe.Line < 1 || pe.Column < 1 || pe.Field == "") {
				t.Fatalf("error without position: %#v", pe)
			}
			return
		}
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil {
			t.Fatalf("Load accepted what encoding/csv rejects: %v", err)
		}
		if got, want := reg.Records(), len(rows)-1; got != want {
			t.Fatalf("Records() = %d, want %d", got, want)
		}
		n := 0
		for _, s := range reg.Services() {
			if s.Name == "" || len(s.Records) == 0 {
				t.Fatalf("bad service %#v", s)
			}
			if got, ok := reg.Lookup(s.Name); !ok || got != s {
				t.Fatalf("Lookup(%q) does not find its service", s.Name)
			}
			n += len(s.Records)
		}
		for _, rec := range reg.Rows() {
			if rec.Name == "" {
				n++
			}
		}
		if n != reg.Records() {
			t.Fatalf("services hold %d records, want %d", n, reg.Records())
		}
		_ = reg.Summary()
	})
}

// FuzzParseRules: ParseRules never panics; RulesKeys has at least one key,
// every key is non-empty, without '=' and listed once.
func FuzzParseRules(f *testing.F) {
	for _, tc := range ruleCases {
		f.Add(tc.note)
	}
	f.Fuzz(func(t *testing.T, note string) {
		r := ParseRules(note)
		if r.Kind == RulesAbsent {
			if r.Text != "" || r.Reason != "" || len(r.Keys) > 0 {
				t.Fatalf("absent with content: %#v", r)
			}
			if txtKeysRE.MatchString(note) {
				t.Fatal("phrase present but RulesAbsent")
			}
			return
		}
		switch r.Kind {
		case RulesKeys:
			if len(r.Keys) == 0 {
				t.Fatal("RulesKeys without keys")
			}
			seen := map[string]bool{}
			for _, k := range r.Keys {
				if k.Key == "" || strings.Contains(k.Key, "=") {
					t.Fatalf("bad key %q", k.Key)
				}
				if seen[strings.ToLower(k.Key)] {
					t.Fatalf("key %q listed twice", k.Key)
				}
				seen[strings.ToLower(k.Key)] = true
				if k.Value == ValueHex && (k.Len < 1 || k.Len > maxHexLen) {
					t.Fatalf("bad hex length %d", k.Len)
				}
				if len(seen) <= 4 {
					_ = k.Check([]byte(note), true)
				}
			}
		case RulesUnknown:
			if r.Reason == "" || len(r.Keys) > 0 {
				t.Fatalf("unknown without reason or with keys: %#v", r)
			}
		case RulesNone:
			if len(r.Keys) > 0 {
				t.Fatalf("none with keys: %#v", r)
			}
		default:
			t.Fatalf("kind %v", r.Kind)
		}
	})
}
