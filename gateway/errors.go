package gateway

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ConfigError is one problem with a gateway configuration: the field at
// fault as a JSON path ("rules[2].to[0]", "zones.corp.domain",
// "links.office"), or, for a file that is not JSON, where the syntax
// breaks (Field is then empty and Line is at least 1).
type ConfigError struct {
	// File is the configuration file (set by Load), or "".
	File string
	// Field is the JSON path of the member at fault, or "" for a syntax
	// error or a file that cannot be read.
	Field string
	// Offset, Line and Column locate a syntax error: the byte offset in
	// the input (0-based) of the byte that broke it, and its 1-based line
	// and column (in bytes). All zero for other errors.
	Offset       int64
	Line, Column int
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any (a *json.SyntaxError, a
	// *tsig.ParseError, a *registry.TypeError, ...).
	Err error
}

// Error returns `rules[2].to[0]: unknown link "guest"`, `line 3, column
// 7 (byte 41): invalid character '}' ...` for a syntax error, each behind
// "FILE: " when File is set.
func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	switch {
	case e.Field != "":
		b.WriteString(e.Field + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d, column %d (byte %d): ", e.Line, e.Column, e.Offset)
	}
	b.WriteString(e.Reason)
	if e.Err != nil {
		if e.Reason != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigErrors are every problem found in a configuration, sorted by
// field (array indices in numeric order, so rules[2] comes before
// rules[10]), then by reason. Parse, Load, Config.Validate and NewPolicy
// return them as their error.
type ConfigErrors []*ConfigError

// Error returns one problem per line.
func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As finds a *ConfigError.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// errs collects the problems of a configuration.
type errs struct{ list []*ConfigError }

// add records a problem with field.
func (l *errs) add(field, reason string, err error) {
	l.list = append(l.list, &ConfigError{Field: field, Reason: reason, Err: err})
}

// addf records a problem with field, its reason formatted.
func (l *errs) addf(field, format string, args ...any) {
	l.add(field, fmt.Sprintf(format, args...), nil)
}

// under reports whether field is p or lies inside it.
func under(field, p string) bool {
	return field == p || strings.HasPrefix(field, p+".") || strings.HasPrefix(field, p+"[")
}

// result returns the problems sorted as ConfigErrors, or nil. Problems
// inside a field that already has a problem of an earlier stage (skip)
// are left out: they follow from it.
func (l *errs) result(skip []*ConfigError) error {
	var out ConfigErrors
	out = append(out, skip...)
next:
	for _, e := range l.list {
		for _, s := range skip {
			if s.Field != "" && under(e.Field, s.Field) {
				continue next
			}
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortStableFunc(out, func(a, b *ConfigError) int {
		if c := comparePaths(a.Field, b.Field); c != 0 {
			return c
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
	// The same problem found twice (a key listed in two places) once.
	out = slices.CompactFunc(out, func(a, b *ConfigError) bool {
		return a.Field == b.Field && a.Error() == b.Error()
	})
	return out
}

// comparePaths orders JSON paths segment by segment, array indices as
// numbers.
func comparePaths(a, b string) int {
	for a != "" && b != "" {
		sa, ra := nextSegment(a)
		sb, rb := nextSegment(b)
		na, ea := strconv.Atoi(sa)
		nb, eb := strconv.Atoi(sb)
		var c int
		if ea == nil && eb == nil {
			c = cmp.Compare(na, nb)
		} else {
			c = cmp.Compare(sa, sb)
		}
		if c != 0 {
			return c
		}
		a, b = ra, rb
	}
	return cmp.Compare(len(a), len(b))
}

// nextSegment splits the first segment off a JSON path: a member name
// (quoted names whole) or an array index.
func nextSegment(p string) (seg, rest string) {
	p = strings.TrimPrefix(p, ".")
	switch {
	case strings.HasPrefix(p, "["):
		if i := strings.IndexByte(p, ']'); i > 0 {
			return p[1:i], p[i+1:]
		}
	case strings.HasPrefix(p, `"`):
		if q, err := strconv.QuotedPrefix(p); err == nil {
			return q, p[len(q):]
		}
	}
	i := strings.IndexAny(p, ".[")
	if i < 0 {
		return p, ""
	}
	if i == 0 {
		return p[:1], p[1:]
	}
	return p[:i], p[i:]
}

// memberName returns a member name as a path shows it: as it is when it
// is a plain name (printable ASCII without spaces, quotes, dots or
// brackets), else quoted, so that "" or a name holding a dot is visible.
func memberName(k string) string {
	if k == "" || strings.ContainsFunc(k, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"\.[]`, r)
	}) {
		return strconv.Quote(k)
	}
	return k
}

// member returns the path of member k of the object at path p.
func member(p, k string) string {
	if p == "" {
		return memberName(k)
	}
	return p + "." + memberName(k)
}

// index returns the path of element i of the array at path p.
func index(p string, i int) string { return fmt.Sprintf("%s[%d]", p, i) }
