package index

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrUnwritable is matched by errors about an index directory this process
// cannot write (or read): permissions, a read-only filesystem, a full disk.
// The index is not damaged by it and is not deleted: rebuilding could not
// succeed either, and a removal stopped half-way by a permission error
// would leave less than it found.
var ErrUnwritable = errors.New("index: not writable")

// UnwritableError names the index directory, what was being done and the
// system's reason.
type UnwritableError struct {
	Dir string
	Op  string // "open", "create", "write a batch", ...
	Err error
}

func (e *UnwritableError) Error() string {
	return fmt.Sprintf("index: cannot %s %s: %v; the index is derived from the session files: make the directory writable by this user (or free space), or delete it, then search again or run picosess reindex",
		e.Op, e.Dir, e.Err)
}

func (e *UnwritableError) Unwrap() []error { return []error{ErrUnwritable, e.Err} }

// unwritable reports whether err comes from the filesystem refusing a read
// or write (not from damaged bytes): a permission, a read-only mount, no
// space or quota left.
func unwritable(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range refusals {
		// bleve formats some errors with %v, which loses the chain: the
		// errno's text is what is left of it.
		if errors.Is(err, e) || strings.Contains(err.Error(), e.Error()) {
			return true
		}
	}
	return false
}

// refusals are the errnos of a filesystem that refuses, not of damage.
var refusals = []error{syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT}

// asUnwritable wraps err in an *UnwritableError when the filesystem refused
// the operation, and returns it unchanged otherwise.
func (x *Index) asUnwritable(op string, err error) error {
	if err == nil || !unwritable(err) || errors.Is(err, ErrUnwritable) {
		return err
	}
	return &UnwritableError{Dir: x.dir, Op: op, Err: rootCause(err)}
}

// rootCause is the innermost error of a chain of single wraps (the errno
// of a *PathError), so that the message names the reason once.
func rootCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return err
}

// wOK is access(2)'s W_OK.
const wOK = 0x2

// checkWritable fails with an *UnwritableError when this process may not
// change the index directory (or, when it does not exist, its parent), or
// the store directory under it: the removal of a damaged index then stops
// before it starts, instead of half-way.
func (x *Index) checkWritable() error {
	for _, d := range []string{filepath.Dir(x.dir), x.dir, filepath.Join(x.dir, "store")} {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() {
			continue
		}
		if err := syscall.Access(d, wOK); err != nil {
			return &UnwritableError{Dir: x.dir, Op: "rebuild", Err: &fs.PathError{Op: "access", Path: d, Err: err}}
		}
	}
	return nil
}
