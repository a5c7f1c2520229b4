package workspace

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// faultFS wraps OSFS and makes writes and fsyncs of session files fail on
// demand, the way a full disk or a dying device would.
type faultFS struct {
	OSFS
	mu        sync.Mutex
	shortNext bool  // next write stores half its bytes and returns no error
	writeErr  error // next write stores half its bytes and returns this
	syncErr   error // next fsync of a session file fails
	readBytes int64 // bytes read through ReadAt
	// full makes the disk fill up after spaceLeft more bytes, as write(2)
	// reports it: a write that does not fit stores what fits and returns
	// the short count without an error; the next one fails with ENOSPC.
	full      bool
	spaceLeft int64
	// readOnly refuses every change, as a read-only mount does (EROFS).
	readOnly bool
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if f.isReadOnly() && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EROFS}
	}
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || f.full && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		if err != nil {
			return file, err
		}
		return &faultFile{File: file, fs: f}, nil
	}
	if !strings.HasSuffix(name, SessionExt) {
		return file, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) isReadOnly() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readOnly
}

func (f *faultFS) MkdirAll(name string, perm fs.FileMode) error {
	if f.isReadOnly() {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EROFS}
	}
	return f.OSFS.MkdirAll(name, perm)
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if f.isReadOnly() {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EROFS}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

func (f *faultFS) Remove(name string) error {
	if f.isReadOnly() {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EROFS}
	}
	return f.OSFS.Remove(name)
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) Write(b []byte) (int, error) {
	f.fs.mu.Lock()
	short, werr := f.fs.shortNext, f.fs.writeErr
	f.fs.shortNext, f.fs.writeErr = false, nil
	if f.fs.full {
		n := min(int64(len(b)), f.fs.spaceLeft)
		f.fs.spaceLeft -= n
		f.fs.mu.Unlock()
		if n == 0 && len(b) > 0 {
			return 0, &fs.PathError{Op: "write", Path: "faultfs", Err: syscall.ENOSPC}
		}
		return f.File.Write(b[:n])
	}
	f.fs.mu.Unlock()
	if short || werr != nil {
		n, _ := f.File.Write(b[:len(b)/2])
		if werr == nil {
			return n, nil // a short write without error: the caller must notice
		}
		return n, werr
	}
	return f.File.Write(b)
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.syncErr
	f.fs.syncErr = nil
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.fs.mu.Lock()
	f.fs.readBytes += int64(n)
	f.fs.mu.Unlock()
	return n, err
}

// Each injected failure makes the append fail with an error that says
// what happened, leaves the file exactly as it was (no partial record),
// and the next append works and takes the next seq.
func TestAppendFailuresLeaveTheFileValid(t *testing.T) {
	cases := []struct {
		name   string
		inject func(*faultFS)
		want   string
		is     error
	}{
		// As write(2) reports a disk that fills up during the write: a short
		// count, then ENOSPC. The error must name ENOSPC, not the count.
		{"disk fills during the write", func(f *faultFS) { f.full, f.spaceLeft = true, 700 }, "no space left on device", syscall.ENOSPC},
		{"disk full", func(f *faultFS) { f.writeErr = syscall.ENOSPC }, "no space left", syscall.ENOSPC},
		{"disk full before the write", func(f *faultFS) { f.full, f.spaceLeft = true, 0 }, "no space left on device", syscall.ENOSPC},
		{"fsync fails", func(f *faultFS) { f.syncErr = syscall.EIO }, "fsync", syscall.EIO},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ffs := &faultFS{}
			w := openTest(t, &Options{FS: ffs})
			s := namedSession(t, w, "faulty")
			mustAppend(t, s, msg(RoleUser, "before"))
			before, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			tc.inject(ffs)
			_, err = s.Append(context.Background(), msg(RoleUser, "lost "+strings.Repeat("y", 1000)), msg(RoleAssistant, "also lost"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), s.Path()) {
				t.Fatalf("got error %v, want one naming the file and %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v does not wrap %v", err, tc.is)
			}
			after, _ := os.ReadFile(s.Path())
			if string(after) != string(before) {
				t.Fatalf("file changed by a failed append:\n%s", after)
			}
			ffs.mu.Lock()
			ffs.full = false // space freed
			ffs.mu.Unlock()
			if seqs := mustAppend(t, s, msg(RoleUser, "after")); seqs[0] != 3 {
				t.Fatalf("next append got seq %d, want 3", seqs[0])
			}
			if rep, _ := s.Check(context.Background()); len(rep.Problems) != 0 {
				t.Fatalf("problems: %v", rep.Problems)
			}
		})
	}
}

// A write that stores part of its bytes and reports no error (a signal,
// or an FS that does so) is continued: the append succeeds, whole.
func TestShortWriteIsContinued(t *testing.T) {
	ffs := &faultFS{}
	w := openTest(t, &Options{FS: ffs})
	s := namedSession(t, w, "short")
	mustAppend(t, s, msg(RoleUser, "before"))
	ffs.shortNext = true
	seqs := mustAppend(t, s, msg(RoleUser, "long "+strings.Repeat("y", 1000)), msg(RoleAssistant, "reply"))
	if seqs[0] != 3 || seqs[1] != 4 {
		t.Fatalf("seqs %v", seqs)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil || len(recs) != 4 || recs[3].Content != "reply" {
		t.Fatalf("records %v, %v", recs, err)
	}
	if rep, _ := s.Check(context.Background()); len(rep.Problems) != 0 {
		t.Fatalf("problems: %v", rep.Problems)
	}
}

// A torn tail set aside on a disk that fills up while the evidence is
// copied: the append fails naming ENOSPC, and the session file keeps its
// torn tail (nothing cut without a whole copy).
func TestSetAsideOnFullDiskKeepsTheTail(t *testing.T) {
	ffs := &faultFS{}
	w := openTest(t, &Options{FS: ffs})
	s := namedSession(t, w, "fullaside")
	mustAppend(t, s, msg(RoleUser, "before"))
	f, err := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	tail := `{"type":"message","seq":3,"at":"2026-11-21T09:00:09Z","role":"user","content":"` + strings.Repeat("t", 300)
	f.WriteString(tail)
	f.Close()
	before, _ := os.ReadFile(s.Path())
	ffs.mu.Lock()
	ffs.full, ffs.spaceLeft = true, 100
	ffs.mu.Unlock()
	_, err = s.Append(context.Background(), msg(RoleUser, "x"))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("got %v, want ENOSPC named", err)
	}
	if after, _ := os.ReadFile(s.Path()); string(after) != string(before) {
		t.Fatalf("the session file changed:\n%s", after)
	}
}

// A read-only workspace: reading works, and a write says read-only,
// naming the path.
func TestReadOnlyWorkspaceSaysReadOnly(t *testing.T) {
	ffs := &faultFS{}
	dir := t.TempDir()
	w, err := Open(dir, &Options{FS: ffs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := namedSession(t, w, "ro")
	mustAppend(t, s, msg(RoleUser, "hello"))
	ffs.mu.Lock()
	ffs.readOnly = true
	ffs.mu.Unlock()
	if h, err := s.History(context.Background(), 0); err != nil || len(h.Messages) != 1 {
		t.Fatalf("history on a read-only disk: %v, %v", h, err)
	}
	if _, err := w.List(context.Background(), ListOptions{}); err != nil {
		t.Fatalf("list on a read-only disk: %v", err)
	}
	if rep, err := w.Check(context.Background()); err != nil || !rep.Clean() {
		t.Fatalf("check on a read-only disk: %v, %v", rep, err)
	}
	_, err = s.Append(context.Background(), msg(RoleUser, "more"))
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "read-only file system") || !strings.Contains(err.Error(), s.Path()) {
		t.Fatalf("append on a read-only disk: %v", err)
	}
	// A new session: nothing can be created.
	_, err = w.Session(context.Background(), Target{Name: "new"})
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("new session on a read-only disk: %v", err)
	}
}

// In batch mode a failed fsync fails the appends it covered.
func TestBatchFsyncFailureIsReported(t *testing.T) {
	ffs := &faultFS{}
	w := openTest(t, &Options{FS: ffs, Durability: DurabilityBatch})
	s := namedSession(t, w, "batchfail")
	ffs.syncErr = syscall.EIO
	if _, err := s.Append(context.Background(), msg(RoleUser, "x")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("got %v, want EIO", err)
	}
	if _, err := s.Append(context.Background(), msg(RoleUser, "y")); err != nil {
		t.Fatalf("append after a failed fsync: %v", err)
	}
}

// denyFS refuses to create files, as a directory without write permission
// does (tests run as root, so chmod cannot show it).
type denyFS struct{ OSFS }

func (denyFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	return OSFS{}.OpenFile(name, flag, perm)
}

// A workspace that cannot be written opens (reading works), and the first
// write says what stops it and where, writing nothing.
func TestOpenWithoutPermission(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, &Options{FS: denyFS{}})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := w.List(context.Background(), ListOptions{}); err != nil {
		t.Fatalf("list: %v", err)
	}
	_, err = w.Session(context.Background(), Target{Name: "x"})
	if !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("first write: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, SessionsDir)); len(entries) != 1 { // .trash only
		t.Fatalf("sessions/ holds %v", entries)
	}
}
