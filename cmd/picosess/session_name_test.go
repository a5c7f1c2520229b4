package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestGenerateSessionName(t *testing.T) {
	at := time.UnixMilli(1733312345678)
	re := regexp.MustCompile(`^session-1733312345678-[0-9a-f]{4}$`)
	var names []string
	for i := 0; i < 5; i++ {
		n := generateSessionName(at.Add(time.Duration(i) * time.Millisecond))
		if !re.MatchString(n) && i == 0 {
			t.Fatalf("name %q", n)
		}
		names = append(names, n)
	}
	if !slices.IsSorted(names) {
		t.Fatalf("names do not sort by time: %v", names)
	}
}

// append with no SESSION, --session or route: $PICOSESS_SESSION, else
// config session.name, else a new session with a generated name.
func TestAppendDefaultSession(t *testing.T) {
	ws := t.TempDir()
	t.Setenv(envSession, "")
	appendJSON := func(args ...string) (appendOutput, string) {
		t.Helper()
		out, errOut, code := runCLI(t, append([]string{"--workspace", ws, "--json", "append", "--role", "user", "--content", "hi"}, args...)...)
		var got appendOutput
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("append %v: exit %d %s %s", args, code, out, errOut)
		}
		return got, errOut
	}
	// Nothing set: a new generated name each time, said on stderr.
	first, errOut := appendJSON()
	re := regexp.MustCompile(`new session (session-\d{13}-[0-9a-f]{4}) \(sk_v1_[0-9a-f]{12}\); continue it with --session session-`)
	m := re.FindStringSubmatch(errOut)
	if m == nil || first.Name != m[1] || first.Seq != 2 {
		t.Fatalf("generated: %+v, stderr %q", first, errOut)
	}
	second, _ := appendJSON("--sender", "alice")
	if second.Name == first.Name || second.ID == first.ID {
		t.Fatalf("a second generated session: %+v, %+v", first, second)
	}
	// The generated name names the session afterwards.
	if again, errOut := appendJSON("--session", first.Name); again.ID != first.ID || again.Seq != 3 || errOut != "" {
		t.Fatalf("--session %s: %+v %q", first.Name, again, errOut)
	}
	// session.name in the config.
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"session": {"name": "Diary"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	diary, errOut := appendJSON()
	if diary.Name != "diary" || errOut != "" {
		t.Fatalf("config session.name: %+v %q", diary, errOut)
	}
	// $PICOSESS_SESSION beats the config; --session beats both.
	t.Setenv(envSession, "Notes")
	notes, _ := appendJSON()
	notes2, _ := appendJSON()
	if notes.Name != "notes" || notes2.ID != notes.ID || notes2.Seq != 3 {
		t.Fatalf("$PICOSESS_SESSION: %+v %+v", notes, notes2)
	}
	if todo, _ := appendJSON("--session", "todo"); todo.Name != "todo" || todo.ID == notes.ID {
		t.Fatalf("--session: %+v", todo)
	}
	// A SESSION argument or a route ignores the default.
	if got, _ := appendJSON(diary.ID); got.ID != diary.ID || got.Name != "" {
		t.Fatalf("SESSION: %+v", got)
	}
	if got, _ := appendJSON("--channel", "telegram", "--chat", "42"); got.ID == notes.ID || got.Name != "" {
		t.Fatalf("route: %+v", got)
	}
}

// show, context, export, policy, reset and clear without SESSION use the
// session append would: $PICOSESS_SESSION, else config session.name; with
// neither, a usage error that names both.
func TestCommandsUseTheCurrentSession(t *testing.T) {
	ws := t.TempDir()
	t.Setenv(envSession, "")
	for _, args := range [][]string{{"show"}, {"context", "--max-tokens", "100"}, {"export"}, {"policy"}, {"reset"}} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, args...)...)
		if code != exitFailure || !regexp.MustCompile(`PICOSESS_SESSION`).MatchString(errOut) {
			t.Fatalf("%v with no session: exit %d, %q", args, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "--workspace", ws, "append", "--session", "todo", "--role", "user", "--content", "buy milk"); code != 0 {
		t.Fatal(errOut)
	}
	t.Setenv(envSession, "todo")
	for _, args := range [][]string{{"show"}, {"context", "--max-tokens", "100"}, {"export", "--format", "text"}} {
		out, errOut, code := runCLI(t, append([]string{"--workspace", ws}, args...)...)
		if code != 0 || !regexp.MustCompile(`buy milk`).MatchString(out) {
			t.Fatalf("%v with %s=todo: exit %d, %q %q", args, envSession, code, out, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "--workspace", ws, "clear"); code != 0 {
		t.Fatalf("clear: %s", errOut)
	}
	// An explicit SESSION wins over the variable.
	if _, errOut, code := runCLI(t, "--workspace", ws, "show", "nosuch"); code == 0 {
		t.Fatalf("show nosuch with %s=todo succeeded: %s", envSession, errOut)
	}
	// config session.name when the variable is unset
	t.Setenv(envSession, "")
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(`{"session": {"name": "todo"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "--workspace", ws, "show", "--all")
	if code != 0 || !regexp.MustCompile(`buy milk`).MatchString(out) {
		t.Fatalf("show with session.name: exit %d %q %q", code, out, errOut)
	}
}
