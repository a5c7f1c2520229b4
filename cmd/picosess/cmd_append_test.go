package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
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
		{"chat without channel", "", []string{"append", "--chat", "42", "--role", "user", "--content", "c"}, 1, "which session? --chat is part of a route"},
		{"agent without channel", "", []string{"append", "--agent", "a", "--sender", "u1", "--role", "user", "--content", "c"}, 1, "which session? --agent"},
		{"SESSION and route", "", []string{"append", a, "--channel", "slack", "--role", "user", "--content", "c"}, 1, "drop --channel"},
		{"session and route", "", []string{"append", "--session", "x", "--channel", "slack", "--role", "user", "--content", "c"}, 1, "drop --channel"},
		{"empty session name", "", []string{"append", "--session", " ", "--role", "user", "--content", "c"}, 1, "--session: empty name"},
		{"unknown session", "", []string{"append", "nosuch", "--role", "user", "--content", "c"}, 1, `no session matches "nosuch"`},
		{"ambiguous prefix", "", []string{"append", "sk_v1_aaaaaaaa", "--role", "user", "--content", "c"}, 1, "\n  " + b + "  "},
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
	if files, _ := filepath.Glob(filepath.Join(ws, "sessions", "*.jsonl")); len(files) != 2 {
		t.Errorf("failed appends created session files: %v", files)
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

// Two OS processes append to one session at once, each running the built
// binary over and over: every message lands once, seqs are contiguous, no
// line is torn or interleaved, and check finds nothing.
func TestBinaryConcurrentAppends(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	const perWriter = 15
	errs := make(chan error, 2)
	for wr := 0; wr < 2; wr++ {
		go func() {
			for i := 0; i < perWriter; i++ {
				cmd := exec.Command(bin, "--workspace", ws, "append", "--session", "shared", "--role", "user",
					"--content", fmt.Sprintf("w%d-%d", wr, i))
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("writer %d append %d: %v: %s", wr, i, err, out)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var key keyOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "key", "--session", "shared", "--json")), &key); err != nil {
		t.Fatal(err)
	}
	lines := fileLines(t, ws, key.ID)
	if len(lines) != 1+2*perWriter {
		t.Fatalf("%d lines, want %d", len(lines), 1+2*perWriter)
	}
	seen := map[string]bool{}
	next := map[string]int{}
	for i, l := range lines {
		if int(l["seq"].(float64)) != i+1 {
			t.Fatalf("line %d has seq %v", i+1, l["seq"])
		}
		if i == 0 {
			continue
		}
		c := l["content"].(string)
		if seen[c] {
			t.Fatalf("%q twice", c)
		}
		seen[c] = true
		// Each writer's messages keep their order.
		var wr, n int
		fmt.Sscanf(c, "w%d-%d", &wr, &n)
		if n != next[fmt.Sprint(wr)] {
			t.Fatalf("writer %d: message %d after %d", wr, n, next[fmt.Sprint(wr)]-1)
		}
		next[fmt.Sprint(wr)]++
	}
	if _, _, code := exitOf(t, bin, "--workspace", ws, "check"); code != 0 {
		t.Fatalf("check after concurrent appends: exit %d", code)
	}
}

// While another process holds a session's lock, append gives up after
// --lock-timeout with exit 11 and names the holder; the message is not
// written, and the next append after the holder lets go succeeds.
func TestBinaryLockTimeout(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "busy", "--role", "user", "--content", "first")
	var key keyOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "key", "--session", "busy", "--json")), &key); err != nil {
		t.Fatal(err)
	}
	// This test process is the holder: flock is per open file, so the
	// binary (another process) cannot take it. The holder line is the one
	// the workspace writes (pid, host, since).
	lockPath := filepath.Join(ws, workspace.LocksDir, key.ID+workspace.LockExt)
	lk := flock.New(lockPath)
	if err := lk.Lock(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf(`{"pid":%d,"host":%q,"since":%q}`+"\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(lockPath, []byte(holder), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := exitOf(t, bin, "--workspace", ws, "--lock-timeout", "300ms", "append", "busy", "--role", "user", "--content", "blocked")
	if code != exitLocked || !strings.Contains(errOut, "locked by pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(errOut, "not written") {
		t.Fatalf("append under a held lock: exit %d, stderr %q; want 11 naming pid %d", code, errOut, os.Getpid())
	}
	if err := lk.Unlock(); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "busy", "--role", "user", "--content", "second"); code != 0 || out != "3\n" {
		t.Fatalf("append after the lock was released: exit %d %q %s", code, out, errOut)
	}
	lines := fileLines(t, ws, key.ID)
	if len(lines) != 3 || lines[2]["content"] != "second" {
		t.Fatalf("file: %v", lines)
	}
}
