package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/tokens"
)

// Directory and file names inside a workspace root.
const (
	SessionsDir = "sessions"
	TrashDir    = ".trash" // inside SessionsDir
	LocksDir    = "locks"
	CacheDir    = "cache"
	// SessionExt ends every session file name: sessions/<id>.jsonl.
	SessionExt = ".jsonl"
	// LockExt ends every lock file name: locks/<id>.lock.
	LockExt = ".lock"
)

// Workspace is one workspace directory. It is safe for concurrent use by
// many goroutines, and several processes may open the same directory at
// once: every append takes the session's file lock.
type Workspace struct {
	root string
	opts Options
	fs   FS
	// store holds the records when they are not in files (store.go).
	store Store
	log   *slog.Logger
	host  string // for the holder line of lock files

	openLocks atomic.Int64 // holder files open

	mu     sync.Mutex
	states map[string]*sessionState
	meta   *metaCache

	// resolve routes inbound messages under the config (Route), built on
	// first use.
	resolveOnce sync.Once
	resolve     *keying.Resolver
	resolveErr  error

	// counter is the default token counter (Options.CountTokens nil),
	// built on first use.
	counterOnce sync.Once
	counter     tokens.Counter

	// enc holds the sealers of encrypted sessions (encrypt.go).
	enc encState

	// combined counts this process's appends that another process wrote
	// (combine.go); combineHook, set only by tests, runs when a combiner
	// is about to write others' records.
	combined    atomic.Int64
	combineHook func(f File, buf []byte)
	// localOnce settles local: whether locks/ is on a filesystem of this
	// machine's kernel, where combining's shared memory is shared.
	localOnce sync.Once
	local     bool
}

// Open opens the workspace at root, creating sessions/, sessions/.trash/
// and locks/ when they are missing, and reads <root>/config.json unless
// opts gives a Config or sets NoConfig. A file where a directory should be, or
// a directory that cannot be written, is an error wrapping ErrNotWorkspace.
// opts may be nil.
func Open(root string, opts *Options) (*Workspace, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	if root == "" {
		return nil, fmt.Errorf("%w: empty directory name", ErrNotWorkspace)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotWorkspace, root, err)
	}
	if o.Config == nil && !o.NoConfig {
		cfg, warnings, err := config.Load(abs)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			o.Logger.Warn(w)
		}
		o.Config = cfg
	}
	if o.Config == nil {
		o.Config = &config.File{}
	}
	w := &Workspace{root: abs, opts: o, fs: o.FS, log: o.Logger, host: hostname(), states: map[string]*sessionState{}}
	if o.Store != nil {
		w.store = o.Store
		w.fs = newStoreFS(o.FS, abs, o.Store)
	}
	for _, dir := range []string{abs, w.sessionsDir(), w.trashDir(), w.locksDir()} {
		if err := w.ensureDir(dir); err != nil {
			return nil, err
		}
	}
	if w.opts.CountTokens == nil {
		w.opts.CountTokens = func(r Record) int {
			if r.Type != TypeMessage && r.Type != TypeSummary {
				return 0
			}
			r.Tokens = 0
			return RecordTokens(w.defaultCounter(), r)
		}
	}
	w.meta = newMetaCache(w)
	return w, nil
}

func (w *Workspace) ensureDir(dir string) error {
	fi, err := w.fs.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%w: %s is a file, not a directory", ErrNotWorkspace, dir)
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && w.opts.NoCreate:
		if dir == w.root || dir == w.sessionsDir() {
			return fmt.Errorf("%w: %s does not exist", ErrNotWorkspace, dir)
		}
		return nil // read as empty
	case errors.Is(err, fs.ErrNotExist):
		if err := w.fs.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("%w: cannot create %s: %w", ErrNotWorkspace, dir, err)
		}
	default:
		return fmt.Errorf("%w: %s: %w", ErrNotWorkspace, dir, err)
	}
	// No write probe: reading a workspace on a read-only disk (ls, show,
	// check) must work, and a write says itself what stops it (permission
	// denied, read-only file system) and where. A probe cost a CLI command
	// eight directory changes.
	return nil
}

// Config is the configuration the workspace applies (Options.Config, or
// <root>/config.json as Open read it); never nil.
func (w *Workspace) Config() *config.File { return w.opts.Config }

// Root is the workspace directory (absolute).
func (w *Workspace) Root() string { return w.root }

// Durability is the durability appends use.
func (w *Workspace) Durability() Durability { return w.opts.Durability }

// Close releases the lock files the workspace keeps open. Sessions must not
// be used after Close.
func (w *Workspace) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for _, st := range w.states {
		closed, err := st.closeHolder()
		if closed {
			w.openLocks.Add(-1)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (w *Workspace) sessionsDir() string { return filepath.Join(w.root, SessionsDir) }
func (w *Workspace) trashDir() string    { return filepath.Join(w.root, SessionsDir, TrashDir) }
func (w *Workspace) locksDir() string    { return filepath.Join(w.root, LocksDir) }

// SessionPath is the path of the session file of id.
func (w *Workspace) SessionPath(id string) string {
	return filepath.Join(w.root, SessionsDir, id+SessionExt)
}

// LockPath is the path of the lock file of id.
func (w *Workspace) LockPath(id string) string {
	return filepath.Join(w.root, LocksDir, id+LockExt)
}

// state returns the in-process state of session id, creating it.
func (w *Workspace) state(id string) *sessionState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.states[id]
	if !ok {
		st = newSessionState(id)
		w.states[id] = st
	}
	return st
}

// trimOpenLocks closes the holder files of idle sessions until no more
// than half of DefaultMaxOpenLocks are open. Called holding no lock.
func (w *Workspace) trimOpenLocks() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.states {
		if w.openLocks.Load() <= DefaultMaxOpenLocks/2 {
			return
		}
		if st.closeIdleHolder() {
			w.openLocks.Add(-1)
		}
	}
}

// checkID rejects anything that is not an opaque id, so that no reference
// can name a path outside sessions/.
func checkID(id string) error {
	if !keying.IsID(id) {
		return fmt.Errorf("workspace: %q is not a session id (want sk_v1_ and 64 hex digits)", id)
	}
	return nil
}

// idFromFileName returns the id of a session file name, or "".
func idFromFileName(name string) string {
	id, ok := strings.CutSuffix(name, SessionExt)
	if !ok || !keying.IsID(id) {
		return ""
	}
	return id
}
