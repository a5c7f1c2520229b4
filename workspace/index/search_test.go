package index

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

func TestSearchBasics(t *testing.T) {
	ws := openWS(t, "")
	alice := chatSession(t, ws, "main", "1")
	bob := chatSession(t, ws, "main", "2")
	a1 := say(t, alice, workspace.RoleUser, "alice", "Looking at the Berlin flat in Kreuzberg tomorrow")
	a2 := say(t, alice, workspace.RoleAssistant, "", "Good luck with the flat viewing!")
	b1 := say(t, bob, workspace.RoleUser, "bob", "Is the Berlin office open on Sunday?")
	x := openIndex(t, ws, nil)

	res := mustSearch(t, x, Query{Text: "berlin"})
	if got := ids(res); len(got) != 2 || !slices.Contains(got, docID(alice.ID(), a1)) || !slices.Contains(got, docID(bob.ID(), b1)) {
		t.Fatalf("berlin: %v", got)
	}
	res = mustSearch(t, x, Query{Text: `"berlin flat"`})
	if got := ids(res); len(got) != 1 || got[0] != docID(alice.ID(), a1) {
		t.Fatalf("phrase: %v", got)
	}
	h := res.Hits[0]
	if h.Session != alice.ID() || h.Seq != a1 || h.Role != "user" || h.Sender != "alice" || h.Time.IsZero() ||
		h.Title != "Looking at the Berlin flat in Kreuzberg tomorrow" {
		t.Fatalf("hit: %+v", h)
	}
	if math.IsNaN(h.Score) || h.Score <= 0 {
		t.Fatalf("score %v", h.Score)
	}
	if h.Snippet != "Looking at the **Berlin** **flat** in Kreuzberg tomorrow" {
		t.Fatalf("snippet: %q", h.Snippet)
	}
	res = mustSearch(t, x, Query{Text: "flat -berlin"})
	if got := ids(res); len(got) != 1 || got[0] != docID(alice.ID(), a2) {
		t.Fatalf("must-not: %v", got)
	}
	res = mustSearch(t, x, Query{Text: "berlin role:assistant"})
	if got := ids(res); len(got) != 0 {
		t.Fatalf("field query: %v (no assistant message says berlin)", got)
	}
	res = mustSearch(t, x, Query{Text: "flat role:assistant"})
	if got := ids(res); len(got) != 1 || got[0] != docID(alice.ID(), a2) {
		t.Fatalf("field query: %v", got)
	}
	res = mustSearch(t, x, Query{Text: "+berlin +sender:bob"})
	if got := ids(res); len(got) != 1 || got[0] != docID(bob.ID(), b1) {
		t.Fatalf("+sender:bob: %v", got)
	}
	res = mustSearch(t, x, Query{Text: "berlin", Filter: Filter{Sessions: []string{bob.ID()}}})
	if got := ids(res); len(got) != 1 || got[0] != docID(bob.ID(), b1) {
		t.Fatalf("session filter: %v", got)
	}
	for _, h := range res.Hits {
		if math.IsNaN(h.Score) {
			t.Fatalf("filtered score %v", h.Score)
		}
	}
	res = mustSearch(t, x, Query{Text: `+berlin +chat:direct\:2`})
	if got := ids(res); len(got) != 1 || got[0] != docID(bob.ID(), b1) {
		t.Fatalf("chat field query: %v", got)
	}
	res = mustSearch(t, x, Query{Text: "berlin", Sort: SortTime})
	if got := ids(res); len(got) != 2 || got[0] != docID(bob.ID(), b1) {
		t.Fatalf("time sort: %v", got)
	}
	if _, err := x.Search(context.Background(), Query{Text: `"unclosed`}); !errors.Is(err, ErrBadQuery) {
		t.Fatalf("bad query: %v", err)
	}
}

func TestCJKAndEmoji(t *testing.T) {
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "1")
	zh := say(t, s, workspace.RoleUser, "li", "我们下周去柏林看公寓，记得带护照")
	ja := say(t, s, workspace.RoleUser, "ken", "東京の新しいアパートはとても静かです")
	emo := say(t, s, workspace.RoleUser, "eve", "Party tonight 🎉 bring snacks 🍕")
	say(t, s, workspace.RoleUser, "eve", "nothing to see here")
	x := openIndex(t, ws, nil)
	for _, tt := range []struct {
		q    string
		want int64
	}{
		{"柏林", zh}, {"公寓", zh}, {"护照", zh},
		{"アパート", ja}, {"東京", ja}, {"静か", ja},
		{"🎉", emo}, {"🍕", emo}, {"SNACKS", emo},
	} {
		res := mustSearch(t, x, Query{Text: tt.q})
		if got := ids(res); len(got) != 1 || got[0] != docID(s.ID(), tt.want) {
			t.Errorf("%s: %v", tt.q, got)
			continue
		}
		if !strings.Contains(res.Hits[0].Snippet, "**") {
			t.Errorf("%s: no highlight in %q", tt.q, res.Hits[0].Snippet)
		}
	}
	res := mustSearch(t, x, Query{Text: "柏林"})
	if len(res.Hits) == 1 && res.Hits[0].Snippet != "我们下周去**柏林**看公寓，记得带护照" {
		t.Errorf("cjk snippet %q", res.Hits[0].Snippet)
	}
}
