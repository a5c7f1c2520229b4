package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Append writes records at the end of the session, in one write, and
// returns their seqs. A whole turn (the user's message, tool calls, tool
// results, the reply) given in one call lands together with consecutive
// seqs, whatever other processes append at the same time.
//
// Append fills Seq, At (when zero; times are stored in UTC) and Tokens of
// messages and summaries (when zero, with Options.CountTokens). The records
// passed in are not modified. It returns when the records are as durable
// as Options.Durability promises.
func (s *Session) Append(ctx context.Context, recs ...Record) ([]int64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	for i := range recs {
		if err := validateAppend(&recs[i]); err != nil {
			return nil, fmt.Errorf("workspace: append to %s: record %d: %w", s.id, i+1, err)
		}
	}
	return s.append(ctx, func(lockedView) ([]Record, error) { return recs, nil })
}

// validateAppend rejects records a caller may not append.
func validateAppend(r *Record) error {
	switch r.Type {
	case TypeMessage:
		switch r.Role {
		case RoleUser, RoleAssistant, RoleSystem, RoleTool:
		default:
			return fmt.Errorf("message role %q is not user, assistant, system or tool", r.Role)
		}
	case TypeSummary, TypeTitle, TypeReset, TypeCheckpoint, TypeRestore, TypeCheckpointDelete:
	case TypeSession:
		return errors.New("the session header is written by the workspace, not appended")
	default:
		return fmt.Errorf("unknown record type %q", r.Type)
	}
	return nil
}

// lockedView is what a record builder sees while the session is locked:
// the file as it is (complete lines only) and its last seq.
type lockedView struct {
	s       *Session
	f       File
	end     int64 // end of the complete lines
	lastSeq int64
}

// history folds the active history of the locked file.
func (v lockedView) history(ctx context.Context, limit int) (History, error) {
	return foldTail(ctx, v.f, v.s.Path(), v.end, limit, v.s.w.log)
}

// append is the append protocol of DESIGN.md section 3; docs/crash-safety.md
// explains the order. build runs under the lock and returns the records to
// write (nil: only make sure the file exists with its header).
func (s *Session) append(ctx context.Context, build func(lockedView) ([]Record, error)) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Count ourselves as a writer on the way, so that a group-commit
	// leader can wait for us (see groupSync.wait).
	s.st.writers.Add(1)
	lk, err := s.w.lock(ctx, s.st)
	if err != nil {
		s.st.writers.Add(-1)
		return nil, err
	}
	seqs, pending, err := s.appendLocked(ctx, build)
	if pending == nil {
		s.st.writers.Add(-1) // enqueue did it otherwise
	}
	lk.unlock()
	if err != nil {
		return nil, err
	}
	if pending != nil {
		// Group commit: wait, without the lock, for an fsync covering our
		// bytes, so that other appenders can write meanwhile.
		if err := pending.wait(); err != nil {
			return nil, fmt.Errorf("workspace: append to %s: fsync: %w", s.Path(), err)
		}
	}
	return seqs, nil
}

// appendLocked does the work of append under the lock. With batch
// durability it returns the pending fsync to wait for.
func (s *Session) appendLocked(ctx context.Context, build func(lockedView) ([]Record, error)) (seqs []int64, pending *pendingSync, err error) {
	w, st, path := s.w, s.st, s.Path()
	f, err := w.fs.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("workspace: open %s: %w", path, err)
	}
	defer func() {
		if pending == nil {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	ident := identityOf(fi)
	end, last := ident.Size, st.lastSeq
	if !st.known || !st.ident.SameFile(ident) || st.ident.Size != ident.Size {
		// Someone else wrote, or we never looked: learn the file again.
		st.known = false
		if end, err = completeEnd(f, ident.Size, path); err != nil {
			return nil, nil, err
		}
		if end < ident.Size {
			if err := w.setTornAside(f, path, end, ident.Size); err != nil {
				return nil, nil, err
			}
		}
		if last, err = lastSeq(f, end, path); err != nil {
			return nil, nil, err
		}
		if st.group == nil || !st.ident.SameFile(ident) {
			st.group = newGroupSync()
		}
	}
	if st.group == nil {
		st.group = newGroupSync()
	}

	var recs []Record
	if build != nil {
		if recs, err = build(lockedView{s: s, f: f, end: end, lastSeq: last}); err != nil {
			return nil, nil, err
		}
	}
	if end == 0 {
		// A new (or emptied) file starts with its header.
		h := s.header
		if h.Type == "" {
			h = Record{Type: TypeSession, V: FormatVersion, ID: s.id}
		}
		recs = append([]Record{h}, recs...)
	}
	if len(recs) == 0 {
		st.known, st.ident, st.lastSeq = true, ident, last
		return nil, nil, nil
	}

	now := w.opts.Now().UTC()
	buf := make([]byte, 0, 512*len(recs))
	seqs = make([]int64, 0, len(recs))
	for i := range recs {
		r := recs[i] // a copy: the caller's records stay as they were
		last++
		r.Seq = last
		if r.At.IsZero() {
			r.At = now
		}
		if (r.Type == TypeMessage || r.Type == TypeSummary) && r.Tokens == 0 {
			r.Tokens = w.opts.CountTokens(r)
		}
		if buf, err = appendRecord(buf, &r); err != nil {
			return nil, nil, fmt.Errorf("workspace: append to %s: %w", s.id, err)
		}
		buf = append(buf, '\n')
		if r.Type != TypeSession {
			seqs = append(seqs, r.Seq)
		}
	}

	// One write: a reader or a crash sees all of these records or a torn
	// tail that the next append sets aside, never some of them complete.
	n, err := f.Write(buf)
	if err == nil && n != len(buf) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(buf))
	}
	if err != nil {
		return nil, nil, s.undoWrite(f, end, fmt.Errorf("workspace: append to %s: %w", path, err))
	}
	ident.Size = end + int64(len(buf))
	switch w.opts.Durability {
	case DurabilityAlways:
		if err := f.Sync(); err != nil {
			// Not acknowledged, so not kept: a caller that retries must not
			// find the records twice.
			return nil, nil, s.undoWrite(f, end, fmt.Errorf("workspace: append to %s: fsync: %w", path, err))
		}
	case DurabilityBatch:
		pending = st.group.enqueue(f, &st.writers)
	}
	st.known, st.ident, st.lastSeq = true, ident, last
	return seqs, pending, nil
}

// undoWrite cuts the file back to end after a failed write or fsync, so
// that it holds complete records only, and forgets what we knew of it.
func (s *Session) undoWrite(f File, end int64, cause error) error {
	s.st.known = false
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("%w (and truncating back to %d failed: %w; the next append sets the partial record aside)", cause, end, err)
	}
	_ = f.Sync()
	return cause
}

// setTornAside copies the bytes [end, size) of a file that does not end in
// '\n' (a crash mid-write) to <file>.torn-<UTC stamp>, syncs that copy, then
// truncates the file to end. The copy comes first: a crash in between
// leaves the tail in both places, never in neither.
func (w *Workspace) setTornAside(f File, path string, end, size int64) error {
	aside, err := w.setAside(path, "torn", func(dst File) error {
		return copyRange(dst, f, end, size-end)
	})
	if err != nil {
		return err
	}
	if err := f.Truncate(end); err != nil {
		return fmt.Errorf("workspace: truncate torn tail of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("workspace: fsync %s: %w", path, err)
	}
	w.log.Warn("torn tail set aside", "file", path, "offset", end, "bytes", size-end, "aside", aside)
	return nil
}

// setAside creates <path>.<kind>-<UTC stamp> (never overwriting one),
// fills it with fill, and syncs it and its directory.
func (w *Workspace) setAside(path, kind string, fill func(File) error) (string, error) {
	stamp := w.opts.Now().UTC().Format("20060102T150405.000000000Z")
	var name string
	var dst File
	var err error
	for i := 0; i < 1000; i++ {
		name = path + "." + kind + "-" + stamp
		if i > 0 {
			name += fmt.Sprintf("-%d", i)
		}
		dst, err = w.fs.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("workspace: set aside %s bytes of %s: %w", kind, path, err)
	}
	if err := fill(dst); err != nil {
		dst.Close()
		return "", fmt.Errorf("workspace: set aside %s bytes of %s: %w", kind, path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return "", fmt.Errorf("workspace: fsync %s: %w", name, err)
	}
	if err := dst.Close(); err != nil {
		return "", fmt.Errorf("workspace: close %s: %w", name, err)
	}
	w.syncDir(filepath.Dir(path))
	return name, nil
}

// copyRange copies n bytes of src from off to dst.
func copyRange(dst File, src File, off, n int64) error {
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := int64(len(buf))
		if k > n {
			k = n
		}
		m, err := src.ReadAt(buf[:k], off)
		if m > 0 {
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return werr
			}
		}
		if err != nil && m < int(k) {
			return err
		}
		off += int64(m)
		n -= int64(m)
	}
	return nil
}

// syncDir fsyncs a directory so that a rename or a new file in it is
// durable. Errors are ignored: not every filesystem supports it.
func (w *Workspace) syncDir(dir string) {
	if d, err := w.fs.OpenFile(dir, os.O_RDONLY, 0); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// groupSync is the group commit of one file (one inode) in one process:
// appenders that wrote while an fsync was running share the next one.
type groupSync struct {
	mu      sync.Mutex
	cond    *sync.Cond
	written uint64 // tickets handed out, one per write
	synced  uint64 // every ticket up to this is on disk
	// Tickets in (failedFrom, failed] were covered by a failed fsync.
	failedFrom, failed uint64
	err                error
	syncing            bool
}

func newGroupSync() *groupSync {
	g := &groupSync{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// pendingSync is one write waiting for its fsync.
type pendingSync struct {
	g       *groupSync
	ticket  uint64
	f       File
	writers *atomic.Int32 // appenders of the session between entry and write
}

// enqueue is called under the session lock right after a write. It
// takes the writer off the count of writers on the way and wakes a leader
// that waits for them.
func (g *groupSync) enqueue(f File, writers *atomic.Int32) *pendingSync {
	g.mu.Lock()
	g.written++
	t := g.written
	writers.Add(-1)
	g.cond.Broadcast()
	g.mu.Unlock()
	return &pendingSync{g: g, ticket: t, f: f, writers: writers}
}

// commitDelay bounds how long a group-commit leader waits for the writers
// already on their way before it fsyncs.
const commitDelay = time.Millisecond

// wait returns once an fsync begun after this write has succeeded. The
// first waiter to find no fsync running becomes the leader and syncs for
// everyone written so far; fsync syncs the inode, so any open descriptor
// of the file serves. A failed fsync fails every write it covered: after a
// failure the kernel may have dropped the dirty pages, and a second fsync
// could succeed without them.
func (p *pendingSync) wait() error {
	defer p.f.Close()
	g := p.g
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		if g.failedFrom < p.ticket && p.ticket <= g.failed {
			return g.err
		}
		if g.synced >= p.ticket {
			return nil
		}
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		// Appenders that are already waiting for the lock will write in
		// microseconds; an fsync started now would leave them for the next
		// one (and, where the device wants stable pages, block their writes
		// behind it). Wait for them, a little.
		if p.writers.Load() > 0 {
			deadline := time.AfterFunc(commitDelay, func() {
				g.mu.Lock()
				g.cond.Broadcast()
				g.mu.Unlock()
			})
			start := time.Now()
			for p.writers.Load() > 0 && time.Since(start) < commitDelay {
				g.cond.Wait()
			}
			deadline.Stop()
		}
		target := g.written
		g.mu.Unlock()
		err := p.f.Sync()
		g.mu.Lock()
		g.syncing = false
		if err != nil {
			g.failedFrom, g.failed, g.err = g.synced, target, err
		} else if target > g.synced {
			g.synced = target
		}
		g.cond.Broadcast()
	}
}
