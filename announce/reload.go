package announce

import (
	"bytes"
	"slices"
	"strings"

	"github.com/lansd/lansd/txt"
)

// ChangeKind is what a reload does to one service.
type ChangeKind int

// The kinds of change PlanReload returns.
const (
	// ChangeKeep leaves a published service as it is: nothing of it
	// changed.
	ChangeKeep ChangeKind = iota
	// ChangeAdd publishes a service that is new: Responder.Add (probed and
	// announced, RFC 6762 section 8).
	ChangeAdd
	// ChangeUpdateTXT gives a published service its new TXT record in
	// place: Handle.UpdateTXT (announced again, RFC 6762 section 8.4).
	ChangeUpdateTXT
	// ChangeReplace withdraws a published service whose records cannot be
	// changed in place (its type as written, port, host, subtypes, domain
	// or the spelling of its name changed) and publishes the new one:
	// Handle.Remove (goodbyes, RFC 6762 section 10.1), then Responder.Add.
	ChangeReplace
	// ChangeRemove withdraws a service that is no longer wanted:
	// Handle.Remove (goodbyes, RFC 6762 section 10.1).
	ChangeRemove
)

// String returns the kind's name: "keep", "add", "update-txt", "replace",
// "remove".
func (k ChangeKind) String() string {
	switch k {
	case ChangeKeep:
		return "keep"
	case ChangeAdd:
		return "add"
	case ChangeUpdateTXT:
		return "update-txt"
	case ChangeReplace:
		return "replace"
	case ChangeRemove:
		return "remove"
	}
	return "unknown"
}

// Change is one step of a reload plan.
type Change struct {
	Kind ChangeKind
	// Old is the index in the old services of the service kept, changed
	// or removed; -1 for ChangeAdd.
	Old int
	// New is the index in the new services of the service kept, added,
	// updated or replaced; -1 for ChangeRemove.
	New int
}

// PlanReload works out how to go from the services published, old, to
// the services wanted, next (for example the services of a configuration
// file read again by LoadConfig): which to add, which to update in place,
// which to replace and which to remove. A service is identified by its
// instance name and its type as written ("Office TZ" and "timezone"),
// both compared without regard to ASCII case (RFC 6762 section 16); the
// same service written "_timezone._tcp" the next time is another
// service, replaced. Every service of old and of next is in the plan
// once; those that did not change are ChangeKeep.
//
// The plan lists removals first (in the order of old), so that the names
// they free are free before anything is added, then the services of next
// in their order. Services with the same
// identity twice in a list (LoadConfig refuses them) are matched in
// order.
func PlanReload(old, next []Service) []Change {
	used := make([]bool, len(old))
	match := make([]int, len(next))
	byID := map[string][]int{}
	for i, s := range old {
		k := serviceID(s)
		byID[k] = append(byID[k], i)
	}
	for j, s := range next {
		k := serviceID(s)
		match[j] = -1
		if l := byID[k]; len(l) > 0 {
			match[j], byID[k] = l[0], l[1:]
			used[l[0]] = true
		}
	}
	var plan []Change
	for i := range old {
		if !used[i] {
			plan = append(plan, Change{Kind: ChangeRemove, Old: i, New: -1})
		}
	}
	for j, s := range next {
		i := match[j]
		switch {
		case i < 0:
			plan = append(plan, Change{Kind: ChangeAdd, Old: -1, New: j})
		case !sameIdentity(old[i], s):
			plan = append(plan, Change{Kind: ChangeReplace, Old: i, New: j})
		case !sameTXT(old[i].TXT, s.TXT):
			plan = append(plan, Change{Kind: ChangeUpdateTXT, Old: i, New: j})
		default:
			plan = append(plan, Change{Kind: ChangeKeep, Old: i, New: j})
		}
	}
	return plan
}

// serviceID is what identifies a service across reloads: its instance
// name and its type as written, without regard to ASCII case.
func serviceID(s Service) string {
	return asciiLower(s.Instance) + "\x00" + asciiLower(s.Type)
}

// asciiLower folds ASCII letters only (RFC 6762 section 16: names compare
// without regard to ASCII case; other bytes compare exactly).
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// sameIdentity reports whether everything of a and b but the TXT record
// is the same, so that b can be published by updating a's TXT record.
func sameIdentity(a, b Service) bool {
	return a.Instance == b.Instance && a.Type == b.Type && a.Domain == b.Domain &&
		a.Port == b.Port && a.Host == b.Host && slices.Equal(a.Subtypes, b.Subtypes)
}

// sameTXT reports whether a and b are the same TXT record on the wire.
func sameTXT(a, b txt.Record) bool {
	wa, erra := a.Encode()
	wb, errb := b.Encode()
	if erra != nil || errb != nil {
		return erra != nil && errb != nil && a.String() == b.String()
	}
	return bytes.Equal(wa, wb)
}
