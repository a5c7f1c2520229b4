package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// seedConversations makes the named session "chat": 3 messages, a reset,
// 5 messages with a tool call; it returns the workspace directory.
func seedConversations(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	s := seedSession(t, w, "chat", time.Now().Add(-time.Hour), "first question", "first answer", "thanks")
	if _, err := s.Reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		role := workspace.RoleUser
		if i%2 == 0 {
			role = workspace.RoleAssistant
		}
		if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: role, Content: fmt.Sprintf("second %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant,
		ToolCalls: json.RawMessage(`[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`)})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestShowActiveHistory(t *testing.T) {
	ws := seedConversations(t)
	out := mustRun(t, "--workspace", ws, "show", "chat")
	for _, want := range []string{"name     chat", "active history: 5 message(s); 1 earlier conversation(s) (--all)",
		"user: second 1", "assistant: second 4", "→ tool call call_1: get_weather({\"city\":\"Paris\"})"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "user: first question") {
		t.Errorf("show printed the conversation before the reset:\n%s", out)
	}
	out = mustRun(t, "--workspace", ws, "show", "chat", "--limit", "2")
	if !strings.Contains(out, "the last 2 shown") || strings.Contains(out, "second 3") || !strings.Contains(out, "second 4") {
		t.Errorf("show --limit 2:\n%s", out)
	}
	var got showActive
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "show", "chat", "--limit", "2", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 2 || !got.More || got.Messages[0].Content != "second 4" || got.Name != "chat" || got.LastSeq != 10 {
		t.Fatalf("show --json: %+v", got)
	}
}

func TestShowAll(t *testing.T) {
	ws := seedConversations(t)
	out := mustRun(t, "--workspace", ws, "show", "chat", "--all")
	i1, iReset, i2 := strings.Index(out, "first question"), strings.Index(out, "reset (manual)"), strings.Index(out, "second 1")
	if i1 < 0 || iReset < i1 || i2 < iReset || !strings.Contains(out, "── conversation 2 · #5 reset (manual)") {
		t.Fatalf("show --all:\n%s", out)
	}
	var got showAll
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "show", "chat", "--all", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Segments) != 2 || got.Segments[1].Reset == nil || len(got.Segments[0].Messages()) != 3 || len(got.Segments[1].Messages()) != 5 {
		t.Fatalf("show --all --json: %+v", got)
	}
}

func TestShowErrors(t *testing.T) {
	t.Setenv(envSession, "") // the current session's variable would change the errors
	ws := seedConversations(t)
	twinSessions(t, ws)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"show"}, 1, "which session? give SESSION, or set PICOSESS_SESSION"},
		{[]string{"show", "nosuch"}, 1, `no session matches "nosuch"`},
		{[]string{"show", "sk_v1_aaaaaaaa"}, 1, "matches 2 sessions"},
		{[]string{"show", "sk_v1_AAAAAAAA"}, 1, "not an id prefix"},
		{[]string{"show", "chat", "--limit", "-3"}, 1, "--limit -3"},
		{[]string{"show", "chat", "--all", "--limit", "3"}, 1, "--all prints every record"},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

// show --limit 0 streams the active history; what it prints is what a
// limit above the history's length prints (nothing cut), text and --json.
func TestShowLimit0IsWholeHistory(t *testing.T) {
	ws := seedConversations(t)
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.Lookup(context.Background(), "chat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeepLast(context.Background(), 2); err != nil { // a summary standing in for some
		t.Fatal(err)
	}
	w.Close()
	for _, args := range [][]string{{"show", "chat"}, {"--json", "show", "chat"}} {
		args = append([]string{"--workspace", ws}, args...)
		got := mustRun(t, append(args, "--limit", "0")...)
		want := mustRun(t, append(args, "--limit", "1000000")...)
		if got != want || !strings.Contains(got, "second 4") {
			t.Errorf("%v --limit 0:\n%s\nwith a limit above the length:\n%s", args, got, want)
		}
	}
}
