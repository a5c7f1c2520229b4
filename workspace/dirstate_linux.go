package workspace

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/picosess/picosess/keying"
	"golang.org/x/sys/unix"
)

// StatDir returns the DirState of a directory.
func StatDir(path string) (DirState, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return DirState{}, fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	return DirState{Dev: st.Dev, Ino: st.Ino, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, nil
}

// ListSessionDir reads the names and inode numbers of a sessions directory
// (getdents: no stat per file). It returns the session files (id → inode;
// a symbolic link or other non-regular entry is left out, as SessionFiles
// does) and the ids named by set-aside evidence (<id>.jsonl.torn-*,
// .corrupt-*, .orig-*, .repair), whose session file a repair may have
// changed in place. ok is false where the platform gives no inode numbers:
// the caller must then look at every file.
func ListSessionDir(path string) (files map[string]uint64, evidence []string, ok bool, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, false, fmt.Errorf("workspace: list %s: %w", path, err)
	}
	defer unix.Close(fd)
	files = map[string]uint64{}
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, nil, false, fmt.Errorf("workspace: list %s: %w", path, err)
		}
		if n <= 0 {
			return files, evidence, true, nil
		}
		for b := buf[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino, off, reclen, type, name.
			ino := binary.NativeEndian.Uint64(b)
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			typ := b[18]
			if reclen < 19 || reclen > len(b) {
				return nil, nil, false, fmt.Errorf("workspace: list %s: bad directory entry", path)
			}
			name := b[19:reclen]
			if i := strings.IndexByte(string(name), 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			id, rest, found := strings.Cut(string(name), SessionExt)
			if !found || !keying.IsID(id) {
				continue
			}
			switch {
			case rest == "":
				if typ == unix.DT_REG || typ == unix.DT_UNKNOWN {
					files[id] = ino
				}
			case strings.HasPrefix(rest, ".torn-"), strings.HasPrefix(rest, ".corrupt-"),
				strings.HasPrefix(rest, ".orig-"), rest == ".repair":
				evidence = append(evidence, id)
			}
		}
	}
}
