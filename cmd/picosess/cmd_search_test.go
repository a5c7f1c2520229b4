package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
)

// seedSearch makes two named sessions with a few messages each.
func seedSearch(t *testing.T) (dir, flatID, officeID string) {
	t.Helper()
	dir = t.TempDir()
	w, err := workspace.Open(dir, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	mk := func(name string, msgs ...string) string {
		s, err := w.Session(ctx, workspace.Target{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range msgs {
			role, sender := workspace.RoleUser, "alice"
			if i%2 == 1 {
				role, sender = workspace.RoleAssistant, ""
			}
			if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: sender, Content: m}); err != nil {
				t.Fatal(err)
			}
		}
		return s.ID()
	}
	flatID = mk("flat", "Viewing the Berlin flat on Friday", "Bring your passport", "我们下周去柏林看公寓")
	officeID = mk("office", "The Berlin office moves in May", "Noted 📦")
	return dir, flatID, officeID
}

func TestSearchCLIJSONLines(t *testing.T) {
	dir, flatID, officeID := seedSearch(t)
	out, errOut, code := runCLI(t, "--workspace", dir, "search", "berlin", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines, got %q", out)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var h index.Hit
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if h.ID != h.Session+":"+strconv.FormatInt(h.Seq, 10) || h.Time.IsZero() || h.Role != "user" || !strings.Contains(h.Snippet, "**Berlin**") || h.Title == "" {
			t.Fatalf("hit %+v", h)
		}
		seen[h.Session] = true
	}
	if !seen[flatID] || !seen[officeID] {
		t.Fatalf("sessions %v", seen)
	}
	// Filters: --session by name, --role; CJK query.
	out, errOut, code = runCLI(t, "--workspace", dir, "search", "柏林", "--session", "flat", "--json")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(out, flatID) {
		t.Fatalf("cjk: %d %q %s", code, out, errOut)
	}
	out, _, _ = runCLI(t, "--workspace", dir, "search", "berlin", "--session", "office", "--json")
	if strings.Contains(out, flatID) || strings.Count(out, "\n") != 1 {
		t.Fatalf("--session office leaked: %q", out)
	}
	out, _, _ = runCLI(t, "--workspace", dir, "search", "passport", "--role", "user", "--json")
	if out != "" {
		t.Fatalf("--role user: %q", out)
	}
	out, _, _ = runCLI(t, "--workspace", dir, "search", "📦", "--since", "1h", "--json")
	if !strings.Contains(out, officeID) {
		t.Fatalf("emoji since 1h: %q", out)
	}
	out, _, _ = runCLI(t, "--workspace", dir, "search", "berlin", "--until", time.Now().Add(-48*time.Hour).Format(time.RFC3339), "--json")
	if out != "" {
		t.Fatalf("--until two days ago: %q", out)
	}
	// Text output: one hit in two lines.
	out, _, code = runCLI(t, "--workspace", dir, "search", `"berlin flat"`)
	if code != 0 || !strings.Contains(out, "Viewing the **Berlin** **flat** on Friday") || strings.Count(out, "\n") != 2 {
		t.Fatalf("text: %q", out)
	}
}

func TestSearchCLIErrors(t *testing.T) {
	dir, _, _ := seedSearch(t)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"search", `"unclosed`}, 1, "bad query"},
		{[]string{"search", "x", "--sort", "size"}, 1, `sort "size"`},
		{[]string{"search", "x", "--since", "tomorrow"}, 1, "--since"},
		{[]string{"search", "x", "--until", "soon"}, 1, "--until"},
		{[]string{"search", `role:user "dentist`}, 1, "unclosed quote (column 11"},
		{[]string{"search", "flat -"}, 1, "a lone '-'"},
		{[]string{"search", "colour:red"}, 1, `unknown field "colour"`},
		{[]string{"search", "x", "--session", "nosuch"}, 1, "not found"},
		{[]string{"search"}, 1, "accepts 1 arg"},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", dir}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	_, errOut, code := runCLI(t, "--workspace", t.TempDir()+"/none", "search", "x")
	if code != 10 {
		t.Fatalf("not a workspace: %d %s", code, errOut)
	}
}

// Exit 11, naming the holder, when another owner keeps the index.
func TestSearchCLILocked(t *testing.T) {
	dir, _, _ := seedSearch(t)
	w, err := workspace.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	unlock, err := w.LockIndex(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, cmd := range []string{"search", "reindex"} {
		args := []string{"--workspace", dir, "--lock-timeout", "100ms", cmd}
		if cmd == "search" {
			args = append(args, "berlin")
		}
		_, errOut, code := runCLI(t, args...)
		if code != 11 || !strings.Contains(errOut, "pid "+strconv.Itoa(os.Getpid())) {
			t.Fatalf("%s: exit %d, %q", cmd, code, errOut)
		}
	}
}

func TestReindexCLI(t *testing.T) {
	dir, _, _ := seedSearch(t)
	out, errOut, code := runCLI(t, "--workspace", dir, "--json", "reindex")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res reindexOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Sessions != 2 || res.Messages != 5 {
		t.Fatalf("result %q: %+v %v", out, res, err)
	}
	// Progress: JSON lines on stderr, the last one complete.
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	var last struct {
		Sessions, SessionsDone int
		Docs                   int64
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &struct {
		Sessions     *int   `json:"sessions"`
		SessionsDone *int   `json:"sessions_done"`
		Docs         *int64 `json:"docs"`
	}{&last.Sessions, &last.SessionsDone, &last.Docs}); err != nil || last.SessionsDone != 2 || last.Docs != 5 {
		t.Fatalf("progress %q: %+v %v", errOut, last, err)
	}
	out, _, code = runCLI(t, "--workspace", dir, "reindex")
	if code != 0 || !strings.HasPrefix(out, "indexed 5 messages from 2 sessions in ") {
		t.Fatalf("text: %d %q", code, out)
	}
}
