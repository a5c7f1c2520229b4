//go:build !linux

package index

import (
	"fmt"
	"os"
	"syscall"
)

// statDir returns the identity of a directory (its modification time and
// inode).
func statDir(path string) (dirIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return dirIdentity{}, fmt.Errorf("index: stat %s: %w", path, err)
	}
	d := dirIdentity{Mtime: fi.ModTime().UnixNano(), Ctime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		d.Dev, d.Ino = uint64(st.Dev), uint64(st.Ino) //nolint:unconvert
	}
	return d, nil
}

// listDir gives no inode numbers here: the caller rescans every file.
func listDir(string) (map[string]uint64, []string, bool, error) { return nil, nil, false, nil }
