package txt

import (
	"testing"
)

// jnxWire is the jnx-kcsync example record of the registry in wire form.
var jnxWire = wireOf("hash="+goodHash, "salt="+goodSalt, "uuid="+goodUUID)

func BenchmarkDecode(b *testing.B) {
	b.SetBytes(int64(len(jnxWire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(jnxWire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	rec, err := Decode(jnxWire)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(jnxWire)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rec.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	rec, err := Decode(jnxWire)
	if err != nil {
		b.Fatal(err)
	}
	svc := builtin(b, "jnx-kcsync")
	b.ReportAllocs()
	for b.Loop() {
		if r := Validate(rec, svc, Options{Strict: true}); !r.Conforms() {
			b.Fatal(r.Findings)
		}
	}
}

func BenchmarkParseArgs(b *testing.B) {
	args := []string{"hash=" + goodHash, "salt=" + goodSalt, "uuid=" + goodUUID}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseArgs(args); err != nil {
			b.Fatal(err)
		}
	}
}
