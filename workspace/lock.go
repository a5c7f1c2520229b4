package workspace

import (
	"github.com/picosess/picosess/workspace/policy"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
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

	// Group commit (batch durability): calls waiting for a leader.
	qmu       sync.Mutex
	queue     []*appendReq
	flushing  bool
	lastBatch int // calls in the last batch
	// ownSynced is where this process's last fsync of the session ended
	// (syncqueue.go), guarded by holderMu: a batch that starts there and
	// is all an fsync covers shares that fsync with nobody.
	ownSynced syncSlot

	// holderMu guards holder and is held with the file lock, so that a
	// trim never closes a descriptor that holds a lock.
	holderMu sync.Mutex
	holder   *os.File // the lock file, kept open
	// holderChecked is when holder was last found to still be the file at
	// the lock path.
	holderChecked time.Time

	// turn is what AppendTurn last left in the file, so that the next
	// AppendTurn of this process decides without reading it back. Guarded
	// by sem.
	turn turnCache

	// comb is the combining slots of the lock file (combine.go), mapped
	// while holder is open; guarded by holderMu.
	comb *combineArea

	// polMu guards pol, the session's resolved reset policy.
	polMu sync.Mutex
	pol   *policy.Effective
}

func newSessionState(id string) *sessionState {
	return &sessionState{id: id, sem: make(chan struct{}, 1)}
}

// closeHolder closes the kept lock file, reporting whether one was open.
func (st *sessionState) closeHolder() (bool, error) {
	st.holderMu.Lock()
	defer st.holderMu.Unlock()
	if st.holder == nil {
		return false, nil
	}
	err := st.holder.Close()
	st.holder = nil
	st.detachArea()
	return true, err
}

// closeIdleHolder closes the kept lock file if no appender of this
// process is using the session, reporting whether it closed one.
func (st *sessionState) closeIdleHolder() bool {
	select {
	case st.sem <- struct{}{}:
		defer func() { <-st.sem }()
	default:
		return false
	}
	closed, _ := st.closeHolder()
	return closed
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
	w    *Workspace
	st   *sessionState
	fd   int
	path string

	mu    sync.Mutex // orders the delayed holder line against unlock
	held  bool
	timer *time.Timer
}

// holderDelay is how long a lock is held before the holder line is
// written. Appends hold the lock for microseconds and never write it: a
// waiter can only time out behind a long holder (a repair, a stuck or
// stopped process), and a long holder has written its line. Waiters learn
// the holder's pid from /proc/locks anyway (see lockedError).
const holderDelay = 20 * time.Millisecond

func (l *sessionLock) writeHolderIfHeld() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		if err := l.w.writeHolder(l.fd, l.path); err != nil {
			l.w.log.Warn("lock holder line not written", "err", err)
		}
	}
}

func (l *sessionLock) unlock() {
	l.mu.Lock()
	l.held = false
	l.mu.Unlock()
	l.timer.Stop()
	_ = unix.Flock(l.fd, unix.LOCK_UN)
	if a := l.st.comb; a != nil {
		a.anyReady(true) // records waiting to be combined: their owner may lock now
	}
	l.st.holderMu.Unlock()
	<-l.st.sem
	if l.w.openLocks.Load() > DefaultMaxOpenLocks {
		l.w.trimOpenLocks()
	}
}

// lock takes the in-process semaphore of st and then the exclusive flock
// on its lock file, both bounded by the lock timeout and ctx. On timeout
// it returns a *LockedError naming the holder written in the lock file.
//
// The lock file stays open between appends (up to DefaultMaxOpenLocks of
// them): flock(2) on a kept descriptor costs one system call, where
// opening the file for each lock (as github.com/gofrs/flock does) costs
// three. The semantics are flock's either way: the lock belongs to the
// open file description and dies with the process.
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
	st.holderMu.Lock()
	fail := func(err error) (*sessionLock, error) {
		st.holderMu.Unlock()
		<-st.sem
		return nil, err
	}
relock:
	if err := w.openHolder(st, path); err != nil {
		return fail(err)
	}
	fd := int(st.holder.Fd())
	for delay := 50 * time.Microsecond; ; {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if (err == unix.EWOULDBLOCK || err == unix.EINTR) && w.opts.Durability == DurabilityBatch {
			// Group commit needs the writers of other processes to write
			// while an fsync runs: they wait in flock(2), woken the moment
			// the lock is free. (Polling, they slept up to 5 ms behind a
			// lock held for microseconds, and shared nothing: batch was
			// 1.0-1.1x always across 8 processes, 1.36x waiting so.) With
			// always and never the polling below is faster: the process
			// that holds the lock keeps it for its next append without
			// a hand-over (4 100-4 400 against 5 500-6 000 appends/s of 8
			// processes on one session).
			handed, werr := w.waitFlock(ctx, st, fd, path, start, timeout)
			if handed {
				return nil, werr // the semaphore went with the waiting flock
			}
			if errors.As(werr, new(*LockedError)) {
				return fail(werr)
			}
			err = werr
		}
		if err == unix.EWOULDBLOCK || err == unix.EINTR {
			waited := time.Since(start)
			if waited >= timeout {
				return fail(w.lockedError(path, waited))
			}
			t := time.NewTimer(min(delay, timeout-waited))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fail(fmt.Errorf("workspace: waiting for %s: %w", path, ctx.Err()))
			}
			delay = min(delay*2, 5*time.Millisecond)
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("workspace: lock %s: %w", path, err))
		}
		if w.lockFileReplaced(st, path) {
			// Someone deleted or replaced the lock file (they must not):
			// a lock on the old inode excludes nobody. Lock the new one.
			_ = unix.Flock(fd, unix.LOCK_UN)
			_ = st.holder.Close()
			st.holder = nil
			st.detachArea()
			w.openLocks.Add(-1)
			goto relock
		}
		break
	}
	return w.heldLock(st, fd, path), nil
}

// heldLock is the sessionLock of a session whose semaphore, holderMu and
// file lock were just taken.
func (w *Workspace) heldLock(st *sessionState, fd int, path string) *sessionLock {
	l := &sessionLock{w: w, st: st, fd: fd, path: path, held: true}
	l.timer = time.AfterFunc(holderDelay, l.writeHolderIfHeld)
	return l
}

// openHolder opens the lock file of st if it is not open. The caller
// holds st.holderMu.
func (w *Workspace) openHolder(st *sessionState, path string) error {
	if st.holder != nil {
		return nil
	}
	// Not through a symbolic link: it would create or lock a file
	// elsewhere, and the holder line would be written into it.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		if nr := w.inTheWay(path); nr != nil {
			return nr
		}
		return fmt.Errorf("workspace: lock %s: %w", path, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return fmt.Errorf("workspace: lock %s: %w", path, err)
		}
		return notRegularError(path, fi)
	}
	st.holder, st.holderChecked = f, time.Now()
	w.openLocks.Add(1)
	return nil
}

// tryLock takes the session lock of st if nobody holds it, in this
// process or another, without waiting. It returns nil when the lock is
// held (or the lock file could not be opened, or was replaced: lock
// deals with those).
func (w *Workspace) tryLock(st *sessionState) *sessionLock {
	lk, _ := w.tryLockArea(st, false)
	return lk
}

// tryLockOrArea is tryLock that, when another process holds the lock,
// returns the combining slots of the lock file instead, mapped (made if
// need be), with a use to give back (combine.go).
func (w *Workspace) tryLockOrArea(st *sessionState) (*sessionLock, *combineArea) {
	return w.tryLockArea(st, true)
}

func (w *Workspace) tryLockArea(st *sessionState, area bool) (*sessionLock, *combineArea) {
	select {
	case st.sem <- struct{}{}:
	default:
		return nil, nil
	}
	st.holderMu.Lock()
	path := w.LockPath(st.id)
	var a *combineArea
	if w.openHolder(st, path) == nil {
		fd := int(st.holder.Fd())
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
			if !w.lockFileReplaced(st, path) {
				return w.heldLock(st, fd, path), nil
			}
			_ = unix.Flock(fd, unix.LOCK_UN)
			_ = st.holder.Close()
			st.holder = nil
			st.detachArea()
			w.openLocks.Add(-1)
		} else if area && err == unix.EWOULDBLOCK {
			a = w.areaLocked(st, true)
		}
	}
	st.holderMu.Unlock()
	<-st.sem
	return nil, a
}

// lockCheckInterval is how often a kept lock descriptor is checked
// against the path: at most this long after someone deletes a lock file,
// this process locks the new one.
const lockCheckInterval = time.Second

// lockFileReplaced reports whether the kept descriptor of st no longer is
// the file at path. It looks at most once per lockCheckInterval.
func (w *Workspace) lockFileReplaced(st *sessionState, path string) bool {
	now := time.Now()
	if now.Sub(st.holderChecked) < lockCheckInterval {
		return false
	}
	var a, b unix.Stat_t
	if unix.Fstat(int(st.holder.Fd()), &a) != nil {
		return false
	}
	if err := unix.Lstat(path, &b); err != nil || a.Ino != b.Ino || a.Dev != b.Dev {
		w.log.Warn("lock file was deleted or replaced; locking the new one", "file", path)
		return true
	}
	st.holderChecked = now
	return false
}

// writeHolder records this process as the holder at the start of the lock
// file. It is a plain write, not synced: after a machine crash nobody holds
// the lock, so a stale name there is harmless.
func (w *Workspace) writeHolder(fd int, path string) error {
	b := make([]byte, 0, 128)
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, `,"host":`...)
	b = appendString(b, w.host)
	b = append(b, `,"since":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		return fmt.Errorf("workspace: lock %s: writing holder: %w", path, err)
	}
	return nil
}

// lockedError names the holder of path for a LockedError: its pid from
// /proc/locks where there is one (exact, even for a holder that has not
// written its line yet), host and since from the holder line when that
// line is the same process's.
func (w *Workspace) lockedError(path string, waited time.Duration) error {
	e := &LockedError{Path: path, Wait: waited.Round(time.Millisecond)}
	h, herr := readHolder(path)
	pid := procLocksHolder(path)
	switch {
	case pid != 0 && herr == nil && h.PID == pid:
		e.PID, e.Host, e.Since = h.PID, h.Host, h.Since
	case pid != 0:
		e.PID, e.Host = pid, w.host // flock(2) locks are local to this host
	case herr == nil:
		e.PID, e.Host, e.Since = h.PID, h.Host, h.Since
	}
	return e
}

// procLocksHolder returns the pid holding a flock on path according to
// /proc/locks (Linux), or 0.
func procLocksHolder(path string) int {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	for _, line := range strings.Split(string(b), "\n") {
		// 1: FLOCK  ADVISORY  WRITE 4242 fd:00:1234567 0 EOF
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[3] != "WRITE" || f[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil {
			return pid
		}
	}
	return 0
}

// readHolder parses the holder line of a lock file (a regular file: a
// symbolic link is not followed, a named pipe not read).
func readHolder(path string) (holderInfo, error) {
	var h holderInfo
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return h, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return h, errors.New("not a regular file")
	}
	b := make([]byte, 4096)
	n, err := f.ReadAt(b, 0)
	if n == 0 && err != nil {
		return h, err
	}
	b = b[:n]
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

// waitFlock waits for the flock of fd, the lock file of st, that another
// process holds: in a blocking flock(2), so that the kernel wakes it the
// moment the lock is released (polling it, the waiters slept up to 5 ms
// behind a lock held for microseconds, and writers of durability batch
// in separate processes could not share fsyncs). The caller holds st's
// semaphore and holderMu. It returns a nil error once the lock is taken,
// or the error of a wait cut short by the lock timeout or ctx: the flock
// is then still blocked, and handed is true: the semaphore and holderMu go
// with it, released once it returns (and its lock, if it took it, dropped),
// so that nobody of this process takes the lock file's descriptor
// meanwhile.
func (w *Workspace) waitFlock(ctx context.Context, st *sessionState, fd int, path string, start time.Time, timeout time.Duration) (handed bool, err error) {
	left := timeout - time.Since(start)
	if left <= 0 {
		return false, w.lockedError(path, time.Since(start))
	}
	done := make(chan error, 1)
	go func() {
		for {
			err := unix.Flock(fd, unix.LOCK_EX)
			if err != unix.EINTR {
				done <- err
				return
			}
		}
	}()
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case err := <-done:
		return false, err
	case <-t.C:
		err = w.lockedError(path, time.Since(start))
	case <-ctx.Done():
		err = fmt.Errorf("workspace: waiting for %s: %w", path, ctx.Err())
	}
	go func() {
		if <-done == nil {
			_ = unix.Flock(fd, unix.LOCK_UN)
		}
		st.holderMu.Unlock()
		<-st.sem
	}()
	return true, err
}

// waitFlockPoll polls a gofrs/flock lock until it is free, the time is up or
// ctx is done; it returns false without error on timeout. The index lock
// (index_support.go) uses it; session locks flock a kept descriptor (see
// lock).
func (w *Workspace) waitFlockPoll(ctx context.Context, fl *flock.Flock, left time.Duration) (bool, error) {
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
