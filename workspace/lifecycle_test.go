package workspace

import (
	"context"
	"errors"
	"github.com/picosess/picosess/workspace/tokens"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

func TestOpen(t *testing.T) {
	root := filepath.Join(t.TempDir(), "ws")
	w, err := Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"sessions", "sessions/.trash", "locks"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
	if w.Durability() != DurabilityAlways || w.opts.LockTimeout != DefaultLockTimeout {
		t.Errorf("defaults: %v %v", w.Durability(), w.opts.LockTimeout)
	}

	blocked := t.TempDir()
	if err := os.WriteFile(filepath.Join(blocked, "sessions"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(blocked, nil); !errors.Is(err, ErrNotWorkspace) || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("file where sessions/ should be: %v", err)
	}
	if _, err := Open(t.TempDir(), &Options{Durability: "sometimes"}); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("bad durability accepted: %v", err)
	}
	if os.Geteuid() != 0 { // root can write anywhere
		ro := t.TempDir()
		os.Chmod(ro, 0o555)
		defer os.Chmod(ro, 0o755)
		if _, err := Open(filepath.Join(ro, "ws"), nil); !errors.Is(err, ErrNotWorkspace) {
			t.Errorf("read-only parent: %v", err)
		}
	}
}

func TestAppendFillsAndKeepsRecords(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Now: fixedClock()})
	s := namedSession(t, w, "fill")
	in := []Record{msg(RoleUser, "hello there"), {Type: TypeMessage, Role: RoleAssistant, Content: ""}}
	seqs := mustAppend(t, s, in...)
	if seqs[0] != 2 || seqs[1] != 3 {
		t.Fatalf("seqs %v", seqs)
	}
	if in[0].Seq != 0 || !in[0].At.IsZero() || in[0].Tokens != 0 {
		t.Fatal("Append modified the caller's records")
	}
	recs, _ := s.ReadAll(ctx)
	// The default counter is the config's (tiktoken o200k_base): frame 3,
	// "user" 1, "hello there" 2.
	c, err := tokens.NewTiktoken("")
	if err != nil {
		t.Fatal(err)
	}
	if recs[1].Tokens != TokenCounter(c)(recs[1]) || recs[1].Tokens != 6 || !recs[1].At.Equal(recs[2].At) {
		t.Fatalf("tokens or time not filled: %+v", recs[1])
	}
	raw, _ := readSessionBytes(s)
	if !strings.Contains(string(raw), `"role":"assistant","content":""`) {
		t.Fatalf("empty content missing from %s", raw)
	}
	for _, bad := range []Record{{Type: TypeMessage, Role: "robot"}, {Type: "bogus"}, {Type: TypeSession}} {
		if _, err := s.Append(ctx, bad); err == nil {
			t.Errorf("appended %+v", bad)
		}
	}
	if _, err := s.Append(ctx, Record{Type: TypeMessage, Role: RoleTool, ToolCalls: []byte(`{not json`)}); err == nil || !strings.Contains(err.Error(), "tool_calls") {
		t.Errorf("invalid tool_calls: %v", err)
	}
}

// A second Workspace (as another process would) appends between two of
// ours: the cached last seq is refreshed, seqs stay contiguous.
func TestAppendSeesOtherWriters(t *testing.T) {
	root := t.TempDir()
	w1, _ := Open(root, nil)
	w2, _ := Open(root, nil)
	s1, s2 := namedSession(t, w1, "two"), namedSession(t, w2, "two")
	var got []int64
	for i := 0; i < 5; i++ {
		got = append(got, mustAppend(t, s1, msg(RoleUser, "a"))...)
		got = append(got, mustAppend(t, s2, msg(RoleUser, "b"), msg(RoleAssistant, "c"))...)
	}
	for i, seq := range got {
		if seq != int64(i+2) {
			t.Fatalf("seqs %v", got)
		}
	}
}

func TestTitles(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "titled")
	long := "Please   help me\nplan a trip to Berlin in the spring, with a budget of five hundred euros"
	mustAppend(t, s, msg(RoleSystem, "system prompt"), msg(RoleUser, long))
	m, _ := s.Meta(ctx)
	want := "Please help me plan a trip to Berlin in the spring, with a b"
	if m.Title != want {
		t.Fatalf("default title %q, want %q", m.Title, want)
	}
	if _, err := s.SetTitle(ctx, "Berlin trip"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, msg(RoleUser, "another"))
	if m, _ = s.Meta(ctx); m.Title != "Berlin trip" {
		t.Fatalf("renamed title %q", m.Title)
	}
}

func TestCheckpoints(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "cps")
	mustAppend(t, s, msg(RoleUser, "1"))
	a, _ := s.SaveCheckpoint(ctx, "a", "first")
	mustAppend(t, s, msg(RoleUser, "2"))
	b, _ := s.SaveCheckpoint(ctx, "b", "")
	a2, _ := s.SaveCheckpoint(ctx, "a", "again") // supersedes a
	list, err := s.Checkpoints(ctx)
	if err != nil || len(list) != 2 || list[0].Seq != b.Seq || list[1].Seq != a2.Seq || list[1].Description != "again" {
		t.Fatalf("checkpoints %+v %v", list, err)
	}
	if _, err := s.DeleteCheckpoint(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreCheckpoint(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore of a deleted checkpoint: %v", err)
	}
	if _, err := s.RestoreCheckpoint(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(ctx, 0); len(h.Messages) != 2 {
		t.Fatalf("restored %q", contents(h.Messages))
	}
	if _, err := s.SaveCheckpoint(ctx, "42", ""); err == nil {
		t.Fatal("numeric checkpoint name accepted")
	}
	_ = a
}

func TestTrash(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "doomed")
	mustAppend(t, s, msg(RoleUser, "first life"))
	name, err := s.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Lookup(ctx, "doomed"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted session still found: %v", err)
	}
	if l, _ := w.List(ctx, ListOptions{}); len(l) != 0 {
		t.Fatalf("deleted session listed: %+v", l)
	}
	// The same session comes back to life and is deleted again: both
	// deletions are kept.
	s = namedSession(t, w, "doomed")
	mustAppend(t, s, msg(RoleUser, "second life"))
	if _, err := w.RestoreFromTrash(ctx, name); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over a live session: %v", err)
	}
	name2, err := s.Delete(ctx)
	if err != nil || name2 == name {
		t.Fatalf("second delete: %q %v", name2, err)
	}
	trash, _ := w.Trash(ctx)
	if len(trash) != 2 {
		t.Fatalf("trash %+v", trash)
	}
	r, err := w.RestoreFromTrash(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := r.History(ctx, 0); len(h.Messages) != 1 || h.Messages[0].Content != "first life" {
		t.Fatalf("restored %+v", h.Messages)
	}
	mustAppend(t, r, msg(RoleUser, "appended after restore"))
	gone, err := w.Purge(ctx, PurgeOptions{All: true})
	if err != nil || len(gone) != 1 || gone[0].Name != name2 {
		t.Fatalf("purge %+v %v", gone, err)
	}
	if trash, _ := w.Trash(ctx); len(trash) != 0 {
		t.Fatalf("trash after purge %+v", trash)
	}
	if _, err := r.Identity(); err != nil {
		t.Fatal("purge touched a live session")
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	w := openTest(t, &Options{Now: func() time.Time { return clock }})
	mk := func(agent, channel, chat string) *Session {
		sc := keying.Scope{Version: 1, AgentID: agent, Channel: channel, Account: "default", Dimensions: []string{"chat"}, Values: map[string]string{"chat": chat}}
		s, err := w.Session(ctx, Target{Scope: &sc})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := mk("main", "telegram", "direct:1")
	clock = clock.Add(time.Hour)
	b := mk("main", "discord", "direct:2")
	clock = clock.Add(time.Hour)
	c := mk("support", "telegram", "group:3")
	clock = clock.Add(time.Hour)
	mustAppend(t, a, msg(RoleUser, "newest now"))
	if _, err := b.Reset(ctx, ReasonDaily); err != nil {
		t.Fatal(err)
	}

	ids := func(ms []Meta) (out []string) {
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	all, err := w.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// a has the latest message; b's reset is no activity, so b dates
	// from its header, before c's.
	if got := ids(all); len(got) != 3 || got[0] != a.ID() || got[1] != c.ID() || got[2] != b.ID() {
		t.Fatalf("order %v", got)
	}
	if got := ids(mustList(t, w, ListOptions{Agent: "support"})); len(got) != 1 || got[0] != c.ID() {
		t.Fatalf("agent filter %v", got)
	}
	if got := ids(mustList(t, w, ListOptions{Channel: "Telegram"})); len(got) != 2 {
		t.Fatalf("channel filter %v", got)
	}
	if got := ids(mustList(t, w, ListOptions{Since: clock})); len(got) != 1 || got[0] != a.ID() {
		t.Fatalf("since filter %v", got)
	}
	for _, m := range all {
		switch m.ID {
		case a.ID():
			if m.Messages != 1 || m.Title != "newest now" || m.Agent != "main" || m.Channel != "telegram" || m.Segments != 1 {
				t.Errorf("meta of a: %+v", m)
			}
		case b.ID():
			if m.Segments != 2 || m.Messages != 0 {
				t.Errorf("meta of b: %+v", m)
			}
		}
	}

	// The cache follows appends by other processes, survives its own
	// deletion, and is not fooled by a corrupt cache file.
	w2, _ := Open(w.Root(), sameStore(w, nil))
	mustAppend(t, namedSessionByID(t, w2, a.ID()), msg(RoleUser, "from elsewhere"))
	if m := metaOf(t, w, a.ID()); m.Messages != 2 {
		t.Fatalf("after another writer: %+v", m)
	}
	cache := filepath.Join(w.Root(), CacheDir, "sessions.json")
	if err := os.WriteFile(cache, []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	w3, _ := Open(w.Root(), sameStore(w, nil))
	if m := metaOf(t, w3, a.ID()); m.Messages != 2 || m.Title != "newest now" {
		t.Fatalf("after a corrupt cache: %+v", m)
	}
	os.Remove(cache)
	w4, _ := Open(w.Root(), sameStore(w, nil))
	if m := metaOf(t, w4, a.ID()); m.Messages != 2 {
		t.Fatalf("after cache removal: %+v", m)
	}
}

func mustList(t *testing.T, w *Workspace, o ListOptions) []Meta {
	t.Helper()
	l, err := w.List(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func metaOf(t *testing.T, w *Workspace, id string) Meta {
	t.Helper()
	for _, m := range mustList(t, w, ListOptions{}) {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("%s not listed", id)
	return Meta{}
}

func namedSessionByID(t *testing.T, w *Workspace, id string) *Session {
	t.Helper()
	s, err := w.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPurgeSelections(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	var names []string
	for _, n := range []string{"p1", "p2", "p3"} {
		s := namedSession(t, w, n)
		name, err := s.Delete(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if got, err := w.Purge(ctx, PurgeOptions{}); err != nil || len(got) != 0 {
		t.Fatalf("zero options purged %v %v", got, err)
	}
	if got, err := w.Purge(ctx, PurgeOptions{Before: time.Now().Add(-time.Hour)}); err != nil || len(got) != 0 {
		t.Fatalf("old-only purge took %v %v", got, err)
	}
	got, err := w.Purge(ctx, PurgeOptions{Ref: names[1][:20]})
	if err != nil || len(got) != 1 || got[0].Name != names[1] {
		t.Fatalf("purge by prefix: %v %v", got, err)
	}
	if _, err := w.Purge(ctx, PurgeOptions{Ref: names[1]}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged twice: %v", err)
	}
	got, _ = w.Purge(ctx, PurgeOptions{Before: time.Now().Add(time.Hour)})
	if len(got) != 2 {
		t.Fatalf("purge before now+1h: %v", got)
	}
}
