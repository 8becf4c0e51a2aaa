package registry

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"
)

// builtinCSV holds three records copied verbatim (header and fields) from
// the IANA CSV file: jnx-kcsync, timezone and timezones.
//
//go:embed builtin.csv
var builtinCSV []byte

var (
	builtinOnce sync.Once
	builtinReg  *Registry
)

// Builtin returns the registry embedded in the binary: the records
// jnx-kcsync (tcp; TXT keys hash, salt and uuid, each "<40hex characters>"),
// timezone and timezones (tcp, RFC 7808; TXT key "path=<context path>"). It
// is parsed once, by the same parser as [Load]; the result is shared and
// read-only.
func Builtin() *Registry {
	builtinOnce.Do(func() {
		reg, err := Load(bytes.NewReader(builtinCSV))
		if err != nil {
			// The embedded file is part of the source and tested.
			panic(fmt.Sprintf("registry: embedded builtin.csv: %v", err))
		}
		builtinReg = reg
	})
	return builtinReg
}
