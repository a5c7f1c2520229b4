package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

// Goroutines append whole turns (user, tool call, tool result, reply) at
// once under each durability: every turn lands in one piece with
// consecutive seqs, and nothing is lost.
func TestConcurrentTurnsStayTogether(t *testing.T) {
	for _, d := range []Durability{DurabilityAlways, DurabilityBatch, DurabilityNever} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			w := openTest(t, &Options{Durability: d})
			s := namedSession(t, w, "turns")
			const goroutines, turns = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < turns; i++ {
						tag := fmt.Sprintf("g%d-t%d", g, i)
						seqs, err := s.Append(ctx,
							msg(RoleUser, tag+" question"),
							Record{Type: TypeMessage, Role: RoleAssistant, ToolCalls: []byte(`[{"id":"` + tag + `"}]`)},
							Record{Type: TypeMessage, Role: RoleTool, ToolCallID: tag, Content: tag + " result"},
							msg(RoleAssistant, tag+" answer"))
						if err != nil {
							errs <- err
							return
						}
						for k := 1; k < len(seqs); k++ {
							if seqs[k] != seqs[0]+int64(k) {
								errs <- fmt.Errorf("turn %s got seqs %v", tag, seqs)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			recs, err := s.ReadAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1+goroutines*turns*4 {
				t.Fatalf("%d records, want %d", len(recs), 1+goroutines*turns*4)
			}
			for i := 1; i < len(recs); i += 4 {
				tag := recs[i].Content[:len(recs[i].Content)-len(" question")]
				if recs[i+2].ToolCallID != tag || recs[i+3].Content != tag+" answer" {
					t.Fatalf("turn %s split at seq %d", tag, recs[i].Seq)
				}
			}
			for i, r := range recs {
				if r.Seq != int64(i+1) {
					t.Fatalf("record %d has seq %d", i+1, r.Seq)
				}
			}
		})
	}
}

// Two Workspaces in one process behave like two processes: while one holds
// the lock, the other times out with a LockedError naming this process,
// and a cancelled context stops the wait early.
func TestLockHeldByAnotherWorkspace(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	w1, _ := Open(root, nil)
	w2, _ := Open(root, &Options{LockTimeout: 100 * time.Millisecond})
	s1, s2 := namedSession(t, w1, "held"), namedSession(t, w2, "held")
	lk, err := w1.lock(ctx, s1.st)
	if err != nil {
		t.Fatal(err)
	}
	if pid := procLocksHolder(w1.LockPath(s1.ID())); pid != os.Getpid() {
		t.Errorf("/proc/locks names pid %d, want %d", pid, os.Getpid())
	}
	_, err = s2.Append(ctx, msg(RoleUser, "blocked"))
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() || le.Wait < 100*time.Millisecond {
		t.Fatalf("got %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s2.Append(cctx, msg(RoleUser, "cancelled")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v", err)
	}
	w3, _ := Open(root, &Options{LockTimeout: 5 * time.Second})
	s3 := namedSession(t, w3, "held")
	tctx, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := s3.Append(tctx, msg(RoleUser, "deadline")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("append past its deadline: %v", err)
	}
	lk.unlock()
	if seqs := mustAppend(t, s2, msg(RoleUser, "now")); seqs[0] != 2 {
		t.Fatalf("seq %d", seqs[0])
	}
}

// Records resumes from an End offset, and Identity says when a reader
// must start over.
func TestRecordsFromOffsetAndIdentity(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "indexed")
	mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"))
	var end int64
	var n int
	for e, err := range s.Records(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		end, n = e.End, n+1
	}
	id1, _ := s.Identity()
	if n != 3 || end != id1.Size {
		t.Fatalf("%d records, end %d, size %d", n, end, id1.Size)
	}
	mustAppend(t, s, msg(RoleUser, "c"))
	id2, _ := s.Identity()
	if !id1.Continues(id2) {
		t.Fatal("growth not seen as continuing")
	}
	var got []string
	for e, err := range s.Records(ctx, end) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Content)
	}
	if len(got) != 1 || got[0] != "c" {
		t.Fatalf("from offset: %q", got)
	}
	for _, err := range s.Records(ctx, end-3) {
		if err == nil || !strings.Contains(err.Error(), "not the start of a line") {
			t.Fatalf("a mid-line offset: %v", err)
		}
		break
	}
	// A repair that rewrites the file gives it a new identity.
	f, _ := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("garbage\n")
	f.Close()
	mustAppend(t, s, msg(RoleUser, "d"))
	if _, err := s.Repair(ctx, RepairOptions{}); err != nil {
		t.Fatal(err)
	}
	id3, _ := s.Identity()
	if id2.Continues(id3) {
		t.Fatal("a rewritten file seen as continuing")
	}
}

// SessionForRoute writes the route's scope and aliases into the header,
// and the session is found again by its aliases.
func TestSessionForRoute(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	route, err := keying.Resolve("main", keying.Inbound{Channel: "telegram", ChatType: "group", ChatID: "-100123", SenderID: "42"},
		keying.Policy{Dimensions: []string{"chat"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.SessionForRoute(ctx, route)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Header(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != route.ID || h.Scope == nil || h.Scope.Channel != "telegram" || len(h.Aliases) != len(route.Aliases) {
		t.Fatalf("header %+v for route %+v", h, route)
	}
	for _, a := range route.Aliases {
		if a == keying.MainKey("main") {
			continue
		}
		got, err := w.Lookup(ctx, a)
		if err != nil || got.ID() != route.ID {
			t.Errorf("Lookup(%q) = %v, %v", a, got, err)
		}
	}
	if got, err := w.Lookup(ctx, route.Signature); err != nil || got.ID() != route.ID {
		t.Errorf("Lookup(signature) = %v, %v", got, err)
	}
	if rep, _ := s.Check(ctx); len(rep.Problems) != 0 {
		t.Errorf("problems: %v", rep.Problems)
	}
}

// A deleted lock file (which nobody should do) stops excluding only
// briefly: a process that kept the old descriptor notices within
// lockCheckInterval and locks the new file, so two Workspaces exclude each
// other again.
func TestLockFileDeletedIsNoticed(t *testing.T) {
	root := t.TempDir()
	w1, _ := Open(root, nil)
	w2, _ := Open(root, &Options{LockTimeout: 50 * time.Millisecond})
	s1, s2 := namedSession(t, w1, "relock"), namedSession(t, w2, "relock")
	if err := os.Remove(w1.LockPath(s1.ID())); err != nil {
		t.Fatal(err)
	}
	s1.st.holderChecked = time.Time{} // as if the interval had passed
	ctx := context.Background()
	lk, err := w1.lock(ctx, s1.st)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.unlock()
	if _, err := os.Stat(w1.LockPath(s1.ID())); err != nil {
		t.Fatalf("lock file not recreated: %v", err)
	}
	if _, err := s2.Append(ctx, msg(RoleUser, "must wait")); !errors.Is(err, ErrLocked) {
		t.Fatalf("second workspace got %v while the first holds the new lock file", err)
	}
}

// A process that touches many sessions keeps at most DefaultMaxOpenLocks
// lock files open.
func TestOpenLockFilesAreBounded(t *testing.T) {
	w := openTest(t, &Options{Durability: DurabilityNever})
	for i := 0; i < DefaultMaxOpenLocks*2+10; i++ {
		namedSession(t, w, fmt.Sprintf("many-%d", i))
	}
	open := 0
	for _, st := range w.states {
		st.holderMu.Lock()
		if st.holder != nil {
			open++
		}
		st.holderMu.Unlock()
	}
	if open > DefaultMaxOpenLocks || int64(open) != w.openLocks.Load() {
		t.Fatalf("%d lock files open (counted %d), limit %d", open, w.openLocks.Load(), DefaultMaxOpenLocks)
	}
	if err := w.Close(); err != nil || w.openLocks.Load() != 0 {
		t.Fatalf("after Close: %d open, %v", w.openLocks.Load(), err)
	}
}
