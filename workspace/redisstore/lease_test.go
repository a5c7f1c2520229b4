package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// A lease is held past its time to live while its holder renews it,
// refused to a second holder meanwhile (from another connection: another
// machine), released only by its holder, and reported lost when its key
// is taken away.
func TestLease(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix()
	ctx := context.Background()
	open := func() *redisstore.Store {
		st, err := redisstore.Open(ctx, url, &redisstore.Options{Prefix: prefix, LockTTL: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	redistest.OpenURL(t, url, prefix) // cleans the prefix
	a, b := open(), open()
	wa := openWS(t, a, nil)
	wb := openWS(t, b, nil)
	sa, err := wa.Session(ctx, workspace.Target{Name: "leased"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Append(ctx, workspace.UserMessage("u", "hi")); err != nil {
		t.Fatal(err)
	}
	sb, err := wb.Lookup(ctx, "leased")
	if err != nil {
		t.Fatal(err)
	}
	la, err := sa.TryLock(ctx, "summarize")
	if err != nil || la == nil {
		t.Fatalf("first: %v %v", la, err)
	}
	// Three times the ttl: renewed meanwhile, still A's.
	time.Sleep(900 * time.Millisecond)
	if lb, err := sb.TryLock(ctx, "summarize"); err != nil || lb != nil {
		t.Fatalf("second while the first holds it: %v %v", lb, err)
	}
	select {
	case <-la.Lost():
		t.Fatal("lost while renewed")
	default:
	}
	v, err := a.Client().Get(ctx, a.LeaseKey(sa.ID(), "summarize")).Result()
	if err != nil || !strings.Contains(v, "pid ") || !strings.Contains(v, " host ") {
		t.Fatalf("lease value %q %v", v, err)
	}
	// Another machine can say who holds it (without the token).
	if h, err := sb.LeaseHolder(ctx, "summarize"); err != nil || !strings.HasPrefix(h, fmt.Sprintf("pid %d host ", os.Getpid())) || strings.Contains(h, "token") {
		t.Fatalf("holder %q %v", h, err)
	}
	// Another lease name of the same session is independent.
	if lo, err := sb.TryLock(ctx, "other"); err != nil || lo == nil {
		t.Fatalf("other name: %v %v", lo, err)
	} else {
		lo.Release()
	}
	la.Release()
	la.Release() // twice is harmless
	if h, err := sb.LeaseHolder(ctx, "summarize"); err != nil || h != "" {
		t.Fatalf("holder after release %q %v", h, err)
	}
	lb, err := sb.TryLock(ctx, "summarize")
	if err != nil || lb == nil {
		t.Fatalf("after release: %v %v", lb, err)
	}
	// Taken away (as if it had expired and another took it): lost.
	if err := b.Client().Set(ctx, b.LeaseKey(sb.ID(), "summarize"), "someone else", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lb.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("a lease whose key holds another value was not reported lost")
	}
	lb.Release()
	// The release did not delete the other holder's lease.
	if v, _ := b.Client().Get(ctx, b.LeaseKey(sb.ID(), "summarize")).Result(); v != "someone else" {
		t.Fatalf("release removed another holder's lease: %q", v)
	}
	if _, err := sa.TryLock(ctx, "Bad Name"); err == nil {
		t.Fatal("a bad lease name was taken")
	}
}

// PutTrash continues a part an interrupted copy left, refuses one that is
// not the start of the source, and leaves a whole entry alone.
func TestPutTrashResumes(t *testing.T) {
	st := redistest.Open(t)
	ctx := context.Background()
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "src"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := s.Append(ctx, workspace.UserMessage("u", strings.Repeat("x", 100))); err != nil {
			t.Fatal(err)
		}
	}
	data := make([]byte, 0, 1024)
	recs, _ := st.Client().Get(ctx, st.Prefix()+"{"+s.ID()+"}:log").Bytes()
	data = append(data, recs...)
	name := s.ID() + ".20260101T000000.000000000Z.jsonl"
	tr := workspace.Trashed{Name: name, ID: s.ID(), Deleted: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	part := st.Prefix() + "{" + s.ID() + "}:trash:" + name + ":part"
	// An interrupted copy wrote the first 100 bytes.
	if err := st.Client().Set(ctx, part, data[:100], 0).Err(); err != nil {
		t.Fatal(err)
	}
	if had, err := st.PutTrash(ctx, tr, data, 6, nil); err != nil || had {
		t.Fatalf("resume: %v %v", had, err)
	}
	list, err := st.ListTrash(ctx)
	if err != nil || len(list) != 1 || list[0].Name != name || list[0].Size != int64(len(data)) || !list[0].Deleted.Equal(tr.Deleted) {
		t.Fatalf("trash after the copy: %+v %v", list, err)
	}
	buf := make([]byte, len(data))
	if n, err := st.ReadTrashAt(ctx, name, buf, 0); err != nil || string(buf[:n]) != string(data) {
		t.Fatalf("entry bytes differ (%d, %v)", n, err)
	}
	if had, err := st.PutTrash(ctx, tr, data, 6, nil); err != nil || !had {
		t.Fatalf("again: %v %v", had, err)
	}
	// A part that is not the source's start.
	tr2 := tr
	tr2.Name = s.ID() + ".20260102T000000.000000000Z.jsonl"
	if err := st.Client().Set(ctx, st.Prefix()+"{"+s.ID()+"}:trash:"+tr2.Name+":part", "something else", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutTrash(ctx, tr2, data, 6, nil); !errors.Is(err, workspace.ErrCopyDiffers) {
		t.Fatalf("foreign part: %v", err)
	}
}

// Trash with a size moves a session only if it still holds that size.
func TestTrashIfSize(t *testing.T) {
	st := redistest.Open(t)
	ctx := context.Background()
	w := openWS(t, st, nil)
	s, err := w.Session(ctx, workspace.Target{Name: "cond"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.UserMessage("u", "one")); err != nil {
		t.Fatal(err)
	}
	cur, err := st.Stat(ctx, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Trash(ctx, s.ID(), s.ID()+".jsonl", time.Now(), cur.Size-1); !errors.Is(err, workspace.ErrChanged) {
		t.Fatalf("trash at a stale size: %v", err)
	}
	if _, err := st.Stat(ctx, s.ID()); err != nil {
		t.Fatalf("moved anyway: %v", err)
	}
	if err := st.Trash(ctx, s.ID(), s.ID()+".jsonl", time.Now(), cur.Size); err != nil {
		t.Fatal(err)
	}
}
