package index

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// The index follows titles, resets, deletions, restores from the trash
// and files replaced by a repair, reading each file from its watermark.
func TestCatchUpFollowsLifecycle(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "1")
	other := chatSession(t, ws, "main", "2")
	old := say(t, s, workspace.RoleUser, "alice", "the red bicycle is for sale")
	say(t, other, workspace.RoleUser, "bob", "my red car")
	x := openIndex(t, ws, nil)

	res := mustSearch(t, x, Query{Text: "bicycle"})
	if len(res.Hits) != 1 || res.Hits[0].Title != "the red bicycle is for sale" {
		t.Fatalf("first: %+v", res.Hits)
	}
	// Only what is new is read: the second catch-up reads one session.
	if _, err := s.SetTitle(ctx, "Bike sale"); err != nil {
		t.Fatal(err)
	}
	st, err := x.CatchUp(ctx, nil)
	if err != nil || st.Sessions != 1 || st.Reindexed != 0 || st.Records != 1 {
		t.Fatalf("catch-up after title: %+v %v", st, err)
	}
	if res = mustSearch(t, x, Query{Text: "bicycle"}); len(res.Hits) != 1 || res.Hits[0].Title != "Bike sale" {
		t.Fatalf("title: %+v", res.Hits)
	}

	// A reset: the old message is in every segment, not the active one.
	if _, err := s.Reset(ctx, workspace.ReasonManual); err != nil {
		t.Fatal(err)
	}
	cur := say(t, s, workspace.RoleUser, "alice", "a red kite now")
	res = mustSearch(t, x, Query{Text: "red", Filter: Filter{ActiveOnly: true}})
	got := ids(res)
	if slices.Contains(got, docID(s.ID(), old)) || !slices.Contains(got, docID(s.ID(), cur)) || len(got) != 2 {
		t.Fatalf("active only: %v", got)
	}
	if res = mustSearch(t, x, Query{Text: "red"}); len(res.Hits) != 3 {
		t.Fatalf("all segments: %v", ids(res))
	}

	// Deleted: its documents go. Restored: they come back.
	if _, err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if res = mustSearch(t, x, Query{Text: "red"}); len(res.Hits) != 1 || res.Hits[0].Session != other.ID() {
		t.Fatalf("after delete: %v", ids(res))
	}
	if _, err := ws.RestoreFromTrash(ctx, s.ID()); err != nil {
		t.Fatal(err)
	}
	if res = mustSearch(t, x, Query{Text: "red"}); len(res.Hits) != 3 {
		t.Fatalf("after restore: %v", ids(res))
	}

	// Replaced by a shorter file (as repair writes one): read again whole.
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	var keep []string
	for _, l := range lines {
		if !strings.Contains(l, "bicycle") {
			keep = append(keep, l)
		}
	}
	tmp := s.Path() + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(keep, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.Path()); err != nil {
		t.Fatal(err)
	}
	st, err = x.CatchUp(ctx, nil)
	if err != nil || st.Reindexed != 1 {
		t.Fatalf("replaced: %+v %v", st, err)
	}
	if res = mustSearch(t, x, Query{Text: "bicycle"}); len(res.Hits) != 0 {
		t.Fatalf("a record gone from the file is still found: %v", ids(res))
	}
	if res = mustSearch(t, x, Query{Text: "kite"}); len(res.Hits) != 1 || res.Hits[0].Title != "Bike sale" {
		t.Fatalf("after replace: %+v", res.Hits)
	}

	// Purged from the trash: gone for good.
	if _, err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Purge(ctx, workspace.PurgeOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if res = mustSearch(t, x, Query{Text: "red"}); len(res.Hits) != 1 {
		t.Fatalf("after purge: %v", ids(res))
	}
	rep, err := Check(ctx, ws)
	if err != nil || !rep.Clean() || rep.Sessions != 1 {
		t.Fatalf("check after all that: %+v %v", rep, err)
	}
}

// Filters are applied around the query: neither the query text nor
// Recall's words can reach sessions outside the filter.
func TestFiltersDoNotLeak(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, "")
	alice := chatSession(t, ws, "main", "1")
	alice2 := chatSession(t, ws, "work", "1")
	bob := chatSession(t, ws, "main", "2")
	say(t, alice, workspace.RoleUser, "alice", "my passport number is in the drawer")
	say(t, alice2, workspace.RoleUser, "alice", "passport renewal appointment on Monday")
	say(t, bob, workspace.RoleUser, "bob", "bob's passport secret")
	say(t, bob, workspace.RoleAssistant, "", "noted your passport")
	x := openIndex(t, ws, nil)

	hits, err := x.Recall(ctx, Filter{Sender: "alice"}, "passport secret", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 {
		t.Fatalf("recall alice: %+v", hits)
	}
	for _, h := range hits {
		if h.Session == bob.ID() || h.Sender != "alice" {
			t.Fatalf("recall leaked %+v", h)
		}
	}
	hits, err = x.Recall(ctx, Filter{Sessions: []string{bob.ID()}}, "sender:alice passport session:"+alice.ID(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 {
		t.Fatalf("recall bob's session: %+v", hits)
	}
	for _, h := range hits {
		if h.Session != bob.ID() {
			t.Fatalf("recall leaked %+v", h)
		}
	}
	if _, err := x.Recall(ctx, Filter{Role: "user"}, "passport", 5); err == nil {
		t.Fatal("recall without a scope must be refused")
	}
	for _, text := range []string{"session:" + alice.ID(), "passport OR session:" + alice.ID(), "-session:" + bob.ID(), "agent:work", "*"} {
		res := mustSearch(t, x, Query{Text: text, Filter: Filter{Sessions: []string{bob.ID()}}})
		for _, h := range res.Hits {
			if h.Session != bob.ID() {
				t.Fatalf("query %q leaked %s", text, h.ID)
			}
		}
	}
	res := mustSearch(t, x, Query{Text: "passport", Filter: Filter{Agent: "work"}})
	if len(res.Hits) != 1 || res.Hits[0].Session != alice2.ID() {
		t.Fatalf("agent filter: %v", ids(res))
	}
	res = mustSearch(t, x, Query{Text: "passport", Filter: Filter{Chat: "direct:2", Role: "assistant"}})
	if len(res.Hits) != 1 || res.Hits[0].Session != bob.ID() || res.Hits[0].Role != "assistant" {
		t.Fatalf("chat+role filter: %v", ids(res))
	}
}
