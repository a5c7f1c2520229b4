package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	buf := make([]byte, 64<<10)
	var names []string
	var st unix.Stat_t
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("workspace: list %s: %w", dir, err)
		}
		if n <= 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for b := buf[:n]; len(b) > 0; {
			var used int
			used, _, names = unix.ParseDirent(b, -1, names[:0])
			b = b[used:]
			for _, name := range names {
				id := idFromFileName(name)
				if id == "" {
					continue
				}
				err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
				if err == unix.EINTR {
					err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
				}
				if err == unix.ENOENT {
					continue // deleted meanwhile
				}
				if err != nil {
					return fmt.Errorf("workspace: stat %s: %w", name, err)
				}
				if st.Mode&unix.S_IFMT != unix.S_IFREG {
					continue
				}
				now := Identity{Size: st.Size, Dev: uint64(st.Dev), Inode: uint64(st.Ino), //nolint:unconvert // narrower on some platforms
					ModTime: time.Unix(st.Mtim.Unix()).UTC()}
				if err := fn(id, now); err != nil {
					return err
				}
			}
		}
	}
}
