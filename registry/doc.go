// Package registry reads the IANA "Service Name and Transport Protocol Port
// Number Registry" (RFC 6335) in its official CSV format and answers the
// questions a DNS-SD implementation asks of it:
//
//   - Is a service name registered, and for which transport protocols?
//     [Registry.Lookup] accepts a name ("timezone", case-insensitively) or a
//     DNS-SD service type ("_timezone._tcp", "_timezone._tcp.local.").
//   - Can the name be used as a DNS-SD service type at all? [CheckName]
//     applies the syntax of RFC 6335 section 5.1; legacy registrations such as
//     "contamac_icm" are kept but flagged ([Service.SyntaxErr], [Service.Status]).
//   - Which TXT keys does the registration define? [ParseRules] reads the
//     free-text "Defined TXT keys" note of the Assignment Notes column and
//     classifies it ([RulesAbsent], [RulesNone], [RulesKeys], [RulesUnknown]);
//     [KeyRule.Check] checks one TXT value against what the note says
//     (for example "<40hex characters>" or "<context path>").
//
// [Builtin] returns a small registry embedded in the binary (the records
// jnx-kcsync, timezone and timezones, copied verbatim from the IANA file);
// [Load] and [LoadFile] read a full registry file. Both go through the same
// parser; every malformed record is reported as a [*ParseError] naming its
// line, column and field, and nothing is half-loaded.
//
// A [Registry] is immutable after loading and safe for concurrent use. The
// *Service values it hands out are shared: callers must not modify them.
package registry
