package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxFileSize is the largest registry file [Load] accepts (the real IANA
// file is about 1.1 MiB). Larger input is refused with [ErrTooLarge] rather
// than read into memory.
const MaxFileSize = 64 << 20

// columns are the 12 column names of the IANA CSV header, in order.
var columns = [12]string{
	"Service Name",
	"Port Number",
	"Transport Protocol",
	"Description",
	"Assignee",
	"Contact",
	"Registration Date",
	"Modification Date",
	"Reference",
	"Service Code",
	"Unauthorized Use Reported",
	"Assignment Notes",
}

const (
	colName = iota
	colPort
	colProto
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// LoadFile reads the registry CSV file at path; see [Load].
func LoadFile(path string) (*Registry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer f.Close()
	reg, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reg, nil
}

// Load reads a registry in the official IANA CSV format (RFC 4180; fields
// may hold quoted commas and newlines). The first line must be exactly the
// 12-column IANA header ("Service Name,Port Number,...,Assignment Notes"),
// optionally preceded by a UTF-8 byte order mark. Each record must have 12
// fields, a Port Number of "", "N" or "N-M" (0 <= N <= M <= 65535) and a
// Transport Protocol of "", tcp, udp, sctp or dccp (any case).
//
// On the first malformed record Load returns a nil registry and a
// [*ParseError] naming the line, column and field; nothing is half-loaded.
// Input larger than [MaxFileSize] is refused.
func Load(r io.Reader) (*Registry, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("registry: reading: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("registry: more than %d bytes: %w", MaxFileSize, ErrTooLarge)
	}
	recs, err := parseCSV(data)
	if err != nil {
		return nil, err
	}
	return newRegistry(recs), nil
}

// parseCSV parses and validates the whole file.
func parseCSV(data []byte) ([]Record, error) {
	bom := 0
	if bytes.HasPrefix(data, utf8BOM) {
		bom = len(utf8BOM)
		data = data[bom:]
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // counted here, to name the missing/extra field

	// pos turns a csv line/column into a file line/column (the BOM, if any,
	// precedes line 1).
	pos := func(line, col int) (int, int) {
		if line == 1 {
			col += bom
		}
		return line, col
	}
	csvErr := func(err error) error {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return fmt.Errorf("registry: %w", err)
		}
		field := fieldName(fieldIndexAt(data, pe.StartLine, pe.Line, pe.Column))
		line, col := pos(pe.Line, pe.Column)
		return &ParseError{Line: line, Column: col, Field: field, Err: pe.Err}
	}

	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, &ParseError{Line: 1, Column: 1 + bom, Field: columns[0], Err: fmt.Errorf("%w: empty input, want the %d-column header", ErrHeader, len(columns))}
	}
	if err != nil {
		return nil, csvErr(err)
	}
	for i, want := range columns {
		if i >= len(hdr) {
			line, col := cr.FieldPos(len(hdr) - 1)
			line, col = pos(line, col)
			return nil, &ParseError{Line: line, Column: col, Field: want, Err: fmt.Errorf("%w: column %d %q missing (header has %d columns, want %d)", ErrHeader, i+1, want, len(hdr), len(columns))}
		}
		if hdr[i] != want {
			line, col := pos(cr.FieldPos(i))
			return nil, &ParseError{Line: line, Column: col, Field: want, Err: fmt.Errorf("%w: column %d is %q, want %q", ErrHeader, i+1, hdr[i], want)}
		}
	}
	if len(hdr) > len(columns) {
		line, col := pos(cr.FieldPos(len(columns)))
		return nil, &ParseError{Line: line, Column: col, Field: fieldName(len(columns)), Err: fmt.Errorf("%w: extra column %q (header has %d columns, want %d)", ErrHeader, hdr[len(columns)], len(hdr), len(columns))}
	}

	var recs []Record
	for {
		f, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		if len(f) < len(columns) {
			line, col := cr.FieldPos(len(f) - 1)
			return nil, &ParseError{Line: line, Column: col, Field: columns[len(f)], Err: fmt.Errorf("%w: record has %d fields, want %d: %q and later columns missing", ErrFieldCount, len(f), len(columns), columns[len(f)])}
		}
		if len(f) > len(columns) {
			line, col := cr.FieldPos(len(columns))
			return nil, &ParseError{Line: line, Column: col, Field: fieldName(len(columns)), Err: fmt.Errorf("%w: record has %d fields, want %d", ErrFieldCount, len(f), len(columns))}
		}
		if err := checkPort(f[colPort]); err != nil {
			line, col := cr.FieldPos(colPort)
			return nil, &ParseError{Line: line, Column: col, Field: columns[colPort], Err: err}
		}
		if err := checkProtocol(f[colProto]); err != nil {
			line, col := cr.FieldPos(colProto)
			return nil, &ParseError{Line: line, Column: col, Field: columns[colProto], Err: err}
		}
		line, _ := cr.FieldPos(colName)
		recs = append(recs, Record{
			Name:            f[0],
			Port:            f[1],
			Protocol:        f[2],
			Description:     f[3],
			Assignee:        f[4],
			Contact:         f[5],
			Registered:      f[6],
			Modified:        f[7],
			Reference:       f[8],
			ServiceCode:     f[9],
			UnauthorizedUse: f[10],
			Notes:           f[11],
			Line:            line,
		})
	}
	return recs, nil
}

// fieldName names the i'th (0-based) CSV field.
func fieldName(i int) string {
	if i >= 0 && i < len(columns) {
		return columns[i]
	}
	return fmt.Sprintf("extra field %d", i+1)
}

// fieldIndexAt returns the 0-based index of the field that contains the
// 1-based position (line, col) of data, for a record starting on startLine.
// It re-scans the record with RFC 4180 quoting rules; it is used only to name
// the field of an encoding/csv error.
func fieldIndexAt(data []byte, startLine, line, col int) int {
	// Find the start of startLine.
	off, l := 0, 1
	for l < startLine && off < len(data) {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0
		}
		off += i + 1
		l++
	}
	field, c := 0, 1
	atStart, quoted := true, false
	for ; off < len(data); off++ {
		if l > line || (l == line && c >= col) {
			break
		}
		b := data[off]
		switch {
		case b == '\n':
			l++
			c = 1
			if !quoted {
				// csv reports positions within one record; a new line
				// outside quotes cannot belong to it.
				return field
			}
			continue
		case atStart && b == '"':
			quoted = true
		case quoted && b == '"':
			if off+1 < len(data) && data[off+1] == '"' {
				off++
				c++
			} else {
				quoted = false
			}
		case !quoted && b == ',':
			field++
			atStart = true
			c++
			continue
		}
		atStart = false
		c++
	}
	return field
}

// checkPort validates the Port Number field: "", "N" or "N-M" with
// 0 <= N <= M <= 65535 (RFC 6335 section 6: port numbers are 16-bit).
func checkPort(s string) error {
	if s == "" {
		return nil
	}
	_, _, err := parsePort(s)
	return err
}

// parsePort parses a non-empty Port Number field.
func parsePort(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = parsePortNumber(s, a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err = parsePortNumber(s, b)
	if err != nil {
		return 0, 0, err
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("%w: %q: range start %d is above its end %d", ErrPort, s, lo, hi)
	}
	return lo, hi, nil
}

func parsePortNumber(field, s string) (uint16, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("%w: %q: want N or N-M with 0 <= N <= M <= 65535", ErrPort, field)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q: want N or N-M with 0 <= N <= M <= 65535", ErrPort, field)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("%w: %q: %s is above 65535", ErrPort, field, s)
	}
	return uint16(n), nil
}

// checkProtocol validates the Transport Protocol field.
func checkProtocol(s string) error {
	switch strings.ToLower(s) {
	case "", "tcp", "udp", "sctp", "dccp":
		return nil
	}
	return fmt.Errorf("%w: %q: want tcp, udp, sctp, dccp or empty", ErrProtocol, s)
}
