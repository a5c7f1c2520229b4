package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// seedIdle writes a workspace through a clock set back: old and support
// (agent support) last written 60 days ago, oldcp 60 days ago with a
// checkpoint, fresh an hour ago. It returns the session ids by name.
func seedIdle(t *testing.T) (string, map[string]string) {
	t.Helper()
	ws := t.TempDir()
	now := time.Now()
	clock := now.Add(-60 * 24 * time.Hour)
	w, err := workspace.Open(ws, &workspace.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	ids := map[string]string{}
	mk := func(name string, tg workspace.Target, text string) *workspace.Session {
		s, err := w.Session(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: text}); err != nil {
			t.Fatal(err)
		}
		ids[name] = s.ID()
		return s
	}
	mk("old", workspace.Target{Name: "old"}, "an old question")
	cp := mk("oldcp", workspace.Target{Name: "oldcp"}, "a question worth keeping")
	if _, err := cp.SaveCheckpoint(ctx, "good", ""); err != nil {
		t.Fatal(err)
	}
	sc := keying.Scope{Version: 1, AgentID: "support", Channel: "telegram", Account: "default", Dimensions: []string{"chat"}, Values: map[string]string{"chat": "group:1"}}
	mk("support", workspace.Target{Scope: &sc}, "a support ticket")
	clock = now.Add(-time.Hour)
	mk("fresh", workspace.Target{Name: "fresh"}, "a fresh question")
	return ws, ids
}

// sessionFiles maps each file under sessions/ (trash included) to its bytes.
func sessionFiles(t *testing.T, ws string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(filepath.Join(ws, workspace.SessionsDir), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func TestCleanupDryRunThenRunThenRestore(t *testing.T) {
	ws, ids := seedIdle(t)
	before := sessionFiles(t, ws)
	oldPath := filepath.Join(ws, workspace.SessionsDir, ids["old"]+workspace.SessionExt)
	oldBytes := before[oldPath]

	out := mustRun(t, "--workspace", ws, "cleanup", "--older-than", "30d", "--keep-checkpoints", "--dry-run")
	for _, want := range []string{
		"would move 2 sessions", "idle more than 30d to the trash:", shortID(ids["old"]), shortID(ids["support"]), "an old question",
		"kept 1 idle session:", shortID(ids["oldcp"]), "has checkpoint",
		"kept 1 active session written in the last 30d",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "undo:") {
		t.Errorf("dry run offers an undo:\n%s", out)
	}
	if !sameFiles(before, sessionFiles(t, ws)) {
		t.Fatal("cleanup --dry-run changed sessions/")
	}

	// --json: the report, snake_case.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "--json", "cleanup", "--older-than", "30d", "--agent", "support", "--dry-run")), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"dry_run", "now", "idle_before", "trashed", "kept", "purged", "trashed_total", "kept_total", "purged_total"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("--json lacks %q: %v", k, raw)
		}
	}
	var rep workspace.CleanupReport
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || len(rep.Trashed) != 1 || rep.Trashed[0].ID != ids["support"] || rep.Trashed[0].Action != "trash" ||
		rep.Trashed[0].Reason != "idle 60d > 30d" || len(rep.Kept) != 0 || rep.TrashedTotal.Count != 1 {
		t.Fatalf("--json dry run, agent support: %+v", rep)
	}

	out = mustRun(t, "--workspace", ws, "cleanup", "--older-than", "30d", "--keep-checkpoints")
	if !strings.Contains(out, "moved 2 sessions") || !strings.Contains(out, "undo: picosess rm --restore SESSION") {
		t.Fatalf("cleanup output:\n%s", out)
	}
	if _, err := os.Stat(oldPath); !os.IsNotExist(err) {
		t.Fatalf("old session still live: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.SessionsDir, workspace.TrashDir, ids["old"]+workspace.SessionExt)); err != nil {
		t.Fatalf("old session not in the trash: %v", err)
	}
	if ls := mustRun(t, "--workspace", ws, "ls"); !strings.Contains(ls, "name:oldcp") || !strings.Contains(ls, "name:fresh") || strings.Contains(ls, "name:old ") {
		t.Fatalf("ls after cleanup:\n%s", ls)
	}
	if out := mustRun(t, "--workspace", ws, "cleanup", "--older-than", "30d", "--keep-checkpoints"); !strings.Contains(out, "no session idle more than 30d to move") {
		t.Fatalf("second cleanup:\n%s", out)
	}

	if out := mustRun(t, "--workspace", ws, "rm", "--restore", shortID(ids["old"])); !strings.Contains(out, "restored "+shortID(ids["old"])) {
		t.Fatalf("rm --restore: %q", out)
	}
	got, err := os.ReadFile(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	checkRestored(t, string(got), oldBytes)
}

// checkRestored fails unless a session file brought back from the trash is
// the original, whole, and then one untrash record (which cleanup counts
// the session's idle time from).
func checkRestored(t *testing.T, got, orig string) {
	t.Helper()
	note, ok := strings.CutPrefix(got, orig)
	if !ok || !strings.HasPrefix(note, `{"type":"untrash","seq":`) || strings.Count(note, "\n") != 1 || !strings.HasSuffix(note, "}\n") {
		t.Fatalf("the restored session is not the original and an untrash record:\n%s\nafter the original: %q", got, note)
	}
}

func TestCleanupAppliesConfig(t *testing.T) {
	ws, ids := seedIdle(t)
	cfg := `{"cleanup": {"ttl": "30d", "keep_checkpoints": true, "purge_after": "90d"}}`
	if err := os.WriteFile(filepath.Join(ws, workspace.ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var rep workspace.CleanupReport
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "--json", "cleanup", "--dry-run")), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range append(rep.Trashed, rep.Kept...) {
		got[d.ID] = d.Action + ": " + d.Reason
	}
	want := map[string]string{
		ids["old"]:     "trash: idle 60d > 30d",
		ids["support"]: "trash: idle 60d > 30d",
		ids["oldcp"]:   "keep: has checkpoint",
		ids["fresh"]:   "keep: active 1h ago",
	}
	if len(got) != len(want) || rep.PurgeBefore.IsZero() {
		t.Fatalf("config cleanup: %v (purge before %v)", got, rep.PurgeBefore)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	// --channel narrows the configured cleanup.
	out := mustRun(t, "--workspace", ws, "cleanup", "--channel", "telegram")
	if !strings.Contains(out, "moved 1 session") || !strings.Contains(out, shortID(ids["support"])) ||
		!strings.Contains(out, "nothing in the trash deleted more than 90d ago") {
		t.Fatalf("cleanup --channel telegram under the config:\n%s", out)
	}
}

func TestCleanupErrors(t *testing.T) {
	ws, _ := seedIdle(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cleanup"}, "nothing to clean up: give --older-than DUR"},
		{[]string{"cleanup", "--dry-run", "--keep-checkpoints"}, "nothing to clean up"},
		{[]string{"cleanup", "--older-than", "soon"}, `--older-than "soon"`},
		{[]string{"cleanup", "--purge-after", "-3d"}, `--purge-after "-3d"`},
		{[]string{"cleanup", "--purge-after", "30d", "--agent", "main"}, "choose sessions for --older-than"},
		{[]string{"cleanup", "old"}, "unknown command"},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
	if _, _, code := runCLI(t, "--workspace", t.TempDir(), "cleanup", "--older-than", "30d"); code != exitNotWS {
		t.Errorf("cleanup outside a workspace: exit %d, want %d", code, exitNotWS)
	}
	bad := t.TempDir()
	os.Mkdir(filepath.Join(bad, workspace.SessionsDir), 0o755)
	os.WriteFile(filepath.Join(bad, workspace.ConfigFile), []byte(`{"cleanup": {"older_than": "someday"}}`), 0o644)
	if _, errOut, code := runCLI(t, "--workspace", bad, "cleanup"); code != 1 || !strings.Contains(errOut, "older_than") {
		t.Errorf("cleanup with a bad config: exit %d %q", code, errOut)
	}
}

// A session whose lock another process holds stays; the rest is cleaned
// up and the exit status says locked.
func TestCleanupLockedExit11(t *testing.T) {
	ws, ids := seedIdle(t)
	lk := flock.New(filepath.Join(ws, workspace.LocksDir, ids["old"]+workspace.LockExt))
	if err := lk.Lock(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "--workspace", ws, "--lock-timeout", "50ms", "cleanup", "--older-than", "30d")
	lk.Unlock()
	if code != exitLocked || !strings.Contains(errOut, "left 1 locked session(s) in place") {
		t.Fatalf("exit %d, stderr %q; want %d", code, errOut, exitLocked)
	}
	if !strings.Contains(out, "moved 2 sessions") || !strings.Contains(out, "locked") {
		t.Fatalf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.SessionsDir, ids["old"]+workspace.SessionExt)); err != nil {
		t.Fatal("the locked session was moved")
	}
}
