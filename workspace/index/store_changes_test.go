package index

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// openOnStore opens a workspace in its own directory (a machine) on the
// Redis store under prefix.
func openOnStore(t *testing.T, url, prefix string) *workspace.Workspace {
	t.Helper()
	st, err := redisstore.Open(context.Background(), url, &redisstore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws, err := workspace.Open(t.TempDir(), &workspace.Options{Store: st, LockTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// sessionsOf returns the sessions of the hits of q, sorted, one per hit.
func sessionsOf(t *testing.T, x *Index, q string) []string {
	t.Helper()
	var out []string
	for _, h := range mustSearch(t, x, Query{Text: q}).Hits {
		out = append(out, h.Session)
	}
	slices.Sort(out)
	return out
}

// Two machines on one Redis store, each with its own directory and search
// index: what one appends, creates, moves to the trash or brings back, the
// other's next catch-up finds without a full rescan (the store says what
// changed; the journal and the directory are only this machine's), and
// its own appends keep the session's documents (a session in a store is
// no file on this machine's disk).
func TestStoreChangesReachOtherMachines(t *testing.T) {
	ctx := context.Background()
	url := redistest.URL(t)
	prefix := redistest.Prefix()
	a := openOnStore(t, url, prefix)
	b := openOnStore(t, url, prefix)
	t.Cleanup(func() { _ = redistest.Clean(context.Background(), b.Store().(*redisstore.Store)) })
	sa := chatSession(t, a, "main", "1")
	say(t, sa, workspace.RoleUser, "u", "apple")
	x := openIndex(t, b, &Options{Rescan: time.Hour})
	if st := catchUp(t, x); !st.Full {
		t.Fatalf("first catch-up: %+v", st)
	}
	sb, err := b.OpenID(sa.ID())
	if err != nil {
		t.Fatal(err)
	}
	one := []string{sa.ID()}

	say(t, sb, workspace.RoleUser, "u", "banana") // this machine's append
	if st := catchUp(t, x); st.Full || st.Docs != 1 {
		t.Fatalf("after an append here: %+v", st)
	}
	if got := sessionsOf(t, x, "apple"); !slices.Equal(got, one) {
		t.Fatalf("apple after an append here: %v (the session's documents were dropped)", got)
	}
	if got := sessionsOf(t, x, "banana"); !slices.Equal(got, one) {
		t.Fatalf("banana: %v", got)
	}

	say(t, sa, workspace.RoleUser, "u", "cherry") // the other machine's
	other := chatSession(t, a, "main", "2")
	say(t, other, workspace.RoleUser, "u", "cherry too")
	if st := catchUp(t, x); st.Full || st.Docs != 2 {
		t.Fatalf("after the other machine's appends: %+v", st)
	}
	both := []string{sa.ID(), other.ID()}
	slices.Sort(both)
	if got := sessionsOf(t, x, "cherry"); !slices.Equal(got, both) {
		t.Fatalf("cherry, written by the other machine: %v, want %v", got, both)
	}

	name, err := other.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := catchUp(t, x); st.Full {
		t.Fatalf("after a delete there: %+v", st)
	}
	if got := sessionsOf(t, x, "cherry"); !slices.Equal(got, one) {
		t.Fatalf("cherry after the other machine deleted a session: %v", got)
	}
	if _, err := a.RestoreFromTrash(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st := catchUp(t, x); st.Full {
		t.Fatalf("after a restore there: %+v", st)
	}
	if got := sessionsOf(t, x, "cherry"); !slices.Equal(got, both) {
		t.Fatalf("cherry after the other machine restored it: %v", got)
	}
}
