package registry

import (
	"errors"
	"fmt"
)

// Status says whether the service can be used with DNS-SD: "registered", or
// "registered, but not usable as a DNS-SD service type: <reason>" for a
// legacy name that does not satisfy RFC 6335 section 5.1 (such as
// "contamac_icm").
func (s *Service) Status() string {
	if s.SyntaxErr == nil {
		return "registered"
	}
	reason := s.SyntaxErr.Error()
	var ne *NameError
	if errors.As(s.SyntaxErr, &ne) {
		reason = fmt.Sprintf("%s (byte %d)", ne.Reason, ne.Offset)
	}
	return "registered, but not usable as a DNS-SD service type: " + reason
}

// DefinesKeys reports whether the registry lists the service's TXT keys
// (its rules are of kind [RulesKeys]).
func (s *Service) DefinesKeys() bool { return s.TXT.Kind == RulesKeys }
