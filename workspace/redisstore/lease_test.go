package redisstore_test

import (
	"context"
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
	// Another lease name of the same session is independent.
	if lo, err := sb.TryLock(ctx, "other"); err != nil || lo == nil {
		t.Fatalf("other name: %v %v", lo, err)
	} else {
		lo.Release()
	}
	la.Release()
	la.Release() // twice is harmless
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
