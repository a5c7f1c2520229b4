package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/picosess/picosess/keying"
)

// Meta's ActiveMessages and Summary say what History folds, after every
// kind of record, whether the entry was brought up to date append by
// append or read from scratch.
func TestMetaActiveAgreesWithHistory(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{CountTokens: EstimateTokens})
	s := namedSession(t, w, "active")
	agree := func(step string) {
		t.Helper()
		h, err := s.History(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, fresh := range []bool{false, true} {
			if fresh {
				os.RemoveAll(filepath.Join(w.Root(), CacheDir))
				w2, err := Open(w.Root(), sameStore(w, nil))
				if err != nil {
					t.Fatal(err)
				}
				defer w2.Close()
				s, _ = w2.OpenID(s.ID())
			}
			m, err := s.Meta(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.ActiveMessages != len(h.Messages) || m.Summary != (h.Summary != nil) {
				t.Fatalf("%s (fresh %v): meta says %d active, summary %v; history has %d, summary %v",
					step, fresh, m.ActiveMessages, m.Summary, len(h.Messages), h.Summary != nil)
			}
			list, err := s.w.List(ctx, ListOptions{})
			if err != nil || len(list) != 1 || list[0].ActiveMessages != m.ActiveMessages {
				t.Fatalf("%s: list %+v, %v", step, list, err)
			}
		}
	}
	mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"), msg(RoleUser, "c"))
	agree("three messages")
	if _, err := s.KeepLast(ctx, 1); err != nil {
		t.Fatal(err)
	}
	agree("keep last 1")
	mustAppend(t, s, msg(RoleAssistant, "d"))
	agree("a message after a partial summary")
	cp, err := s.SaveCheckpoint(ctx, "two", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSummary(ctx, "all", "test"); err != nil {
		t.Fatal(err)
	}
	agree("a summary of everything")
	mustAppend(t, s, msg(RoleUser, "e"), msg(RoleAssistant, "f"), msg(RoleUser, "g"))
	agree("messages after it")
	if _, err := s.RestoreCheckpoint(ctx, cp.Name); err != nil {
		t.Fatal(err)
	}
	agree("a restore")
	mustAppend(t, s, msg(RoleUser, "h"))
	agree("a message after the restore")
	if _, err := s.Reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	agree("a reset")
	mustAppend(t, s, Record{Type: TypeSummary, Text: "carried", By: "carried from #9"}, msg(RoleUser, "i"))
	agree("a carried summary")
}

// Empty and headerless files are listed as damaged, not as sessions of
// the year 1.
func TestListNamesDamagedFiles(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	namedSession(t, w, "fine")
	empty := w.SessionPath(keying.NamedID("empty"))
	headless := w.SessionPath(keying.NamedID("headless"))
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(headless, []byte(`{"type":"message","seq":2,"at":"2026-11-21T09:00:02Z","role":"user","content":"x"}`+"\n"), 0o644)
	list, err := w.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range list {
		got[m.ID] = m.Damaged
	}
	want := map[string]string{keying.NamedID("fine"): "", keying.NamedID("empty"): "empty file", keying.NamedID("headless"): "no session header"}
	for id, d := range want {
		if g, ok := got[id]; !ok || g != d {
			t.Fatalf("%s: damaged %q (listed %v), want %q", id, g, ok, d)
		}
	}
}
