package index

import (
	"context"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// Each hit says which conversation of its session it belongs to: 0 before
// the first reset, 1 after it.
func TestHitSegment(t *testing.T) {
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "42")
	say(t, s, workspace.RoleUser, "alice", "walrus before the reset")
	if _, err := s.Reset(context.Background(), workspace.ReasonManual); err != nil {
		t.Fatal(err)
	}
	say(t, s, workspace.RoleUser, "alice", "walrus after the reset")
	x := openIndex(t, ws, nil)
	res := mustSearch(t, x, Query{Text: "walrus", Sort: SortTime})
	if len(res.Hits) != 2 {
		t.Fatalf("hits %+v", res.Hits)
	}
	got := map[int64]int{}
	for _, h := range res.Hits {
		got[h.Seq] = h.Segment
	}
	if got[2] != 0 || got[4] != 1 {
		t.Fatalf("segments by seq %v, want seq 2 in 0 and seq 4 in 1", got)
	}
}
