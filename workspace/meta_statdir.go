package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// statSessions calls fn with the id and identity of each regular file of
// sessions/ named like a session, in directory order. On the operating
// system's file system it reads the directory with getdents and stats
// each name with fstatat relative to the directory: no DirEntry and no
// FileInfo per file, and no sort of the names (at 100 000 sessions those
// were a third of a warm listing's time and most of its garbage). Any
// other FS (tests inject faults through one) goes through ReadDir.
func (c *metaCache) statSessions(ctx context.Context, fn func(id string, now Identity) error) error {
	dir := c.w.sessionsDir()
	if _, ok := c.w.fs.(OSFS); !ok {
		des, err := c.w.fs.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("workspace: list %s: %w", dir, err)
		}
		for _, de := range des {
			id := idFromFileName(de.Name())
			if id == "" || !de.Type().IsRegular() {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			fi, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("workspace: stat %s: %w", de.Name(), err)
			}
			if err := fn(id, identityOf(fi)); err != nil {
				return err
			}
		}
		return nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("workspace: list %s: %w", dir, &fs.PathError{Op: "open", Path: dir, Err: err})
	}
	defer unix.Close(fd)
	// The names of each getdents buffer are statted by a few workers at
	// once (the kernel serves fstatat of one directory in parallel; at
	// 100 000 files the stats are half a warm listing), and fn sees them
	// in directory order, from this goroutine.
	type statBatch struct {
		names []string
		ids   []string
		st    []unix.Stat_t
		errs  []error
		done  chan struct{}
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	jobs := make(chan *statBatch)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				for i, name := range b.names {
					err := unix.Fstatat(fd, name, &b.st[i], unix.AT_SYMLINK_NOFOLLOW)
					if err == unix.EINTR {
						err = unix.Fstatat(fd, name, &b.st[i], unix.AT_SYMLINK_NOFOLLOW)
					}
					b.errs[i] = err
				}
				close(b.done)
			}
		}()
	}
	// In flight: batches sent to the workers, oldest first.
	var inflight []*statBatch
	stop := func() {
		close(jobs)
		wg.Wait()
	}
	drain := func(keep int) error {
		for len(inflight) > keep {
			b := inflight[0]
			inflight = inflight[1:]
			<-b.done
			for i, name := range b.names {
				err := b.errs[i]
				if err == unix.ENOENT {
					continue // deleted meanwhile
				}
				if err != nil {
					return fmt.Errorf("workspace: stat %s: %w", name, err)
				}
				st := &b.st[i]
				if st.Mode&unix.S_IFMT != unix.S_IFREG {
					continue
				}
				now := Identity{Size: st.Size, Dev: uint64(st.Dev), Inode: uint64(st.Ino), //nolint:unconvert // narrower on some platforms
					ModTime: time.Unix(st.Mtim.Unix()).UTC()}
				if err := fn(b.ids[i], now); err != nil {
					return err
				}
			}
		}
		return nil
	}
	buf := make([]byte, 32<<10)
	var names []string
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			stop()
			return fmt.Errorf("workspace: list %s: %w", dir, err)
		}
		if n <= 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			stop()
			return err
		}
		b := &statBatch{done: make(chan struct{})}
		for rest := buf[:n]; len(rest) > 0; {
			var used int
			used, _, names = unix.ParseDirent(rest, -1, names[:0])
			rest = rest[used:]
			for _, name := range names {
				if id := idFromFileName(name); id != "" {
					b.names = append(b.names, name)
					b.ids = append(b.ids, id)
				}
			}
		}
		b.st = make([]unix.Stat_t, len(b.names))
		b.errs = make([]error, len(b.names))
		// Split so that every worker has a share of this buffer's names.
		per := max((len(b.names)+workers-1)/workers, 1)
		for lo := 0; lo < len(b.names); lo += per {
			hi := min(lo+per, len(b.names))
			part := &statBatch{names: b.names[lo:hi], ids: b.ids[lo:hi], st: b.st[lo:hi], errs: b.errs[lo:hi], done: make(chan struct{})}
			jobs <- part
			inflight = append(inflight, part)
		}
		if err := drain(2 * workers); err != nil {
			stop()
			return err
		}
	}
	err = drain(0)
	stop()
	return err
}
