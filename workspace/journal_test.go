package workspace

import (
	"context"
	"os"
	"testing"
)

// Every append leaves a hint in cache/changes under the session's lock:
// its id and the file's new end. ReadChanges returns each session once,
// with its furthest end, and stops before an incomplete line.
func TestAppendWritesChangeHints(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever})
	a, b := namedSession(t, w, "a"), namedSession(t, w, "b")
	for _, s := range []*Session{a, b, a} {
		if _, err := s.Append(ctx, msg(RoleUser, "hello")); err != nil {
			t.Fatal(err)
		}
	}
	l, err := w.ReadChanges(0)
	if err != nil {
		t.Fatal(err)
	}
	size := func(s *Session) int64 {
		fi, err := os.Stat(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if l.Torn || len(l.Changes) != 2 || l.Changes[0] != (Change{a.ID(), size(a)}) || l.Changes[1] != (Change{b.ID(), size(b)}) {
		t.Fatalf("changes: %+v", l)
	}
	if l.End != l.File.Size {
		t.Fatalf("end %d, size %d", l.End, l.File.Size)
	}
	// Nothing new; then a torn line and a line being written.
	if l2, err := w.ReadChanges(l.End); err != nil || len(l2.Changes) != 0 || l2.End != l.End || l2.Torn {
		t.Fatalf("again: %+v %v", l2, err)
	}
	f, err := os.OpenFile(w.ChangesPath(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\x00\x00garbage\n" + b.ID() + " 12")
	f.Close()
	l3, err := w.ReadChanges(l.End)
	if err != nil || !l3.Torn || len(l3.Changes) != 0 || l3.End != l.End+int64(len("\x00\x00garbage\n")) {
		t.Fatalf("torn: %+v %v", l3, err)
	}
	// A journal emptied by the index owner: appends go on at its start.
	if _, err := w.ResetChanges(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, msg(RoleUser, "again")); err != nil {
		t.Fatal(err)
	}
	if l4, err := w.ReadChanges(0); err != nil || len(l4.Changes) != 1 || l4.Changes[0] != (Change{b.ID(), size(b)}) {
		t.Fatalf("after reset: %+v %v", l4, err)
	}
	if l5, err := w.ReadChanges(l.End); err != nil || !l5.Torn {
		t.Fatalf("a cursor past the end: %+v %v", l5, err)
	}
}

// BenchmarkAppendNeverWithHint is an append with durability never, its
// hint included (compare BenchmarkAppendNever).
func BenchmarkAppendNeverWithHint(b *testing.B) {
	ctx := context.Background()
	w := openTest(b, &Options{Durability: DurabilityNever})
	s := namedSession(b, w, "a")
	r := msg(RoleUser, "hello")
	for b.Loop() {
		if _, err := s.Append(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
}
