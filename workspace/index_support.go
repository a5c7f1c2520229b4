package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// This file holds the small exported surface that the search index
// (workspace/index) needs and that the rest of the package has no use for:
// the index lock, the configured lock timeout and the default title rule.

// IndexLockName is the lock file that makes one process at a time the owner
// of <root>/index/: locks/index.lock.
const IndexLockName = "index"

// IndexDir is the directory of the search index inside a workspace root.
const IndexDir = "index"

// LockTimeout is the bound on lock waits this workspace was opened with
// (Options.LockTimeout, or DefaultLockTimeout; negative means try once).
func (w *Workspace) LockTimeout() time.Duration { return w.opts.LockTimeout }

// DefaultTitle is the title a session has until a title record names it:
// its first user message on one line, cut to DefaultTitleRunes runes.
func DefaultTitle(content string) string { return defaultTitle(content) }

// LockIndex takes the exclusive flock on locks/index.lock, waiting at most
// timeout (negative: try once) and while ctx is not done. On timeout the
// error is a *LockedError naming the holder written in the lock file. The
// returned function releases the lock; the lock file itself stays.
func (w *Workspace) LockIndex(ctx context.Context, timeout time.Duration) (unlock func() error, err error) {
	path := filepath.Join(w.locksDir(), IndexLockName+LockExt)
	if timeout < 0 {
		timeout = 0
	}
	start := time.Now()
	// Not through a symbolic link (it would create or lock a file
	// elsewhere and write the holder line into it).
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW), flock.SetPermissions(0o644))
	ok, err := fl.TryLock()
	if err == nil && !ok {
		ok, err = w.waitFlockPoll(ctx, fl, timeout)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("workspace: waiting for %s: %w", path, ctx.Err())
		}
		if nr := w.inTheWay(path); nr != nil {
			return nil, nr
		}
		return nil, fmt.Errorf("workspace: lock %s: %w", path, err)
	}
	if !ok {
		return nil, w.lockedError(path, time.Since(start))
	}
	if fi, err := fl.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = fl.Unlock()
		if err != nil {
			return nil, fmt.Errorf("workspace: lock %s: %w", path, err)
		}
		return nil, notRegularError(path, fi)
	}
	// Name the holder at the start of the file, through the locked fd.
	b := make([]byte, 0, 96)
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, `,"host":`...)
	b = appendString(b, hostname())
	b = append(b, `,"since":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	if f, ferr := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0o644); ferr == nil {
		_, ferr = f.WriteAt(b, 0)
		_ = f.Close()
		if ferr != nil {
			_ = fl.Unlock()
			return nil, fmt.Errorf("workspace: lock %s: writing holder: %w", path, ferr)
		}
	}
	return fl.Unlock, nil
}

// LockIndexShared takes a shared flock on locks/index.lock, for a reader
// that changes nothing (check): it waits while a process writes the index
// and lets other readers in. The lock file is opened read-only, never
// created, and no holder line is written, so it works on a read-only or
// full disk. When there is no lock file no process ever wrote the index:
// there is nothing to wait for, and unlock does nothing.
func (w *Workspace) LockIndexShared(ctx context.Context, timeout time.Duration) (unlock func() error, err error) {
	path := filepath.Join(w.locksDir(), IndexLockName+LockExt)
	if timeout < 0 {
		timeout = 0
	}
	start := time.Now()
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK))
	ok, err := fl.TryRLock()
	if errors.Is(err, fs.ErrNotExist) {
		return func() error { return nil }, nil
	}
	if err == nil && !ok && timeout > 0 {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		ok, err = fl.TryRLockContext(tctx, time.Millisecond)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			ok, err = false, nil
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("workspace: waiting for %s: %w", path, ctx.Err())
		}
		if nr := w.inTheWay(path); nr != nil {
			return nil, nr
		}
		return nil, fmt.Errorf("workspace: lock %s: %w", path, err)
	}
	if !ok {
		return nil, w.lockedError(path, time.Since(start))
	}
	if fi, err := fl.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = fl.Unlock()
		if err != nil {
			return nil, fmt.Errorf("workspace: lock %s: %w", path, err)
		}
		return nil, notRegularError(path, fi)
	}
	return fl.Unlock, nil
}

// SessionFile is a live session file and its identity at the time of a
// listing.
type SessionFile struct {
	ID       string
	Identity Identity
}

// SessionFiles lists the live session files (not the trash, not set-aside
// bytes) with their identities: one directory read and one stat per file,
// no file opened. A file that disappears meanwhile is left out.
func (w *Workspace) SessionFiles(ctx context.Context) ([]SessionFile, error) {
	ents, err := w.fs.ReadDir(w.sessionsDir())
	if err != nil {
		return nil, fmt.Errorf("workspace: list %s: %w", w.sessionsDir(), err)
	}
	out := make([]SessionFile, 0, len(ents))
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := idFromFileName(e.Name())
		if id == "" || !e.Type().IsRegular() {
			continue // symbolic links are not followed (Check reports them)
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, SessionFile{ID: id, Identity: identityOf(fi)})
	}
	return out, nil
}

// StatSession returns the identity of session id's file, or of its entry
// in the store on a workspace with one; ok is false when there is none
// (or the file is not a regular file: never followed, as SessionFiles).
func (w *Workspace) StatSession(id string) (Identity, bool, error) {
	fi, err := w.lstat(w.SessionPath(id))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Identity{}, false, nil
	case err != nil:
		return Identity{}, false, fmt.Errorf("workspace: stat %s: %w", id, err)
	case !fi.Mode().IsRegular():
		return Identity{}, false, nil
	}
	return identityOf(fi), true, nil
}

// StoreChangedSince returns, on a workspace with a store, the sessions the
// store says were appended to, created, moved to the trash or restored at
// or after since (by the clocks of the machines that did it; a caller
// allows for their skew): their ids, in no order, possibly with some that
// did not change. ok is false on a workspace without a store, whose
// changes the change journal and the sessions directory tell.
func (w *Workspace) StoreChangedSince(ctx context.Context, since time.Time) (ids []string, ok bool, err error) {
	if w.store == nil {
		return nil, false, nil
	}
	ids, err = w.store.ChangedSince(ctx, since)
	if err != nil {
		return nil, true, fmt.Errorf("workspace: changes in %s since %s: %w", w.store.Addr(), since.UTC().Format(time.RFC3339), err)
	}
	return ids, true, nil
}
