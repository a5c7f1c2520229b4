package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// summarize --due, killed with SIGKILL at random moments: after each kill a
// rerun completes, every session's summaries cover consecutive ranges
// (each range once: the throughs strictly increase, each names a message
// before the summary) and no message record is lost or added.
func TestBinaryKilledSummarizeCrash(t *testing.T) {
	bin := buildBinary(t)
	rnd := crashRand(t)
	root := t.TempDir()
	writeConfig(t, root, `{"summarize": {"counter": "estimate", "message_threshold": 20, "keep_recent": 4}}`)
	w := openCrashWS(t, root)
	const sessions = 80
	fillSessions(t, w, "s", sessions, 30)
	took, _, errOut, code := timed(t, bin, "--workspace", root, "summarize", "--due", "--dry-run")
	if code != 0 {
		t.Fatalf("summarize --due --dry-run: exit %d: %s", code, errOut)
	}
	took = max(2*took, 300*time.Millisecond) // the real run writes too
	// Until one kill has landed the runs go on (at most four times as
	// many), each past the planned ones with half the window: a run that
	// finishes sooner than the dry run said would otherwise outrun every
	// kill now and then.
	kills, landed := crashKills(8), 0
	for k := 0; k < kills || landed == 0 && k < 4*kills; k++ {
		if k >= kills {
			took = max(took/2, 5*time.Millisecond)
		}
		want := messageIDs(t, w)
		r := runKilled(t, bin, time.Duration(rnd.Int64N(int64(took))), "--workspace", root, "summarize", "--due")
		if r.signal {
			landed++
		} else if r.code != 0 {
			t.Fatalf("summarize --due (not killed): exit %d: %s", r.code, r.stderr)
		}
		if _, errOut, code := exitWithin(t, time.Minute, bin, "--workspace", root, "summarize", "--due"); code != 0 {
			t.Fatalf("kill %d after %v: the rerun: exit %d: %s", k, r.after, code, errOut)
		}
		sameOnce(t, fmt.Sprintf("kill %d: messages", k), messageIDs(t, w), want)
		for _, f := range liveIDs(t, w) {
			checkSummaryRanges(t, fmt.Sprintf("kill %d after %v", k, r.after), w, f)
		}
		// More messages: the next run has sessions due again.
		for i := 0; i < sessions/2; i++ {
			appendN(t, mustOpen(t, w, fmt.Sprintf("s-%d", rnd.IntN(sessions))), 20+rnd.IntN(20))
		}
	}
	t.Logf("%d runs or more, %d killed before their end", kills, landed)
	if landed == 0 {
		t.Fatal("no kill landed while summarize ran")
	}
}

func liveIDs(t *testing.T, w *workspace.Workspace) []string {
	t.Helper()
	files, err := w.SessionFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	return ids
}

// checkSummaryRanges: in each conversation of the session, every summary
// folds messages up to a message seq before it, after the previous
// summary's: no range is summarized twice.
func checkSummaryRanges(t *testing.T, what string, w *workspace.Workspace, id string) {
	t.Helper()
	s, err := w.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	messages := map[int64]bool{}
	var last int64
	for _, r := range recs {
		switch r.Type {
		case workspace.TypeMessage:
			messages[r.Seq] = true
		case workspace.TypeReset:
			last = 0
		case workspace.TypeSummary:
			if r.Through <= last || !messages[r.Through] || r.Through >= r.Seq {
				t.Fatalf("%s: %s: summary #%d through %d after a summary through %d (a range summarized twice, or not a message)",
					what, id, r.Seq, r.Through, last)
			}
			last = r.Through
		}
	}
}

// migrate --yes, killed with SIGKILL at random moments: after each kill a
// rerun completes, and every message of the legacy store is in the
// workspace exactly once (and migrate --verify agrees).
func TestBinaryKilledMigrateCrash(t *testing.T) {
	bin := buildBinary(t)
	rnd := crashRand(t)
	src := t.TempDir()
	const sessions, per = 40, 150
	var want []string
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < sessions; i++ {
		var b strings.Builder
		for j := 0; j < per; j++ {
			role := "user"
			if j%2 == 1 {
				role = "assistant"
			}
			content := fmt.Sprintf("legacy chat %d line %d", i, j)
			want = append(want, content)
			line, _ := json.Marshal(map[string]string{"role": role, "content": content, "created_at": at.Add(time.Duration(i*per+j) * time.Second).Format(time.RFC3339Nano)})
			b.Write(line)
			b.WriteByte('\n')
		}
		base := fmt.Sprintf("agent_main_telegram_direct_%d", 100000+i)
		if err := os.WriteFile(filepath.Join(src, base+".jsonl"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		meta, _ := json.Marshal(map[string]any{"key": fmt.Sprintf("agent:main:telegram:direct:%d", 100000+i), "summary": "", "skip": 0,
			"count": per, "created_at": at, "updated_at": at})
		if err := os.WriteFile(filepath.Join(src, base+".meta.json"), meta, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scratch := t.TempDir()
	took, _, errOut, code := timed(t, bin, "--workspace", scratch, "migrate", "--from", src, "--yes")
	if code != 0 {
		t.Fatalf("migrate into a scratch workspace: exit %d: %s", code, errOut)
	}
	kills, landed := crashKills(8), 0
	for k := 0; k < kills; k++ {
		root := t.TempDir()
		// Kill up to twice in a row before the rerun that must complete.
		var r killed
		for n := 0; n < 1+rnd.IntN(2); n++ {
			r = runKilled(t, bin, time.Duration(rnd.Int64N(int64(took))), "--workspace", root, "migrate", "--from", src, "--yes")
			if r.signal {
				landed++
			} else if r.code != 0 {
				t.Fatalf("migrate (not killed): exit %d: %s", r.code, r.stderr)
			}
		}
		if _, errOut, code := exitWithin(t, 2*time.Minute, bin, "--workspace", root, "migrate", "--from", src, "--yes"); code != 0 {
			t.Fatalf("kill %d after %v: the rerun: exit %d: %s", k, r.after, code, errOut)
		}
		if _, errOut, code := exitWithin(t, time.Minute, bin, "--workspace", root, "migrate", "--from", src, "--verify"); code != 0 {
			t.Fatalf("kill %d after %v: --verify: exit %d: %s", k, r.after, code, errOut)
		}
		w := openCrashWS(t, root)
		var got []string
		for _, id := range liveIDs(t, w) {
			s, err := w.OpenID(id)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := s.ReadAll(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Type == workspace.TypeMessage {
					got = append(got, r.Content)
				}
			}
		}
		sameOnce(t, fmt.Sprintf("kill %d after %v: migrated messages", k, r.after.Round(time.Millisecond)), got, want)
	}
	t.Logf("%d kills landed while migrate ran (a whole run takes %v)", landed, took.Round(time.Millisecond))
	if landed == 0 {
		t.Fatal("no kill landed while migrate ran")
	}
}

// cleanup, killed with SIGKILL at random moments: every session it was
// to move is, after each kill, in exactly one place (live or in the trash,
// byte for byte), and after a rerun in the trash; the others stay live.
func TestBinaryKilledCleanupCrash(t *testing.T) {
	bin := buildBinary(t)
	rnd := crashRand(t)
	root := t.TempDir()
	w := openCrashWS(t, root)
	ctx := context.Background()
	old := time.Now().Add(-60 * 24 * time.Hour)
	var young []string
	for i := 0; i < 30; i++ {
		appendN(t, mustOpen(t, w, fmt.Sprintf("young-%d", i)), 2)
		young = append(young, mustOpen(t, w, fmt.Sprintf("young-%d", i)).ID())
	}
	contents := map[string]string{} // session file bytes -> id, for the old ones
	addOld := func(k int) {
		for i := 0; i < 150; i++ {
			s := mustOpen(t, w, fmt.Sprintf("old-%d-%d", k, i))
			if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, At: old,
				Content: fmt.Sprintf("an old message %d %d", k, i)}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			contents[string(b)] = s.ID()
		}
	}
	addOld(0)
	took, _, errOut, code := timed(t, bin, "--workspace", root, "cleanup", "--older-than", "30d", "--dry-run")
	if code != 0 {
		t.Fatalf("cleanup --dry-run: exit %d: %s", code, errOut)
	}
	took = max(took, 50*time.Millisecond) // moving costs about what listing does
	// where counts, for every old session's bytes, the places they are in.
	where := func() (live, trash map[string]int) {
		live, trash = map[string]int{}, map[string]int{}
		for name, b := range treeFiles(t, filepath.Join(root, workspace.SessionsDir)) {
			id, ok := contents[b]
			if !ok {
				continue
			}
			if strings.HasPrefix(name, ".trash"+string(filepath.Separator)) {
				trash[id]++
			} else if filepath.Base(name) == id+workspace.SessionExt {
				live[id]++
			}
		}
		return live, trash
	}
	kills, landed := crashKills(8), 0
	for k := 0; k < kills || landed == 0 && k < 4*kills; k++ { // as in TestBinaryKilledSummarizeCrash
		if k >= kills {
			took = max(took/2, 5*time.Millisecond)
		}
		if k > 0 {
			addOld(k)
		}
		r := runKilled(t, bin, time.Duration(rnd.Int64N(int64(took))), "--workspace", root, "cleanup", "--older-than", "30d")
		if r.signal {
			landed++
		} else if r.code != 0 {
			t.Fatalf("cleanup (not killed): exit %d: %s", r.code, r.stderr)
		}
		live, trash := where()
		for _, id := range contents {
			if live[id]+trash[id] != 1 {
				t.Fatalf("kill %d after %v: session %s is live %d times and in the trash %d times", k, r.after, id, live[id], trash[id])
			}
		}
		if _, errOut, code := exitWithin(t, time.Minute, bin, "--workspace", root, "cleanup", "--older-than", "30d"); code != 0 {
			t.Fatalf("kill %d after %v: the rerun: exit %d: %s", k, r.after, code, errOut)
		}
		live, trash = where()
		for _, id := range contents {
			if live[id] != 0 || trash[id] != 1 {
				t.Fatalf("kill %d after %v, rerun: session %s is live %d times and in the trash %d times", k, r.after, id, live[id], trash[id])
			}
		}
		for _, id := range young {
			if _, err := os.Stat(filepath.Join(root, workspace.SessionsDir, id+workspace.SessionExt)); err != nil {
				t.Fatalf("kill %d: a young session was moved: %v", k, err)
			}
		}
	}
	t.Logf("%d runs or more, %d killed before their end", kills, landed)
	if landed == 0 {
		t.Fatal("no kill landed while cleanup ran")
	}
}
