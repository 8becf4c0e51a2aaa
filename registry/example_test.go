package registry_test

import (
	"fmt"

	"github.com/lansd/lansd/registry"
)

func Example() {
	svc, ok := registry.Builtin().Lookup("_timezone._tcp.local.")
	if !ok {
		fmt.Println("not registered")
		return
	}
	fmt.Println(svc.Name, svc.Protocols, svc.References, svc.Status())
	fmt.Println("TXT rules:", svc.TXT.Kind)

	path, _ := svc.TXT.Lookup("path")
	fmt.Println(path.Key, path.Value, path.Check([]byte("/timezones/"), true))
	fmt.Println(path.Check([]byte("timezones"), true))

	jnx, _ := registry.Builtin().Lookup("jnx-kcsync")
	hash, _ := jnx.TXT.Lookup("hash")
	fmt.Println(hash.Key, hash.Value, hash.Len)
	fmt.Println(hash.Check([]byte("5e7580598c0d7064d4fc79faaeb42585e1a675f"), true))
	// Output:
	// timezone [tcp] [[RFC7808]] registered
	// TXT rules: keys
	// path path <nil>
	// registry: TXT key "path": value byte 0: path must begin with '/', not 't' (an absolute URI path, RFC 3986 section 3.3)
	// hash hex 40
	// registry: TXT key "hash": value byte 39: found 39 hex digits, want exactly 40
}

func ExampleCheckName() {
	fmt.Println(registry.CheckName("timezone"))
	fmt.Println(registry.CheckName("contamac_icm"))
	// Output:
	// <nil>
	// registry: service name "contamac_icm": byte 8: character '_' is not allowed (only A-Z, a-z, 0-9 and '-')
}

func ExampleParseType() {
	t, err := registry.ParseType("_printer._sub._http._tcp.local.")
	fmt.Println(t.Subtype, t.Service, t.Proto, t.Domain, err)
	_, err = registry.ParseType("_timezone._sctp")
	fmt.Println(err)
	// Output:
	// _printer http tcp local <nil>
	// registry: service type "_timezone._sctp": label "_sctp" at byte 10: protocol label must be _tcp or _udp (RFC 6763 section 7)
}

func ExampleParseRules() {
	r := registry.ParseRules("Defined TXT keys: u=<username> p=<password> path=<path>")
	for _, k := range r.Keys {
		fmt.Println(k.Key, k.Value, k.Description)
	}
	fmt.Println(registry.ParseRules("Defined TXT keys: Proprietary").Reason)
	// Output:
	// u any <username>
	// p any <password>
	// path path <path>
	// proprietary
}
