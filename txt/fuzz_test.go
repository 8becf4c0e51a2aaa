package txt

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkFindings checks invariants every list of findings keeps.
func checkFindings(t *testing.T, fs []*Error, wireLen int) {
	t.Helper()
	for i, f := range fs {
		require.NotNil(t, f)
		require.True(t, f.Offset == -1 || (f.Offset >= 0 && f.Offset < wireLen), "offset %d of %d: %v", f.Offset, wireLen, f)
		require.NotEmpty(t, f.Rule)
		require.NotEmpty(t, f.Reason)
		require.NotEmpty(t, f.Error())
		if i > 0 {
			require.LessOrEqual(t, fs[i-1].Offset, f.Offset, "findings sorted by offset")
		}
	}
}

// FuzzDecode decodes arbitrary bytes: Decode never panics, framing errors
// name a length byte inside the input, and every record with at least one
// string encodes back to exactly the input, also through the argument form
// (FormatArg and ParseArgs) and through miekg/dns (RR and FromRR).
func FuzzDecode(f *testing.F) {
	services := []string{"jnx-kcsync", "timezone"}
	f.Fuzz(func(t *testing.T, wire []byte) {
		rec, err := Decode(wire)
		if err != nil {
			var e *Error
			require.True(t, errors.As(err, &e), "%T", err)
			require.Equal(t, Fatal, e.Severity)
			require.True(t, e.Offset >= 0 && e.Offset < len(wire), "offset %d", e.Offset)
			require.Empty(t, rec.Items)
			return
		}
		if len(wire) == 0 {
			require.True(t, rec.ZeroLength)
			require.Empty(t, rec.Items)
			return
		}
		require.False(t, rec.ZeroLength)

		got, err := rec.Encode()
		if len(wire) > MaxRDataLen {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.True(t, bytes.Equal(wire, got), "round trip:\n in % x\nout % x", wire, got)
		require.Equal(t, len(wire), rec.WireLen())

		// The argument form gives back the same items, offsets included.
		args := make([]string, len(rec.Items))
		for i, it := range rec.Items {
			args[i] = FormatArg(it)
		}
		back, err := ParseArgs(args)
		require.NoError(t, err, "%q", args)
		require.Equal(t, rec.Items, back.Items)

		// So does miekg/dns.
		rr, err := rec.RR(dns.RR_Header{Name: "x.local.", Class: dns.ClassINET})
		require.NoError(t, err)
		viaRR, err := FromRR(rr)
		require.NoError(t, err)
		require.Equal(t, rec, viaRR)

		checkFindings(t, Check(rec), len(wire))
		for _, name := range services {
			svc := builtin(t, name)
			report := Validate(rec, svc, Options{})
			checkFindings(t, report.Findings, len(wire))
		}
		_ = rec.String()
		_ = rec.Keys()
		_ = rec.Map()
	})
}

// FuzzParseArgs parses arbitrary arguments (the input split at newlines):
// ParseArgs never panics, errors point at a backslash inside the argument
// they name, and what it accepts survives FormatArg and the wire form.
func FuzzParseArgs(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		args := strings.Split(in, "\n")
		rec, err := ParseArgs(args)
		if err != nil {
			var ae *ArgError
			require.True(t, errors.As(err, &ae), "%T", err)
			require.True(t, ae.Index >= 0 && ae.Index < len(args))
			require.Equal(t, args[ae.Index], ae.Arg)
			require.True(t, ae.Offset >= 0 && ae.Offset < len(ae.Arg), "offset %d", ae.Offset)
			require.Equal(t, byte('\\'), ae.Arg[ae.Offset], "errors point at the escape")
			require.NotEmpty(t, err.Error())
			return
		}
		require.Len(t, rec.Items, len(args))

		formatted := make([]string, len(rec.Items))
		for i, it := range rec.Items {
			require.NotContains(t, it.Key, "=")
			formatted[i] = FormatArg(it)
		}
		again, err := ParseArgs(formatted)
		require.NoError(t, err, "%q", formatted)
		require.Equal(t, rec.Items, again.Items)

		wire, err := rec.Encode()
		tooLong := rec.WireLen() > MaxRDataLen
		for _, it := range rec.Items {
			tooLong = tooLong || it.stringLen() > MaxStringLen
		}
		if tooLong {
			var e *Error
			require.True(t, errors.As(err, &e), "%v", err)
			return
		}
		require.NoError(t, err)
		dec, err := Decode(wire)
		require.NoError(t, err)
		assert.Equal(t, rec.Items, dec.Items)

		checkFindings(t, Check(rec), len(wire))
		_ = rec.String()
	})
}
