package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const header = "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\r\n"

func TestLoadSmall(t *testing.T) {
	in := header +
		"echo,7,tcp,Echo,,,,,,,,\r\n" +
		",8,udp,Unassigned,,,,,,,,\r\n" + // nameless row
		"ECHO,7,UDP,Echo,,,,,[RFC862],,,\r\n" +
		"x11,6000-6063,tcp,X Window System,,,,,,,,\"Defined TXT keys: None.\nmore\"\r\n" +
		"multi,,sctp,\"line one\nline two\",,,,,,,,\r\n" +
		"after,1,dccp,,,,,,,,,\r\n"
	reg, err := Load(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, 6, reg.Records())
	svcs := reg.Services()
	require.Len(t, svcs, 4)

	echo, ok := reg.Lookup("Echo")
	require.True(t, ok)
	assert.Equal(t, "echo", echo.Name, "name as first registered")
	assert.Equal(t, []string{"tcp", "udp"}, echo.Protocols)
	assert.Equal(t, []PortRange{{"tcp", 7, 7}, {"udp", 7, 7}}, echo.Ports)
	assert.Equal(t, []string{"[RFC862]"}, echo.References)
	assert.Equal(t, []int{2, 4}, []int{echo.Records[0].Line, echo.Records[1].Line})
	assert.Equal(t, RulesAbsent, echo.TXT.Kind)

	x11, ok := reg.Lookup("_x11._tcp")
	require.True(t, ok)
	assert.Equal(t, []PortRange{{"tcp", 6000, 6063}}, x11.Ports)
	assert.Equal(t, RulesNone, x11.TXT.Kind)
	assert.Equal(t, 5, x11.Records[0].Line)

	multi, ok := reg.Lookup("multi")
	require.True(t, ok)
	assert.Equal(t, "line one\nline two", multi.Description)
	assert.Equal(t, 7, multi.Records[0].Line, "line of the record's first line")
	_, ok = reg.Lookup("_multi._udp") // sctp: "_udp" per RFC 6763 section 7
	assert.True(t, ok)
	_, ok = reg.Lookup("_multi._tcp")
	assert.False(t, ok)

	after, ok := reg.Lookup("after")
	require.True(t, ok)
	assert.Equal(t, 9, after.Records[0].Line, "counts the embedded newline")
	assert.Len(t, reg.Rows(), 6)
	assert.Equal(t, "", reg.Rows()[1].Name)
}

func TestLoadBOM(t *testing.T) {
	reg, err := Load(strings.NewReader("\uFEFF" + header + "a1,,tcp,,,,,,,,,\r\n"))
	require.NoError(t, err)
	assert.Equal(t, 1, reg.Records())

	_, err = Load(strings.NewReader("\uFEFF" + strings.Replace(header, "Port Number", "Port", 1)))
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 1, pe.Line)
	assert.Equal(t, 3+len("Service Name,")+1, pe.Column, "column counts the BOM's bytes")
}

func TestLoadLF(t *testing.T) {
	in := strings.ReplaceAll(header, "\r\n", "\n") + "a1,,tcp,,,,,,,,,\nb2,,udp,,,,,,,,,"
	reg, err := Load(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, 2, reg.Records())
}

func TestLoadErrors(t *testing.T) {
	row := func(fields ...string) string { return strings.Join(fields, ",") + "\r\n" }
	good := row("ok", "1", "tcp", "", "", "", "", "", "", "", "", "")
	for _, tc := range []struct {
		name     string
		in       string
		line     int
		column   int
		field    string
		sentinel error
		msg      string
	}{
		{"empty input", "", 1, 1, "Service Name", ErrHeader, "empty input"},
		{"wrong header name", strings.Replace(header, "Transport Protocol", "Protocol", 1), 1, 26, "Transport Protocol", ErrHeader, `column 3 is "Protocol"`},
		{"header missing columns", strings.Replace(header, ",Assignment Notes", "", 1), 1, 133, "Assignment Notes", ErrHeader, "missing"},
		{"header extra column", strings.Replace(header, "\r\n", ",Extra\r\n", 1), 1, 176, "extra field 13", ErrHeader, `extra column "Extra"`},
		{"data as header", good, 1, 1, "Service Name", ErrHeader, `column 1 is "ok"`},
		{"bare quote", header + good + "bad,2,tcp,a \"quoted\" word,,,,,,,,\r\n", 3, 13, "Description", csv.ErrBareQuote, "bare \""},
		{"text after closing quote", header + "bad,2,tcp,\"x\"y,,,,,,,,\r\n", 2, 13, "Description", csv.ErrQuote, "extraneous"},
		{"unterminated quote", header + good + "bad,2,tcp,,,,,,,,,\"never closed\r\nmore\r\n", 4, 6, "Assignment Notes", csv.ErrQuote, "extraneous or missing"},
		{"bad quote after multi-line field", header + "a,1,tcp,\"x\ny\",\"p\"q,,,,,,,\r\n", 3, 6, "Assignee", csv.ErrQuote, ""},
		{"port not a number", header + row("bad", "http", "tcp", "", "", "", "", "", "", "", "", ""), 2, 5, "Port Number", ErrPort, `"http"`},
		{"port too large", header + row("bad", "65536", "tcp", "", "", "", "", "", "", "", "", ""), 2, 5, "Port Number", ErrPort, "above 65535"},
		{"port range reversed", header + good + row("bad", "20-10", "tcp", "", "", "", "", "", "", "", "", ""), 3, 5, "Port Number", ErrPort, "above its end"},
		{"port negative", header + row("bad", "-1", "tcp", "", "", "", "", "", "", "", "", ""), 2, 5, "Port Number", ErrPort, ""},
		{"port range open", header + row("bad", "10-", "tcp", "", "", "", "", "", "", "", "", ""), 2, 5, "Port Number", ErrPort, ""},
		{"port with space", header + row("bad", " 80", "tcp", "", "", "", "", "", "", "", "", ""), 2, 5, "Port Number", ErrPort, ""},
		{"bad protocol", header + row("bad", "1", "icmp", "", "", "", "", "", "", "", "", ""), 2, 7, "Transport Protocol", ErrProtocol, `"icmp"`},
		{"too few fields", header + good + "bad,1,tcp,desc\r\n", 3, 11, "Assignee", ErrFieldCount, "has 4 fields, want 12"},
		{"too many fields", header + row("bad", "1", "tcp", "", "", "", "", "", "", "", "", "", "extra"), 2, 20, "extra field 13", ErrFieldCount, "has 13 fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := Load(strings.NewReader(tc.in))
			require.Error(t, err)
			assert.Nil(t, reg, "nothing half-loaded")
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.line, pe.Line, "line: %v", err)
			assert.Equal(t, tc.column, pe.Column, "column: %v", err)
			assert.Equal(t, tc.field, pe.Field, "field: %v", err)
			assert.ErrorIs(t, err, tc.sentinel)
			assert.Contains(t, err.Error(), tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "registry: line "), err.Error())
		})
	}
}

func TestParseErrorFormat(t *testing.T) {
	err := error(&ParseError{Line: 7, Column: 3, Field: "Port Number", Err: ErrPort})
	assert.Equal(t, "registry: line 7, column 3 (Port Number): bad port number", err.Error())
	assert.True(t, errors.Is(err, ErrPort))
}

func TestLoadTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("x"), MaxFileSize+1)
	reg, err := Load(bytes.NewReader(big))
	assert.Nil(t, reg)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "reg.csv")
	require.NoError(t, os.WriteFile(p, []byte(header+"a1,,tcp,,,,,,,,,\r\n"), 0o600))
	reg, err := LoadFile(p)
	require.NoError(t, err)
	assert.Equal(t, 1, reg.Records())

	require.NoError(t, os.WriteFile(p, []byte(header+"a1,x,tcp,,,,,,,,,\r\n"), 0o600))
	reg, err = LoadFile(p)
	assert.Nil(t, reg)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 2, pe.Line)
	assert.Contains(t, err.Error(), p)

	_, err = LoadFile(filepath.Join(dir, "missing.csv"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
