// Package tsig reads the transaction signature keys (TSIG, RFC 8945) that
// sign DNS messages, above all the RFC 2136 dynamic updates with which
// package wide registers services in a zone. A key is given in the form of
// nsupdate -y, "[ALG:]NAME:SECRET" (Parse), or as a BIND key file, the
// key "NAME" { algorithm ALG; secret "BASE64"; }; statement that
// nsupdate -k, tsig-keygen and ddns-confgen read and write (LoadFile).
// Keys are checked and normalized (the name fully qualified and in lower
// case, the algorithm in miekg/dns form, the secret in canonical base64);
// HMAC-SHA1, -SHA224, -SHA256, -SHA384 and -SHA512 are supported, not
// HMAC-MD5 nor truncated MACs. Errors never repeat the secret.
package tsig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// Key is a transaction signature key (RFC 8945), as configured for a zone
// on its server (BIND: allow-update { key "NAME"; }).
type Key struct {
	// Name is the key name, fully qualified and in lower case:
	// "update-key.".
	Name string
	// Algorithm is the HMAC algorithm as miekg/dns names it:
	// dns.HmacSHA256 ("hmac-sha256."), dns.HmacSHA1, dns.HmacSHA224,
	// dns.HmacSHA384 or dns.HmacSHA512.
	Algorithm string
	// Secret is the shared secret in base64.
	Secret string
}

// DefaultAlgorithm is the algorithm of a key given without one. It is
// not nsupdate's default (hmac-md5, which miekg/dns no longer implements
// and RFC 8945 section 6 no longer recommends); it is the algorithm
// tsig-keygen and ddns-confgen use by default.
const DefaultAlgorithm = dns.HmacSHA256

// maxKeyFileSize bounds a key file: a key statement is a few hundred bytes.
const maxKeyFileSize = 64 << 10

// IsZero reports whether k is the zero Key: messages are sent unsigned.
func (k Key) IsZero() bool { return k == Key{} }

// String returns "hmac-sha256:NAME" without the secret, for messages.
func (k Key) String() string {
	return strings.TrimSuffix(k.Algorithm, ".") + ":" + strings.TrimSuffix(k.Name, ".")
}

// Check validates k's fields and returns it normalized: the name fully
// qualified and in lower case (the form miekg/dns keys secrets by), the
// algorithm in miekg/dns form, the secret in canonical base64. Errors are
// *ParseError naming the field.
func (k Key) Check() (Key, error) {
	name, err := checkKeyName(k.Name)
	if err != nil {
		return Key{}, &ParseError{Field: "name", Value: k.Name, Reason: err.Error()}
	}
	alg, err := checkAlgorithm(k.Algorithm)
	if err != nil {
		return Key{}, &ParseError{Field: "algorithm", Value: k.Algorithm, Reason: err.Error()}
	}
	secret, err := checkSecret(k.Secret)
	if err != nil {
		return Key{}, &ParseError{Field: "secret", Reason: err.Error()}
	}
	return Key{Name: name, Algorithm: alg, Secret: secret}, nil
}

// ParseError is a TSIG key that cannot be used: the field at fault
// and, in a key file, where.
type ParseError struct {
	// Path is the key file, or "" for a key given as a string.
	Path string
	// Line and Column locate the problem in the key file (1-based, the
	// column counted in bytes); zero for a key given as a string.
	Line, Column int
	// Field names the part at fault: "name", "algorithm", "secret", or
	// "key" for the key as a whole.
	Field string
	// Value is the offending value (never the secret).
	Value string
	// Reason says what is wrong.
	Reason string
}

// Error returns "PATH:LINE:COL: TSIG field "value": reason".
func (e *ParseError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
		}
		b.WriteString(": ")
	}
	b.WriteString("TSIG " + e.Field)
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Parse parses a key in the form of nsupdate -y: [ALG:]NAME:SECRET,
// e.g. "hmac-sha256:update-key:c2VjcmV0...". ALG is hmac-sha1,
// hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512; without it,
// DefaultAlgorithm (hmac-sha256). Errors are *ParseError naming
// the field; they never repeat the secret.
func Parse(s string) (Key, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	var k Key
	switch len(parts) {
	case 2:
		k = Key{Name: parts[0], Algorithm: DefaultAlgorithm, Secret: parts[1]}
	case 3:
		k = Key{Algorithm: parts[0], Name: parts[1], Secret: parts[2]}
	default:
		return Key{}, &ParseError{Field: "key", Reason: fmt.Sprintf("want [ALG:]NAME:SECRET (as nsupdate -y), got %d colon-separated fields", len(parts))}
	}
	return k.Check()
}

// LoadFile reads a BIND key file, the form nsupdate -k, tsig-keygen
// and ddns-confgen use:
//
//	key "update-key" {
//		algorithm hmac-sha256;
//		secret "c2VjcmV0...";
//	};
//
// The file must hold exactly one key statement; comments (#, //, /* */)
// are allowed. Errors are *ParseError with the line and column.
// (DNSSEC-style K*.private files are not read.)
func LoadFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("tsig: key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return Key{}, fmt.Errorf("tsig: key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return Key{}, &ParseError{Path: path, Field: "key", Reason: fmt.Sprintf("file larger than %d bytes; a key file holds one short key statement", maxKeyFileSize)}
	}
	return parseKeyFile(path, data)
}

// checkKeyName returns name fully qualified and in lower case.
func checkKeyName(name string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("empty key name")
	}
	if strings.ContainsAny(name, " \t\r\n") {
		return "", errors.New("a key name holds no white space")
	}
	n := dns.CanonicalName(name)
	if _, ok := dns.IsDomainName(n); !ok || n == "." {
		return "", errors.New("not a valid domain name")
	}
	return n, nil
}

// checkAlgorithm returns the miekg/dns name of a TSIG algorithm given in
// BIND's or miekg's spelling, in any case.
func checkAlgorithm(alg string) (string, error) {
	a := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(alg), "."))
	switch a {
	case "":
		return "", errors.New("empty algorithm")
	case "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512":
		return a + ".", nil
	case "hmac-md5", "hmac-md5.sig-alg.reg.int":
		return "", errors.New("hmac-md5 is not supported (weak, and dropped by miekg/dns); use hmac-sha256")
	}
	for _, base := range []string{"hmac-sha1-", "hmac-sha224-", "hmac-sha256-", "hmac-sha384-", "hmac-sha512-"} {
		if strings.HasPrefix(a, base) {
			return "", fmt.Errorf("truncated MACs are not supported; use %s", strings.TrimSuffix(base, "-"))
		}
	}
	return "", errors.New("unknown algorithm; want hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512")
}

// checkSecret decodes a base64 secret and returns it re-encoded.
func checkSecret(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty secret")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return "", fmt.Errorf("not base64: bad data at byte %d", int64(ce))
		}
		return "", fmt.Errorf("not base64: %w", err)
	}
	if len(b) == 0 {
		return "", errors.New("empty secret")
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// keyToken is a token of a BIND configuration file.
type keyToken struct {
	kind      byte // 'w' word, 's' quoted string, or one of { } ;, 0 at the end
	text      string
	line, col int
}

// keyLexer splits a BIND configuration file into tokens.
type keyLexer struct {
	path      string
	data      []byte
	off       int
	line, col int
}

// errAt returns a ParseError at a position.
func (l *keyLexer) errAt(line, col int, field, value, reason string) error {
	return &ParseError{Path: l.path, Line: line, Column: col, Field: field, Value: value, Reason: reason}
}

// advance moves past one byte, tracking lines and columns.
func (l *keyLexer) advance() {
	if l.data[l.off] == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	l.off++
}

// next returns the next token.
func (l *keyLexer) next() (keyToken, error) {
	for l.off < len(l.data) {
		c := l.data[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance()
		case c == '#' || (c == '/' && l.off+1 < len(l.data) && l.data[l.off+1] == '/'):
			for l.off < len(l.data) && l.data[l.off] != '\n' {
				l.advance()
			}
		case c == '/' && l.off+1 < len(l.data) && l.data[l.off+1] == '*':
			line, col := l.line, l.col
			l.advance()
			l.advance()
			for {
				if l.off >= len(l.data) {
					return keyToken{}, l.errAt(line, col, "key", "", "comment /* not closed")
				}
				if l.data[l.off] == '*' && l.off+1 < len(l.data) && l.data[l.off+1] == '/' {
					l.advance()
					l.advance()
					break
				}
				l.advance()
			}
		case c == '{' || c == '}' || c == ';':
			t := keyToken{kind: c, text: string(c), line: l.line, col: l.col}
			l.advance()
			return t, nil
		case c == '"':
			t := keyToken{kind: 's', line: l.line, col: l.col}
			l.advance()
			var b strings.Builder
			for {
				if l.off >= len(l.data) {
					return keyToken{}, l.errAt(t.line, t.col, "key", "", "quoted string not closed")
				}
				ch := l.data[l.off]
				if ch == '"' {
					l.advance()
					break
				}
				if ch == '\\' && l.off+1 < len(l.data) {
					l.advance()
					ch = l.data[l.off]
				}
				b.WriteByte(ch)
				l.advance()
			}
			t.text = b.String()
			return t, nil
		default:
			t := keyToken{kind: 'w', line: l.line, col: l.col}
			start := l.off
			for l.off < len(l.data) && !strings.ContainsRune(" \t\r\n{};\"#", rune(l.data[l.off])) {
				if l.data[l.off] == '/' && l.off+1 < len(l.data) && (l.data[l.off+1] == '/' || l.data[l.off+1] == '*') {
					break
				}
				l.advance()
			}
			t.text = string(l.data[start:l.off])
			return t, nil
		}
	}
	return keyToken{kind: 0, line: l.line, col: l.col}, nil
}

// describe names a token in messages.
func (t keyToken) describe() string {
	switch t.kind {
	case 0:
		return "end of file"
	case 's':
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// parseKeyFile parses the key statement of a BIND key file.
func parseKeyFile(path string, data []byte) (Key, error) {
	l := &keyLexer{path: path, data: data, line: 1, col: 1}
	var (
		found, algSet, secretSet bool
		key                      Key
		keyLine, keyCol          int
	)
	expect := func(kind byte, what string) (keyToken, error) {
		t, err := l.next()
		if err != nil {
			return t, err
		}
		if t.kind != kind {
			return t, l.errAt(t.line, t.col, "key", "", fmt.Sprintf("want %s, found %s", what, t.describe()))
		}
		return t, nil
	}
	for {
		t, err := l.next()
		if err != nil {
			return Key{}, err
		}
		if t.kind == 0 {
			break
		}
		if t.kind != 'w' || !strings.EqualFold(t.text, "key") {
			return Key{}, l.errAt(t.line, t.col, "key", "", fmt.Sprintf("found %s; a key file holds key \"NAME\" { algorithm ALG; secret \"BASE64\"; };", t.describe()))
		}
		if found {
			return Key{}, l.errAt(t.line, t.col, "key", "", "a second key statement; give a file with one key")
		}
		found = true
		keyLine, keyCol = t.line, t.col
		nt, err := l.next()
		if err != nil {
			return Key{}, err
		}
		if nt.kind != 'w' && nt.kind != 's' {
			return Key{}, l.errAt(nt.line, nt.col, "name", "", fmt.Sprintf("want the key name, found %s", nt.describe()))
		}
		name, err := checkKeyName(nt.text)
		if err != nil {
			return Key{}, l.errAt(nt.line, nt.col, "name", nt.text, err.Error())
		}
		key.Name = name
		if _, err := expect('{', "{"); err != nil {
			return Key{}, err
		}
	clauses:
		for {
			ct, err := l.next()
			if err != nil {
				return Key{}, err
			}
			switch {
			case ct.kind == '}':
				break clauses
			case ct.kind == 'w' && strings.EqualFold(ct.text, "algorithm"):
				if algSet {
					return Key{}, l.errAt(ct.line, ct.col, "algorithm", "", "algorithm given twice")
				}
				vt, err := l.next()
				if err != nil {
					return Key{}, err
				}
				if vt.kind != 'w' && vt.kind != 's' {
					return Key{}, l.errAt(vt.line, vt.col, "algorithm", "", fmt.Sprintf("want the algorithm, found %s", vt.describe()))
				}
				alg, err := checkAlgorithm(vt.text)
				if err != nil {
					return Key{}, l.errAt(vt.line, vt.col, "algorithm", vt.text, err.Error())
				}
				key.Algorithm, algSet = alg, true
			case ct.kind == 'w' && strings.EqualFold(ct.text, "secret"):
				if secretSet {
					return Key{}, l.errAt(ct.line, ct.col, "secret", "", "secret given twice")
				}
				vt, err := l.next()
				if err != nil {
					return Key{}, err
				}
				if vt.kind != 's' && vt.kind != 'w' {
					return Key{}, l.errAt(vt.line, vt.col, "secret", "", fmt.Sprintf("want the secret in quotes, found %s", vt.describe()))
				}
				secret, err := checkSecret(vt.text)
				if err != nil {
					return Key{}, l.errAt(vt.line, vt.col, "secret", "", err.Error())
				}
				key.Secret, secretSet = secret, true
			case ct.kind == 0:
				return Key{}, l.errAt(keyLine, keyCol, "key", "", "key statement not closed with };")
			default:
				return Key{}, l.errAt(ct.line, ct.col, "key", "", fmt.Sprintf("found %s; a key statement holds algorithm and secret", ct.describe()))
			}
			if _, err := expect(';', "; after the clause"); err != nil {
				return Key{}, err
			}
		}
		if _, err := expect(';', "; after the key statement's }"); err != nil {
			return Key{}, err
		}
	}
	switch {
	case !found:
		return Key{}, l.errAt(l.line, l.col, "key", "", "no key statement in the file")
	case !algSet:
		return Key{}, l.errAt(keyLine, keyCol, "algorithm", "", fmt.Sprintf("key %q has no algorithm clause", strings.TrimSuffix(key.Name, ".")))
	case !secretSet:
		return Key{}, l.errAt(keyLine, keyCol, "secret", "", fmt.Sprintf("key %q has no secret clause", strings.TrimSuffix(key.Name, ".")))
	}
	return key, nil
}
