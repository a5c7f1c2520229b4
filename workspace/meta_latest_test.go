package workspace

import (
	"context"
	"testing"
	"time"
)

// A session's last activity is its latest message: an earlier conversation
// appended late with its own older times (the importer's AppendIf, as
// migrate's merge writes it) does not move it back.
func TestUpdatedIsLatestMessage(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "late-import")
	live := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	old := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	if _, err := s.AppendIf(ctx, func(History) error { return nil },
		Record{Type: TypeMessage, Role: "user", Content: "today", At: live}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendIf(ctx, func(History) error { return nil },
		Record{Type: TypeReset, Reason: ReasonImported, At: old},
		Record{Type: TypeMessage, Role: "user", Content: "back in January", At: old}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Updated.Equal(live) {
		t.Fatalf("updated %v, want the latest message's %v", m.Updated, live)
	}
	l, err := w.List(ctx, ListOptions{Rescan: true})
	if err != nil || len(l) != 1 || !l[0].Updated.Equal(live) {
		t.Fatalf("listed %+v (%v), want updated %v", l, err, live)
	}
}
