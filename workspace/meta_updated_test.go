package workspace

import (
	"context"
	"os"
	"testing"
	"time"
)

// Updated is the last activity: a new message moves a session up a
// listing; a rename, a reset or a checkpoint does not, in this process and
// in the next (which reads the cache file).
func TestUpdatedIsTheLastMessage(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	old, recent := namedSession(t, w, "old"), namedSession(t, w, "recent")
	day := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	first := Record{Type: TypeMessage, Role: RoleUser, Content: "yesterday's question", At: day}
	mustAppend(t, old, first)
	mustAppend(t, recent, Record{Type: TypeMessage, Role: RoleUser, Content: "an hour ago", At: time.Now().Add(-time.Hour)})
	if _, err := old.SetTitle(ctx, "Renamed today"); err != nil {
		t.Fatal(err)
	}
	if _, err := old.SaveCheckpoint(ctx, "cp", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Reset(ctx, "manual"); err != nil {
		t.Fatal(err)
	}
	renamed := true
	order := func(w *Workspace) []string {
		list, err := w.List(ctx, ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range list {
			names = append(names, m.Name)
			if renamed && m.Name == "old" && (!m.Updated.Equal(day) || m.Title != "Renamed today") {
				b, _ := os.ReadFile(old.Path())
				t.Errorf("old: updated %v title %q, want %v\n%s", m.Updated, m.Title, day, b)
			}
		}
		return names
	}
	if got := order(w); len(got) != 2 || got[0] != "recent" {
		t.Fatalf("listing after a rename: %v, want recent first", got)
	}
	w2, err := Open(w.Root(), sameStore(w, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if got := order(w2); len(got) != 2 || got[0] != "recent" {
		t.Fatalf("listing from the cache: %v", got)
	}
	renamed = false
	mustAppend(t, old, msg(RoleUser, "now"))
	if got := order(w); got[0] != "old" {
		t.Fatalf("a new message must move old first: %v", got)
	}
	// A session with no message yet dates from its header.
	empty := namedSession(t, w, "empty")
	if _, err := empty.SetTitle(ctx, "just a title"); err != nil {
		t.Fatal(err)
	}
	if m, err := empty.Meta(ctx); err != nil || m.Updated.IsZero() || !m.Updated.Equal(m.Created) {
		t.Fatalf("empty session: %+v %v", m, err)
	}
}
