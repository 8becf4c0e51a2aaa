package txt_test

import (
	"fmt"

	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

// Validate a record given as command-line arguments against the rules of
// the built-in registry for jnx-kcsync.
func Example() {
	svc, _ := registry.Builtin().Lookup("jnx-kcsync")

	rec, err := txt.ParseArgs([]string{
		"hash=5e7580598c0d7064d4fc79faaeb42585e1a675f8",
		"salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9",
		"uuid=db61dc092922252e45bbb264f59147138c7fd5fa",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("conforms:", txt.Validate(rec, svc, txt.Options{}).Conforms())

	// One hex digit short.
	rec, _ = txt.ParseArgs([]string{
		"hash=5e7580598c0d7064d4fc79faaeb42585e1a675f",
		"salt=f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9",
		"uuid=db61dc092922252e45bbb264f59147138c7fd5fa",
	})
	report := txt.Validate(rec, svc, txt.Options{})
	fmt.Println("conforms:", report.Conforms())
	for _, f := range report.Findings {
		fmt.Printf("%s: key %q at offset %d (%s)\n", f.Severity, f.Key, f.Offset, f.Rule)
	}
	// Output:
	// conforms: true
	// conforms: false
	// error: key "hash" at offset 0 (jnx-kcsync: hash=<40hex characters>)
}

// A key the registry does not define is a warning; with Strict it is an error.
func ExampleValidate() {
	svc, _ := registry.Builtin().Lookup("_timezone._tcp")
	rec, _ := txt.ParseArgs([]string{"path=/tz", "colour=blue"})

	for _, strict := range []bool{false, true} {
		report := txt.Validate(rec, svc, txt.Options{Strict: strict})
		fmt.Println("strict:", strict, "conforms:", report.Conforms())
		for _, f := range report.Findings {
			fmt.Println(" ", f)
		}
	}
	// Output:
	// strict: false conforms: true
	//   warning: key "colour" at offset 9: key not defined by the registry for timezone (timezone: Defined TXT keys: path)
	// strict: true conforms: false
	//   error: key "colour" at offset 9: key not defined by the registry for timezone (timezone: Defined TXT keys: path)
}

func ExampleDecode() {
	rec, err := txt.Decode([]byte("\x08path=/tz\x04flag\x06note=\x01"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range rec.Items {
		fmt.Printf("offset %2d: %s\n", it.Offset, txt.FormatArg(it))
	}
	fmt.Println(rec)

	_, err = txt.Decode([]byte("\x09path=/tz"))
	fmt.Println(err)
	// Output:
	// offset  0: path=/tz
	// offset  9: flag
	// offset 14: note=\x01
	// "path=/tz" "flag" "note=\x01"
	// error at offset 0: string of 9 bytes at offset 0 runs past the end of the record (9 bytes) (RFC 6763 section 6.1)
}

func ExampleParseArgs() {
	rec, err := txt.ParseArgs([]string{`note=tab\x09here`, `dir=C:\\tmp`, "flag"})
	if err != nil {
		fmt.Println(err)
		return
	}
	wire, _ := rec.Encode()
	fmt.Printf("%q\n", wire)

	_, err = txt.ParseArgs([]string{"ok", `k=\xZZ`})
	fmt.Println(err)
	// Output:
	// "\rnote=tab\there\ndir=C:\\tmp\x04flag"
	// txt: args[1] "k=\xZZ": key "k": offset 2: bad escape "\xZZ": \x must be followed by two hex digits
}

func ExampleParseJSON() {
	rec, err := txt.ParseJSON([]byte(`{"path": "/tz", "txtvers": 1, "secure": true, "note": ""}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec)

	_, err = txt.ParseJSON([]byte(`{"path": {"nested": true}}`))
	fmt.Println(err)
	// Output:
	// "path=/tz" "txtvers=1" "secure" "note="
	// txt: JSON offset 10: key "path": an object is not a TXT value: want a string, a number or true
}

func ExampleFormatJSON() {
	rec, _ := txt.ParseArgs([]string{"path=/tz?a=1&b=<2>", "secure", "note=", "PATH=/ignored", `bin=\xff`})
	fmt.Printf("%s\n", txt.FormatJSON(rec))

	back, _ := txt.ParseJSON(txt.FormatJSON(rec))
	fmt.Println(back)
	// Output:
	// {"path":"/tz?a=1&b=<2>","secure":true,"note":"","bin":"\\xff"}
	// "path=/tz?a=1&b=<2>" "secure" "note=" "bin=\\xff"
}

func ExampleRecord_Get() {
	rec, _ := txt.Decode([]byte("\x07Path=/a\x07PATH=/b"))
	v, hasValue, ok := rec.Get("path")
	fmt.Printf("%s %v %v\n", v, hasValue, ok)
	for _, f := range txt.Check(rec) {
		fmt.Println(f)
	}
	// Output:
	// /a true true
	// warning: key "PATH" at offset 8: key appears more than once (first at offset 0, compared ignoring case); clients use only the first occurrence (RFC 6763 section 6.4)
}
