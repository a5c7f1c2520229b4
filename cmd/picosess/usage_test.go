package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// append --usage-in/--usage-out stores the usage an assistant message's
// model reported; show prints it after the author and sums it in the
// heading; show --json carries it in the record; ls --json sums it.
func TestAppendUsage(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "u", "--role", "user", "--content", "hello?")
	mustRun(t, "--workspace", ws, "append", "--session", "u", "--role", "assistant", "--model", "gpt-5.4",
		"--usage-in", "1200", "--usage-out", "85", "--content", "Hello.")
	mustRun(t, "--workspace", ws, "append", "--session", "u", "--role", "assistant", "--usage-in", "40", "--usage-out", "6",
		"--usage-cache-read", "1800", "--usage-cache-write", "200", "--content", "From the cache.")

	out := mustRun(t, "--workspace", ws, "show", "u")
	for _, want := range []string{
		"3 message(s)", "; model usage in 1240 · out 91\n",
		"assistant [in 1200 · out 85 tokens]: Hello.",
		"assistant [in 40 · out 6 · cache read 1800 · cache write 200 tokens]: From the cache.",
		"user: hello?",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	var shown showActive
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "show", "u", "--json")), &shown); err != nil {
		t.Fatal(err)
	}
	if u := shown.Messages[1].Usage; u == nil || u.InputTokens != 1200 || u.OutputTokens != 85 || shown.Messages[0].Usage != nil {
		t.Fatalf("show --json: %+v", shown.Messages)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "ls", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0]["usage_in"] != 1240.0 || list[0]["usage_out"] != 91.0 {
		t.Fatalf("ls --json: %v", list)
	}
	// A session without usage says 0, and show prints no usage.
	mustRun(t, "--workspace", ws, "append", "--session", "plain", "--role", "assistant", "--content", "hi")
	if out := mustRun(t, "--workspace", ws, "show", "plain"); strings.Contains(out, "usage") || strings.Contains(out, "[in") {
		t.Fatalf("show of a session without usage:\n%s", out)
	}
	if out := mustRun(t, "--workspace", ws, "ls", "--json"); !strings.Contains(out, `"usage_in":0,"usage_out":0`) {
		t.Fatalf("ls --json without usage: %s", out)
	}
}

// Usage flags that make no sense are usage errors that name the flag, and
// nothing is written.
func TestAppendUsageRefused(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "u", "--role", "user", "--content", "first")
	files, _ := filepath.Glob(filepath.Join(ws, "sessions", "*.jsonl"))
	before, _ := os.ReadFile(files[0])
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "user", "--usage-in", "1", "--usage-out", "2"}, "--usage-in: token usage is what a model reported for its reply; --role user is not assistant"},
		{[]string{"--role", "tool", "--tool-call-id", "c1", "--usage-out", "2", "--usage-in", "1"}, "--usage-in: token usage"},
		{[]string{"--role", "assistant", "--usage-in", "-1", "--usage-out", "2"}, "--usage-in -1: want a token count, 0 or more"},
		{[]string{"--role", "assistant", "--usage-in", "1", "--usage-out", "2", "--usage-cache-read", "-5"}, "--usage-cache-read -5"},
		{[]string{"--role", "assistant", "--usage-in", "1"}, "--usage-in: give both --usage-in and --usage-out"},
		{[]string{"--role", "assistant", "--usage-cache-write", "3"}, "--usage-cache-write: give both --usage-in and --usage-out"},
		{[]string{"--role", "assistant", "--usage-in", "1.5", "--usage-out", "2"}, `invalid argument "1.5" for "--usage-in"`},
	} {
		args := append([]string{"--workspace", ws, "append", "--session", "u", "--content", "x"}, tc.args...)
		_, errOut, code := runCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if after, _ := os.ReadFile(files[0]); string(after) != string(before) {
		t.Fatalf("a refused append wrote:\n%s", after)
	}
}

// Through the built binary: the usage goes in, shows, sums, and a
// refusal is a JSON error with code "usage".
func TestUsageBinary(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	for _, args := range [][]string{
		{"append", "--session", "b", "--role", "user", "--content", "q"},
		{"append", "--session", "b", "--role", "assistant", "--usage-in", "1200", "--usage-out", "85", "--content", "a"},
	} {
		if _, errOut, code := exitOf(t, bin, append([]string{"--workspace", ws}, args...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if out, _, _ := exitOf(t, bin, "--workspace", ws, "show", "b"); !strings.Contains(out, "assistant [in 1200 · out 85 tokens]: a") {
		t.Fatalf("show:\n%s", out)
	}
	if out, _, _ := exitOf(t, bin, "--workspace", ws, "ls", "--json"); !strings.Contains(out, `"usage_in":1200,"usage_out":85`) {
		t.Fatalf("ls --json: %s", out)
	}
	_, errOut, code := exitOf(t, bin, "--workspace", ws, "--json", "append", "--session", "b", "--role", "user",
		"--usage-in", "1", "--usage-out", "1", "--content", "x")
	var e struct{ Code string }
	if code != 1 || json.Unmarshal([]byte(errOut), &e) != nil || e.Code != "usage" {
		t.Fatalf("refused append: exit %d, stderr %s", code, errOut)
	}
}
