package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// FileError is a services file refused: every problem in it, each
// naming the field (services[1].port) or the element (service[0].port).
type FileError struct {
	// Path names the file as the daemon reports it: the directory's last
	// element and the file name, "services.d/printer.json".
	Path string
	// Problems are the problems, each an *announce.FieldError where it
	// concerns a field.
	Problems []error
}

// Error returns one problem a line, each prefixed with the file:
// "services.d/printer.json: services[0].txt: ...".
func (e *FileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.Path + ": " + p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems.
func (e *FileError) Unwrap() []error { return e.Problems }

// fileKind is a kind of services file: where it is, how it is read.
type fileKind struct {
	dir   string
	ext   string
	parse func(data []byte, hostName string) ([]announce.Service, error)
	// path names a Service field of services[i] in the file's own terms.
	path func(i int, field string) string
}

func jsonKind(dir string) fileKind {
	return fileKind{dir: dir, ext: ".json", path: announce.ConfigPath,
		parse: func(data []byte, _ string) ([]announce.Service, error) {
			return announce.LoadConfig(bytes.NewReader(data))
		}}
}

func avahiKind(dir string) fileKind {
	return fileKind{dir: dir, ext: ".service", path: avahiPath,
		parse: func(data []byte, host string) ([]announce.Service, error) {
			return LoadAvahiService(bytes.NewReader(data), host)
		}}
}

// readFile reads and checks one services file: its syntax and fields,
// then every service against the registry (Service.Validate and
// announce.CheckPublishable, as Responder.Add checks it). Any problem
// refuses the whole file, as lansd announce --config refuses a file.
func (k fileKind) readFile(path, hostName string, reg *registry.Registry) ([]announce.Service, error) {
	name := filepath.Join(filepath.Base(k.dir), filepath.Base(path))
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Path: name, Problems: []error{err}}
	}
	services, err := k.parse(data, hostName)
	if err != nil {
		return nil, &FileError{Path: name, Problems: parseProblems(err)}
	}
	var problems []error
	for i, s := range services {
		for _, p := range serviceProblems(s, reg) {
			problems = append(problems, renameField(p, func(f string) string { return k.path(i, f) }))
		}
	}
	if len(problems) > 0 {
		return nil, &FileError{Path: name, Problems: problems}
	}
	return services, nil
}

// list returns the files of the kind in its directory, sorted; hidden files
// and editors' temporary files (names starting with '.') are left out.
func (k fileKind) list() ([]string, error) {
	ents, err := os.ReadDir(k.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, k.ext) || e.IsDir() {
			continue
		}
		out = append(out, filepath.Join(k.dir, n))
	}
	return out, nil
}

// serviceProblems returns what refuses s: the problems with its fields
// (named by Service field, "Port", "TXT") and the TXT record's fatal
// findings (field "TXT"), from Service.Validate against reg and
// announce.CheckPublishable, without repeats.
func serviceProblems(s announce.Service, reg *registry.Registry) []error {
	_, verr := s.Validate(reg)
	perr := announce.CheckPublishable(s, reg)
	var out []error
	seen := map[string]bool{}
	add := func(e error) {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	for _, err := range []error{verr, perr} {
		var ve *sd.ValidationError
		if !errors.As(err, &ve) {
			if err != nil {
				add(err)
			}
			continue
		}
		for _, e := range fieldProblems(ve) {
			add(e)
		}
		for _, f := range ve.Report.Errors() {
			add(&announce.FieldError{Field: "TXT", Reason: f.Error()})
		}
	}
	return out
}

// fieldProblems returns the problems with fields that err (holding a
// *sd.ValidationError) carries, not the TXT findings.
func fieldProblems(err error) []error {
	var ve *sd.ValidationError
	if !errors.As(err, &ve) {
		return flatten(err)
	}
	return flatten(ve.Err)
}

// parseProblems returns the problems of a file's parse error, without
// announce.LoadConfig's "announce: config: " prefix.
func parseProblems(err error) []error {
	if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), "announce: config: ") {
		return flatten(u)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "announce: config: "); ok {
		return []error{errors.New(msg)}
	}
	return flatten(err)
}

// flatten expands joined errors into their parts.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// renameField renames the field of a *announce.FieldError with path.
func renameField(err error, path func(string) string) error {
	var fe *announce.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("%s: %w", path(""), err)
	}
	cp := *fe
	cp.Field = path(fe.Field)
	return &cp
}

// fileState is what one services file publishes.
type fileState struct {
	services []announce.Service
	handles  []handle
	err      error // the last reload's refusal, nil when it was read
}

// fileSet publishes the services of the services directories: it owns
// their state, read and changed only by its reload, which the server runs
// on one goroutine at a time.
type fileSet struct {
	kinds []fileKind
	pub   publisher
	reg   *registry.Registry
	log   *slog.Logger

	mu    sync.Mutex // guards files for Status only; never held across I/O
	files map[string]*fileState
}

// fileStatus is the Status view of one file.
type fileStatus struct {
	path     string
	services []string
	err      error
}

// snapshot returns the state of every file, sorted by path.
func (fs *fileSet) snapshot() []fileStatus {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []fileStatus
	for _, p := range slices.Sorted(maps.Keys(fs.files)) {
		st := fs.files[p]
		f := fileStatus{path: p, err: st.err}
		for _, h := range st.handles {
			f.services = append(f.services, h.Name())
		}
		out = append(out, f)
	}
	return out
}

// ReloadResult counts what a reload of the services directories did.
type ReloadResult struct {
	Added, Updated, Replaced, Removed, Unchanged int
	// Refused are the files refused (their services published before
	// stay as they are).
	Refused []*FileError
}

// reload reads every services file again and applies the difference, file
// by file (announce.PlanReload): services new in a file are added (probed
// and announced), those whose TXT record changed are updated in place
// (announced again, RFC 6762 section 8.4), those whose type, port, host,
// subtypes or domain changed are withdrawn with goodbyes and added again,
// and those gone from their file, or whose file is gone, are withdrawn
// with goodbyes (section 10.1). A file that cannot be read or checked is
// refused as a whole: its problems are logged, each naming the file and the
// field, and the services it published before stay as they are; the other
// files are applied.
func (fs *fileSet) reload(ctx context.Context) ReloadResult {
	var res ReloadResult
	host := hostLabel(fs.pub.HostName())
	next := map[string][]announce.Service{}
	refused := map[string]error{}
	for _, k := range fs.kinds {
		paths, err := k.list()
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				fs.log.Error("daemon: services directory", "dir", k.dir, "err", err)
			}
			// A directory that cannot be listed keeps what it published.
			fs.mu.Lock()
			for p, st := range fs.files {
				if filepath.Dir(p) == filepath.Clean(k.dir) {
					next[p] = st.services
				}
			}
			fs.mu.Unlock()
			continue
		}
		for _, p := range paths {
			services, err := k.readFile(p, host, fs.reg)
			if err != nil {
				var fe *FileError
				errors.As(err, &fe)
				res.Refused = append(res.Refused, fe)
				refused[p] = err
				fs.log.Error("daemon: services file refused; what it published before stays", "file", p, "err", err)
				continue
			}
			next[p] = services
		}
	}
	type step struct {
		path string
		c    announce.Change
	}
	var steps []step
	fs.mu.Lock()
	old := map[string]*fileState{}
	for p, st := range fs.files {
		old[p] = st
	}
	fs.mu.Unlock()
	for p, st := range old {
		if _, ok := refused[p]; ok {
			continue
		}
		if _, ok := next[p]; !ok {
			for i := range st.services {
				steps = append(steps, step{p, announce.Change{Kind: announce.ChangeRemove, Old: i, New: -1}})
			}
		}
	}
	for p, svcs := range next {
		var cur []announce.Service
		if st := old[p]; st != nil {
			cur = st.services
		}
		for _, c := range announce.PlanReload(cur, svcs) {
			steps = append(steps, step{p, c})
		}
	}
	// New state, built from the old: slots filled as the plan is applied.
	newHandles := map[string][]handle{}
	for p, svcs := range next {
		newHandles[p] = make([]handle, len(svcs))
	}
	var kept = map[string][]int{} // old indexes whose removal failed
	// Withdrawals first, so that the names they free are free for the
	// services added.
	for _, s := range steps {
		if s.c.Kind != announce.ChangeRemove && s.c.Kind != announce.ChangeReplace {
			continue
		}
		h := old[s.path].handles[s.c.Old]
		if err := h.Remove(ctx); err != nil {
			fs.log.Error("daemon: withdrawing", "file", s.path, "name", h.Name(), "err", err)
			kept[s.path] = append(kept[s.path], s.c.Old)
			continue
		}
		fs.log.Info("daemon: goodbye", "file", s.path, "name", h.Name(), "change", s.c.Kind.String())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range steps {
		switch s.c.Kind {
		case announce.ChangeKeep:
			res.Unchanged++
			newHandles[s.path][s.c.New] = old[s.path].handles[s.c.Old]
		case announce.ChangeUpdateTXT:
			h := old[s.path].handles[s.c.Old]
			if err := h.UpdateTXT(ctx, next[s.path][s.c.New].TXT); err != nil {
				fs.log.Error("daemon: updating TXT", "file", s.path, "name", h.Name(), "err", err)
				next[s.path][s.c.New].TXT = old[s.path].services[s.c.Old].TXT
			} else {
				res.Updated++
				fs.log.Info("daemon: updated TXT", "file", s.path, "name", h.Name())
			}
			newHandles[s.path][s.c.New] = h
		case announce.ChangeAdd, announce.ChangeReplace:
			if s.c.Kind == announce.ChangeAdd {
				res.Added++
			} else {
				res.Replaced++
			}
			// Added together: their probes share packets (RFC 6762
			// section 8.1).
			wg.Go(func() {
				h, err := fs.pub.Add(ctx, next[s.path][s.c.New])
				if err != nil {
					fs.log.Error("daemon: publishing", "file", s.path, "service", next[s.path][s.c.New].Instance, "err", err)
					return
				}
				fs.log.Info("daemon: announced", "file", s.path, "name", h.Name())
				mu.Lock()
				newHandles[s.path][s.c.New] = h
				mu.Unlock()
			})
		case announce.ChangeRemove:
			res.Removed++
		}
	}
	wg.Wait()
	files := map[string]*fileState{}
	for p, svcs := range next {
		st := &fileState{}
		for i, h := range newHandles[p] {
			if h != nil {
				st.services = append(st.services, svcs[i])
				st.handles = append(st.handles, h)
			}
		}
		files[p] = st
	}
	for p, err := range refused {
		st := &fileState{err: err}
		if o := old[p]; o != nil {
			st.services, st.handles = o.services, o.handles
		}
		files[p] = st
	}
	for p, idx := range kept {
		st := files[p]
		if st == nil {
			st = &fileState{}
			files[p] = st
		}
		for _, i := range idx {
			st.services = append(st.services, old[p].services[i])
			st.handles = append(st.handles, old[p].handles[i])
		}
	}
	fs.mu.Lock()
	fs.files = files
	fs.mu.Unlock()
	return res
}

// hostLabel is the first label of a host name: "h1" of "h1.local.".
func hostLabel(name string) string {
	l, _, _ := strings.Cut(name, ".")
	return l
}
