package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/summarize"
	"github.com/picosess/picosess/workspace"
)

// contextJSON runs context --json and decodes it.
func contextJSON(t *testing.T, ws string, args ...string) contextOutput {
	t.Helper()
	var c contextOutput
	out := mustRun(t, append([]string{"--workspace", ws, "--json", "context"}, args...)...)
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// messages and tokens are the contract; tokens is their total
	sum := 0
	for _, n := range c.MessageTokens {
		sum += n
	}
	if len(c.Messages) > 0 {
		sum += summarize.TokensReplyPrime
	}
	if len(c.MessageTokens) != len(c.Messages) || len(c.Seqs) != len(c.Messages) || sum != c.Tokens {
		t.Fatalf("context %v: %d messages, %d counts (sum %d), %d seqs, tokens %d", args, len(c.Messages), len(c.MessageTokens), sum, len(c.Seqs), c.Tokens)
	}
	if err := summarize.CheckToolPairs(c.Messages); err != nil {
		t.Fatalf("context %v sends a broken tool pair: %v", args, err)
	}
	return c
}

func TestContextJSONRespectsBudget(t *testing.T) {
	ws, _ := seedTalk(t, "")
	all := contextJSON(t, ws, "trip", "--max-tokens", "100000")
	if len(all.Messages) != 10 || all.Truncated || all.Omitted != 0 || all.Messages[0].Content != talk[0] || all.Tokens > 100000 {
		t.Fatalf("everything fits: %+v", all)
	}
	// a budget that holds about half of it
	budget := all.Tokens / 2
	half := contextJSON(t, ws, "trip", "--max-tokens", itoa(budget), "--strategy", "recent")
	if half.Tokens > budget || len(half.Messages) == 0 || len(half.Messages) >= 10 || !half.Truncated || half.Omitted != 10-len(half.Messages) {
		t.Fatalf("--max-tokens %d: %d tokens, %d messages, truncated %v, omitted %d", budget, half.Tokens, len(half.Messages), half.Truncated, half.Omitted)
	}
	if last := half.Messages[len(half.Messages)-1]; last.Content != talk[9] {
		t.Errorf("recent does not end with the newest message: %q", last.Content)
	}
	// raw JSON field names
	out := mustRun(t, "--workspace", ws, "--json", "context", "trip", "--max-tokens", "50")
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "messages", "tokens", "message_tokens", "seqs", "budget", "truncated", "omitted"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("context --json lacks %q: %s", k, out)
		}
	}
}

func TestContextText(t *testing.T) {
	ws := seedConversations(t) // "chat": a tool call that never got a result
	out := mustRun(t, "--workspace", ws, "context", "chat", "--max-tokens", "1000")
	for _, want := range []string{"strategy smart · budget 1000 tokens", "SEQ", "user      second 1", "of 1000 tokens", "repaired:"} {
		if !strings.Contains(out, want) {
			t.Errorf("context lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "first question") {
		t.Errorf("context sent the conversation before the reset:\n%s", out)
	}
}

func TestContextWithSummaryAndSummarizeStrategy(t *testing.T) {
	ws, path := seedTalk(t, `{"summarize": {"encoding": "estimate", "message_threshold": 50, "keep_recent": 2,
	  "summarizer": {"kind": "command", "command": ["sh", "-c", "cat >/dev/null; echo Lisbon trip, 14 May, by train."]}}}`)
	// summarize strategy over budget: summarizes first, then fits
	before := len(readFile(t, path))
	c := contextJSON(t, ws, "trip", "--max-tokens", "100", "--strategy", "summarize")
	if c.SummarySeq == 0 || c.Messages[0].Role != "system" || c.Messages[0].Content != summarize.SummaryPrefix+"Lisbon trip, 14 May, by train." || c.Tokens > 100 {
		t.Fatalf("summarize strategy: summary seq %d, first %+v, tokens %d", c.SummarySeq, c.Messages[0], c.Tokens)
	}
	lines := fileLines(t, ws, strings.TrimSuffix(filepath.Base(path), ".jsonl"))
	if lines[len(lines)-1]["type"] != "summary" || len(readFile(t, path)) <= before {
		t.Fatalf("the summarize strategy wrote no summary record")
	}
	// smart sends the summary; recent does not
	smart := contextJSON(t, ws, "trip", "--max-tokens", "100000")
	if smart.SummarySeq != c.SummarySeq || len(smart.Messages) != 3 {
		t.Errorf("smart after summary: %d messages, summary %d", len(smart.Messages), smart.SummarySeq)
	}
	recent := contextJSON(t, ws, "trip", "--max-tokens", "100000", "--strategy", "recent")
	if recent.SummarySeq != 0 || len(recent.Messages) != 2 {
		t.Errorf("recent after summary: %d messages, summary %d", len(recent.Messages), recent.SummarySeq)
	}
	// context with smart or recent writes nothing
	was := readFile(t, path)
	mustRun(t, "--workspace", ws, "context", "trip", "--max-tokens", "20", "--strategy", "recent")
	if !bytes.Equal(was, readFile(t, path)) {
		t.Error("context --strategy recent changed the session file")
	}
}

func TestContextErrors(t *testing.T) {
	t.Setenv(envSession, "") // the current session's variable would change the errors
	ws, _ := seedTalk(t, "")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--workspace", ws, "context", "trip"}, 1, "--max-tokens N is required"},
		{[]string{"--workspace", ws, "context", "trip", "--max-tokens", "0"}, 1, "--max-tokens 0: want a positive"},
		{[]string{"--workspace", ws, "context", "trip", "--max-tokens", "-5"}, 1, "--max-tokens -5"},
		{[]string{"--workspace", ws, "context", "trip", "--max-tokens", "many"}, 1, "invalid argument"},
		{[]string{"--workspace", ws, "context", "trip", "--max-tokens", "100", "--strategy", "oldest"}, 1, `--strategy "oldest": want recent, smart or summarize`},
		{[]string{"--workspace", ws, "context", "trip", "--max-tokens", "100", "--strategy", "recent", "--pin", "3"}, 1, "--pin applies to the smart strategy"},
		{[]string{"--workspace", ws, "context", "nosuch", "--max-tokens", "100"}, 1, `no session matches "nosuch"`},
		{[]string{"--workspace", ws, "context", "--max-tokens", "100"}, 1, "which session? give SESSION, or set PICOSESS_SESSION"},
		{[]string{"--workspace", t.TempDir(), "context", "trip", "--max-tokens", "100"}, 10, "not a workspace"},
	} {
		_, errOut, code := runCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// BenchmarkContextCommand10000 runs `context --max-tokens 4000` through the
// command tree on a session of 10 000 messages (recent strategy: a tail
// read), with the estimate counter so that the figure is the command's
// reading and fitting, not tiktoken's table load (docs/performance.md).
func BenchmarkContextCommand10000(b *testing.B) {
	ws := b.TempDir()
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"summarize": {"encoding": "estimate"}}`), 0o644); err != nil {
		b.Fatal(err)
	}
	w, err := workspace.Open(ws, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		b.Fatal(err)
	}
	s, err := w.Session(context.Background(), workspace.Target{Name: "big"})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]workspace.Record, 0, 1000)
	for i := 0; i < 10000; i++ {
		role := workspace.RoleUser
		if i%2 == 1 {
			role = workspace.RoleAssistant
		}
		recs = append(recs, workspace.Record{Type: workspace.TypeMessage, Role: role, Content: fmt.Sprintf("message %d about the Lisbon trip, trains and hotels near Baixa", i)})
		if len(recs) == cap(recs) {
			if _, err := s.Append(context.Background(), recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	w.Close()
	for _, st := range []string{"recent", "smart"} {
		b.Run(st, func(b *testing.B) {
			for b.Loop() {
				var out, errb bytes.Buffer
				if code := run(context.Background(), []string{"--workspace", ws, "--json", "context", "big", "--max-tokens", "4000", "--strategy", st}, strings.NewReader(""), &out, &errb); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
		})
	}
}
