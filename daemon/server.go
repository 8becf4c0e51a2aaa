package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/browse"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

// Defaults of Options.
const (
	DefaultServicesDir = "/etc/lansd/services.d"
	DefaultSocket      = "/run/lansd/lansd.sock"
	DefaultSocketMode  = 0o660
	DefaultKeepWarm    = 5 * time.Minute
)

// ErrRunning is returned (wrapped) by New when another daemon holds the
// socket's lock file: one daemon per host.
var ErrRunning = errors.New("another lansd daemon is running")

// Options configure a Server.
type Options struct {
	// ServicesDir holds the services files, *.json in the lansd announce
	// --config format; "" reads none. A directory that does not exist is
	// watched for nothing and read on Reload.
	ServicesDir string
	// AvahiServicesDir holds Avahi static service files (*.service, see
	// LoadAvahiService); "" reads none.
	AvahiServicesDir string
	// Socket is the path of the local API's Unix socket; "" means
	// DefaultSocket. Its directory must exist. A lock file beside it,
	// Socket+".lock", keeps a second daemon from starting.
	Socket string
	// SocketMode is the socket's permission bits; 0 means
	// DefaultSocketMode (0660): who may connect may publish.
	SocketMode os.FileMode
	// SocketGroup is the socket's group ID; 0 or -1 leaves the daemon's
	// own group (so group root is chosen by running as root).
	SocketGroup int
	// Interfaces, ExcludeInterfaces, Families and HostName are those of
	// announce.Options and browse.Options.
	Interfaces        []string
	ExcludeInterfaces []string
	Families          []sd.Family
	HostName          string
	// Registry validates every service published and gives the browse
	// verdicts; nil means registry.Builtin().
	Registry *registry.Registry
	// Logger receives the daemon's log; nil means slog.Default().
	Logger *slog.Logger
	// KeepWarm is how long a service type stays browsed, its instances
	// cached, after its last client went; 0 means DefaultKeepWarm.
	KeepWarm time.Duration
	// MaxRecords bounds each browser's cache (browse.Options.MaxRecords).
	MaxRecords int
}

// Server is the host's mDNS daemon: one responder (host name, services
// from the services directories and from clients), one cache per service
// type browsed, and the local API on a Unix socket. Its state is owned by
// one goroutine (Serve's); the services files by the reload goroutine.
type Server struct {
	opts  Options
	log   *slog.Logger
	reg   *registry.Registry
	pub   publisher
	files *fileSet
	ln    *net.UnixListener
	lock  *os.File
	watch *watcher // nil when the directories are not watched

	newBrowser func(ctx context.Context, types []string, opts browse.Options) (sd.Browser, error)
	resolver   func(ctx context.Context, name string, strict bool) ([]sd.Instance, error) // nil: browse.ResolveAll

	ops       chan func()   // run by the owner goroutine
	stopping  chan struct{} // closed when the owner goroutine starts shutting down
	reloads   chan chan ReloadResult
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	serving   atomic.Bool
	closeMu   sync.Mutex
	closed    bool
	exited    chan struct{} // closed when Serve's goroutines are gone

	// Owned by the owner goroutine.
	browsers map[string]*pooled
	clients  map[*conn]struct{}
	nextConn int
}

// New starts the daemon: it takes the socket (refusing with ErrRunning
// when another daemon runs), opens the responder (which probes and
// announces the host name, RFC 6762 section 8), publishes the services
// of the directories, and listens. It returns once they are announced; the
// API is served by Serve.
func New(ctx context.Context, opts Options) (*Server, error) {
	s, err := prepare(opts)
	if err != nil {
		return nil, err
	}
	r, err := announce.New(ctx, announce.Options{
		Interfaces:        opts.Interfaces,
		ExcludeInterfaces: opts.ExcludeInterfaces,
		Families:          opts.Families,
		HostName:          opts.HostName,
		Registry:          s.reg,
		Logger:            s.log,
	})
	if err != nil {
		s.releaseSocket()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	s.start(ctx, responderPublisher{r}, func(ctx context.Context, types []string, o browse.Options) (sd.Browser, error) {
		return browse.NewBrowser(ctx, types, o)
	})
	return s, nil
}

// prepare checks opts and takes the socket.
func prepare(opts Options) (*Server, error) {
	if opts.Socket == "" {
		opts.Socket = DefaultSocket
	}
	if opts.SocketMode == 0 {
		opts.SocketMode = DefaultSocketMode
	}
	if opts.KeepWarm <= 0 {
		opts.KeepWarm = DefaultKeepWarm
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		reg:      opts.Registry,
		ops:      make(chan func(), 64),
		stopping: make(chan struct{}),
		reloads:  make(chan chan ReloadResult, 1),
		done:     make(chan struct{}),
		exited:   make(chan struct{}),
		browsers: map[string]*pooled{},
		clients:  map[*conn]struct{}{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.reg == nil {
		s.reg = registry.Builtin()
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	return s, nil
}

// start publishes the services files and starts the owner goroutine.
func (s *Server) start(ctx context.Context, pub publisher, nb func(context.Context, []string, browse.Options) (sd.Browser, error)) {
	s.pub = pub
	s.newBrowser = nb
	var kinds []fileKind
	if s.opts.ServicesDir != "" {
		kinds = append(kinds, jsonKind(s.opts.ServicesDir))
	}
	if s.opts.AvahiServicesDir != "" {
		kinds = append(kinds, avahiKind(s.opts.AvahiServicesDir))
	}
	s.files = &fileSet{kinds: kinds, pub: pub, reg: s.reg, log: s.log, files: map[string]*fileState{}}
	// Watched before they are read: no change falls in between.
	if len(kinds) > 0 {
		w, err := watchDirs(s.dirs(), s.log)
		if err != nil {
			s.log.Warn("daemon: cannot watch the services directories; reload with SIGHUP", "err", err)
		}
		s.watch = w
	}
	res := s.files.reload(ctx)
	s.log.Info("daemon: services files read", "added", res.Added, "refused", len(res.Refused))
}

// listen takes the lock file and the socket. A socket file left by a
// daemon that died is replaced; a running daemon holds the lock.
func (s *Server) listen() error {
	path := s.opts.Socket
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("daemon: lock file: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, errLocked) {
			return fmt.Errorf("daemon: %w: %s is locked (socket %s)", ErrRunning, path+".lock", path)
		}
		return fmt.Errorf("daemon: lock file %s: %w", path+".lock", err)
	}
	// We hold the lock: a socket file there is a dead daemon's, unless
	// one answers on it (its lock file deleted, or none where flock(2) is
	// missing).
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		lock.Close()
		return fmt.Errorf("daemon: %w: it answers on %s", ErrRunning, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return fmt.Errorf("daemon: %w", err)
	}
	// The socket is created with no access at all, then given its mode:
	// nobody connects before the permissions are right.
	ln, err := listenPrivate(path)
	if err != nil {
		lock.Close()
		return fmt.Errorf("daemon: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if s.opts.SocketGroup > 0 {
		if err := os.Chown(path, -1, s.opts.SocketGroup); err != nil {
			ln.Close()
			lock.Close()
			return fmt.Errorf("daemon: socket group: %w", err)
		}
	}
	if err := os.Chmod(path, s.opts.SocketMode.Perm()); err != nil {
		ln.Close()
		lock.Close()
		return fmt.Errorf("daemon: socket mode: %w", err)
	}
	s.ln, s.lock = ln, lock
	return nil
}

// releaseSocket closes the socket (removing it) and the lock file.
func (s *Server) releaseSocket() {
	s.ln.Close()
	s.lock.Close()
}

// Socket returns the path of the API's socket.
func (s *Server) Socket() string { return s.opts.Socket }

// Watch returns the directories of services files to watch: those of
// Options that exist.
func (s *Server) dirs() []string {
	var out []string
	for _, k := range s.files.kinds {
		out = append(out, k.dir)
	}
	return out
}

// Serve serves the local API and reloads the services files when they
// change (inotify on Linux) until ctx ends or Close is called; it then
// shuts down as Close does and returns nil, or the error that stopped it.
func (s *Server) Serve(ctx context.Context) error {
	if !s.serving.CompareAndSwap(false, true) {
		select {
		case <-s.done:
			<-s.exited
			return nil // closed before it was served
		default:
			return errors.New("daemon: Serve called twice")
		}
	}
	defer close(s.exited)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	accepted := make(chan net.Conn)
	wg.Go(func() {
		for {
			c, err := s.ln.AcceptUnix()
			if err != nil {
				if !s.isClosed() && ctx.Err() == nil {
					s.log.Error("daemon: accept", "err", err)
				}
				return
			}
			select {
			case accepted <- c:
			case <-ctx.Done():
				c.Close()
				return
			}
		}
	})
	changed := make(chan struct{}, 1)
	if w := s.watch; w != nil {
		defer w.Close()
		wg.Go(func() { w.run(ctx, changed) })
	}
	// The services files are read again by this goroutine, one reload at
	// a time, so that the owner goroutine stays free for the API.
	wg.Go(func() {
		for {
			var reply chan ReloadResult
			select {
			case <-ctx.Done():
				return
			case <-changed:
				// Editors write in several steps: the last one wins.
				select {
				case <-time.After(reloadSettle):
				case <-ctx.Done():
					return
				}
				select {
				case <-changed:
				default:
				}
			case reply = <-s.reloads:
			}
			res := s.files.reload(ctx)
			s.log.Info("daemon: reloaded services files", "added", res.Added, "updated", res.Updated,
				"replaced", res.Replaced, "removed", res.Removed, "unchanged", res.Unchanged, "refused", len(res.Refused))
			if reply != nil {
				reply <- res
			}
		}
	})
	for {
		select {
		case <-ctx.Done():
			s.shutdown(cancel)
			return nil
		case <-s.done:
			s.shutdown(cancel)
			return nil
		case c := <-accepted:
			s.nextConn++
			cn := newConn(s, c.(*net.UnixConn), s.nextConn)
			s.clients[cn] = struct{}{}
			wg.Go(func() { cn.serve(ctx) })
		case op := <-s.ops:
			op()
		}
	}
}

// reloadSettle is how long a change in a services directory waits for
// more before the files are read: editors and package managers write a
// file in several steps.
const reloadSettle = 100 * time.Millisecond

// shutdown ends the connections (their services get goodbyes when the
// responder closes), the browsers, the listener and the responder.
func (s *Server) shutdown(cancel func()) {
	close(s.stopping)
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	s.ln.Close()
	cancel()
	for c := range s.clients {
		c.close()
	}
	for _, p := range s.browsers {
		p.stop()
	}
	s.browsers = map[string]*pooled{}
	if err := s.pub.Close(); err != nil { // goodbyes (RFC 6762 section 10.1)
		s.log.Error("daemon: closing the responder", "err", err)
	}
	s.lock.Close()
	if s.watch != nil {
		s.watch.Close()
	}
}

func (s *Server) isClosed() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return s.closed
}

// Close stops Serve (goodbyes for every service, RFC 6762 section 10.1)
// and waits for it to return; a Server never served is shut down here. It
// is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	if s.serving.CompareAndSwap(false, true) {
		s.shutdown(func() {})
		close(s.exited)
		return nil
	}
	<-s.exited
	return nil
}

// Reload reads the services directories again and applies the difference
// (what SIGHUP does); it returns what changed.
func (s *Server) Reload(ctx context.Context) (ReloadResult, error) {
	reply := make(chan ReloadResult, 1)
	select {
	case <-s.done:
		return ReloadResult{}, sd.ErrClosed
	case <-s.stopping:
		return ReloadResult{}, sd.ErrClosed
	default:
	}
	select {
	case s.reloads <- reply:
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	case <-s.done:
		return ReloadResult{}, sd.ErrClosed
	}
	select {
	case res := <-reply:
		return res, nil
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	case <-s.stopping:
		return ReloadResult{}, sd.ErrClosed
	}
}

// do runs fn on the owner goroutine and waits for it; false when the
// server stopped first.
func (s *Server) do(fn func()) bool {
	ran := make(chan struct{})
	select {
	case <-s.stopping:
		return false
	default:
	}
	select {
	case s.ops <- func() { fn(); close(ran) }:
	case <-s.stopping:
		return false
	}
	select {
	case <-ran:
		return true
	case <-s.stopping:
		return false
	}
}

// Status returns what the daemon announces and caches.
func (s *Server) Status() Status {
	st := Status{Host: s.pub.HostName(), Interfaces: s.pub.Interfaces(), Services: []StatusService{}, Files: []StatusFile{}, Browsers: []StatusBrowser{}}
	if st.Interfaces == nil {
		st.Interfaces = []string{}
	}
	for _, f := range s.files.snapshot() {
		name := filepath.Join(filepath.Base(filepath.Dir(f.path)), filepath.Base(f.path))
		sf := StatusFile{Path: name, Services: len(f.services)}
		if f.err != nil {
			sf.Error = strings.ReplaceAll(f.err.Error(), "\n", "; ")
		}
		st.Files = append(st.Files, sf)
		for _, n := range f.services {
			st.Services = append(st.Services, StatusService{Name: n, Source: name})
		}
	}
	var conns []*conn
	s.do(func() {
		st.Clients = len(s.clients)
		for c := range s.clients {
			conns = append(conns, c)
		}
		for _, p := range s.browsers {
			stats := p.b.Stats()
			st.Browsers = append(st.Browsers, StatusBrowser{Type: p.typ, Strict: p.strict, Clients: p.refs,
				Instances: stats.Instances, Records: stats.Records})
		}
	})
	for _, c := range conns {
		for _, n := range c.names() {
			st.Services = append(st.Services, StatusService{Name: n, Source: fmt.Sprintf("client %d", c.num)})
		}
	}
	sortStatus(&st)
	return st
}

// sortStatus sorts what Status lists.
func sortStatus(st *Status) {
	sort.Slice(st.Services, func(i, j int) bool {
		if st.Services[i].Name != st.Services[j].Name {
			return st.Services[i].Name < st.Services[j].Name
		}
		return st.Services[i].Source < st.Services[j].Source
	})
	sort.Slice(st.Browsers, func(i, j int) bool { return st.Browsers[i].Type < st.Browsers[j].Type })
}
