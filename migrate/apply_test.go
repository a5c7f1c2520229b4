package migrate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// TestHelperApply is not a test: it is the child process of
// TestApplyKilledAndResumed, run with MIGRATE_HELPER_SRC/WS set.
func TestHelperApply(t *testing.T) {
	src, wsDir := os.Getenv("MIGRATE_HELPER_SRC"), os.Getenv("MIGRATE_HELPER_WS")
	if src == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	ws, err := workspace.Open(wsDir, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	p, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err == nil {
		_, err = Apply(ctx, ws, p, ApplyOptions{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// A migration killed (SIGKILL) at random points and run again ends
// complete, with every message exactly once.
func TestApplyKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	root := t.TempDir()
	src := filepath.Join(root, "src", "sessions")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSyntheticPico(t, src, 150, 60)
	// every tenth conversation also has its JSON-era copy, holding two
	// messages the JSONL lost at its head: copies are aligned on every run
	for i := 0; i < 150; i += 10 {
		key := fmt.Sprintf("agent:main:telegram:direct:%d", 100000+i)
		stem := fmt.Sprintf("agent_main_telegram_direct_%d", 100000+i)
		jl, err := os.ReadFile(filepath.Join(src, stem+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		msgs := []string{`{"role":"user","content":"older copy only 1"}`, `{"role":"assistant","content":"ok"}`}
		for _, line := range strings.Split(strings.TrimSpace(string(jl)), "\n")[:30] {
			msgs = append(msgs, line)
		}
		write(t, filepath.Join(src, stem+".json.migrated"), fmt.Sprintf("{\"key\":%q,\"messages\":[%s]}", key, strings.Join(msgs, ",")))
	}
	const wantMsgs = 150*60 + 15*2
	wsDir := filepath.Join(root, "ws")
	run := func(kill time.Duration) (killed bool) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperApply$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MIGRATE_HELPER_SRC="+src, "MIGRATE_HELPER_WS="+wsDir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if kill > 0 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("helper: %v: %s", err, stderr.String())
				}
				return false
			case <-time.After(kill):
				_ = cmd.Process.Kill()
				<-done
				return true
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("helper: %v: %s", err, stderr.String())
		}
		return false
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for i := 0; i < 5; i++ {
		if run(time.Duration(20+rng.IntN(400)) * time.Millisecond) {
			kills++
		}
	}
	run(0)
	t.Logf("%d of 5 runs were killed before finishing", kills)

	ctx := context.Background()
	ws := openWS(t, wsDir)
	p, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sessions {
		if s.Action != ActionSkip {
			t.Fatalf("%s: %s after the final run", s.ID, s.Action)
		}
		checkSession(t, ws, s) // every record once, in order, same seqs
	}
	v, err := Verify(ctx, ws, p)
	if err != nil || !v.OK() || v.Messages != wantMsgs {
		t.Fatalf("verify: %v %+v", err, v)
	}
	// the same result as one clean run, byte for byte: every session
	// file (header time included, which comes from the messages)
	cleanDir := filepath.Join(root, "clean")
	clean := openWS(t, cleanDir)
	cp, err := NewPlan(ctx, src, clean, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, clean, cp, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range cp.Sessions {
		want, err := os.ReadFile(clean.SessionPath(s.ID))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(ws.SessionPath(s.ID))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s differs from a clean run's:\n got  %.300s\n want %.300s", s.ID, got, want)
		}
	}
}

// Migrating into a workspace where an assistant already started the
// session (Rule A): the history is added as an earlier conversation and
// the live one stays active.
func TestApplyMergeKeepsLiveConversation(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	id := "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5"
	live, err := ws.Session(ctx, workspace.Target{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if _, err := live.Append(ctx,
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "live hello", At: at},
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant, Content: "live reply", At: at.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(ctx, filepath.Join(legacyRoot, "picoclaw/1-old-json"), ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var merged *PlannedSession
	for _, s := range p.Sessions {
		if s.ID == id {
			merged = s
		} else if s.Action != ActionCreate {
			t.Fatalf("%s: %s", s.ID, s.Action)
		}
	}
	if merged == nil || merged.Action != ActionMerge {
		t.Fatalf("want a merge for %s: %+v", id, merged)
	}
	rep, err := Apply(ctx, ws, p, ApplyOptions{})
	if err != nil || !rep.Verify.OK() {
		t.Fatalf("apply: %v %+v", err, rep.Verify)
	}
	h, err := live.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Content != "live hello" {
		t.Fatalf("active history after the merge: %+v", h.Messages)
	}
	segs, err := live.Segments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range segs {
		n += len(g.Messages())
	}
	if n != 2+merged.Messages {
		t.Fatalf("%d messages in all segments, want %d", n, 2+merged.Messages)
	}
	p2, err := NewPlan(ctx, filepath.Join(legacyRoot, "picoclaw/1-old-json"), ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p2.Sessions {
		if s.Action != ActionSkip {
			t.Fatalf("second plan: %s %s", s.ID, s.Action)
		}
	}
}

// Damaged input: what is valid is imported, the rest is copied into the
// report directory and listed; the migration is partial.
func TestApplyPartialSetsAside(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	p, err := NewPlan(ctx, filepath.Join(damagedRoot, "picoclaw/torn-line-glued"), ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reportDir := t.TempDir()
	rep, err := Apply(ctx, ws, p, ApplyOptions{ReportDir: reportDir})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Partial || len(rep.SetAside) != 1 || !rep.Verify.OK() {
		t.Fatalf("report: partial %v, set aside %+v", rep.Partial, rep.SetAside)
	}
	b, err := os.ReadFile(rep.SetAside[0].File)
	if err != nil || string(b) != `{"role":"user","content":"incomple` {
		t.Fatalf("set-aside copy: %q %v", b, err)
	}
	if err := rep.Write(reportDir); err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(filepath.Join(reportDir, "report.txt"))
	if err != nil || !strings.Contains(string(txt), "set aside: agent_main_telegram_direct_42.jsonl line 2") || !strings.Contains(string(txt), "verify: all 3 messages present") {
		t.Fatalf("report.txt:\n%s", txt)
	}
}

// A source that changed after planning is refused.
func TestApplyRefusesChangedSource(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "s")
	copyTree(t, filepath.Join(legacyRoot, "picoclaw/1-old-json"), src)
	ws := openWS(t, t.TempDir())
	p, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(src, "cli_default.json")
	if err := os.WriteFile(f, []byte(`{"key":"cli:default","messages":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, ws, p, ApplyOptions{}); !errorsIs(err, ErrSourceChanged) || !strings.Contains(err.Error(), "cli_default.json") {
		t.Fatalf("err = %v", err)
	}
}

// Verify finds a message that is not in the workspace.
func TestVerifyReportsMissing(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	p, err := NewPlan(ctx, filepath.Join(legacyRoot, "pocketpaw/dot-pocketpaw"), ws, PlanOptions{Read: Options{Location: time.UTC}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(ctx, ws, p)
	if err != nil || v.OK() || len(v.Missing) != 22 || v.Missing[0].Path == "" {
		t.Fatalf("verify before apply: %v %+v", err, v)
	}
}

// The legacy assistant kept writing after a migration: migrating again
// appends only the new messages to the sessions it already made.
func TestMigrateAgainAfterSourceGrew(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "s")
	copyTree(t, filepath.Join(legacyRoot, "picoclaw/4-new-opaque-fresh"), src)
	ws := openWS(t, t.TempDir())
	p, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, ws, p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	id := "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5"
	f, err := os.OpenFile(filepath.Join(src, id+".jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"role":"user","content":"one more thing","created_at":"2026-11-22T10:00:00Z"}`)
	f.Close()
	p2, err := NewPlan(ctx, src, ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p2.Sessions {
		want := ActionSkip
		if s.ID == id {
			want = ActionAppend
		}
		if s.Action != want {
			t.Fatalf("%s: %s, want %s", s.ID, s.Action, want)
		}
	}
	rep, err := Apply(ctx, ws, p2, ApplyOptions{})
	if err != nil || rep.Appended != 1 || !rep.Verify.OK() {
		t.Fatalf("apply: %v, appended %d", err, rep.Appended)
	}
	s, _ := ws.OpenID(id)
	recs, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(recs); n != 5 || recs[n-1].Content != "one more thing" || recs[n-1].Seq != 5 {
		t.Fatalf("%d records, last %+v", n, recs[n-1])
	}
	p3, _ := NewPlan(ctx, src, ws, PlanOptions{})
	for _, s := range p3.Sessions {
		if s.Action != ActionSkip {
			t.Fatalf("third plan: %s %s", s.ID, s.Action)
		}
	}
}
