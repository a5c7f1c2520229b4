package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// runIn drives the real command tree with stdin.
func runIn(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runIn(t, "", args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// fileLines returns the records of a session file as decoded JSON objects.
func fileLines(t *testing.T, ws, id string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(ws, "sessions", id+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

const telegramDM = "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5"

func TestAppendRoutedCreatesHeaderThenAppendsByAlias(t *testing.T) {
	ws := t.TempDir()
	out := mustRun(t, "--workspace", ws, "append", "--channel", "telegram", "--chat-type", "direct", "--chat", "123456789",
		"--sender", "123456789", "--role", "user", "--content", "hello")
	if out != "2\n" {
		t.Fatalf("first append printed %q, want seq 2 (the header is 1)", out)
	}
	out = mustRun(t, "--workspace", ws, "append", "agent:main:telegram:direct:123456789", "--role", "assistant", "--content", "hi!", "--json")
	var got appendOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != telegramDM || got.Seq != 3 {
		t.Fatalf("append --json = %q (%v)", out, err)
	}
	lines := fileLines(t, ws, telegramDM)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want header + 2 messages", len(lines))
	}
	h := lines[0]
	scope, _ := h["scope"].(map[string]any)
	if h["type"] != "session" || h["id"] != telegramDM || scope["channel"] != "telegram" || len(h["aliases"].([]any)) != 4 {
		t.Fatalf("header %v", h)
	}
	if m := lines[1]; m["role"] != "user" || m["content"] != "hello" || m["sender"] != "123456789" {
		t.Fatalf("message %v", m)
	}
	if m := lines[2]; m["role"] != "assistant" || m["content"] != "hi!" || m["seq"] != 3.0 {
		t.Fatalf("reply %v", m)
	}
}

func TestAppendNamedSessionFromStdin(t *testing.T) {
	ws := t.TempDir()
	out, errOut, code := runIn(t, "remember the milk\nand eggs\n", "--workspace", ws, "append", "--session", "Todo", "--role", "user")
	if code != 0 || out != "2\n" {
		t.Fatalf("exit %d out %q err %s", code, out, errOut)
	}
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Lookup(context.Background(), "todo")
	if err != nil {
		t.Fatal(err)
	}
	lines := fileLines(t, ws, s.ID())
	if lines[0]["name"] != "todo" || lines[1]["content"] != "remember the milk\nand eggs" {
		t.Fatalf("named session: %v", lines)
	}
}

// twinSessions makes two sessions whose ids share the prefix sk_v1_aaaaaaaa
// and which both list the alias "agent:main:dup".
func twinSessions(t *testing.T, ws string) (a, b string) {
	t.Helper()
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a = "sk_v1_aaaaaaaa" + strings.Repeat("0", 55) + "1"
	b = "sk_v1_aaaaaaaa" + strings.Repeat("0", 55) + "2"
	for _, id := range []string{a, b} {
		s, err := w.Session(context.Background(), workspace.Target{ID: id, Aliases: []string{"agent:main:dup"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(context.Background(), workspace.Record{Type: workspace.TypeMessage, Role: "user", Content: "in " + id}); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

func TestAppendErrors(t *testing.T) {
	ws := t.TempDir()
	a, b := twinSessions(t, ws)
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"missing role", "", []string{"append", "--session", "x", "--content", "c"}, 1, "--role is required"},
		{"bad role", "", []string{"append", "--session", "x", "--role", "robot", "--content", "c"}, 1, `--role "robot": want one of user, assistant, system, tool`},
		{"empty content", "", []string{"append", "--session", "x", "--role", "user"}, 1, "empty content"},
		{"blank content", "", []string{"append", "--session", "x", "--role", "user", "--content", "  "}, 1, "empty content"},
		{"no session", "", []string{"append", "--role", "user", "--content", "c"}, 1, "which session?"},
		{"sender alone", "", []string{"append", "--sender", "u1", "--role", "user", "--content", "c"}, 1, "which session?"},
		{"SESSION and route", "", []string{"append", a, "--channel", "slack", "--role", "user", "--content", "c"}, 1, "drop --channel"},
		{"unknown session", "", []string{"append", "nosuch", "--role", "user", "--content", "c"}, 1, `no session matches "nosuch"`},
		{"ambiguous prefix", "", []string{"append", "sk_v1_aaaaaaaa", "--role", "user", "--content", "c"}, 1, a + ", " + b},
		{"ambiguous alias", "", []string{"append", "agent:main:dup", "--role", "user", "--content", "c"}, 1, "ambiguous"},
		{"short prefix", "", []string{"append", "sk_v1_aaaa", "--role", "user", "--content", "c"}, 1, "too short"},
		{"bad dimensions", "", []string{"append", "--channel", "x", "--dimensions", "moon", "--role", "user", "--content", "c"}, 1, `unknown dimension "moon"`},
		{"unknown flag", "", []string{"append", "--session", "x", "--role", "user", "--colour", "red"}, 1, "unknown flag: --colour"},
		{"two sessions", "", []string{"append", a, b, "--role", "user", "--content", "c"}, 1, "accepts at most 1 arg"},
	} {
		_, errOut, code := runIn(t, tt.stdin, append([]string{"--workspace", ws}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tt.name, code, errOut, tt.code, tt.want)
		}
	}
	// Nothing was appended by the failures: each twin still has its one message.
	for _, id := range []string{a, b} {
		if n := len(fileLines(t, ws, id)); n != 2 {
			t.Errorf("%s has %d lines after failed appends, want 2", id, n)
		}
	}
	if _, err := os.Stat(filepath.Join(ws, "sessions", "x.jsonl")); err == nil {
		t.Error("a failed append created a file")
	}
}

// A file where the workspace should be is "not a workspace": exit 10.
func TestAppendNotAWorkspace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ws")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runIn(t, "", "--workspace", file, "append", "--session", "x", "--role", "user", "--content", "c")
	if code != exitNotWS || !strings.Contains(errOut, "not a workspace") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
}
