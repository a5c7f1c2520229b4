package workspace

import (
	"context"
	"testing"
	"time"
)

// Once ready is called, a record appended is delivered; what was in the
// files before is not.
func TestWatchReady(t *testing.T) {
	w := openTest(t, nil)
	s := namedSession(t, w, "ready")
	mustAppend(t, s, msg(RoleUser, "before"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ready := make(chan struct{})
	got := make(chan Entry, 10)
	done := make(chan error, 1)
	go func() {
		done <- w.WatchReady(ctx, WatchOptions{Poll: 50 * time.Millisecond}, func() { close(ready) },
			func(id string, e Entry) error { got <- e; return nil })
	}()
	<-ready
	mustAppend(t, s, msg(RoleUser, "after"))
	select {
	case e := <-got:
		if e.Content != "after" {
			t.Fatalf("delivered %q, want only what was appended after ready", e.Content)
		}
	case <-ctx.Done():
		t.Fatal("nothing delivered")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
