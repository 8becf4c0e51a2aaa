package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of a configuration file: the format nests
// four levels deep (links, a link, interfaces, a name).
const maxDepth = 32

// kind is the kind of a JSON value.
type kind int

const (
	kindObject kind = iota + 1
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

// String names the kind as an error message does.
func (k kind) String() string {
	switch k {
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	}
	return "null"
}

// value is a JSON value with its object members in input order, so that
// unknown and duplicate members can be named.
type value struct {
	kind kind
	text string // a string's value, a number's or boolean's text
	keys []string
	vals []*value // object members (beside keys) or array elements
}

// syntaxError is a JSON input that does not parse: where, and why.
type syntaxError struct {
	off    int64
	reason string
	err    error
}

// parseJSON reads one JSON value, the whole of data. The syntax is
// checked first by encoding/json's scanner, whose errors count the
// offending byte (so that the offset points at it), then the value is
// read token by token.
func parseJSON(data []byte) (*value, *syntaxError) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &syntaxError{off: int64(len(data)), reason: "empty input; want a JSON object"}
	}
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var se *json.SyntaxError
		if !errors.As(err, &se) {
			return nil, &syntaxError{reason: "cannot be read", err: err}
		}
		off := se.Offset - 1
		if strings.HasPrefix(se.Error(), "unexpected end") {
			off = int64(len(data))
		}
		return nil, &syntaxError{off: min(max(0, off), int64(len(data))), reason: se.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err != nil {
		// Only the depth is left to go wrong.
		return nil, &syntaxError{off: min(max(0, dec.InputOffset()-1), int64(len(data))), reason: err.Error()}
	}
	return v, nil
}

// errDepth is a value nested deeper than maxDepth.
var errDepth = fmt.Errorf("nested more than %d levels deep", maxDepth)

// readValue reads the next value from dec.
func readValue(dec *json.Decoder, depth int) (*value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, errDepth
		}
		v := &value{kind: kindArray}
		if t == '{' {
			v.kind = kindObject
		}
		for dec.More() {
			if v.kind == kindObject {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok { // the decoder allows only strings here
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				v.keys = append(v.keys, k)
			}
			e, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, e)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return v, nil
	case string:
		return &value{kind: kindString, text: t}, nil
	case json.Number:
		return &value{kind: kindNumber, text: t.String()}, nil
	case bool:
		return &value{kind: kindBool, text: strconv.FormatBool(t)}, nil
	case nil:
		return &value{kind: kindNull}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// lineColumn returns the 1-based line and byte column of data[off].
func lineColumn(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for _, c := range data[:min(max(off, 0), int64(len(data)))] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
