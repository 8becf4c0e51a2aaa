package announce

import "github.com/lansd/lansd/internal/dnsname"

// nameIndex holds the entities of a responder by the dnsname key of the
// name each claims (its host name or instance name), so that finding
// whether a name is already ours costs a map look-up: with 10,000
// services, a scan of all of them per added service was most of the
// start-up CPU.
type nameIndex map[string][]*entity

// add indexes e under its current name.
func (ix *nameIndex) add(r *Responder, e *entity) {
	if *ix == nil {
		*ix = nameIndex{}
	}
	k := r.keyOf(e)
	(*ix)[k] = append((*ix)[k], e)
}

// remove drops e from under its current name.
func (ix nameIndex) remove(r *Responder, e *entity) {
	k := r.keyOf(e)
	list := ix[k]
	for i, x := range list {
		if x == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(ix, k)
	} else {
		ix[k] = list
	}
}

// memoName computes e.name and e.key for e's current label, once per
// label: a name depends only on the label (and the fixed service type
// and domain).
func (r *Responder) memoName(e *entity) {
	if e.name != "" && e.nameLabel == e.label {
		return
	}
	if e.kind == kindHost || e.kind == kindProxyHost {
		e.name = dnsname.EscapeLabel(e.label) + "." + dnsname.Local
	} else {
		e.name = e.svc.instanceName(e.label)
	}
	e.key, e.nameLabel = dnsname.MustKey(e.name), e.label
}

// keyOf returns the dnsname key of the name e claims.
func (r *Responder) keyOf(e *entity) string {
	r.memoName(e)
	return e.key
}

// nameInUse reports whether another entity of this responder holds the
// name e would have with label.
func (r *Responder) nameInUse(e *entity, label string) bool {
	var name string
	if e.kind == kindHost || e.kind == kindProxyHost {
		name = dnsname.EscapeLabel(label) + "." + dnsname.Local
	} else {
		name = e.svc.instanceName(label)
	}
	k := dnsname.MustKey(name)
	for _, x := range r.names[k] {
		if x != e && x.state != stateRemoved {
			return true
		}
	}
	return false
}
