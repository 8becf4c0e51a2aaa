package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

const validateExample = `  lansd validate --service jnx-kcsync \
      hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8 \
      salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9 \
      uuid=db61dc092922252e45bbb264f59147138c7fd5fa
  lansd validate --service _timezone._tcp --json '{"path": "/tz"}'
  lansd validate --service timezone --wire 08706174683d2f747a

Arguments are key=value, key= (empty value) or key (boolean attribute).
A byte that cannot be typed is written \xHH; a backslash is written \\.
Exit status: 0 conforms, 1 does not conform, 2 usage or input error.`

func runValidate(_ context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "validate", "[--service NAME] [--strict] (key=value ... | --wire HEX | --json OBJECT)", validateExample)
	service := fs.StringP("service", "s", "", "check against the registry rules of service `NAME` (timezone, _timezone._tcp, ...)")
	wire := fs.String("wire", "", "the TXT record in wire form as `HEX` (length-prefixed strings)")
	jsonIn := fs.String("json", "", "the TXT record as a JSON `OBJECT` ({\"key\": \"value\"}); - reads standard input")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	regPath := registryFlag(fs)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}

	rec, err := readRecord(env.stdin, fs.Args(), *wire, *jsonIn, fs.Changed("wire"), fs.Changed("json"))
	if err != nil {
		return fail(env, "validate", err)
	}
	var svc *registry.Service
	if *service != "" {
		reg, err := loadRegistry(*regPath)
		if err != nil {
			return fail(env, "validate", err)
		}
		s, ok := reg.Lookup(*service)
		if !ok {
			return fail(env, "validate", usageErrorf("--service: %q is not in the registry", *service))
		}
		svc = s
	}
	report := txt.Validate(rec, svc, txt.Options{Strict: *strict})
	printReport(env.stdout, rec, svc, report)
	if !report.Conforms() {
		return exitNonConf
	}
	return exitOK
}

// readRecord builds the TXT record from exactly one of the three input forms.
func readRecord(stdin io.Reader, args []string, wire, jsonIn string, haveWire, haveJSON bool) (txt.Record, error) {
	forms := 0
	for _, b := range []bool{len(args) > 0, haveWire, haveJSON} {
		if b {
			forms++
		}
	}
	if forms > 1 {
		return txt.Record{}, usageErrorf("give the record one way: key=value arguments, --wire or --json")
	}
	switch {
	case haveWire:
		b, err := hex.DecodeString(strings.Join(strings.Fields(wire), ""))
		if err != nil {
			return txt.Record{}, usageErrorf("--wire: %w", err)
		}
		rec, err := txt.Decode(b)
		if err != nil {
			return txt.Record{}, usageErrorf("--wire: %w", err)
		}
		return rec, nil
	case haveJSON:
		data := []byte(jsonIn)
		if jsonIn == "-" {
			var err error
			if data, err = io.ReadAll(stdin); err != nil {
				return txt.Record{}, fmt.Errorf("reading standard input: %w", err)
			}
		} else if strings.HasPrefix(jsonIn, "@") {
			var err error
			if data, err = os.ReadFile(jsonIn[1:]); err != nil {
				return txt.Record{}, usageErrorf("--json: %w", err)
			}
		}
		rec, err := txt.ParseJSON(data)
		if err != nil {
			return txt.Record{}, usageErrorf("--json: %w", err)
		}
		return rec, nil
	}
	rec, err := txt.ParseArgs(args)
	if err != nil {
		return txt.Record{}, &usageError{err}
	}
	return rec, nil
}

// printReport prints one line per finding and a verdict line.
func printReport(w io.Writer, rec txt.Record, svc *registry.Service, report txt.Report) {
	printFindings(w, "", report.Findings)
	subject := "TXT record"
	if svc != nil {
		subject = fmt.Sprintf("TXT record for %s (%s)", svc.Name, svc.Type())
	}
	verdict := "conforms"
	if !report.Conforms() {
		verdict = "does not conform"
	}
	fmt.Fprintf(w, "%s %s: %d string(s), %s\n", subject, verdict, len(rec.Items), countFindings(report))
}

func countFindings(r txt.Report) string {
	return fmt.Sprintf("%d error(s), %d warning(s)", len(r.Errors()), len(r.Warnings()))
}
