package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// A Lease is a named lock on one session held by this process, taken
// without waiting (Session.TryLock): on a file workspace an flock on a file
// of locks/, which every process of this machine sees; on a Store a lease
// in the store, which every process of every machine that shares it sees.
//
// A lease in a store lasts while its holder renews it: one that could not
// be renewed for its whole time to live (the server was away that long,
// or the process stalled) may have been taken by another machine, and Lost
// is closed then. Work done under a lease should stop when Lost is closed.
// An flock is never lost while its process lives.
type Lease interface {
	// Lost is closed when the lease ended without Release.
	Lost() <-chan struct{}
	// Release gives the lease up. It may be called more than once.
	Release()
}

// checkLeaseName checks the form of a lease name: lower-case letters,
// digits and dashes (it becomes part of a file name and of a key).
func checkLeaseName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("workspace: lease name %q: want 1 to 64 of a-z, 0-9, -", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("workspace: lease name %q: want 1 to 64 of a-z, 0-9, -", name)
		}
	}
	return nil
}

// LeasePath is the lock file of lease name of session id on a file
// workspace (and of a workspace on a store, where it is not used).
func (w *Workspace) LeasePath(id, name string) string {
	return filepath.Join(w.root, LocksDir, id+"."+name+".lock")
}

// TryLock takes lease name of the session (like "summarize") without
// waiting. It returns nil and no error when another process holds it: on
// a file workspace another process of this machine; on a Store another
// process of any machine that shares the store. The holder's pid, host and
// start are recorded (in the lock file, or the lease's value) for
// operators.
func (s *Session) TryLock(ctx context.Context, name string) (Lease, error) {
	if err := checkLeaseName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid %d host %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if s.w.store != nil {
		l, err := s.w.store.TryLock(ctx, s.id, name, holder)
		if err != nil {
			return nil, fmt.Errorf("workspace: lease %s of %s: %w", name, s.id, err)
		}
		return l, nil
	}
	path := s.w.LeasePath(s.id, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("workspace: lease %s of %s: %w", name, s.id, err)
	}
	// Not through a symbolic link (it would create, lock and truncate a
	// file elsewhere), nor blocking on a named pipe.
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("workspace: lease %s of %s: lock %s: %w", name, s.id, path, err)
	}
	if !ok {
		return nil, nil
	}
	// The lock file is never deleted; it names its last holder.
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644); err == nil {
		fmt.Fprintln(f, holder)
		f.Close()
	}
	return &fileLease{fl: fl}, nil
}

// fileLease is an flock held by this process.
type fileLease struct {
	fl   *flock.Flock
	once sync.Once
}

func (l *fileLease) Lost() <-chan struct{} { return nil } // never: the lock dies with the process
func (l *fileLease) Release()              { l.once.Do(func() { _ = l.fl.Unlock() }) }

// LeaseHolder says who holds (or, on files, last held) lease name of the
// session: "pid P host H since T", or "" when nothing says.
func (s *Session) LeaseHolder(ctx context.Context, name string) (string, error) {
	if err := checkLeaseName(name); err != nil {
		return "", err
	}
	if s.w.store != nil {
		h, ok := s.w.store.(interface {
			LeaseHolder(ctx context.Context, id, name string) (string, error)
		})
		if !ok {
			return "", nil
		}
		return h.LeaseHolder(ctx, s.id, name)
	}
	f, err := os.OpenFile(s.w.LeasePath(s.id, name), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", nil // never taken
	}
	defer f.Close()
	b := make([]byte, 256)
	n, _ := f.Read(b)
	line, _, _ := strings.Cut(string(b[:n]), "\n")
	return strings.TrimSpace(line), nil
}
