package registry

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Reasons given for [RulesUnknown] rules.
const (
	// ReasonProprietary: "Defined TXT keys: Proprietary".
	ReasonProprietary = "proprietary"
	// ReasonToBeDefined: "TBD", "will be described at ...", "will be defined in ...".
	ReasonToBeDefined = "to be defined"
	// ReasonReference: the keys are defined elsewhere ("See BonjourPrinting.pdf",
	// a URL, "Defined in URL specification", "inherited from ...").
	ReasonReference = "reference"
	// ReasonUnparsedPrefix starts the reason for a note the parser could not
	// understand; the rest says why.
	ReasonUnparsedPrefix = "unparsed: "
)

// txtKeysRE finds the phrase "Defined TXT keys": any case, any white space
// (the IANA file has "Defined TXT Keys" and "Defined\n      TXT keys").
var txtKeysRE = regexp.MustCompile(`(?i)defined\s+txt\s+keys`)

var (
	noneRE      = regexp.MustCompile(`(?is)^none\b(.*)$`)
	thereIsNoRE = regexp.MustCompile(`(?i)^there\s+(?:is|are)\s+no\s`)
	tbdRE       = regexp.MustCompile(`(?i)^(?:tbd|to\s+be\s+(?:defined|determined))$`)
	willBeRE    = regexp.MustCompile(`(?i)\bwill\s+be\s+(?:defined|described|documented|specified)\b`)
	seeRE       = regexp.MustCompile(`(?i)^(?:see\b|(?:as\s+)?(?:defined|described|specified|documented)\s+in\b|inherited\s+from\b)`)
	urlStartRE  = regexp.MustCompile(`(?i)^\[?(?:https?://|www\.)`)
	urlRE       = regexp.MustCompile(`(?i)(?:https?://|\bwww\.)`)
	specRE      = regexp.MustCompile(`(?i)\bspecification\b`)
	docRE       = regexp.MustCompile(`(?i)^[^\s/]+\.(?:html?|pdf|txt|xml|docx?)$`)
	svcTypeRE   = regexp.MustCompile(`(?i)^_[^.]+\._(?:tcp|udp)(?:\.|$)`)
	// openSuffixRE: "txtvers and proprietary keys", "txtvers + Proprietary".
	openSuffixRE = regexp.MustCompile(`(?i)\s*(?:\+|,|\band)\s*proprietary(?:\s+keys)?\s*\.?\s*$`)
	// othersRE: a list item "(others not publicly documented)".
	othersRE = regexp.MustCompile(`(?i)^\(\s*others?\b.*\b(?:not\s+(?:publicly\s+)?documented|undocumented)\s*\)$`)
	// refSuffixRE: a key list followed by " - http://..." where it is documented.
	refSuffixRE = regexp.MustCompile(`(?i)\s+-\s+(?:https?://|www\.)\S+\s*$`)
	bulletRE    = regexp.MustCompile(`(?m)^[ \t]*(?:[-*]|[a-z]\.|\d+[.)])[ \t]+`)
	lowerKeyRE  = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*$`)
	hexDescRE   = regexp.MustCompile(`(?i)^<\s*(\d{1,3})\s*hex\s*(?:characters|chars|digits)\s*>$`)
	hexNoteRE   = regexp.MustCompile(`(?i)^\(\s*(\d{1,3})\s*hex\s*(?:characters|chars|digits)\s*\)$`)
	pathDescRE  = regexp.MustCompile(`(?i)^<\s*(?:context\s+path|path|path\s+to\s+[^<>]*[^\s<>])\s*>$`)
)

// exampleMarkers start an "Example:" section, which lists example values,
// not further keys.
var exampleMarkers = []string{"example:", "examples:", "example ", "examples ", "(example", "e.g.", "eg ", "eg:", "for example"}

// stopWords are English function words: a "key" containing one is prose.
var stopWords = map[string]bool{
	"a": true, "all": true, "an": true, "and": true, "any": true, "are": true, "as": true, "at": true,
	"be": true, "been": true, "by": true, "can": true, "could": true, "each": true, "for": true,
	"from": true, "if": true, "in": true, "is": true, "it": true, "its": true, "may": true,
	"must": true, "no": true, "not": true, "of": true, "on": true, "or": true, "see": true,
	"should": true, "than": true, "that": true, "the": true, "then": true, "there": true,
	"these": true, "this": true, "those": true, "to": true, "upon": true, "used": true,
	"via": true, "when": true, "where": true, "which": true, "will": true, "with": true,
	"would": true,
}

// maxRulesText bounds the text after "Defined TXT keys" that ParseRules
// reads (the longest in the IANA file is under 2 KB); longer text is
// unparsed rather than scanned.
const maxRulesText = 16 << 10

// maxNesting bounds bracket nesting in a note.
const maxNesting = 16

// maxHexLen bounds N in "<N hex characters>": a TXT string holds at most 255 bytes.
const maxHexLen = 255

// ParseRules reads the TXT-key rules from a record's Assignment Notes. It
// finds "Defined TXT keys" (any case, any white space between the words)
// and classifies the text after it (and after ':'):
//
//   - no mention: RulesAbsent.
//   - "None" in any case, alone or followed by prose ("None. RFID reader
//     ...", "None at present"), or "there is no TXT keys defined ...":
//     RulesNone. "None" followed by key=value definitions contradicts itself
//     and is RulesUnknown ("unparsed: ...").
//   - "Proprietary": RulesUnknown, Reason "proprietary"; "TBD" or "will be
//     described/defined ...": "to be defined"; "See ...", a URL, a document
//     name or "Defined in ..."/"inherited from ...": "reference".
//   - a list of keys: RulesKeys. Keys are separated by commas or semicolons
//     (then a key may have up to three words, "Machine ID") or by white
//     space and line breaks; each is KEY, KEY=<description>, KEY=literal or
//     KEY=value, optionally followed by "(comment)" or "[comment]" which
//     joins the description. "- " and "a. " bullets are ignored, and so is
//     everything from "Example:" ("e.g.", "(examples:") on. "txtvers and
//     proprietary keys" and "(others not publicly documented)" set Open.
//     Value kinds: "<N hex characters>" (or digits) is ValueHex with Len N;
//     "<context path>", "<path>", "<path to ...>" is ValuePath; anything
//     else is ValueAny.
//     A list is taken literally: "FF-ICE" or "commfort, chat, local chat"
//     are keys because the registration says so. A trailing
//     " - http://..." after a list is ignored.
//   - anything else: RulesUnknown, Reason "unparsed: <why>". The parser
//     does not guess: a list that contains prose (function words such as
//     "the", capitalised words among space-separated keys, more than three
//     words in one key, unbalanced brackets, "...", a key without letters,
//     a key listed twice, a service type such as "_x._tcp") is unparsed as
//     a whole; a text that does not parse, has at most eight words and
//     contains a URL or the word "Specification" is a reference; a text
//     longer than 16 KiB is not read.
func ParseRules(text string) Rules {
	loc := txtKeysRE.FindStringIndex(text)
	if loc == nil {
		return Rules{Kind: RulesAbsent}
	}
	t := strings.TrimSpace(text[loc[1]:])
	if strings.HasPrefix(t, ":") {
		t = strings.TrimSpace(t[1:])
	}
	r := classify(t)
	r.Text = t
	return r
}

func unknown(reason string) Rules { return Rules{Kind: RulesUnknown, Reason: reason} }

func unparsed(format string, args ...any) Rules {
	return unknown(ReasonUnparsedPrefix + fmt.Sprintf(format, args...))
}

// classify classifies the text after "Defined TXT keys:".
func classify(t string) Rules {
	if t == "" {
		return unparsed("nothing follows \"Defined TXT keys\"")
	}
	if len(t) > maxRulesText {
		return unparsed("longer than %d bytes", maxRulesText)
	}
	if m := noneRE.FindStringSubmatch(t); m != nil {
		if strings.Contains(m[1], "=") {
			return unparsed("says \"None\" but then defines keys")
		}
		return Rules{Kind: RulesNone}
	}
	if thereIsNoRE.MatchString(t) {
		return Rules{Kind: RulesNone}
	}
	core := strings.TrimSpace(strings.TrimRight(t, ". \t\r\n"))
	switch {
	case strings.EqualFold(core, "proprietary"):
		return unknown(ReasonProprietary)
	case tbdRE.MatchString(core), willBeRE.MatchString(t):
		return unknown(ReasonToBeDefined)
	case seeRE.MatchString(t), urlStartRE.MatchString(t), docRE.MatchString(core):
		return unknown(ReasonReference)
	}
	keys, open, err := parseKeyList(t)
	if err != nil {
		// A short text with a URL or naming a specification points to
		// where the keys are defined.
		if (urlRE.MatchString(t) || specRE.MatchString(t)) && len(strings.Fields(t)) <= 8 {
			return unknown(ReasonReference)
		}
		return unparsed("%v", err)
	}
	return Rules{Kind: RulesKeys, Keys: keys, Open: open}
}

// item is one key of a key list while it is parsed.
type item struct {
	words    []string // the key, possibly several words ("Machine ID")
	hasEq    bool
	value    string
	comments []string
}

// parseKeyList parses a list of keys; see ParseRules.
func parseKeyList(t string) ([]KeyRule, bool, error) {
	open := false
	if loc := openSuffixRE.FindStringIndex(t); loc != nil {
		open = true
		t = t[:loc[0]]
	}
	if loc := refSuffixRE.FindStringIndex(t); loc != nil {
		t = t[:loc[0]]
	}
	t = cutExamples(t)
	t = strings.TrimSpace(t)
	if strings.HasSuffix(t, ".") && !strings.HasSuffix(t, "..") {
		t = strings.TrimSpace(t[:len(t)-1])
	}
	t = bulletRE.ReplaceAllString(t, "")

	comma := false
	if err := walkTop(t, func(i int) bool {
		if t[i] == ',' || t[i] == ';' {
			comma = true
			return false
		}
		return true
	}); err != nil {
		return nil, false, err
	}
	segments := []string{t}
	if comma {
		var err error
		segments, err = splitTop(t, func(c byte) bool { return c == ',' || c == ';' || c == '\n' })
		if err != nil {
			return nil, false, err
		}
	}

	var items []*item
	for _, seg := range segments {
		toks, err := splitTop(seg, isSpace)
		if err != nil {
			return nil, false, err
		}
		var cur *item // the item being built; in comma mode one per segment
		for _, tok := range toks {
			if tok == "" {
				continue
			}
			switch {
			case tok[0] == '(' || tok[0] == '[':
				if end := closeIndex(tok); end != len(tok)-1 {
					return nil, false, fmt.Errorf("unexpected text after %q", clip(tok[:end+1]))
				}
				if cur == nil {
					if comma && othersRE.MatchString(tok) {
						open = true
						continue
					}
					return nil, false, fmt.Errorf("%q comes before any key", clip(tok))
				}
				cur.comments = append(cur.comments, tok)
			case indexTop(tok, '=') >= 0:
				i := indexTop(tok, '=')
				k, v := tok[:i], tok[i+1:]
				if strings.HasPrefix(v, "=") {
					return nil, false, fmt.Errorf("%q: '==' is not key=value", clip(tok))
				}
				if !comma || cur == nil {
					cur = &item{}
					items = append(items, cur)
				} else if cur.hasEq || len(cur.comments) > 0 {
					return nil, false, fmt.Errorf("unexpected %q after key %q", clip(tok), clip(cur.key()))
				}
				if k != "" {
					cur.words = append(cur.words, k)
				}
				if len(cur.words) == 0 {
					return nil, false, fmt.Errorf("%q: no key before '='", clip(tok))
				}
				cur.hasEq, cur.value = true, v
			default:
				if comma && cur != nil {
					if cur.hasEq || len(cur.comments) > 0 {
						return nil, false, fmt.Errorf("unexpected %q after key %q", clip(tok), clip(cur.key()))
					}
					cur.words = append(cur.words, tok)
					continue
				}
				cur = &item{words: []string{tok}}
				items = append(items, cur)
			}
		}
	}
	if len(items) == 0 {
		return nil, false, fmt.Errorf("no keys")
	}

	keys := make([]KeyRule, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if err := it.check(!comma && len(items) > 1); err != nil {
			return nil, false, err
		}
		k := it.rule()
		// RFC 6763 section 6.4: keys are case-insensitive.
		lk := strings.ToLower(k.Key)
		if seen[lk] {
			return nil, false, fmt.Errorf("key %q is listed twice", clip(k.Key))
		}
		seen[lk] = true
		keys = append(keys, k)
	}
	return keys, open, nil
}

func (it *item) key() string { return strings.Join(it.words, " ") }

// check rejects items that are not keys. spaceList is true for a list of
// several keys separated by white space, where a bare capitalised word is
// more likely prose than a key.
func (it *item) check(spaceList bool) error {
	key := it.key()
	if key == "..." || strings.HasSuffix(key, "...") {
		return fmt.Errorf("%q: an open-ended list", clip(key))
	}
	if len(it.words) > 3 {
		return fmt.Errorf("%q reads as prose, not a key", clip(key))
	}
	letter := false
	if svcTypeRE.MatchString(key) {
		return fmt.Errorf("%q is a DNS-SD service type, not a key", clip(key))
	}
	for _, w := range it.words {
		// A single word in a comma-separated list is taken as a key even
		// if it is an English word ("A" in "D (device type), A (architecture)").
		if stopWords[strings.ToLower(w)] && (len(it.words) > 1 || spaceList) {
			return fmt.Errorf("%q reads as prose, not a key", clip(key))
		}
		for i := 0; i < len(w); i++ {
			c := w[i]
			// RFC 6763 section 6.4: keys are printable US-ASCII except '='.
			// Quotes, brackets and ':' mark descriptions, not keys.
			if c < 0x21 || c > 0x7e || strings.IndexByte(`"'<>()[]{}:`, c) >= 0 {
				return fmt.Errorf("%q is not a key (byte %q)", clip(key), c)
			}
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
				letter = true
			}
		}
	}
	if !letter {
		return fmt.Errorf("%q is not a key (no letter)", clip(key))
	}
	if spaceList && !it.hasEq && !lowerKeyRE.MatchString(key) {
		return fmt.Errorf("%q in a space-separated list reads as prose, not a key", clip(key))
	}
	return nil
}

// rule turns a checked item into a KeyRule.
func (it *item) rule() KeyRule {
	k := KeyRule{Key: it.key(), Value: ValueAny}
	desc := make([]string, 0, 1+len(it.comments))
	if it.value != "" {
		desc = append(desc, it.value)
	}
	desc = append(desc, it.comments...)
	k.Description = strings.Join(desc, " ")
	if !it.hasEq {
		return k
	}
	switch {
	case hexDescRE.MatchString(it.value):
		k.Value, k.Len = hexLen(hexDescRE.FindStringSubmatch(it.value)[1])
	case strings.EqualFold(it.value, "value") && len(it.comments) > 0 && hexNoteRE.MatchString(it.comments[0]):
		// "mac=value (12 hex digits)"
		k.Value, k.Len = hexLen(hexNoteRE.FindStringSubmatch(it.comments[0])[1])
	case pathDescRE.MatchString(it.value):
		k.Value = ValuePath
	}
	return k
}

// hexLen returns ValueHex and n, or ValueAny for an n out of range.
func hexLen(s string) (ValueKind, int) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxHexLen {
		return ValueAny, 0
	}
	return ValueHex, n
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// walkTop calls fn with the index of each byte of s that is outside
// brackets and quotes, and with the index of each bracket or quote that
// opens a group there; it stops when fn returns false. Inside <...> only
// angle brackets count; inside (...), [...] and {...} quotes are not
// special. It reports unbalanced brackets and quotes.
func walkTop(s string, fn func(i int) bool) error {
	var stack []byte // expected closing brackets
	for i := 0; i < len(s); i++ {
		c := s[i]
		if len(stack) == 0 {
			if !fn(i) {
				return nil
			}
			switch c {
			case '"', '\'':
				j := strings.IndexByte(s[i+1:], c)
				if j < 0 {
					return fmt.Errorf("unterminated quote %q at byte %d", c, i)
				}
				i += j + 1
			case '(', '[', '{', '<':
				stack = append(stack, closerOf(c))
			case ')', ']', '}', '>':
				return fmt.Errorf("unbalanced %q at byte %d", c, i)
			}
			continue
		}
		top := stack[len(stack)-1]
		switch {
		case c == top:
			stack = stack[:len(stack)-1]
		case top == '>':
			if c == '<' {
				if len(stack) == maxNesting {
					return fmt.Errorf("brackets nested too deeply at byte %d", i)
				}
				stack = append(stack, '>')
			}
		case c == '(' || c == '[' || c == '{':
			if len(stack) == maxNesting {
				return fmt.Errorf("brackets nested too deeply at byte %d", i)
			}
			stack = append(stack, closerOf(c))
		case c == ')' || c == ']' || c == '}':
			return fmt.Errorf("unbalanced %q at byte %d", c, i)
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("missing %q at the end", stack[len(stack)-1])
	}
	return nil
}

func closerOf(c byte) byte {
	switch c {
	case '(':
		return ')'
	case '[':
		return ']'
	case '{':
		return '}'
	}
	return '>'
}

// splitTop splits s at the bytes outside brackets and quotes for which sep
// is true, trimming white space around the parts.
func splitTop(s string, sep func(byte) bool) ([]string, error) {
	var parts []string
	start := 0
	err := walkTop(s, func(i int) bool {
		if sep(s[i]) {
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return append(parts, strings.TrimSpace(s[start:])), nil
}

// indexTop returns the index of the first c in s outside brackets and
// quotes, or -1.
func indexTop(s string, c byte) int {
	at := -1
	_ = walkTop(s, func(i int) bool {
		if s[i] == c {
			at = i
			return false
		}
		return true
	})
	return at
}

// closeIndex returns the index of the bracket that closes the group opened
// at s[0], or -1.
func closeIndex(s string) int {
	end := -1
	seen := false
	_ = walkTop(s, func(i int) bool {
		if i == 0 {
			return true
		}
		seen = true
		end = i - 1
		return false
	})
	if !seen {
		return len(s) - 1
	}
	return end
}

// cutExamples returns s up to the first "Example:" marker outside brackets
// and quotes that begins a word.
func cutExamples(s string) string {
	cut := len(s)
	_ = walkTop(s, func(i int) bool {
		if i > 0 && !isSpace(s[i-1]) && s[i-1] != ',' && s[i-1] != ';' {
			return true
		}
		for _, m := range exampleMarkers {
			if len(s)-i >= len(m) && strings.EqualFold(s[i:i+len(m)], m) {
				cut = i
				return false
			}
		}
		return true
	})
	return s[:cut]
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
