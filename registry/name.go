package registry

import "fmt"

// MaxNameLen is the longest service name RFC 6335 section 5.1 allows.
const MaxNameLen = 15

// CheckName reports whether name satisfies the service name syntax of
// RFC 6335 section 5.1, which a name MUST satisfy to be used as a DNS-SD
// service type (RFC 6763 section 7):
//
//   - 1 to 15 characters;
//   - only US-ASCII letters A-Z and a-z, digits 0-9 and hyphens;
//   - at least one letter;
//   - no hyphen at the beginning or the end, and no two hyphens in a row.
//
// It returns nil or a [*NameError] for the problem at the lowest byte offset.
func CheckName(name string) error {
	if name == "" {
		return &NameError{Name: name, Offset: 0, Reason: "empty name"}
	}
	letter := false
	for i := 0; i < len(name); i++ {
		if i == MaxNameLen {
			return &NameError{Name: name, Offset: i, Reason: fmt.Sprintf("longer than %d characters (%d bytes)", MaxNameLen, len(name))}
		}
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9':
		case c == '-':
			if i == 0 {
				return &NameError{Name: name, Offset: i, Reason: "begins with a hyphen"}
			}
			if name[i-1] == '-' {
				return &NameError{Name: name, Offset: i, Reason: "two hyphens in a row"}
			}
		case c >= 0x80:
			return &NameError{Name: name, Offset: i, Reason: fmt.Sprintf("non-ASCII byte 0x%02x is not allowed (only A-Z, a-z, 0-9 and '-')", c)}
		default:
			return &NameError{Name: name, Offset: i, Reason: fmt.Sprintf("character %q is not allowed (only A-Z, a-z, 0-9 and '-')", rune(c))}
		}
	}
	if name[len(name)-1] == '-' {
		return &NameError{Name: name, Offset: len(name) - 1, Reason: "ends with a hyphen"}
	}
	if !letter {
		return &NameError{Name: name, Offset: 0, Reason: "contains no letter"}
	}
	return nil
}
