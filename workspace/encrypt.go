package workspace

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/picosess/picosess/workspace/seal"
)

// Encrypted sessions (docs/encryption.md). The header of an encrypted
// session names its key (key_id); every record of it, the header too, keeps
// type, seq, at and the fields listings and the fold need in clear, and
// carries the whole record sealed in "enc". This file is the only place
// of the package that seals and opens; it sees a *seal.Session, never a
// key or a nonce.

var (
	// ErrKeyRequired: the session is encrypted (or the workspace encrypts
	// new sessions) and no key was given.
	ErrKeyRequired = errors.New("workspace: the session is encrypted and no key was given ($PICOSESS_KEY, encryption.key_file or --key-file)")
	// ErrWrongKey: the key given is not the one the session (or the
	// workspace) was encrypted with.
	ErrWrongKey = errors.New("workspace: wrong key: the session was encrypted with another key")
	// ErrTampered: an encrypted record does not authenticate under the
	// right key: bytes were changed, cut, or moved from another session or
	// seq. It also matches seal.ErrAuth.
	ErrTampered = errors.New("workspace: an encrypted record failed authentication (changed, cut short, or moved)")
	// ErrPlaintextSession: encryption is enabled and the session is still
	// plaintext; nothing is appended to it until `picosess encrypt`
	// converts it (appending would add plaintext to the disk).
	ErrPlaintextSession = errors.New("workspace: the session is not encrypted but encryption is enabled (run picosess encrypt)")
)

// SealError says which record of which file could not be sealed or opened.
type SealError struct {
	Path string
	Seq  int64  // 0: the session as a whole
	Type string // the record's type, when known
	Err  error  // ErrKeyRequired, ErrWrongKey, ErrTampered, ErrPlaintextSession
	Hint string
}

func (e *SealError) Error() string {
	s := e.Err.Error()
	if e.Seq > 0 {
		s += fmt.Sprintf(" (%s, seq %d", e.Path, e.Seq)
		if e.Type != "" {
			s += ", " + e.Type
		}
		s += ")"
	} else {
		s += " (" + e.Path + ")"
	}
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

func (e *SealError) Unwrap() []error {
	if errors.Is(e.Err, ErrTampered) {
		return []error{e.Err, seal.ErrAuth, ErrCorrupt}
	}
	return []error{e.Err}
}

// encState caches the sealers of a Workspace and what each session file's
// header says (a header never changes while its inode lives: repair,
// encrypt and rekey replace the file).
type encState struct {
	sealers sync.Map // id → *seal.Session
	modes   sync.Map // id → fileMode
}

type fileMode struct {
	dev, ino uint64
	keyID    string // "" plaintext
}

// Encrypting reports whether the workspace encrypts new sessions
// (encryption.enabled).
func (w *Workspace) Encrypting() bool { return w.opts.Config.Encryption.Enabled }

// HasKey reports whether the workspace was opened with a master key.
func (w *Workspace) HasKey() bool { return w.opts.Key != nil }

// KeyID is the id of the workspace's key, "" without one.
func (w *Workspace) KeyID() string {
	if w.opts.Key == nil {
		return ""
	}
	return w.opts.Key.ID()
}

func (w *Workspace) sealer(id string) *seal.Session {
	if v, ok := w.enc.sealers.Load(id); ok {
		return v.(*seal.Session)
	}
	v, _ := w.enc.sealers.LoadOrStore(id, w.opts.Key.Session(id))
	return v.(*seal.Session)
}

// recordEncoder appends one record's line (without its newline) to b.
type recordEncoder func(b []byte, r *Record) ([]byte, error)

// encoderFor decides, under the lock and before anything is written, how
// the records of this append are encoded: sealed for an encrypted session
// (which needs the key it names), plain for a plaintext one (refused when
// the workspace encrypts: an encrypted workspace gets no new plaintext),
// and for a new file as the workspace says. sealed says which.
func (s *Session) encoderFor(f File, end int64, ident Identity) (enc recordEncoder, sealed bool, err error) {
	w := s.w
	keyID := ""
	if end == 0 {
		if !w.Encrypting() {
			return appendRecord, false, nil
		}
		if err := w.pinKey(); err != nil {
			return nil, false, &SealError{Path: s.Path(), Err: err}
		}
		keyID = w.KeyID()
	} else {
		mode, err := s.fileMode(f, end, ident)
		if err != nil {
			return nil, false, err
		}
		if mode.keyID == "" {
			if w.Encrypting() {
				return nil, false, &SealError{Path: s.Path(), Err: ErrPlaintextSession}
			}
			return appendRecord, false, nil
		}
		keyID = mode.keyID
	}
	switch {
	case w.opts.Key == nil:
		return nil, false, &SealError{Path: s.Path(), Err: ErrKeyRequired}
	case w.KeyID() != keyID:
		return nil, false, &SealError{Path: s.Path(), Err: ErrWrongKey, Hint: "the session's key is " + keyID + ", the key given is " + w.KeyID()}
	}
	ss := w.sealer(s.id)
	return func(b []byte, r *Record) ([]byte, error) { return sealRecord(b, r, ss, keyID) }, true, nil
}

// mayCreateSealed refuses, before the file is made, a new session that
// would have to be encrypted without the right key.
func (s *Session) mayCreateSealed() error {
	if !s.w.Encrypting() {
		return nil
	}
	if err := s.w.pinKey(); err != nil {
		return &SealError{Path: s.Path(), Err: err}
	}
	return nil
}

// fileMode reads (or recalls) what the header of the locked file says.
func (s *Session) fileMode(f File, end int64, ident Identity) (fileMode, error) {
	if v, ok := s.w.enc.modes.Load(s.id); ok {
		if m := v.(fileMode); m.dev == ident.Dev && m.ino == ident.Inode && ident.Inode != 0 {
			return m, nil
		}
	}
	h, err := firstHeader(f, end, s.Path(), s.w.readLimit())
	if err != nil {
		return fileMode{}, err
	}
	m := fileMode{dev: ident.Dev, ino: ident.Inode, keyID: h.KeyID}
	if h.KeyID != "" && h.Sealed == nil {
		return m, &SealError{Path: s.Path(), Seq: 1, Type: TypeSession, Err: ErrTampered, Hint: "the header names a key but is not sealed"}
	}
	s.w.enc.modes.Store(s.id, m)
	return m, nil
}

// sealRecord appends the line of r sealed by ss: the clear fields, then
// "enc", the box of the whole record as a plaintext workspace would write it.
func sealRecord(b []byte, r *Record, ss *seal.Session, keyID string) ([]byte, error) {
	if err := r.usageError(); err != nil {
		return nil, err
	}
	if r.Type == TypeSession {
		r.KeyID = keyID
	}
	plain, err := encodeRecord(make([]byte, 0, 256), r)
	if err != nil {
		return nil, err
	}
	b = appendClear(b, r)
	box := ss.Seal(plain[len(plain):], r.Seq, r.Type, plain)
	b = append(b, `,"enc":"`...)
	b = base64.StdEncoding.AppendEncode(b, box)
	return append(b, `"}`...), nil
}

// appendClear appends the clear part of a sealed record's line: the JSON
// object without its closing brace (encodeFields, clear fields only). r
// was encoded whole before, so its type is known.
func appendClear(b []byte, r *Record) []byte {
	b, _ = encodeFields(b, r, true)
	return b
}

// open replaces a sealed record read from the session's file by the record
// it seals. A plain record is left as it is.
func (s *Session) open(r *Record) error {
	if r.Sealed == nil {
		return nil
	}
	fail := func(err error, hint string) error {
		return &SealError{Path: s.Path(), Seq: r.Seq, Type: r.Type, Err: err, Hint: hint}
	}
	if s.w.opts.Key == nil {
		return fail(ErrKeyRequired, "")
	}
	plain, err := s.w.sealer(s.id).Open(nil, r.Seq, r.Type, r.Sealed)
	if err != nil {
		if h, herr := s.clearHeader(); herr == nil && h.KeyID != "" && h.KeyID != s.w.KeyID() {
			return fail(ErrWrongKey, "the session's key is "+h.KeyID+", the key given is "+s.w.KeyID())
		}
		return fail(ErrTampered, "")
	}
	inner, hint := decodeRecord(plain)
	if hint != "" {
		return fail(ErrTampered, "sealed record: "+hint)
	}
	// The clear fields must say what the sealed record says (the fold and
	// listings trust them).
	var ca, cb [512]byte
	if !bytes.Equal(appendClear(ca[:0], &inner), appendClear(cb[:0], r)) {
		return fail(ErrTampered, "its clear fields differ from the sealed record")
	}
	*r = inner
	return nil
}

// openAll opens every record of rs in place.
func (s *Session) openAll(rs []Record) error {
	for i := range rs {
		if err := s.open(&rs[i]); err != nil {
			return err
		}
	}
	return nil
}

// openHistory opens the records of a folded history.
func (s *Session) openHistory(h History, err error) (History, error) {
	if err != nil {
		return h, err
	}
	if h.Summary != nil {
		sum := *h.Summary
		if err := s.open(&sum); err != nil {
			return History{}, err
		}
		h.Summary = &sum
	}
	if err := s.openAll(h.Messages); err != nil {
		return History{}, err
	}
	return h, nil
}

// openPage opens the records of a page (an error leaves it unusable).
func (s *Session) openPage(p *Page) error {
	if p.Summary != nil {
		sum := *p.Summary
		if err := s.open(&sum); err != nil {
			return err
		}
		p.Summary = &sum
	}
	return s.openAll(p.Records)
}

// clearHeader reads the header's clear fields (never opening it).
func (s *Session) clearHeader() (Record, error) {
	f, err := s.openRead()
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	return readHeader(f, s.Path())
}

// firstHeader returns the first valid record of the file, which
// requireHeader made sure is the header (corrupt lines may precede it).
func firstHeader(f io.ReaderAt, end int64, path string, limit int64) (Record, error) {
	var h Record
	stop := errors.New("stop")
	_, err := scanLines(io.NewSectionReader(f, 0, end), 0, limit, func(b []byte, _ int64) error {
		r, hint := decodeRecord(b)
		if hint != "" {
			k, ok := gluedRecord(b)
			if !ok {
				return nil
			}
			r, _ = decodeRecord(b[k:])
		}
		h = r
		return stop
	})
	if err != nil && err != stop {
		return Record{}, fmt.Errorf("workspace: read %s: %w", path, err)
	}
	if h.Type != TypeSession {
		return Record{}, &CorruptError{Path: path, Hint: "no session header"}
	}
	return h, nil
}
