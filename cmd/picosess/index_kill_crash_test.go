package main

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// reindex and the catch-up of search, killed with SIGKILL at random
// moments while sessions grow and go: after every kill a search completes
// and finds every message in the files exactly once, nothing of a deleted
// session, nothing twice.
func TestBinaryKilledIndexingCrash(t *testing.T) {
	bin := buildBinary(t)
	rnd := crashRand(t)
	root := t.TempDir()
	w := openCrashWS(t, root)
	const sessions = 12
	fillSessions(t, w, "k", sessions, 1000)
	took, _, errOut, code := timed(t, bin, "--workspace", root, "reindex")
	if code != 0 {
		t.Fatalf("reindex: exit %d: %s", code, errOut)
	}
	kills, landed := crashKills(6), 0
	ctx := context.Background()
	for k := 0; k < kills; k++ {
		// Between runs, sessions grow, one may go to the trash, a new one
		// may start: the killed run has something to catch up with.
		for i := 0; i < 3; i++ {
			appendN(t, mustOpen(t, w, fmt.Sprintf("k-%d", rnd.IntN(sessions))), 300+rnd.IntN(700))
		}
		if rnd.IntN(3) == 0 {
			if _, err := mustOpen(t, w, fmt.Sprintf("k-%d", rnd.IntN(sessions))).Delete(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if rnd.IntN(3) == 0 {
			appendN(t, mustOpen(t, w, fmt.Sprintf("new-%d", k)), 500)
		}
		op := []string{"--workspace", root, "reindex"}
		if k%2 == 1 {
			op = []string{"--workspace", root, "search", "crash words"}
		}
		d := time.Duration(rnd.Int64N(int64(took) + 1))
		r := runKilled(t, bin, d, op...)
		if r.signal {
			landed++
		} else if r.code != 0 {
			t.Fatalf("%v (not killed): exit %d: %s", op[2:], r.code, r.stderr)
		}
		ids, code, errOut := searchAll(t, bin, root)
		if code != 0 {
			t.Fatalf("kill %d (%v after %v): the search after it: exit %d: %s", k, op[2], r.after, code, errOut)
		}
		sameOnce(t, fmt.Sprintf("kill %d (%s after %v)", k, op[2], r.after.Round(time.Millisecond)), ids, messageIDs(t, w))
	}
	t.Logf("%d runs, %d killed before their end (a clean reindex takes %v)", kills, landed, took.Round(time.Millisecond))
	if landed == 0 {
		t.Fatal("no kill landed while a run was under way")
	}
}
