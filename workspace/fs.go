package workspace

import (
	"io"
	"io/fs"
	"os"
)

// FS is the filesystem seam: every byte the package reads or writes under
// sessions/ goes through it, so tests can inject a short write, a failed
// fsync or a full disk without real crashes. Lock files are the exception:
// flock needs a real file. OSFS is the real implementation.
//
// Files picosess writes are opened with unix.O_NOFOLLOW (and O_NONBLOCK,
// so that a named pipe in the way cannot block the open); an FS must pass
// these flags on. Where an FS also has an Lstat method (OSFS does), it is
// used to say what is in the way; otherwise os.Lstat is.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	MkdirAll(name string, perm fs.FileMode) error
	Rename(oldpath, newpath string) error
	Remove(name string) error
}

// File is an open file of an FS.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	Stat() (fs.FileInfo, error)
	// Sync commits the file's bytes to stable storage (fsync).
	Sync() error
	Truncate(size int64) error
}

// OSFS is the FS of the operating system.
type OSFS struct{}

// OpenFile opens a file with open(2); the File it returns makes plain
// system calls (see rawFile).
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := openRaw(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Stat calls os.Stat.
func (OSFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Lstat calls os.Lstat.
func (OSFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }

// ReadDir calls os.ReadDir.
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll calls os.MkdirAll.
func (OSFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }

// Rename calls os.Rename.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove calls os.Remove.
func (OSFS) Remove(name string) error { return os.Remove(name) }
