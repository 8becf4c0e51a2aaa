// Package txt reads, writes and validates DNS-SD TXT records (RFC 6763
// section 6).
//
// A TXT record is a sequence of strings, each a length byte and up to 255
// bytes (section 6.1). DNS-SD stores one attribute per string: "key=value",
// "key=" (an empty value) or "key" (a boolean attribute), split at the
// first '=' (sections 6.3 to 6.5). Record holds the strings in wire order
// as Items, duplicates included, each with the offset of its length byte in
// the wire form, so that every finding can point at its byte.
//
// Records come from four places:
//
//   - Decode reads the RDATA of a TXT record (the wire form);
//   - ParseArgs reads command-line arguments "key=value", "key=", "key",
//     with \xHH and \\ escapes (FormatArg writes them back);
//   - ParseJSON reads a JSON object {"key": "value"} or array ["key=value"]
//     (FormatJSON writes the object back);
//   - FromRR reads a miekg/dns *dns.TXT.
//
// Encode and Record.RR write a record back. Get, Keys and Map look keys up
// as a client does: ignoring ASCII case, the first occurrence winning
// (section 6.4).
//
// Check applies the syntax rules of section 6 (empty records, key length
// and characters, duplicate keys, record size). Validate adds the rules the
// IANA Service Name registry gives for a service in its "Defined TXT keys"
// notes (see package registry) and returns a Report whose findings are
// Fatal (the record does not conform) or Warning (allowed, but worth
// fixing; Options.Strict makes them Fatal). Every finding is an *Error
// naming the key, the offset of its string in the wire form, the rule
// (an RFC section or a registry rule such as
// "jnx-kcsync: hash=<40hex characters>") and the reason.
package txt
