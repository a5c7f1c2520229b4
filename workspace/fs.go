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

// writeFull writes all of b to f, continuing after a short count the way
// os.File.Write does. A short count without an error is how write(2)
// reports a disk that filled up during the write: the errno (ENOSPC,
// EDQUOT, EFBIG) comes only from the next write, so stopping at the short
// count would hide it ("short write: 1365 of 2011 bytes" instead of "no
// space left on device"). The continuation is not a second append: it is
// the rest of the same bytes, under the same lock, and a crash between
// the two leaves a torn tail as a crash during one write does. A write
// that stores nothing and reports nothing is io.ErrShortWrite.
func writeFull(f File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Write(b[n:])
		if m < 0 || m > len(b)-n {
			m = 0
		}
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}
