package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/picosess/picosess/keying"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// mustBytes says the file at path still holds want, byte for byte.
func mustBytes(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s changed:\n got %q\nwant %q", path, got, want)
	}
}

// A session file that is a symbolic link is never followed: the append is
// refused with an error naming the path, the file it points at (which
// lacks a final newline, so a torn-tail cut would truncate it) keeps every
// byte, and nothing is set aside.
func TestAppendRefusesSymlinkedSessionFile(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	id := keying.NamedID("linked")
	outside := filepath.Join(t.TempDir(), "notes.txt")
	const victim = "line one\nline two, no newline"
	if err := os.WriteFile(outside, []byte(victim), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, w.SessionPath(id)); err != nil {
		t.Fatal(err)
	}
	before := dirNames(t, w.sessionsDir())
	// Through every way of getting a handle: by target (creates when
	// missing), by id.
	s, err := w.Session(ctx, Target{Name: "linked"})
	if err != nil {
		t.Fatal(err)
	}
	byID, err := w.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Session{s, byID} {
		_, err := h.Append(ctx, msg(RoleUser, "hello"))
		var nr *NotRegularError
		if !errors.Is(err, ErrNotRegular) || !errors.As(err, &nr) || nr.Kind != "a symbolic link" || nr.Target != outside {
			t.Fatalf("append through a symlink: %v", err)
		}
		if !strings.Contains(err.Error(), w.SessionPath(id)) || !strings.Contains(err.Error(), outside) {
			t.Fatalf("the error must name the path and the target: %v", err)
		}
	}
	mustBytes(t, outside, victim)
	if after := dirNames(t, w.sessionsDir()); !slices.Equal(before, after) {
		t.Fatalf("sessions/ changed: %v -> %v", before, after)
	}
	// Readers do not follow it either.
	if _, err := s.History(ctx, 0); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("History through a symlink: %v", err)
	}
	if _, err := s.Delete(ctx); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("delete of a symlinked session: %v", err)
	}
	if fi, err := os.Lstat(w.SessionPath(id)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link must stay where it is: %v", err)
	}
	if names := dirNames(t, w.trashDir()); len(names) != 0 {
		t.Fatalf("trash: %v", names)
	}
	// Repair of that one session refuses too; the workspace repair leaves
	// it for a person.
	if _, err := s.Repair(ctx, RepairOptions{}); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("repair of a symlinked session: %v", err)
	}
	rep, err := w.Repair(ctx, RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Remaining) != 1 || rep.Remaining[0].Problems[0].Kind != ProblemNotRegular {
		t.Fatalf("repair must leave the link as a remaining problem: %+v", rep.Remaining)
	}
	mustBytes(t, outside, victim)
}

// A dangling link is not followed to create a file elsewhere; a named
// pipe or a directory where the session file belongs is refused (and the
// append does not block on the pipe).
func TestAppendRefusesWhatIsNotARegularFile(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		make func(t *testing.T, path string) string // returns a path that must not appear
		kind string
	}{
		{"dangling symlink", func(t *testing.T, path string) string {
			target := filepath.Join(t.TempDir(), "created-elsewhere.jsonl")
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return target
		}, "a symbolic link"},
		{"named pipe", func(t *testing.T, path string) string {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
			return ""
		}, "a named pipe (FIFO)"},
		{"directory", func(t *testing.T, path string) string {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "a directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := openTest(t, nil)
			id := keying.NamedID("x")
			absent := tt.make(t, w.SessionPath(id))
			s := &Session{w: w, st: w.state(id), id: id, header: Record{Type: TypeSession, V: FormatVersion, ID: id, Name: "x"}}
			_, err := s.Append(ctx, msg(RoleUser, "hello"))
			var nr *NotRegularError
			if !errors.As(err, &nr) || nr.Kind != tt.kind || nr.Path != w.SessionPath(id) {
				t.Fatalf("append: %v", err)
			}
			if absent != "" {
				if _, err := os.Lstat(absent); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("the link was followed: %s exists (%v)", absent, err)
				}
			}
			if _, err := w.Session(ctx, Target{Name: "x"}); err != nil && !errors.Is(err, ErrNotRegular) {
				t.Fatalf("Session: %v", err)
			}
		})
	}
}

// A lock file that is a symbolic link is not followed: no file is created
// or written where it points, and the append is refused, writing nothing.
func TestLockRefusesSymlinkedLockFile(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "locked-link")
	mustAppend(t, s, msg(RoleUser, "before"))
	w.Close() // drop the kept lock descriptor
	w2, err := Open(w.Root(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	data, _ := os.ReadFile(s.Path())
	lock := w2.LockPath(s.ID())
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere.lock")
	if err := os.Symlink(target, lock); err != nil {
		t.Fatal(err)
	}
	s2, err := w2.OpenID(s.ID())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Append(ctx, msg(RoleUser, "after"))
	if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), lock) {
		t.Fatalf("append with a symlinked lock file: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the lock link was followed: %v", err)
	}
	mustBytes(t, s.Path(), string(data))

	// An existing target is not locked or written either.
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Append(ctx, msg(RoleUser, "after")); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("append with a symlinked lock file: %v", err)
	}
	mustBytes(t, target, "precious")

	// The index lock likewise.
	ix := filepath.Join(w2.locksDir(), IndexLockName+LockExt)
	_ = os.Remove(ix)
	ixTarget := filepath.Join(t.TempDir(), "index-elsewhere.lock")
	if err := os.Symlink(ixTarget, ix); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.LockIndex(ctx, 0); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("LockIndex through a link: %v", err)
	}
	if _, err := os.Lstat(ixTarget); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the index lock link was followed: %v", err)
	}
}

// Nothing but a regular file goes into or comes out of the trash, and a
// trash that is a link to elsewhere is not used.
func TestTrashMovesOnlyRegularFiles(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "t")
	mustAppend(t, s, msg(RoleUser, "hello"))
	// A symbolic link in the trash is not restored.
	other := keying.NamedID("other")
	outside := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(outside, []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(w.trashDir(), other+SessionExt)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RestoreFromTrash(ctx, other); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("restore of a link: %v", err)
	}
	if _, err := os.Lstat(w.SessionPath(other)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a link came back as a session: %v", err)
	}
	// A dangling link in the trash takes its name: the deleted file gets
	// the stamped name, and the link is left as it was.
	dangling := filepath.Join(w.trashDir(), s.ID()+SessionExt)
	if err := os.Symlink(filepath.Join(t.TempDir(), "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	name, err := s.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if name == s.ID()+SessionExt {
		t.Fatal("the deletion replaced a link in the trash")
	}
	if fi, err := os.Lstat(dangling); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link in the trash: %v", err)
	}
	// A trash directory that is a link elsewhere is not used.
	s2 := namedSession(t, w, "t2")
	mustAppend(t, s2, msg(RoleUser, "hello"))
	elsewhere := t.TempDir()
	trash := w.trashDir()
	if err := os.Rename(trash, trash+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, trash); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Delete(ctx); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("delete into a linked trash: %v", err)
	}
	if names := dirNames(t, elsewhere); len(names) != 0 {
		t.Fatalf("moved through the link: %v", names)
	}
}

// A file that does not start with its session header gets nothing
// appended: the error wraps ErrNoHeader and ErrCorrupt, names the file and
// what repair (or migrate) would do, and the file keeps every byte. An
// empty file, or the leftover of a crash while the header was written,
// gets its header as a new session does.
func TestAppendRefusesFileWithoutHeader(t *testing.T) {
	ctx := context.Background()
	const (
		msg2 = `{"type":"message","seq":2,"at":"2026-11-21T09:00:02Z","role":"user","content":"one","tokens":1}` + "\n"
		msg3 = `{"type":"message","seq":3,"at":"2026-11-21T09:00:03Z","role":"assistant","content":"two","tokens":1}` + "\n"
	)
	for _, tt := range []struct {
		name    string
		data    string
		refused bool
		say     []string // in the error
		seq     int64    // of the appended message when not refused
	}{
		{name: "foreign text", data: "hello\nworld\n", refused: true, say: []string{"no valid record", "picosess repair would set every line aside"}},
		{name: "foreign text without final newline", data: "hello world", refused: true, say: []string{"no valid record", ".torn-"}},
		{name: "PicoClaw JSONL", data: `{"role":"user","content":"hi"}` + "\n" + `{"role":"assistant","content":"hello"}` + "\n", refused: true,
			say: []string{"no valid record", "picosess migrate"}},
		{name: "header line cut short", data: `{"type":"session","seq":1,"at":"2026-11-21T09:` + "\n", refused: true, say: []string{"no valid record", "set every line aside"}},
		{name: "header line cut short, records after", data: `{"type":"session","seq":1,"at":"2026-11-21T09:` + "\n" + msg2 + msg3, refused: true,
			say: []string{`first record (line 2) is "message" with seq 2`, "set the 1 line(s) before it aside", "minimal header"}},
		{name: "header missing", data: msg2 + msg3, refused: true, say: []string{`first record (line 1) is "message" with seq 2`, "write a minimal header"}},
		{name: "a message as seq 1", data: `{"type":"message","seq":1,"at":"2026-11-21T09:00:02Z","role":"user","content":"one"}` + "\n", refused: true,
			say: []string{"repair cannot fix this"}},
		{name: "empty file", data: "", seq: 2},
		{name: "crash while writing the header", data: `{"type":"session","seq":1,"at":"2026-11`, seq: 2},
		{name: "NUL bytes only", data: strings.Repeat("\x00", 512), seq: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := openTest(t, nil)
			id := keying.NamedID("h")
			path := w.SessionPath(id)
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := w.Session(ctx, Target{Name: "h"})
			if err != nil {
				t.Fatal(err)
			}
			before := dirNames(t, w.sessionsDir())
			seqs, err := s.Append(ctx, msg(RoleUser, "appended"))
			if !tt.refused {
				if err != nil || seqs[0] != tt.seq {
					t.Fatalf("append: %v %v", seqs, err)
				}
				h, err := s.Header(ctx)
				if err != nil || h.Seq != 1 || h.ID != id {
					t.Fatalf("header after append: %+v %v", h, err)
				}
				return
			}
			var nh *NoHeaderError
			if !errors.Is(err, ErrNoHeader) || !errors.Is(err, ErrCorrupt) || !errors.As(err, &nh) {
				t.Fatalf("append: %v, want ErrNoHeader", err)
			}
			for _, want := range append([]string{path, "nothing was appended"}, tt.say...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			mustBytes(t, path, tt.data)
			if after := dirNames(t, w.sessionsDir()); !slices.Equal(before, after) {
				t.Fatalf("sessions/ changed: %v -> %v", before, after)
			}
			// Every other way of appending is refused the same way.
			if _, err := s.SetTitle(ctx, "x"); !errors.Is(err, ErrNoHeader) {
				t.Fatalf("SetTitle: %v", err)
			}
			if _, err := s.SaveCheckpoint(ctx, "cp", ""); !errors.Is(err, ErrNoHeader) {
				t.Fatalf("SaveCheckpoint: %v", err)
			}
			mustBytes(t, path, tt.data)
			// Check says the same about the file, and when repair can fix
			// it, the append works afterwards.
			rep, err := w.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Clean() {
				t.Fatalf("check finds nothing in %q", tt.data)
			}
			if nh.Repair == "" {
				return
			}
			if _, err := w.Repair(ctx, RepairOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, msg(RoleUser, "after repair")); err != nil {
				t.Fatalf("append after repair: %v", err)
			}
			if rep, err := w.Check(ctx); err != nil || !rep.Clean() {
				t.Fatalf("check after repair and append: %+v %v", rep, err)
			}
		})
	}
}

// Corrupt lines before a valid header do not stop appends (check reports
// them; repair sets them aside).
func TestAppendAfterCorruptLineBeforeHeader(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "c")
	data, _ := os.ReadFile(s.Path())
	if err := os.WriteFile(s.Path(), append([]byte("\x00\x00\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	if seqs, err := s.Append(ctx, msg(RoleUser, "x")); err != nil || seqs[0] != 2 {
		t.Fatalf("append: %v %v", seqs, err)
	}
}

// Check reports every entry of sessions/, sessions/.trash/ and locks/
// that is not a regular file or not named as picosess names its files, as
// an unrepairable error; repair leaves them all as they are.
func TestCheckReportsForeignEntries(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "good")
	mustAppend(t, s, msg(RoleUser, "hello"))
	// Our own files, which are no problem.
	torn := s.Path() + ".torn-20261121T083000.123456789Z"
	mustWrite(t, torn, "x")
	mustWrite(t, filepath.Join(w.locksDir(), IndexLockName+LockExt), "")
	mustWrite(t, filepath.Join(w.locksDir(), s.ID()+".summarize.lock"), "")
	mustWrite(t, filepath.Join(w.trashDir(), keying.NamedID("old")+".20261121T083000.123456789Z"+SessionExt), "")
	mustWrite(t, filepath.Join(w.sessionsDir(), ".probe-99999"), "")
	clean, err := w.Check(ctx)
	if err != nil || !clean.Clean() || clean.Checked != 1 || len(clean.Files) != 1 || len(clean.Other) != 1 || clean.Other[0].Kind != "torn" {
		t.Fatalf("clean workspace: %+v %v", clean, err)
	}

	outside := filepath.Join(t.TempDir(), "target.jsonl")
	mustWrite(t, outside, "no newline")
	linked := w.SessionPath(keying.NamedID("linked"))
	want := map[string]string{ // path -> problem kind
		linked:                                      ProblemNotRegular,
		w.SessionPath(keying.NamedID("dir")):        ProblemNotRegular,
		w.SessionPath(keying.NamedID("fifo")):       ProblemNotRegular,
		filepath.Join(w.sessionsDir(), "notes.txt"): ProblemForeignFile,
		filepath.Join(w.sessionsDir(), "agent_main_direct_alice.jsonl"): ProblemForeignFile,
		filepath.Join(w.sessionsDir(), "subdir"):                        ProblemNotRegular,
		s.Path() + ".corrupt-link":                                      ProblemNotRegular,
		w.LockPath(keying.NamedID("linked")):                            ProblemNotRegular,
		filepath.Join(w.locksDir(), "random.txt"):                       ProblemForeignFile,
		filepath.Join(w.trashDir(), keying.NamedID("t")+SessionExt):     ProblemNotRegular,
		filepath.Join(w.trashDir(), "junk"):                             ProblemForeignFile,
	}
	for path, kind := range want {
		switch {
		case strings.HasSuffix(path, "subdir") || strings.Contains(path, keying.NamedID("dir")):
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.Contains(path, keying.NamedID("fifo")):
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
		case kind == ProblemNotRegular:
			if err := os.Symlink(outside, path); err != nil {
				t.Fatal(err)
			}
		default:
			mustWrite(t, path, "foreign\n")
		}
	}
	rep, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked != 1 || rep.Files[0].ID != s.ID() {
		t.Fatalf("session files checked: %d %+v", rep.Checked, rep.Files[0])
	}
	got := map[string]string{}
	for _, f := range rep.Files[rep.Checked:] {
		if len(f.Problems) != 1 || f.Problems[0].Severity != SeverityError || f.Problems[0].Repairable {
			t.Fatalf("%s: %+v", f.Path, f.Problems)
		}
		got[f.Path] = f.Problems[0].Kind
	}
	for path, kind := range want {
		if got[path] != kind {
			t.Errorf("%s: reported %q, want %q", path, got[path], kind)
		}
	}
	if len(got) != len(want) {
		t.Errorf("reported %d entries, want %d: %v", len(got), len(want), got)
	}
	if r, u := rep.Errors(); r != 0 || u != len(want) || rep.Clean() {
		t.Fatalf("Errors() = %d, %d", r, u)
	}
	for _, f := range rep.Files {
		if f.Path == linked && (!strings.Contains(f.Problems[0].Hint, "a symbolic link to "+outside) || f.ID != keying.NamedID("linked")) {
			t.Errorf("the link's report must say where it points: %+v", f)
		}
	}
	rr, err := w.Repair(ctx, RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Remaining) != len(want) || len(rr.SetAside) != 0 {
		t.Fatalf("repair: %+v", rr)
	}
	mustBytes(t, outside, "no newline")
	if _, err := os.Lstat(linked); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
