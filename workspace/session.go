package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/picosess/picosess/keying"
)

// Target names a session to open or create: its id and what its header
// says. Only ID (or Name) is needed to find an existing session; the rest
// is written into the header when the session is created.
type Target struct {
	// ID is the opaque session id. Empty: keying.NamedID(Name) for a named
	// session, else Scope's id.
	ID string
	// Scope of the conversation (header "scope").
	Scope *keying.Scope
	// Aliases are the legacy keys the session answers to (header "aliases").
	Aliases []string
	// Name makes a named session (header "name").
	Name string
	// Origin says where a migrated session came from (header "origin").
	Origin json.RawMessage
	// Created is the header's time when the session is created; zero
	// means now. An import gives its first message's time, so that a
	// session never begins after its own messages.
	Created time.Time
}

// Session is a handle on one session file. Handles are cheap, safe for
// concurrent use, and hold no open file between calls.
type Session struct {
	w      *Workspace
	st     *sessionState
	id     string
	header Record // the header to write should the file be missing
}

// Session returns the session of t, creating its file (with the header)
// when it does not exist yet. An existing file is not changed.
func (w *Workspace) Session(ctx context.Context, t Target) (*Session, error) {
	s, err := w.handle(t)
	if err != nil {
		return nil, err
	}
	if fi, err := w.fs.Stat(s.Path()); err == nil && fi.Size() > 0 {
		return s, nil
	}
	// A header over the size limit is refused before the file is made
	// (the append would refuse it too, after creating an empty file).
	h := s.header
	if h.At.IsZero() {
		h.At = time.Now()
	}
	if b, err := appendRecord(nil, &h); err == nil {
		if err := w.sizeCheck(h.Type, len(b)); err != nil {
			return nil, fmt.Errorf("workspace: create session %s: the header: %w; nothing was written", s.id, err)
		}
	}
	if _, err := s.append(ctx, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// handle is the session of t, with the header to write should its file
// be missing; it reads and writes nothing.
func (w *Workspace) handle(t Target) (*Session, error) {
	id := t.ID
	if id == "" && t.Name != "" {
		id = keying.NamedID(t.Name)
	}
	if id == "" && t.Scope != nil {
		id = t.Scope.ID()
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	h := Record{Type: TypeSession, V: FormatVersion, ID: id, Aliases: t.Aliases, Origin: t.Origin}
	if t.Name != "" {
		h.Name = keying.NormalizeName(t.Name)
	}
	if t.Scope != nil {
		sc := t.Scope.Clone()
		h.Scope = &sc
	}
	if !t.Created.IsZero() {
		h.At = t.Created.UTC()
	}
	return &Session{w: w, st: w.state(id), id: id, header: h}, nil
}

// SessionForRoute returns the session a keying route names (see Session).
// An existing session that does not answer to all of the route's aliases
// yet (the route changed, or a shared session is reached from a new
// channel) gets them with an aliases record (AddAliases). A session that
// does not exist yet, one of whose aliases names a session the migrator
// kept under its legacy key, takes that conversation over: its records
// are moved into the new session in one write and the imported file goes
// to the trash (adopt.go; docs/migration.md, "Continuing an imported DM").
func (w *Workspace) SessionForRoute(ctx context.Context, r keying.Route) (*Session, error) {
	sc := r.Scope
	t := Target{ID: r.ID, Scope: &sc, Aliases: r.Aliases}
	s, err := w.handle(t)
	if err != nil {
		return nil, err
	}
	// One stat on the usual path, a session that exists; only a new one
	// looks for an imported conversation to take over.
	if fi, err := w.fs.Stat(s.Path()); err != nil || fi.Size() == 0 {
		if a, err := w.adoptImported(ctx, t); a != nil || err != nil {
			return a, err
		}
		if s, err = w.Session(ctx, t); err != nil {
			return nil, err
		}
	}
	if err := s.AddAliases(ctx, r.Aliases...); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenID returns the existing session id, or an error wrapping
// ErrNotFound.
func (w *Workspace) OpenID(id string) (*Session, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	s := &Session{w: w, st: w.state(id), id: id}
	if _, err := w.fs.Stat(s.Path()); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: session %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return s, nil
}

// ID is the session id.
func (s *Session) ID() string { return s.id }

// Path is the session file.
func (s *Session) Path() string { return s.w.SessionPath(s.id) }

// Workspace is the workspace of s.
func (s *Session) Workspace() *Workspace { return s.w }

// Header reads the header (first record) of the session file.
func (s *Session) Header(ctx context.Context) (Record, error) {
	f, err := s.openRead()
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	h, err := readHeader(f, s.Path())
	if err == nil && h.Sealed != nil && s.w.opts.Key != nil {
		err = s.open(&h)
	}
	return h, err
}

// readHeader decodes the first line of a session file.
func readHeader(f io.Reader, path string) (Record, error) {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for {
		n, err := f.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			r, hint := decodeRecord(buf[:i])
			if hint != "" {
				return Record{}, &CorruptError{Path: path, Line: 1, Offset: 0, Hint: hint}
			}
			if r.Type != TypeSession {
				return Record{}, &CorruptError{Path: path, Line: 1, Offset: 0, Hint: fmt.Sprintf("first record is %q, not the session header", r.Type)}
			}
			return r, nil
		}
		if err == io.EOF {
			return Record{}, &CorruptError{Path: path, Line: 1, Offset: 0, Hint: "no complete header line"}
		}
		if err != nil {
			return Record{}, fmt.Errorf("workspace: read %s: %w", path, err)
		}
		if len(buf) > 16<<20 {
			return Record{}, &CorruptError{Path: path, Line: 1, Offset: 0, Hint: "header line longer than 16 MiB"}
		}
	}
}

// openRead opens the session file for reading. Like appends, readers do
// not follow a symbolic link (and a named pipe cannot block them): what is
// not a regular file is an error wrapping ErrNotRegular.
func (s *Session) openRead() (File, error) {
	f, err := s.w.fs.OpenFile(s.Path(), os.O_RDONLY|noFollow, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: session %s", ErrNotFound, s.id)
		}
		if nr := s.w.inTheWay(s.Path()); nr != nil {
			return nil, nr
		}
		return nil, fmt.Errorf("workspace: open %s: %w", s.Path(), err)
	}
	if err := regularOpen(f, s.Path()); err != nil {
		return nil, err
	}
	return f, nil
}

// Identity describes the session file now (size, device, inode, mtime).
func (s *Session) Identity() (Identity, error) {
	fi, err := s.w.fs.Stat(s.Path())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Identity{}, fmt.Errorf("%w: session %s", ErrNotFound, s.id)
		}
		return Identity{}, fmt.Errorf("workspace: %w", err)
	}
	return identityOf(fi), nil
}

// newHeader is the header a new (or emptied) file of s starts with: the
// one its target gave (a bare one without), seq 1, dated now unless the
// target dated it.
func (s *Session) newHeader(now time.Time) Record {
	h := s.header
	if h.Type == "" {
		h = Record{Type: TypeSession, V: FormatVersion, ID: s.id}
	}
	h.Seq = 1
	if h.At.IsZero() {
		h.At = now
	}
	return h
}
