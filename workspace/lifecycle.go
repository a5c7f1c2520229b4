package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SetTitle renames the session (a title record); "" brings back the
// default title, the first user message.
func (s *Session) SetTitle(ctx context.Context, title string) (int64, error) {
	seqs, err := s.Append(ctx, Record{Type: TypeTitle, Text: strings.TrimSpace(title)})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// Reset starts a new conversation: the active history becomes empty, and
// every older record stays on disk (Segments, Records, search). reason is
// one of the Reason constants ("" means ReasonManual).
func (s *Session) Reset(ctx context.Context, reason string) (int64, error) {
	if reason == "" {
		reason = ReasonManual
	}
	seqs, err := s.Append(ctx, Record{Type: TypeReset, Reason: reason})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// Clear is Reset with reason clear.
func (s *Session) Clear(ctx context.Context) (int64, error) { return s.Reset(ctx, ReasonClear) }

// Checkpoint is a named point in the active history.
type Checkpoint struct {
	Seq         int64     `json:"seq"` // of the checkpoint record
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Through     int64     `json:"through"` // last message seq of the history it keeps
	At          time.Time `json:"at"`
}

// SaveCheckpoint records the active history as it is now under name. A
// later checkpoint of the same name supersedes the earlier one for
// RestoreCheckpoint and Checkpoints (the record stays).
func (s *Session) SaveCheckpoint(ctx context.Context, name, description string) (Checkpoint, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Checkpoint{}, errors.New("workspace: a checkpoint needs a name")
	}
	if _, err := strconv.ParseInt(name, 10, 64); err == nil {
		return Checkpoint{}, fmt.Errorf("workspace: checkpoint name %q is a number; numbers name checkpoints by seq", name)
	}
	var cp Checkpoint
	seqs, err := s.append(ctx, func(v lockedView) ([]Record, error) {
		// Computed under the lock, so no message can slip in between.
		h, err := v.history(ctx, 1)
		if err != nil {
			return nil, err
		}
		r := Record{Type: TypeCheckpoint, Name: name, Description: description, At: s.w.opts.Now().UTC()}
		if n := len(h.Messages); n > 0 {
			r.Through = h.Messages[n-1].Seq
		}
		cp = Checkpoint{Name: name, Description: description, Through: r.Through, At: r.At}
		return []Record{r}, nil
	})
	if err != nil {
		return Checkpoint{}, err
	}
	cp.Seq = seqs[len(seqs)-1]
	return cp, nil
}

// Checkpoints lists the live checkpoints (not deleted, not superseded by a
// later one of the same name), oldest first.
func (s *Session) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	var list []Checkpoint
	for e, err := range s.Records(ctx, 0) {
		if err != nil {
			return nil, err
		}
		switch e.Type {
		case TypeCheckpoint:
			list = slices.DeleteFunc(list, func(c Checkpoint) bool { return c.Name == e.Name })
			list = append(list, Checkpoint{Seq: e.Seq, Name: e.Name, Description: e.Description, Through: e.Through, At: e.At})
		case TypeCheckpointDelete:
			list = slices.DeleteFunc(list, func(c Checkpoint) bool { return c.Seq == e.Checkpoint })
		}
	}
	return list, nil
}

// findCheckpoint resolves a checkpoint by name or by seq.
func (s *Session) findCheckpoint(ctx context.Context, ref string) (Checkpoint, error) {
	list, err := s.Checkpoints(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	ref = strings.TrimSpace(ref)
	seq, nerr := strconv.ParseInt(ref, 10, 64)
	for _, c := range list {
		if c.Name == ref || nerr == nil && c.Seq == seq {
			return c, nil
		}
	}
	return Checkpoint{}, fmt.Errorf("%w: no checkpoint %q in session %s", ErrNotFound, ref, s.id)
}

// RestoreCheckpoint makes the active history the one saved by the
// checkpoint (named, or given by seq), followed by whatever is appended
// next. Nothing is removed: the messages after the checkpoint stay in the
// file and in Segments.
func (s *Session) RestoreCheckpoint(ctx context.Context, ref string) (int64, error) {
	c, err := s.findCheckpoint(ctx, ref)
	if err != nil {
		return 0, err
	}
	seqs, err := s.Append(ctx, Record{Type: TypeRestore, Checkpoint: c.Seq})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// DeleteCheckpoint withdraws a checkpoint (a checkpoint_delete record):
// it is no longer listed or restorable. A restore made before stays valid.
func (s *Session) DeleteCheckpoint(ctx context.Context, ref string) (int64, error) {
	c, err := s.findCheckpoint(ctx, ref)
	if err != nil {
		return 0, err
	}
	seqs, err := s.Append(ctx, Record{Type: TypeCheckpointDelete, Checkpoint: c.Seq})
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// Delete moves the session file to sessions/.trash/ (under the session
// lock, so no append is lost half-way) and returns the name it has there.
// RestoreFromTrash brings it back; Purge removes it for good. An entry
// that is not a regular file (a symbolic link: an error wrapping
// ErrNotRegular) is not moved.
func (s *Session) Delete(ctx context.Context) (string, error) {
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		return "", err
	}
	defer lk.unlock()
	name, err := s.moveToTrashLocked()
	if err != nil {
		return "", err
	}
	s.w.syncDir(s.w.sessionsDir())
	s.w.syncDir(s.w.trashDir())
	return name, nil
}

// DeleteIf is Delete that moves the session only if check, run under the
// session's lock with its metadata as it is then, returns nil; otherwise
// nothing is moved and check's error is returned. A caller that decided
// from an earlier read (the migrator retiring an import it superseded)
// uses it so that nothing appended since that read goes to the trash. On
// a shared store the move also requires the size check saw (ErrChanged).
func (s *Session) DeleteIf(ctx context.Context, check func(Meta) error) (string, error) {
	name, err := s.trashIf(ctx, check)
	if err != nil {
		return "", err
	}
	s.w.syncDir(s.w.sessionsDir())
	s.w.syncDir(s.w.trashDir())
	return name, nil
}

// trashIf is DeleteIf without syncing the two directories (cleanup syncs
// them once after all its moves).
func (s *Session) trashIf(ctx context.Context, check func(Meta) error) (string, error) {
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		return "", err
	}
	defer lk.unlock()
	m, err := s.Meta(ctx)
	if err != nil {
		return "", err
	}
	if err := check(m); err != nil {
		return "", err
	}
	return s.moveToTrashIf(m.Size)
}

// trashReady checks that sessions/.trash/ is a directory, not a symbolic
// link to one elsewhere, before a session is moved into it or out of it.
func (w *Workspace) trashReady() error {
	fi, err := w.lstat(w.trashDir())
	if err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	if !fi.IsDir() {
		return notRegularError(w.trashDir(), fi)
	}
	return nil
}

// Trashed is a deleted session waiting in sessions/.trash/.
type Trashed struct {
	Name    string    `json:"name"` // file name in the trash
	ID      string    `json:"id"`
	Deleted time.Time `json:"deleted"` // when it was moved there (the file's ctime)
	Size    int64     `json:"size"`
}

// Trash lists the deleted sessions, sorted by name.
func (w *Workspace) Trash(ctx context.Context) ([]Trashed, error) {
	des, err := w.fs.ReadDir(w.trashDir())
	if err != nil {
		return nil, fmt.Errorf("workspace: list %s: %w", w.trashDir(), err)
	}
	var out []Trashed
	for _, de := range des {
		id := trashID(de.Name())
		if id == "" {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, Trashed{Name: de.Name(), ID: id, Deleted: changeTime(fi), Size: fi.Size()})
	}
	return out, nil
}

// OpenTrashed opens a session in the trash for reading (its lines, as a
// session file holds them), from the files or the store.
func (w *Workspace) OpenTrashed(t Trashed) (io.ReadCloser, error) {
	if trashID(t.Name) == "" {
		return nil, fmt.Errorf("%w: %q is not a trash name", ErrNotFound, t.Name)
	}
	f, err := w.fs.OpenFile(filepath.Join(w.trashDir(), t.Name), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if err := regularOpen(f, t.Name); err != nil {
		return nil, err
	}
	return f, nil
}

// trashID returns the id of a trash file name (<id>.jsonl or
// <id>.<stamp>.jsonl), or "".
func trashID(name string) string {
	if !strings.HasSuffix(name, SessionExt) || len(name) < 70 {
		return ""
	}
	if id := name[:70]; checkID(id) == nil {
		return id
	}
	return ""
}

// findTrashed resolves a trash reference: a trash file name, an id, or an
// id prefix; the newest deletion of an id wins when several are there.
func (w *Workspace) findTrashed(ctx context.Context, ref string) (Trashed, error) {
	list, err := w.Trash(ctx)
	if err != nil {
		return Trashed{}, err
	}
	var hits []Trashed
	for _, t := range list {
		if t.Name == ref {
			return t, nil
		}
		if strings.HasPrefix(t.ID, ref) && len(ref) >= len("sk_v1_")+MinPrefixHex {
			hits = append(hits, t)
		}
	}
	ids := map[string]bool{}
	for _, h := range hits {
		ids[h.ID] = true
	}
	switch {
	case len(hits) == 0:
		return Trashed{}, fmt.Errorf("%w: nothing in the trash matches %q", ErrNotFound, ref)
	case len(ids) > 1:
		var c []string
		for id := range ids {
			c = append(c, id)
		}
		slices.Sort(c)
		return Trashed{}, &AmbiguousError{Ref: ref, Candidates: c}
	}
	slices.SortFunc(hits, func(a, b Trashed) int { return b.Deleted.Compare(a.Deleted) })
	return hits[0], nil
}

// RestoreFromTrash moves a deleted session back (ref: trash name, id or id
// prefix). It refuses when a live session of that id exists (one was
// started since the deletion): the error wraps ErrExists.
func (w *Workspace) RestoreFromTrash(ctx context.Context, ref string) (*Session, error) {
	t, err := w.findTrashed(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := w.untrash(ctx, t); err != nil {
		return nil, err
	}
	s, err := w.OpenID(t.ID)
	if err != nil {
		return nil, err
	}
	// Said in the session, so that cleanup counts its idle time from now
	// (TypeUntrash); a session that was empty stays empty.
	// A failure to note it (an encrypted session without the key, a
	// damaged file) does not undo the restore: it is said.
	if t.Size > 0 {
		if _, err := s.Append(ctx, Record{Type: TypeUntrash}); err != nil {
			w.log.Warn("session back from the trash, but not noted in it: the next cleanup may move it again unless it is written to", "session", t.ID, "err", err)
		}
	}
	return s, nil
}

// untrash moves the trash entry t back into place under its session's
// lock.
func (w *Workspace) untrash(ctx context.Context, t Trashed) error {
	st := w.state(t.ID)
	lk, err := w.lock(ctx, st)
	if err != nil {
		return err
	}
	defer lk.unlock()
	dst := w.SessionPath(t.ID)
	if _, err := w.lstat(dst); err == nil {
		if nr := w.inTheWay(dst); nr != nil {
			return nr
		}
		return fmt.Errorf("%w: session %s is live again; delete or rename it before restoring %s from the trash", ErrExists, t.ID, t.Name)
	}
	if err := w.trashReady(); err != nil {
		return err
	}
	// Only a regular file comes back: a symbolic link in the trash would
	// become a session file that points elsewhere.
	src := filepath.Join(w.trashDir(), t.Name)
	if _, err := w.lstatRegular(src); err != nil {
		if errors.Is(err, ErrNotRegular) {
			return err
		}
		return fmt.Errorf("workspace: restore %s: %w", t.Name, err)
	}
	// Link, not rename, so a file that appeared meanwhile is never
	// overwritten; only possible with the real filesystem.
	if _, ok := w.fs.(OSFS); ok {
		if err := os.Link(src, dst); err != nil {
			return fmt.Errorf("workspace: restore %s: %w", t.Name, err)
		}
		if err := os.Remove(src); err != nil {
			return fmt.Errorf("workspace: restore %s: %w", t.Name, err)
		}
	} else if err := w.fs.Rename(src, dst); err != nil {
		return fmt.Errorf("workspace: restore %s: %w", t.Name, err)
	}
	w.syncDir(w.sessionsDir())
	st.known = false
	return nil
}

// PurgeOptions select what Purge removes. The zero value removes nothing;
// set All, or Ref, or Before.
type PurgeOptions struct {
	All    bool
	Ref    string    // one trashed session: name, id or id prefix
	Before time.Time // deleted before this time
}

// Purge removes deleted sessions from the trash for good and returns what
// it removed. Live sessions are never touched.
func (w *Workspace) Purge(ctx context.Context, o PurgeOptions) ([]Trashed, error) {
	var victims []Trashed
	if o.Ref != "" {
		t, err := w.findTrashed(ctx, o.Ref)
		if err != nil {
			return nil, err
		}
		victims = []Trashed{t}
	} else {
		list, err := w.Trash(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range list {
			if o.All || !o.Before.IsZero() && t.Deleted.Before(o.Before) {
				victims = append(victims, t)
			}
		}
	}
	var done []Trashed
	for _, t := range victims {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if err := w.fs.Remove(filepath.Join(w.trashDir(), t.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return done, fmt.Errorf("workspace: purge %s: %w", t.Name, err)
		}
		done = append(done, t)
	}
	return done, nil
}
