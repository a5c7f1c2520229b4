package workspace

import (
	"context"
	"errors"
	"testing"
)

// DeleteIf moves the session only when its check, run under the lock with
// the session as it is then, accepts it: a caller that decided from an
// earlier read leaves a session written to since where it is.
func TestDeleteIf(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "retire-me")
	if _, err := s.Append(ctx, msg("user", "one")); err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := m.LastSeq
	if _, err := s.Append(ctx, msg("user", "two")); err != nil { // written after the look
		t.Fatal(err)
	}
	stale := errors.New("written to since")
	check := func(m Meta) error {
		if m.LastSeq != seen {
			return stale
		}
		return nil
	}
	if _, err := s.DeleteIf(ctx, check); !errors.Is(err, stale) {
		t.Fatalf("DeleteIf of a session written to since: %v", err)
	}
	if tr, _ := w.Trash(ctx); len(tr) != 0 {
		t.Fatalf("moved anyway: %v", tr)
	}
	if m, err = s.Meta(ctx); err != nil {
		t.Fatal(err)
	}
	seen = m.LastSeq
	name, err := s.DeleteIf(ctx, check)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := w.Trash(ctx)
	if err != nil || len(tr) != 1 || tr[0].Name != name || tr[0].ID != s.ID() {
		t.Fatalf("trash %v (%v), want %s", tr, err, name)
	}
	if _, err := w.OpenID(s.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("still live: %v", err)
	}
}
