package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// writeConfig writes the workspace's config.json.
func writeConfig(t *testing.T, ws, cfg string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// talk is a conversation worth summarizing, user first.
var talk = []string{
	"We are planning the Lisbon trip for the 14th of May, three days, trains only.",
	"Noted: Lisbon, 14 May, three days, by train. Do you want hotels near Baixa?",
	"Yes, mid-range hotels near Baixa, and a day trip to Sintra.",
	"Sintra works well by train from Rossio station, about 40 minutes.",
	"Book the Sintra day for the 15th and keep the 16th free.",
	"Done: Sintra on the 15th, the 16th is free. Anything else?",
	"What is the budget for food per day?",
	"Around 45 euros per person per day is realistic in Lisbon.",
	"Good. Remind me to buy the Navegante card.",
	"I will remind you to buy the Navegante card on arrival.",
}

// Most tests count with the estimate ("encoding": "estimate"): loading
// tiktoken's tables costs each command about a second under -race. The
// --force and context budget tests keep the default tiktoken counter.

// seedTalk makes a workspace with the named session "trip" holding talk
// and returns the workspace directory and the session file.
func seedTalk(t *testing.T, cfg string) (ws, path string) {
	t.Helper()
	ws = t.TempDir()
	if cfg != "" {
		writeConfig(t, ws, cfg)
	}
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := seedSession(t, w, "trip", time.Now().Add(-time.Hour), talk...)
	return ws, s.Path()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSummarizeNotDueAndDryRunWriteNothing(t *testing.T) {
	ws, path := seedTalk(t, `{"summarize": {"encoding": "estimate", "message_threshold": 50, "keep_recent": 2}}`)
	before := readFile(t, path)

	out := mustRun(t, "--workspace", ws, "summarize", "trip")
	if !strings.Contains(out, "not due: below thresholds: 10 messages") {
		t.Errorf("summarize (not due):\n%s", out)
	}
	out = mustRun(t, "--workspace", ws, "summarize", "trip", "--dry-run")
	for _, want := range []string{"dry run: not due", "--force would summarize", "would fold 8 message(s) (#2..#9)", "with extractive", "keeping 2 recent", "nothing was written"} {
		if !strings.Contains(out, want) {
			t.Errorf("summarize --dry-run lacks %q:\n%s", want, out)
		}
	}
	var got summarizeResult
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "--json", "summarize", "trip", "--dry-run", "--force")), &got); err != nil {
		t.Fatal(err)
	}
	if !got.DryRun || got.Summarized || got.From != 2 || got.Through != 9 || got.MessagesFolded != 8 || got.MessagesKept != 2 || got.Summarizer != "extractive" || got.TokensBefore == 0 {
		t.Errorf("summarize --dry-run --json: %+v", got)
	}
	if after := readFile(t, path); !bytes.Equal(before, after) {
		t.Fatalf("summarize without --force or with --dry-run changed the session file")
	}
	if _, err := os.Stat(filepath.Join(ws, "locks", filepath.Base(strings.TrimSuffix(path, ".jsonl"))+".summarize.lock")); err == nil {
		t.Errorf("a dry run took the summarize lock")
	}
}

func TestSummarizeForceWritesSummaryThatShowAndExportReflect(t *testing.T) {
	ws, path := seedTalk(t, `{"summarize": {"message_threshold": 50, "keep_recent": 2}}`)
	var got summarizeResult
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "--json", "summarize", "trip", "--force")), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Summarized || got.Summary == nil || got.Through != 9 || got.MessagesFolded != 8 || got.Summary.Seq != 12 ||
		got.Summary.By == "" || got.TokensAfter <= 0 || got.Summary.Tokens <= 0 {
		t.Fatalf("summarize --force --json: %+v", got)
	}
	lines := fileLines(t, ws, filepath.Base(strings.TrimSuffix(path, ".jsonl")))
	last := lines[len(lines)-1]
	if last["type"] != "summary" || last["through"] != float64(9) || last["text"] == "" || len(lines) != 12 {
		t.Fatalf("last record %v (%d lines)", last, len(lines))
	}
	// raw messages stay
	if lines[1]["content"] != talk[0] {
		t.Errorf("first message changed: %v", lines[1])
	}

	var shown showActive
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "show", "trip", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Summary == nil || shown.Summary.Through != 9 || len(shown.Messages) != 2 || shown.Messages[0].Content != talk[8] {
		t.Fatalf("show after summarize: summary %+v, %d messages", shown.Summary, len(shown.Messages))
	}
	exp := mustRun(t, "--workspace", ws, "export", "trip", "--format", "json")
	if !strings.Contains(exp, `"type": "summary"`) || !strings.Contains(exp, `"through": 9`) {
		t.Errorf("export does not carry the summary:\n%s", exp)
	}

	// Text output, and a second --force with nothing left to fold.
	out := mustRun(t, "--workspace", ws, "summarize", "trip")
	if !strings.Contains(out, "not due") && !strings.Contains(out, "nothing to summarize") {
		t.Errorf("summarize after summarizing: %s", out)
	}
	before := readFile(t, path)
	out = mustRun(t, "--workspace", ws, "summarize", "trip", "--force")
	if !strings.Contains(out, "nothing to summarize") || !bytes.Equal(before, readFile(t, path)) {
		t.Errorf("second --force with 2 kept messages: %s", out)
	}
}

func TestSummarizeDueText(t *testing.T) {
	ws, _ := seedTalk(t, `{"summarize": {"encoding": "estimate", "message_threshold": 6, "keep_recent": 2}}`)
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	seedSession(t, w, "short", time.Now(), "hello", "hi there")
	seedSession(t, w, "long2", time.Now(), talk[:8]...)
	w.Close()
	out := mustRun(t, "--workspace", ws, "summarize", "--due")
	if strings.Count(out, "done   ") != 2 || !strings.Contains(out, "checked 3 session(s): 2 due, 2 summarized, 0 busy, 0 failed") {
		t.Fatalf("summarize --due:\n%s", out)
	}
	out = mustRun(t, "--workspace", ws, "summarize", "--due")
	if !strings.Contains(out, "checked 3 session(s): 0 due") {
		t.Fatalf("summarize --due twice:\n%s", out)
	}
}

func TestSummarizeDuePartialAndAllFailed(t *testing.T) {
	// Agent "bad" has a command summarizer that fails; main's is extractive.
	cfg := `{"summarize": {"encoding": "estimate", "message_threshold": 6, "keep_recent": 2},
	 "agents": {"list": [{"id": "bad", "summarize": {"summarizer": {"kind": "command", "command": ["sh", "-c", "echo broken pipe dream >&2; exit 7"]}}}]}}`
	ws, _ := seedTalk(t, cfg)
	// The first message through the CLI creates the routed session of agent
	// "bad"; the rest go straight through the workspace (quicker).
	var created struct {
		ID string `json:"id"`
	}
	out := mustRun(t, "--workspace", ws, "--json", "append", "--agent", "bad", "--channel", "telegram", "--chat", "42", "--role", "user", "--content", talk[0])
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" {
		t.Fatalf("append --json: %v %s", err, out)
	}
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.OpenID(created.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range talk[1:] {
		role := workspace.RoleAssistant
		if i%2 == 1 {
			role = workspace.RoleUser
		}
		if _, err := s.Append(context.Background(), workspace.Record{Type: workspace.TypeMessage, Role: role, Content: c}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	stdout, stderr, code := runCLI(t, "--workspace", ws, "--json", "summarize", "--due")
	if code != exitRepairable {
		t.Fatalf("exit %d, want 3 (partial): %s", code, stderr)
	}
	var got summarizeDueOutput
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if got.Checked != 2 || got.Due != 2 || got.Summarized != 1 || got.Failed != 1 {
		t.Fatalf("summarize --due --json: %+v", got)
	}
	for _, s := range got.Sessions {
		if (s.Agent == "bad") != (s.Error != "") || (s.Agent == "bad" && !strings.Contains(s.Error, "broken pipe dream")) {
			t.Errorf("session of agent %s: summarized %v, error %q", s.Agent, s.Summarized, s.Error)
		}
	}
	// JSON progress lines on stderr, one per session checked.
	var lines int
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var p progressLine
		if json.Unmarshal([]byte(l), &p) == nil && p.Total == 2 {
			lines++
		}
	}
	if lines != 2 {
		t.Errorf("progress lines on stderr: %d\n%s", lines, stderr)
	}
	// Now only the failing session is due: all failed, exit 1.
	_, stderr, code = runCLI(t, "--workspace", ws, "summarize", "--due")
	if code != exitFailure || !strings.Contains(stderr, "every due session failed") {
		t.Fatalf("all failed: exit %d: %s", code, stderr)
	}
}

func TestSummarizeOpenAIFailureLeavesSessionUnchanged(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request to %s", r.URL.Path)
		}
		http.Error(w, "model overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ws, path := seedTalk(t, fmt.Sprintf(`{"summarize": {"encoding": "estimate", "keep_recent": 2, "summarizer": {"kind": "openai", "base_url": %q, "model": "tiny", "retries": 1, "backoff": "1ms"}}}`, srv.URL+"/v1"))
	before := readFile(t, path)
	_, stderr, code := runCLI(t, "--workspace", ws, "summarize", "trip", "--force")
	if code != exitFailure {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"503", "model overloaded", "seq 2..9", "the session is unchanged"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests, want 2 (one retry)", hits.Load())
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Fatal("a failed summarizer changed the session file")
	}
	// The dry run names the configured summarizer.
	out := mustRun(t, "--workspace", ws, "summarize", "trip", "--dry-run", "--force")
	if !strings.Contains(out, "openai "+srv.URL+"/v1 (model tiny)") {
		t.Errorf("dry run: %s", out)
	}
}

func TestSummarizeOpenAISuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer sekrit" {
			t.Errorf("Authorization %q", got)
		}
		fmt.Fprint(w, `{"choices":[{"message":{"content":"Lisbon trip 14-16 May by train; Sintra on the 15th."}}]}`)
	}))
	defer srv.Close()
	ws, _ := seedTalk(t, fmt.Sprintf(`{"summarize": {"encoding": "estimate", "keep_recent": 2, "summarizer": {"kind": "openai", "base_url": %q, "model": "tiny", "api_key_env": "TEST_SUMMARY_KEY"}}}`, srv.URL+"/v1"))
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string {
		if k == "TEST_SUMMARY_KEY" {
			return "sekrit"
		}
		return ""
	}}
	root := newRootCmd(a)
	root.SetArgs([]string{"--workspace", ws, "summarize", "trip", "--force"})
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.Execute(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "by openai:tiny") {
		t.Fatalf("summarize with openai: %s", out.String())
	}
	shown := mustRun(t, "--workspace", ws, "show", "trip")
	if !strings.Contains(shown, "[summary of the history through #9] Lisbon trip 14-16 May by train") {
		t.Errorf("show:\n%s", shown)
	}
}

func TestSummarizeErrors(t *testing.T) {
	ws, _ := seedTalk(t, "")
	bad := t.TempDir()
	mustRun(t, "--workspace", bad, "append", "--session", "x", "--role", "user", "--content", "hi")
	writeConfig(t, bad, `{"summarize": {"summarizer": {"kind": "magic"}}}`)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--workspace", ws, "summarize"}, 1, "one SESSION (or --due)"},
		{[]string{"--workspace", ws, "summarize", "trip", "other"}, 1, "one SESSION (or --due), got 2"},
		{[]string{"--workspace", ws, "summarize", "--due", "trip"}, 1, "give no SESSION"},
		{[]string{"--workspace", ws, "summarize", "--due", "--force"}, 1, "--force applies to one SESSION"},
		{[]string{"--workspace", ws, "summarize", "nosuch"}, 1, `no session matches "nosuch"`},
		{[]string{"--workspace", ws, "summarize", "trip", "--bogus"}, 1, "unknown flag: --bogus"},
		{[]string{"--workspace", t.TempDir(), "summarize", "trip"}, 10, "not a workspace"},
		{[]string{"--workspace", bad, "summarize", "x", "--force"}, 1, "summarize.summarizer.kind"},
	} {
		_, errOut, code := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}
