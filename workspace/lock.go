package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// sessionState is what one process knows about one session between
// appends. Its semaphore orders the appenders of this process before they
// reach the file lock, which orders processes.
type sessionState struct {
	id  string
	sem chan struct{} // the in-process mutex; a channel so waits can time out

	// Guarded by sem.
	known   bool     // size, ident and lastSeq describe the file as we left it
	ident   Identity // after our last write
	lastSeq int64
	group   *groupSync // group commit for the file ident names

	holderMu sync.Mutex
	holder   *os.File // lock file kept open to write the holder's name
}

func newSessionState(id string) *sessionState {
	return &sessionState{id: id, sem: make(chan struct{}, 1)}
}

func (st *sessionState) holderOpen() bool {
	st.holderMu.Lock()
	defer st.holderMu.Unlock()
	return st.holder != nil
}

func (st *sessionState) closeHolder() error {
	st.holderMu.Lock()
	defer st.holderMu.Unlock()
	if st.holder == nil {
		return nil
	}
	err := st.holder.Close()
	st.holder = nil
	return err
}

// closeIdleHolder closes the holder file if no appender of this process is
// using the session.
func (st *sessionState) closeIdleHolder() bool {
	select {
	case st.sem <- struct{}{}:
		defer func() { <-st.sem }()
	default:
		return false
	}
	return st.closeHolder() == nil
}

// holderInfo is written at the start of a lock file by the process that
// holds the lock, so that a process that cannot get it can say who has it.
// The line ends in '\n'; bytes after it are left over from an earlier,
// longer holder line and mean nothing.
type holderInfo struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// sessionLock is a held session lock: the in-process semaphore and the
// file lock.
type sessionLock struct {
	w  *Workspace
	st *sessionState
	fl *flock.Flock
}

func (l *sessionLock) unlock() {
	if l.fl != nil {
		_ = l.fl.Unlock()
	}
	<-l.st.sem
	if l.w.openLocks.Load() > DefaultMaxOpenLocks {
		l.w.trimOpenLocks()
	}
}

// lock takes the in-process semaphore of st and then the exclusive flock
// on its lock file, both bounded by the lock timeout and ctx. On timeout
// it returns a *LockedError naming the holder written in the lock file.
func (w *Workspace) lock(ctx context.Context, st *sessionState) (*sessionLock, error) {
	start := time.Now()
	timeout := w.opts.LockTimeout
	if timeout < 0 {
		timeout = 0
	}
	path := w.LockPath(st.id)

	// Fast path: nobody in this process holds the session.
	select {
	case st.sem <- struct{}{}:
	default:
		t := time.NewTimer(timeout)
		select {
		case st.sem <- struct{}{}:
			t.Stop()
		case <-t.C:
			return nil, w.lockedError(path, time.Since(start))
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("workspace: waiting for %s: %w", path, ctx.Err())
		}
	}
	l := &sessionLock{w: w, st: st, fl: flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o644))}
	ok, err := l.fl.TryLock()
	if err == nil && !ok {
		ok, err = w.waitFlock(ctx, l.fl, timeout-time.Since(start))
	}
	if err != nil || !ok {
		<-st.sem
		if err == nil {
			return nil, w.lockedError(path, time.Since(start))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("workspace: waiting for %s: %w", path, ctx.Err())
		}
		return nil, fmt.Errorf("workspace: lock %s: %w", path, err)
	}
	if err := w.writeHolder(st, path); err != nil {
		l.unlock()
		return nil, err
	}
	return l, nil
}

// waitFlock polls the file lock until it is free, the time is up or ctx
// is done; it returns false without error on timeout.
func (w *Workspace) waitFlock(ctx context.Context, fl *flock.Flock, left time.Duration) (bool, error) {
	if left <= 0 {
		return false, nil
	}
	tctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	ok, err := fl.TryLockContext(tctx, time.Millisecond)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return false, nil
	}
	return ok, err
}

// writeHolder records this process as the holder at the start of the lock
// file. It is a plain write, not synced: after a machine crash nobody holds
// the lock, so a stale name there is harmless.
func (w *Workspace) writeHolder(st *sessionState, path string) error {
	st.holderMu.Lock()
	defer st.holderMu.Unlock()
	if st.holder == nil {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("workspace: lock %s: %w", path, err)
		}
		st.holder = f
		w.openedLock()
	}
	b := make([]byte, 0, 96)
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, `,"host":`...)
	b = appendString(b, hostname())
	b = append(b, `,"since":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	if _, err := st.holder.WriteAt(b, 0); err != nil {
		return fmt.Errorf("workspace: lock %s: writing holder: %w", path, err)
	}
	return nil
}

// openedLock counts a newly opened holder file; unlock trims them when
// there are too many.
func (w *Workspace) openedLock() { w.openLocks.Add(1) }

// lockedError reads the holder of path for a LockedError.
func (w *Workspace) lockedError(path string, waited time.Duration) error {
	e := &LockedError{Path: path, Wait: waited.Round(time.Millisecond)}
	if h, err := readHolder(path); err == nil {
		e.PID, e.Host, e.Since = h.PID, h.Host, h.Since
	}
	return e
}

// readHolder parses the holder line of a lock file.
func readHolder(path string) (holderInfo, error) {
	var h holderInfo
	b, err := os.ReadFile(path)
	if err != nil {
		return h, err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	err = json.Unmarshal(b, &h)
	return h, err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
