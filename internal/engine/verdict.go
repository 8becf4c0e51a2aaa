package engine

import (
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/txt"
)

// verdict judges an instance's TXT record: txt.Validate against the
// registry's Service for the instance's type ("_timezone._tcp"), syntax
// only when the registry does not know the type, with Config.Strict. A
// record that could not be decoded (recErr) is a Fatal finding.
func (e *Engine) verdict(service string, rec txt.Record, recErr error) txt.Report {
	if recErr != nil {
		return txt.Report{Findings: []*txt.Error{{
			Severity: txt.Fatal,
			Offset:   -1,
			Rule:     "RFC 6763 section 6.1",
			Reason:   "TXT record does not decode: " + recErr.Error(),
		}}}
	}
	svc, _ := e.lookupService(service)
	return txt.Validate(rec, svc, txt.Options{Strict: e.strict})
}

// lookupService finds the registry's Service for a DNS-SD type.
func (e *Engine) lookupService(service string) (*registry.Service, bool) {
	if service == "" {
		return nil, false
	}
	return e.reg.Lookup(service)
}
