//go:build !linux

package workspace

import (
	"fmt"
	"os"
	"syscall"
)

// StatDir returns the DirState of a directory (its modification time and
// inode).
func StatDir(path string) (DirState, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return DirState{}, fmt.Errorf("workspace: stat %s: %w", path, err)
	}
	d := DirState{Mtime: fi.ModTime().UnixNano(), Ctime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		d.Dev, d.Ino = uint64(st.Dev), uint64(st.Ino) //nolint:unconvert
	}
	return d, nil
}

// ListSessionDir gives no inode numbers here: the caller looks at every
// file.
func ListSessionDir(string) (map[string]uint64, []string, bool, error) {
	return nil, nil, false, nil
}
