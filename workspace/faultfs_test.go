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
	shortNext bool  // next write stores half its bytes and fails
	writeErr  error // next write stores half its bytes and returns this
	syncErr   error // next fsync of a session file fails
	readBytes int64 // bytes read through ReadAt
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, SessionExt) {
		return file, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	File
	fs *faultFS
}

func (f *faultFile) Write(b []byte) (int, error) {
	f.fs.mu.Lock()
	short, werr := f.fs.shortNext, f.fs.writeErr
	f.fs.shortNext, f.fs.writeErr = false, nil
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
		{"short write", func(f *faultFS) { f.shortNext = true }, "short write", nil},
		{"disk full", func(f *faultFS) { f.writeErr = syscall.ENOSPC }, "no space left", syscall.ENOSPC},
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
			if seqs := mustAppend(t, s, msg(RoleUser, "after")); seqs[0] != 3 {
				t.Fatalf("next append got seq %d, want 3", seqs[0])
			}
			if rep, _ := s.Check(context.Background()); len(rep.Problems) != 0 {
				t.Fatalf("problems: %v", rep.Problems)
			}
		})
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
