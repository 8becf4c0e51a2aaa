package registry

import "strings"

// Summary describes a loaded registry. Counts are defined as follows.
type Summary struct {
	// Records is the total number of records (CSV rows after the header),
	// including rows without a service name.
	Records int
	// Names is the number of distinct service names, compared
	// case-insensitively (= len(Registry.Services())).
	Names int
	// TXTRecords is the number of records whose Assignment Notes mention
	// "Defined TXT keys" as ParseRules finds it: case-insensitively and with
	// any white space (including a line break) between the words; that is,
	// the records whose ParseRules kind is not RulesAbsent. (In the IANA file
	// of 2024 this is 992, of which 986 contain the exact string "Defined TXT
	// keys"; 4 write "TXT Keys" and 2 break the line after "Defined".)
	TXTRecords int
	// TXTRecordsExact is the number of records whose Assignment Notes
	// contain the exact string "Defined TXT keys" (986 in the IANA file of
	// 2024), the figure IANA's own search gives.
	TXTRecordsExact int
	// Rules counts distinct services (not records) by the kind of their TXT
	// rules ([Service.TXT]); services whose notes never mention "Defined TXT
	// keys" count as RulesAbsent, so the counts add up to Names.
	Rules map[RuleKind]int
	// Reasons counts the RulesUnknown services by Reason, with every
	// "unparsed: ..." reason counted under "unparsed".
	Reasons map[string]int
	// Unusable lists the distinct service names, as first registered and
	// sorted by lower-case name, that do not satisfy RFC 6335 section 5.1
	// ([CheckName]) and so cannot be DNS-SD service types. (In the IANA file
	// of 2024: 99 names, carried by 189 records.)
	Unusable []string
	// ValueKinds counts the key rules of all RulesKeys services by the kind
	// of value check they make.
	ValueKinds map[ValueKind]int
	// Unparsed lists, in service order without duplicates, the note texts
	// (Rules.Text) that ParseRules could not understand (Reason
	// "unparsed: ..."), so that what is not checked is visible.
	Unparsed []string
}

// Summary computes the [Summary] of r.
func (r *Registry) Summary() Summary {
	s := Summary{
		Records:    len(r.records),
		Names:      len(r.services),
		Rules:      make(map[RuleKind]int),
		Reasons:    make(map[string]int),
		ValueKinds: make(map[ValueKind]int),
	}
	for i := range r.records {
		if txtKeysRE.MatchString(r.records[i].Notes) {
			s.TXTRecords++
		}
		if strings.Contains(r.records[i].Notes, "Defined TXT keys") {
			s.TXTRecordsExact++
		}
	}
	seen := make(map[string]bool)
	for _, svc := range r.services {
		if !svc.Usable() {
			s.Unusable = append(s.Unusable, svc.Name)
		}
		s.Rules[svc.TXT.Kind]++
		switch svc.TXT.Kind {
		case RulesKeys:
			for _, k := range svc.TXT.Keys {
				s.ValueKinds[k.Value]++
			}
		case RulesUnknown:
			reason := svc.TXT.Reason
			if strings.HasPrefix(reason, ReasonUnparsedPrefix) {
				reason = "unparsed"
				if !seen[svc.TXT.Text] {
					seen[svc.TXT.Text] = true
					s.Unparsed = append(s.Unparsed, svc.TXT.Text)
				}
			}
			s.Reasons[reason]++
		}
	}
	return s
}
