package workspace

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
)

func seqsOfRecords(rs []Record) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

func TestAppendAfterSeesOnlyWhatCameSince(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever})
	s := namedSession(t, w, "after")
	mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"), msg(RoleUser, "c"))

	h, m, err := s.HistoryMark(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != h.LastSeq || m.Seq != 4 || len(h.Messages) != 3 {
		t.Fatalf("mark %+v, history last seq %d, %d messages", m, h.LastSeq, len(h.Messages))
	}
	// Others write after the read: a message and a title.
	mustAppend(t, s, msg(RoleAssistant, "d"))
	mustAppend(t, s, Record{Type: TypeTitle, Text: "letters"})

	since, now, err := s.Since(ctx, m)
	if err != nil || !slicesEqual(seqsOfRecords(since), []int64{5, 6}) || now.Seq != 6 {
		t.Fatalf("Since: %v, mark %+v, %v", seqsOfRecords(since), now, err)
	}
	if again, _, err := s.Since(ctx, now); err != nil || len(again) != 0 {
		t.Fatalf("Since its own mark: %d records, %v", len(again), err)
	}

	var got []Record
	seqs, err := s.AppendAfter(ctx, m, func(since []Record) error {
		got = since
		return nil
	}, Record{Type: TypeSummary, Through: 3, Text: "a and b"})
	if err != nil || !slicesEqual(seqs, []int64{7}) {
		t.Fatalf("AppendAfter: %v %v", seqs, err)
	}
	if len(got) != 2 || got[0].Content != "d" || got[1].Type != TypeTitle {
		t.Fatalf("check saw %+v", got)
	}
	h, _ = s.History(ctx, 0)
	if h.Summary == nil || h.Summary.Seq != 7 || !slicesEqual(contents(h.Messages), []string{"c", "d"}) {
		t.Fatalf("history after: summary %+v, messages %q", h.Summary, contents(h.Messages))
	}
	if h.Summary.Tokens == 0 {
		t.Fatal("the summary's tokens were not counted")
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAppendAfterRefusedWritesNothing(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever})
	s := namedSession(t, w, "refused")
	mustAppend(t, s, msg(RoleUser, "a"))
	_, m, err := s.HistoryMark(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path())
	no := errors.New("no")
	if _, err := s.AppendAfter(ctx, m, func([]Record) error { return no }, msg(RoleAssistant, "b")); err != no {
		t.Fatalf("got %v", err)
	}
	if after, _ := os.ReadFile(s.Path()); string(after) != string(before) {
		t.Fatal("a refused AppendAfter wrote")
	}
	// Records are checked as Append checks them, references by type.
	for _, r := range []Record{
		{Type: "bogus"},
		{Type: TypeMessage, Role: RoleUser, Content: "numbered", Seq: 9},
		{Type: TypeSummary, Through: 1, Text: "through the header"},
		{Type: TypeSummary, Through: 50, Text: "through nothing"},
	} {
		if _, err := s.AppendAfter(ctx, m, func([]Record) error { return nil }, r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%+v: got %v, want ErrInvalidRecord", r, err)
		}
	}
	if after, _ := os.ReadFile(s.Path()); string(after) != string(before) {
		t.Fatal("a refused AppendAfter wrote")
	}
}

// TestAppendAfterDiverged: a file that no longer continues from the mark
// is refused whatever check says, and nothing is written.
func TestAppendAfterDiverged(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s *Session, end int64)
	}{
		{"replaced by a copy", func(t *testing.T, s *Session, end int64) {
			b, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			tmp := s.Path() + ".tmp"
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, s.Path()); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut short", func(t *testing.T, s *Session, end int64) {
			if err := os.Truncate(s.Path(), end-10); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut and written again", func(t *testing.T, s *Session, end int64) {
			b, _ := os.ReadFile(s.Path())
			last := strings.LastIndexByte(string(b[:end-1]), '\n') + 1
			if err := os.Truncate(s.Path(), int64(last)); err != nil {
				t.Fatal(err)
			}
			mustAppend(t, s, msg(RoleUser, "something else entirely, and longer than what was cut"))
		}},
		{"cut and written again, same seqs", func(t *testing.T, s *Session, end int64) {
			b, _ := os.ReadFile(s.Path())
			last := strings.LastIndexByte(string(b[:end-1]), '\n') + 1
			if err := os.Truncate(s.Path(), int64(last)); err != nil {
				t.Fatal(err)
			}
			mustAppend(t, s, msg(RoleUser, "C"), msg(RoleUser, "more"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := openTest(t, &Options{Durability: DurabilityNever})
			s := namedSession(t, w, "diverged")
			mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"), msg(RoleUser, "c"))
			_, m, err := s.HistoryMark(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, s, m.End)
			before, _ := os.ReadFile(s.Path())
			if _, _, err := s.Since(ctx, m); !errors.Is(err, ErrDiverged) {
				t.Fatalf("Since: %v", err)
			}
			called := false
			_, err = s.AppendAfter(ctx, m, func([]Record) error { called = true; return nil }, msg(RoleAssistant, "x"))
			if !errors.Is(err, ErrDiverged) || called {
				t.Fatalf("AppendAfter: %v (check called: %v)", err, called)
			}
			// (An append may set a torn tail aside; it adds nothing.)
			if after, _ := os.ReadFile(s.Path()); !strings.HasPrefix(string(before), string(after)) {
				t.Fatal("AppendAfter wrote into a diverged file")
			}
		})
	}
}

// TestMarkLeavesATornTailOut: a torn tail at the time of the read is not
// part of the mark; the next append sets it aside and the file still
// continues from the mark.
func TestMarkLeavesATornTailOut(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever})
	s := namedSession(t, w, "torn")
	mustAppend(t, s, msg(RoleUser, "a"))
	f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"message","seq":3,"role":"assi`)
	f.Close()
	_, m, err := s.HistoryMark(ctx, 0)
	if err != nil || m.Seq != 2 {
		t.Fatalf("mark %+v %v", m, err)
	}
	mustAppend(t, s, msg(RoleAssistant, "b")) // sets the torn tail aside
	var got []Record
	if _, err := s.AppendAfter(ctx, m, func(since []Record) error { got = since; return nil }, msg(RoleUser, "c")); err != nil {
		t.Fatal(err)
	}
	if !slicesEqual(contents(got), []string{"b"}) {
		t.Fatalf("since %q", contents(got))
	}
}

// readCountFS counts the bytes read from session files, apart for files
// opened for appending (the append path, under the session's lock).
type readCountFS struct {
	OSFS
	mu             sync.Mutex
	locked, others int64
}

type readCountFile struct {
	File
	fs     *readCountFS
	append bool
}

func (c *readCountFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, SessionExt) {
		return f, err
	}
	return &readCountFile{File: f, fs: c, append: flag&os.O_APPEND != 0}, nil
}

func (f *readCountFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.count(n)
	return n, err
}

func (f *readCountFile) Read(b []byte) (int, error) {
	n, err := f.File.Read(b)
	f.count(n)
	return n, err
}

func (f *readCountFile) count(n int) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.append {
		f.fs.locked += int64(n)
	} else {
		f.fs.others += int64(n)
	}
}

func (c *readCountFS) take() (locked, others int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	locked, others, c.locked, c.others = c.locked, c.others, 0, 0
	return locked, others
}

// TestAppendAfterReadsLittleUnderTheLock: on a session of 3.5 MB with no
// summary, AppendIf folds the whole active history under the lock;
// AppendAfter reads only around the mark and what came after it.
func TestAppendAfterReadsLittleUnderTheLock(t *testing.T) {
	ctx := context.Background()
	cfs := &readCountFS{}
	w := openTest(t, &Options{Durability: DurabilityNever, FS: cfs})
	s := writeSessionFile(t, w, "big", 20000)
	mustAppend(t, s, msg(RoleUser, "learn the file"))
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := s.HistoryMark(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, msg(RoleAssistant, "meanwhile"))
	cfs.take()
	if _, err := s.AppendAfter(ctx, m, func([]Record) error { return nil }, Record{Type: TypeSummary, Through: 10000, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	// What it reads: the line before the mark, the records after it, and
	// the bisection that finds the message the summary's through names.
	locked, _ := cfs.take()
	if locked > 256<<10 {
		t.Errorf("AppendAfter read %d bytes under the lock of a %d-byte session", locked, fi.Size())
	}
	if _, err := s.AppendIf(ctx, func(History) error { return nil }, msg(RoleUser, "y")); err != nil {
		t.Fatal(err)
	}
	if locked, _ := cfs.take(); locked < fi.Size()/4 {
		t.Errorf("AppendIf read only %d bytes under the lock; the comparison is void", locked)
	}
}

// TestAppendAfterEncrypted: HistoryMark and Since open sealed records as
// History does, and AppendAfter seals what it writes.
func TestAppendAfterEncrypted(t *testing.T) {
	ctx := context.Background()
	w := openEncrypted(t, t.TempDir(), testKey(t, 7))
	s := namedSession(t, w, "sealed")
	mustAppend(t, s, msg(RoleUser, secretText), msg(RoleAssistant, "see a doctor"))
	h, m, err := s.HistoryMark(ctx, 0)
	if err != nil || !slicesEqual(contents(h.Messages), []string{secretText, "see a doctor"}) {
		t.Fatalf("HistoryMark: %q %v", contents(h.Messages), err)
	}
	mustAppend(t, s, msg(RoleUser, "and the iron tablets?"))
	since, _, err := s.Since(ctx, m)
	if err != nil || !slicesEqual(contents(since), []string{"and the iron tablets?"}) {
		t.Fatalf("Since: %q %v", contents(since), err)
	}
	if _, err := s.AppendAfter(ctx, m, func([]Record) error { return nil },
		Record{Type: TypeSummary, Through: h.Messages[1].Seq, Text: "ferritin low, doctor advised"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(s.Path())
	if strings.Contains(string(raw), "ferritin") || strings.Contains(string(raw), "iron") {
		t.Fatal("plaintext in the file")
	}
	if h, _ := s.History(ctx, 0); h.Summary == nil || h.Summary.Text != "ferritin low, doctor advised" {
		t.Fatalf("summary %+v", h.Summary)
	}
}
