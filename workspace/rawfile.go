package workspace

import (
	"io"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// rawFile is the File of OSFS: a bare descriptor driven by system calls.
// os.File registers every descriptor with the runtime's poller, which
// costs a system call per open for nothing on regular files; an append
// opens the session file on every call and closes it before unlocking
// (docs/crash-safety.md, steps 2 and 6: a descriptor kept open would go
// on writing into a file an editor had replaced by rename), so this
// matters.
type rawFile struct {
	fd   int
	name string
	off  int64 // for Read
}

func openRaw(name string, flag int, perm fs.FileMode) (*rawFile, error) {
	fd, err := unix.Open(name, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &rawFile{fd: fd, name: name}, nil
}

func (f *rawFile) Read(b []byte) (int, error) {
	n, err := f.ReadAt(b, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *rawFile) ReadAt(b []byte, off int64) (int, error) {
	done := 0
	for done < len(b) {
		n, err := unix.Pread(f.fd, b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// Write is one write(2): a short count is returned as it is (writeFull
// continues it and so learns the errno, ENOSPC for a disk that filled up
// during the write).
func (f *rawFile) Write(b []byte) (int, error) {
	for {
		n, err := unix.Write(f.fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if n < 0 {
				n = 0
			}
			return n, &fs.PathError{Op: "write", Path: f.name, Err: err}
		}
		return n, nil
	}
}

func (f *rawFile) Close() error {
	if err := unix.Close(f.fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

func (f *rawFile) Sync() error {
	for {
		err := unix.Fsync(f.fd)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "fsync", Path: f.name, Err: err}
		}
		return nil
	}
}

func (f *rawFile) Truncate(size int64) error {
	if err := unix.Ftruncate(f.fd, size); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: err}
	}
	return nil
}

func (f *rawFile) Stat() (fs.FileInfo, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: err}
	}
	return &rawInfo{name: filepath.Base(f.name), st: st}, nil
}

// rawInfo is the fs.FileInfo of a rawFile.
type rawInfo struct {
	name string
	st   syscall.Stat_t
}

func (i *rawInfo) Name() string       { return i.name }
func (i *rawInfo) Size() int64        { return i.st.Size }
func (i *rawInfo) ModTime() time.Time { m, _ := statTimes(&i.st); return m }
func (i *rawInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *rawInfo) Sys() any           { return &i.st }
func (i *rawInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFREG:
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	default:
		m |= fs.ModeIrregular
	}
	return m
}
