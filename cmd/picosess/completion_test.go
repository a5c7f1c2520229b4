package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace/export"
)

// complete runs cobra's hidden __complete command and returns the
// candidates and the directive line.
func complete(t *testing.T, dir string, args ...string) ([]string, string) {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"--workspace", dir, "__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func TestCompletion(t *testing.T) {
	dir, flatID, officeID := seedSearch(t)
	mustRun(t, "--workspace", dir, "checkpoint", "save", "flat", "viewing", "--description", "before the\tviewing")

	// SESSION: names and short ids, newest first, titles as descriptions.
	got, dirv := complete(t, dir, "show", "")
	want := []string{
		"office\tThe Berlin office moves in May",
		shortID(officeID) + "\tThe Berlin office moves in May",
		"flat\tViewing the Berlin flat on Friday",
		shortID(flatID) + "\tViewing the Berlin flat on Friday",
	}
	if len(got) != len(want) || dirv != ":36" {
		t.Fatalf("show: %q %s", got, dirv)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]+" · ") {
			t.Errorf("show candidate %d: %q, want %q · <age>", i, got[i], want[i])
		}
	}
	// Typed so far: a prefix of a name, of an id, of an id without sk_v1_.
	for _, tt := range []struct{ typed, want string }{
		{"of", "office\t"},
		{officeID[:9], shortID(officeID) + "\t"},
		{officeID[6:9], officeID[6:18] + "\t"},
	} {
		got, _ := complete(t, dir, "export", tt.typed)
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("export %q: %q, want %q...", tt.typed, got, tt.want)
		}
	}
	// Every command whose first argument is a SESSION, and search --session.
	for _, args := range [][]string{{"rename", ""}, {"checkpoint", "ls", ""}, {"append", ""}, {"watch", ""}, {"search", "x", "--session", ""}} {
		if got, _ := complete(t, dir, args...); len(got) != 4 {
			t.Errorf("%v: %q", args, got)
		}
	}
	// A second argument is not a session; checkpoint restore completes the
	// session's checkpoints.
	if got, _ := complete(t, dir, "rename", "flat", ""); len(got) != 0 {
		t.Errorf("rename's TITLE: %q", got)
	}
	if got, _ := complete(t, dir, "checkpoint", "restore", "flat", ""); len(got) != 1 || got[0] != "viewing\t#5 before the viewing" {
		t.Errorf("checkpoint restore flat: %q", got)
	}
	// Enum flags.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "x", "--role", ""}, "user|assistant|system|tool|developer|function"},
		{[]string{"append", "--role", "a"}, "assistant"},
		{[]string{"search", "x", "--sort", ""}, "relevance|time"},
		{[]string{"export", "flat", "--format", ""}, strings.Join(export.Formats, "|")},
		{[]string{"context", "flat", "--strategy", ""}, "recent|smart|summarize"},
		{[]string{"migrate", "--source", "p"}, "picoclaw|pocketpaw"},
		{[]string{"key", "--scope", "per-c"}, "per-channel-peer|per-channel"},
		{[]string{"ls", "--since", "y"}, "yesterday"},
	} {
		got, dirv := complete(t, dir, tt.args...)
		if strings.Join(got, "|") != tt.want || dirv != ":4" {
			t.Errorf("%v: %q %s, want %q", tt.args, got, dirv, tt.want)
		}
	}
	if got, dirv := complete(t, dir, "--workspace", ""); len(got) != 0 || dirv != ":16" {
		t.Errorf("--workspace: %q %s, want directories", got, dirv)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		out, errOut, code := runCLI(t, "completion", sh)
		if code != 0 || !strings.Contains(out, "picosess") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes %s", sh, code, len(out), errOut)
		}
	}
}

func TestMan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man", "man1")
	out, errOut, code := runCLI(t, "man", dir)
	if code != 0 || !strings.Contains(out, "man pages to "+dir) {
		t.Fatalf("man: exit %d %s %s", code, out, errOut)
	}
	for _, page := range []string{"picosess.1", "picosess-search.1", "picosess-checkpoint-restore.1", "picosess-man.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `.TH "PICOSESS" "1"`) {
			t.Errorf("%s: no header:\n%.300s", page, b)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "picosess-search.1"))
	// The help text, kept as laid out: the query table, <workspace>, EXIT STATUS.
	for _, want := range []string{"role:user dentist     field:value narrows", "(<workspace>/index/)", "EXIT STATUS", `\fB--any\fP`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("picosess-search.1 lacks %q", want)
		}
	}
	out, _, code = runCLI(t, "--json", "man", dir)
	if code != 0 || !strings.Contains(out, `"picosess-search.1"`) || !strings.Contains(out, `"dir":"`+dir+`"`) {
		t.Fatalf("man --json: %d %s", code, out)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, errOut, code := runCLI(t, "man", f); code != 1 || !strings.Contains(errOut, "man:") {
		t.Fatalf("man onto a file: %d %s", code, errOut)
	}
}
