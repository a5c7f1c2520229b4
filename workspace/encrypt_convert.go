package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/picosess/picosess/workspace/seal"
)

// ConvertOptions say what Convert does to every session of the workspace.
// The records are read with the workspace's key (Options.Key: needed for
// sessions sealed now) and written sealed with To, or plaintext when To is
// nil: encrypt is To = the key; rekey, To = a new key (the workspace opened
// with the old one); decrypt, To = nil.
type ConvertOptions struct {
	To *seal.Key
	// KeepPlaintext keeps what Convert to an encrypted form otherwise
	// removes: plaintext sessions in the trash, the set-aside evidence
	// files (torn tails, corrupt lines, repair originals) and the listing
	// cache.
	KeepPlaintext bool
	// Progress, when not nil, is called after each session.
	Progress func(ConvertedSession)
}

// ConvertedSession is what Convert did to one session.
type ConvertedSession struct {
	ID       string `json:"id"`
	Records  int    `json:"records"`
	Messages int    `json:"messages"`
	// Done: converted now; false: it was in the target form already.
	Done bool   `json:"done"`
	From string `json:"from"` // key id, "" plaintext
	To   string `json:"to"`
}

// ConvertReport is what Convert did.
type ConvertReport struct {
	Sessions []ConvertedSession `json:"sessions"`
	// Failed lists the sessions left as they were, with why (a torn tail
	// or corrupt line: run repair first; a record that does not open).
	Failed map[string]string `json:"failed,omitempty"`
	// Removed lists the plaintext files removed (trash, evidence, cache).
	Removed []string `json:"removed,omitempty"`
	// Messages converted now, over every session.
	Messages int `json:"messages"`
}

// ConvertSuffix ends the name of a session's converted file before it
// replaces the session (sessions/<id>.jsonl.convert; a leftover of a
// crash is removed by the next Convert, under the session's lock).
const ConvertSuffix = ".convert"

// ErrConvert matches a session Convert left as it was.
var ErrConvert = errors.New("workspace: session not converted")

// Convert rewrites every live session into the form o asks for, one
// session at a time under its lock, and is safe to kill at any moment:
// each session is written whole to <id>.jsonl.convert, synced, read back
// and compared record by record with the original, and only then renamed
// over it (atomic), so every session is always readable in its old or its
// new form, and a second run finishes the work (sessions already in the
// target form are left alone). A session Convert cannot convert (damage
// repair must see first, a record that does not open) is left as it was
// and listed in Failed; the error then wraps ErrConvert.
func (w *Workspace) Convert(ctx context.Context, o ConvertOptions) (ConvertReport, error) {
	rep := ConvertReport{Sessions: []ConvertedSession{}}
	if err := w.filesOnly("encrypt, decrypt or rekey"); err != nil {
		return rep, err
	}
	if o.To != nil {
		// Pin the target key first: a wrong key is refused before any
		// session is written with it.
		info, _, err := ReadEncryptionInfo(w.root)
		if err != nil {
			return rep, err
		}
		if info.KeyID != "" && info.KeyID != o.To.ID() && info.KeyID != w.KeyID() {
			return rep, fmt.Errorf("%w (%s names %s; the target key is %s: to move to a new key, open the workspace with the old one and rekey)", ErrWrongKey, EncryptionFile, info.KeyID, o.To.ID())
		}
		if info.KeyID != o.To.ID() {
			info.KeyID = o.To.ID()
			if err := WriteEncryptionInfo(w.root, info); err != nil {
				return rep, err
			}
		}
	}
	ids, err := w.sessionIDs()
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		s := &Session{w: w, st: w.state(id), id: id}
		cs, err := s.convert(ctx, o.To)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, ErrLocked) || errors.Is(err, ErrKeyRequired) {
				return rep, err // no other session would do better
			}
			if rep.Failed == nil {
				rep.Failed = map[string]string{}
			}
			rep.Failed[id] = err.Error()
			continue
		}
		rep.Sessions = append(rep.Sessions, cs)
		if cs.Done {
			rep.Messages += cs.Messages
		}
		if o.Progress != nil {
			o.Progress(cs)
		}
	}
	if o.To != nil && !o.KeepPlaintext {
		removed, err := w.removePlaintext(ctx)
		rep.Removed = removed
		if err != nil {
			return rep, err
		}
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("%w: %d session(s) left as they were", ErrConvert, len(rep.Failed))
	}
	return rep, nil
}

// convert converts one session under its lock.
func (s *Session) convert(ctx context.Context, to *seal.Key) (ConvertedSession, error) {
	cs := ConvertedSession{ID: s.id}
	if to != nil {
		cs.To = to.ID()
	}
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		return cs, err
	}
	defer lk.unlock()
	s.st.known = false
	path := s.Path()
	tmp := path + ConvertSuffix
	// A leftover of a killed run: never renamed, so never the session.
	if err := s.w.fs.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cs, fmt.Errorf("workspace: remove %s: %w", tmp, err)
	}
	recs, from, err := s.readForConvert(ctx, cs.To)
	if err != nil {
		return cs, err
	}
	cs.From, cs.Records = from, len(recs)
	for _, r := range recs {
		if r.Type == TypeMessage {
			cs.Messages++
		}
	}
	if from == cs.To {
		return cs, nil
	}
	var sealer *seal.Session
	if to != nil {
		sealer = to.Session(s.id)
	}
	buf := make([]byte, 0, 1<<20)
	for i := range recs {
		r := recs[i]
		r.KeyID = ""
		if sealer != nil {
			buf, err = sealRecord(buf, &r, sealer, cs.To)
		} else {
			buf, err = encodeRecord(buf, &r)
		}
		if err != nil {
			return cs, fmt.Errorf("workspace: convert %s: seq %d: %w", path, r.Seq, err)
		}
		buf = append(buf, '\n')
	}
	if err := s.writeConverted(tmp, buf); err != nil {
		return cs, err
	}
	if err := verifyConverted(tmp, buf, recs, sealer, s.id); err != nil {
		_ = s.w.fs.Remove(tmp)
		return cs, err
	}
	if err := s.w.fs.Rename(tmp, path); err != nil {
		_ = s.w.fs.Remove(tmp)
		return cs, fmt.Errorf("workspace: convert %s: %w", path, err)
	}
	s.w.syncDir(s.w.sessionsDir())
	// Derived from the old form (and perhaps holding its words).
	_ = os.Remove(s.w.meta.entryPath(s.id))
	cs.Done = true
	return cs, nil
}

// readForConvert reads every record of the locked file, opened, and the
// key id of its header. Damage is refused: repair must see it first (a
// torn tail or corrupt line would otherwise be lost or kept in clear).
//
// A session already sealed with the target key (target: its key id, ""
// for plaintext) is not opened: a resumed rekey need not have the new key
// as the workspace's key.
func (s *Session) readForConvert(ctx context.Context, target string) ([]Record, string, error) {
	path := s.Path()
	f, err := s.openRead()
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	end, err := completeEnd(f, fi.Size(), path)
	if err != nil {
		return nil, "", err
	}
	if end < fi.Size() {
		return nil, "", fmt.Errorf("%w: %s has a torn tail: run picosess repair first", ErrConvert, path)
	}
	var recs []Record
	keyID := ""
	line := 0
	_, err = scanLines(io.NewSectionReader(f, 0, end), 0, s.w.readLimit(), func(b []byte, off int64) error {
		line++
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r, hint := decodeRecord(b)
		if hint != "" {
			return fmt.Errorf("%w: %s line %d is corrupt (%s): run picosess repair first", ErrConvert, path, line, hint)
		}
		if line == 1 {
			if r.Type != TypeSession {
				return fmt.Errorf("%w: %s does not start with its header: run picosess repair first", ErrConvert, path)
			}
			keyID = r.KeyID
		}
		if (r.Sealed != nil) != (keyID != "") {
			return &SealError{Path: path, Seq: r.Seq, Type: r.Type, Err: ErrTampered, Hint: "a plaintext record in an encrypted session, or the reverse"}
		}
		if keyID != target {
			if err := s.open(&r); err != nil {
				return err
			}
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return recs, keyID, nil
}

func (s *Session) writeConverted(tmp string, buf []byte) error {
	f, err := s.w.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o644)
	if err != nil {
		return fmt.Errorf("workspace: convert: %w", err)
	}
	_, err = writeFull(f, buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = s.w.fs.Remove(tmp)
		return fmt.Errorf("workspace: convert: write %s: %w", tmp, err)
	}
	return nil
}

// verifyConverted reads the written file back and checks it against the
// original records, one by one, before it may replace them.
func verifyConverted(tmp string, want []byte, recs []Record, sealer *seal.Session, id string) error {
	got, err := os.ReadFile(tmp)
	if err != nil {
		return fmt.Errorf("workspace: convert: verify %s: %w", tmp, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("workspace: convert: verify %s: the file read back differs from what was written", tmp)
	}
	i := 0
	for len(got) > 0 {
		nl := bytes.IndexByte(got, '\n')
		line := got[:nl]
		got = got[nl+1:]
		r, hint := decodeRecord(line)
		if hint != "" || i >= len(recs) {
			return fmt.Errorf("workspace: convert: verify %s: line %d: %s", tmp, i+1, hint)
		}
		if sealer != nil {
			plain, err := sealer.Open(nil, r.Seq, r.Type, r.Sealed)
			if err != nil {
				return fmt.Errorf("workspace: convert: verify %s: seq %d: %w", tmp, r.Seq, err)
			}
			if r, hint = decodeRecord(plain); hint != "" {
				return fmt.Errorf("workspace: convert: verify %s: seq %d: %s", tmp, r.Seq, hint)
			}
		}
		a, b := recs[i], r
		a.KeyID, b.KeyID = "", ""
		ea, _ := encodeRecord(nil, &a)
		eb, _ := encodeRecord(nil, &b)
		if !bytes.Equal(ea, eb) {
			return fmt.Errorf("workspace: convert: verify %s: seq %d differs from the original", tmp, a.Seq)
		}
		i++
	}
	if i != len(recs) {
		return fmt.Errorf("workspace: convert: verify %s: %d records of %d", tmp, i, len(recs))
	}
	return nil
}

// removePlaintext removes, after an encrypt or rekey, what still holds
// plaintext of sessions: trash entries not sealed with the workspace's
// current key, set-aside evidence files, the listing cache, and the
// search index's stored data when it is not allowed (docs/encryption.md).
func (w *Workspace) removePlaintext(ctx context.Context) ([]string, error) {
	var removed []string
	rm := func(path string) error {
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("workspace: remove %s: %w", path, err)
		}
		removed = append(removed, path)
		return nil
	}
	trash, err := w.Trash(ctx)
	if err != nil {
		return removed, err
	}
	for _, t := range trash {
		path := filepath.Join(w.trashDir(), t.Name)
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		h, herr := readHeader(f, path)
		f.Close()
		if herr != nil || h.KeyID == "" {
			if err := rm(path); err != nil {
				return removed, err
			}
		}
	}
	des, err := os.ReadDir(w.sessionsDir())
	if err != nil {
		return removed, err
	}
	for _, de := range des {
		if evidenceKind(de.Name()) != "" {
			if err := rm(filepath.Join(w.sessionsDir(), de.Name())); err != nil {
				return removed, err
			}
		}
	}
	// The listing cache and the search index are derived data; both may
	// hold words of the plaintext sessions (titles, terms). Searches
	// rebuild the index when encryption.index allows it.
	for _, p := range append(w.meta.files(), filepath.Join(w.root, IndexDir)) {
		if _, err := os.Lstat(p); err == nil {
			if err := rm(p); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}
