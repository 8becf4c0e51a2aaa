package txt

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lansd/lansd/registry"
)

// Options change how Validate judges a record.
type Options struct {
	// Strict turns every Warning into a Fatal finding.
	Strict bool
}

// Report is the result of Validate.
type Report struct {
	// Findings are sorted by offset, record-level findings (Offset -1) first.
	Findings []*Error
}

// Conforms reports whether the record has no Fatal findings.
func (r Report) Conforms() bool {
	for _, f := range r.Findings {
		if f.Severity == Fatal {
			return false
		}
	}
	return true
}

// Errors returns the Fatal findings, in order.
func (r Report) Errors() []*Error { return r.filter(Fatal) }

// Warnings returns the Warning findings, in order.
func (r Report) Warnings() []*Error { return r.filter(Warning) }

func (r Report) filter(sev Severity) []*Error {
	var out []*Error
	for _, f := range r.Findings {
		if f.Severity == sev {
			out = append(out, f)
		}
	}
	return out
}

// Validate checks r for publication as the TXT record of svc: the syntax
// rules of Check, plus the rules the IANA registry's "Defined TXT keys"
// note gives for svc. With svc nil only the syntax is checked.
//
// By the kind of the service's rules (registry.Rules.Kind):
//
//   - RulesKeys: the value of every string whose key the registry defines
//     (compared ignoring case, RFC 6763 section 6.4) must pass the key's
//     check; a failure is Fatal, with Rule "<service>: <key>=<description>"
//     (for example "jnx-kcsync: hash=<40hex characters>") and a Reason
//     naming the offending byte both within the value and as an absolute
//     wire offset (string offset + 1 + len(key) + 1 + offset in value). A
//     key the registry does not define is a Warning unless the note
//     permits other keys (Rules.Open). A defined key that is missing is not
//     reported: the registry notes list the keys a service may use, not
//     which ones it must.
//   - RulesNone: every key is a Warning, the service defining none.
//   - RulesUnknown and RulesAbsent: no key-level checks.
//
// Strings with an empty key get no registry checks (Check already reports
// them). Every string is checked, duplicates included, since all of them
// are published. With opt.Strict every Warning becomes Fatal; its Rule and
// Reason are kept.
func Validate(r Record, svc *registry.Service, opt Options) Report {
	findings := Check(r)
	if svc != nil {
		findings = append(findings, registryFindings(r, svc)...)
		sortFindings(findings)
	}
	if opt.Strict {
		for _, f := range findings {
			f.Severity = Fatal
		}
	}
	return Report{Findings: findings}
}

// registryFindings checks the keys of r against the registry rules of svc.
func registryFindings(r Record, svc *registry.Service) []*Error {
	rules := &svc.TXT
	if rules.Kind != registry.RulesKeys && rules.Kind != registry.RulesNone {
		return nil
	}
	var out []*Error
	off := 0
	for _, it := range r.Items {
		here := off
		off += 1 + it.stringLen()
		if it.Key == "" {
			continue
		}
		if rules.Kind == registry.RulesNone {
			out = append(out, &Error{
				Severity: Warning, Key: it.Key, Offset: here,
				Rule:   svc.Name + ": Defined TXT keys: None",
				Reason: "service defines no TXT keys",
			})
			continue
		}
		rule, ok := rules.Lookup(it.Key)
		if !ok {
			if !rules.Open {
				out = append(out, &Error{
					Severity: Warning, Key: it.Key, Offset: here,
					Rule:   svc.Name + ": Defined TXT keys: " + keyList(rules.Keys),
					Reason: "key not defined by the registry for " + svc.Name,
				})
			}
			continue
		}
		if err := rule.Check(it.Value, it.HasValue); err != nil {
			out = append(out, &Error{
				Severity: Fatal, Key: it.Key, Offset: here,
				Rule:   ruleText(svc.Name, rule),
				Reason: valueReason(err, here, it),
			})
		}
	}
	return out
}

// ruleText renders a key rule as "<service>: key=<description>".
func ruleText(service string, k registry.KeyRule) string {
	if k.Description == "" {
		return service + ": " + k.Key
	}
	return service + ": " + k.Key + "=" + k.Description
}

// keyList renders the defined keys as "a, b, c".
func keyList(keys []registry.KeyRule) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	return strings.Join(names, ", ")
}

// valueReason explains a failed value check, naming the offending byte
// within the value and in the wire form when the check says which it is.
func valueReason(err error, off int, it Item) string {
	var ve *registry.ValueError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	if len(it.Value) == 0 { // no value byte to point at
		return ve.Reason
	}
	abs := off + 1 + len(it.Key) + 1 + ve.Offset
	return fmt.Sprintf("value byte %d (wire offset %d): %s", ve.Offset, abs, ve.Reason)
}
