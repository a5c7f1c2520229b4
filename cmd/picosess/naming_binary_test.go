package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Search, naming a session, completion and man pages through the built
// binary, as an operator meets them.
func TestSearchAndNamingBinary(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	run := func(env []string, stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--workspace", ws}, args...)...)
		cmd.Env = append(os.Environ(), append([]string{"PICOSESS_SESSION=", "NO_COLOR=1"}, env...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	must := func(env []string, args ...string) string {
		t.Helper()
		out, errOut, code := run(env, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	// A new session with no name and no route: a generated name on stderr.
	_, errOut, code := run(nil, "", "append", "--role", "user", "--content", "When is the dentist appointment?")
	m := regexp.MustCompile(`new session (session-\d{13}-[0-9a-f]{4}) \((sk_v1_[0-9a-f]{12})\)`).FindStringSubmatch(errOut)
	if code != 0 || m == nil {
		t.Fatalf("generated name: exit %d %q", code, errOut)
	}
	generated := m[1]
	must(nil, "append", "--session", generated, "--role", "assistant", "--content", "The dentist is on Friday at 9")
	// $PICOSESS_SESSION names the session of the next appends.
	env := []string{"PICOSESS_SESSION=errands"}
	must(env, "append", "--role", "user", "--content", "Buy a new toothbrush before the dentist")
	must(env, "append", "--role", "user", "--content", "And milk")
	must(env, "rename", "errands", "Errands for Friday")

	// search role:user dentist: only user messages that say dentist.
	out := must(nil, "search", "role:user dentist")
	hits := regexp.MustCompile(`(sk_v1_[0-9a-f]{12}):(\d+)`).FindAllStringSubmatch(out, -1)
	if len(hits) != 2 || strings.Contains(out, "Friday at 9") || strings.Contains(out, "milk") {
		t.Fatalf("search role:user dentist:\n%s", out)
	}
	if out := must(nil, "search", "dentist friday", "--any"); strings.Count(out, "\n") != 3*2 {
		t.Fatalf("--any:\n%s", out)
	}
	_, errOut, code = run(nil, "", "search", `dentist "friday`)
	if code != 1 || !strings.Contains(errOut, "unclosed quote (column 9") || !strings.Contains(errOut, "\n          ^") {
		t.Fatalf("malformed query: exit %d %q", code, errOut)
	}
	if out := must(nil, "ls", "--since", "yesterday", "--json"); strings.Count(out, `"id"`) != 2 {
		t.Fatalf("ls --since yesterday: %s", out)
	}
	if out := must(nil, "search", "toothbrush", "--since", "today"); !strings.Contains(out, "**toothbrush**") {
		t.Fatalf("search --since today: %s", out)
	}

	// The SESSION:SEQ of a hit opens show there; titles and bare hex name
	// sessions too.
	ref := hits[0][1] + ":" + hits[0][2]
	if out := must(nil, "show", ref); !strings.Contains(out, "> #"+hits[0][2]+" ") {
		t.Fatalf("show %s:\n%s", ref, out)
	}
	if out := must(nil, "show", "errands for friday"); !strings.Contains(out, "And milk") {
		t.Fatalf("show by title:\n%s", out)
	}
	if out := must(nil, "export", m[2][6:], "--format", "jsonl"); !strings.Contains(out, "Friday at 9") {
		t.Fatalf("export by bare hex prefix:\n%s", out)
	}
	_, errOut, code = run(nil, "", "show", "A")
	if code != 1 || !strings.Contains(errOut, `"A" is ambiguous: it matches 2 sessions (by title part)`) || !strings.Contains(errOut, "Errands for Friday") {
		t.Fatalf("ambiguous title: exit %d %q", code, errOut)
	}

	// Completion and man pages.
	out = must(nil, "__complete", "show", "")
	if !strings.Contains(out, "errands\tErrands for Friday") || !strings.Contains(out, generated+"\tWhen is the dentist appointment?") {
		t.Fatalf("completion:\n%s", out)
	}
	if out := must(nil, "completion", "bash"); !strings.Contains(out, "__start_picosess") {
		t.Fatalf("completion bash: %.200s", out)
	}
	dir := filepath.Join(t.TempDir(), "man1")
	must(nil, "man", dir)
	if b, err := os.ReadFile(filepath.Join(dir, "picosess-show.1")); err != nil || !strings.Contains(string(b), "SESSION:SEQ") {
		t.Fatalf("man page of show: %v %.300s", err, b)
	}
}
