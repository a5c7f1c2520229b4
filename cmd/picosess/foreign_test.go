package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// append into a session file that is a symbolic link is refused (exit 4,
// the message names the file and says what it is), the file it points at
// keeps every byte, though it lacks a final newline (the torn-tail cut
// would have truncated it); check then reports the link.
func TestAppendIntoSymlinkedSessionFile(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "linked", "--role", "user", "--content", "one")
	id := keying.NamedID("linked")
	path := filepath.Join(ws, workspace.SessionsDir, id+workspace.SessionExt)
	outside := filepath.Join(t.TempDir(), "notes.txt")
	const victim = "someone's notes\nno final newline"
	if err := os.WriteFile(outside, []byte(victim), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"append", "--session", "linked", "--role", "user", "--content", "two"},
		{"append", id, "--role", "user", "--content", "two"},
		{"append", "--session", "linked", "--raw", "--role", "user", "--content", "two"},
	} {
		out, errOut, code := runIn(t, "", append([]string{"--workspace", ws}, args...)...)
		if code != exitUnrepairabl || !strings.Contains(errOut, path) || !strings.Contains(errOut, "is a symbolic link to "+outside) ||
			!strings.Contains(errOut, "the message was not written") {
			t.Fatalf("%v: exit %d, want 4: %s%s", args, code, out, errOut)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != victim {
		t.Fatalf("the linked file changed: %q", b)
	}
	// A dangling link is not followed to create a file elsewhere.
	dangling := filepath.Join(t.TempDir(), "created.jsonl")
	path2 := filepath.Join(ws, workspace.SessionsDir, keying.NamedID("dangling")+workspace.SessionExt)
	if err := os.Symlink(dangling, path2); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runIn(t, "", "--workspace", ws, "append", "--session", "dangling", "--role", "user", "--content", "x"); code != exitUnrepairabl {
		t.Fatalf("append into a dangling link: exit %d: %s", code, errOut)
	}
	if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
		t.Fatalf("the dangling link was followed: %v", err)
	}

	out, errOut, code := runIn(t, "", "--workspace", ws, "check", "--json")
	if code != exitUnrepairabl {
		t.Fatalf("check: exit %d, want 4: %s%s", code, out, errOut)
	}
	var rep checkOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err, out)
	}
	kinds := map[string]string{}
	for _, f := range rep.Files {
		kinds[f.Path] = f.Problems[0].Kind
	}
	if rep.Unrepairable != 2 || kinds[path] != workspace.ProblemNotRegular || kinds[path2] != workspace.ProblemNotRegular {
		t.Fatalf("check --json: %s", out)
	}
	out, _, _ = runIn(t, "", "--workspace", ws, "check")
	if !strings.Contains(out, path) || !strings.Contains(out, "not_regular") || !strings.Contains(out, "a symbolic link to "+outside) ||
		!strings.Contains(out, "[cannot be repaired]") {
		t.Fatalf("check text:\n%s", out)
	}
	// repair leaves the links for a person, and says so.
	out, _, code = runIn(t, "", "--workspace", ws, "repair")
	if code != exitUnrepairabl || !strings.Contains(out, "remaining in "+path) {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(outside); string(b) != victim {
		t.Fatalf("the linked file changed: %q", b)
	}
}

// append into a file with no session header (a foreign file, another
// program's JSONL) is refused with exit 4 and a message that names the file
// and says what repair or migrate would do; the file keeps every byte.
// check reports it.
func TestAppendIntoFileWithoutHeader(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		say        []string
		check      int
	}{
		{"foreign text", "hello\nworld\n", []string{"no valid record", "picosess repair would set every line aside"}, exitRepairable},
		{"PicoClaw JSONL", `{"role":"user","content":"hi"}` + "\n", []string{"no valid record", "picosess migrate"}, exitRepairable},
		{"header line cut short", `{"type":"session","seq":1,"at":"2026-11-21T09:` + "\n" +
			`{"type":"message","seq":2,"at":"2026-11-21T09:00:02Z","role":"user","content":"one"}` + "\n",
			[]string{`first record (line 2) is "message" with seq 2`, "minimal header"}, exitRepairable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := t.TempDir()
			mustRun(t, "--workspace", ws, "append", "--session", "other", "--role", "user", "--content", "x")
			path := filepath.Join(ws, workspace.SessionsDir, keying.NamedID("h")+workspace.SessionExt)
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"append", "--session", "h", "--role", "user", "--content", "x"},
				{"append", "--session", "h", "--raw", "--role", "user", "--content", "x"},
			} {
				out, errOut, code := runIn(t, "", append([]string{"--workspace", ws}, args...)...)
				if code != exitUnrepairabl {
					t.Fatalf("%v: exit %d, want 4: %s%s", args, code, out, errOut)
				}
				for _, want := range append([]string{path, "has no session header", "nothing was appended"}, tt.say...) {
					if !strings.Contains(errOut, want) {
						t.Errorf("message %q does not say %q", errOut, want)
					}
				}
			}
			if b, _ := os.ReadFile(path); string(b) != tt.data {
				t.Fatalf("the file changed: %q", b)
			}
			out, _, code := runIn(t, "", "--workspace", ws, "check", "--json")
			if code != tt.check || !strings.Contains(out, `"bad_header"`) {
				t.Fatalf("check: exit %d, want %d: %s", code, tt.check, out)
			}
			// After repair the session takes appends again.
			mustRun(t, "--workspace", ws, "repair")
			mustRun(t, "--workspace", ws, "append", "--session", "h", "--role", "user", "--content", "x")
			mustRun(t, "--workspace", ws, "check")
		})
	}
}

// check reports foreign entries in sessions/, sessions/.trash/ and locks/.
func TestCheckReportsForeignFiles(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "s", "--role", "user", "--content", "one")
	foreign := []string{
		filepath.Join(ws, "sessions", "agent_main_direct_alice.jsonl"),
		filepath.Join(ws, "sessions", ".trash", "README"),
		filepath.Join(ws, "locks", "x.txt"),
	}
	for _, p := range foreign {
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code := runIn(t, "", "--workspace", ws, "check", "--json")
	var rep checkOutput
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err, out)
	}
	if code != exitUnrepairabl || rep.Checked != 1 || rep.Unrepairable != len(foreign) || len(rep.Files) != len(foreign) {
		t.Fatalf("check: exit %d: %s", code, out)
	}
	for i, f := range rep.Files {
		if f.Problems[0].Kind != workspace.ProblemForeignFile {
			t.Errorf("file %d: %+v", i, f)
		}
	}
}

// The summarize lock in locks/ is not followed either: a symbolic link
// there is neither created nor truncated where it points.
func TestSummarizeLockNotFollowed(t *testing.T) {
	ws := t.TempDir()
	for _, c := range []string{"one", "two", "three", "four", "five", "six"} {
		role := "user"
		if c == "two" || c == "four" || c == "six" {
			role = "assistant"
		}
		mustRun(t, "--workspace", ws, "append", "--session", "talk", "--role", role, "--content", "message "+c)
	}
	lock := filepath.Join(ws, workspace.LocksDir, keying.NamedID("talk")+".summarize.lock")
	target := filepath.Join(t.TempDir(), "precious.txt")
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, lock); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runIn(t, "", "--workspace", ws, "summarize", "talk", "--force"); code == 0 {
		t.Fatalf("summarize through a symlinked lock: exit 0 %s", errOut)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Fatalf("the lock link was followed: %q", b)
	}
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}
	runIn(t, "", "--workspace", ws, "summarize", "talk", "--force")
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("the dangling lock link was followed: %v", err)
	}
	// Without the link, it works.
	if err := os.Remove(lock); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "--workspace", ws, "summarize", "talk", "--force")
}
