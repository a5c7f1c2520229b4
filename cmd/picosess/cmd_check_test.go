package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// buildBinary builds picosess into a temporary directory.
func buildBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "picosess")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// exitOf runs the binary and returns stdout, stderr and the exit code.
func exitOf(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// damaged makes a workspace with one session "s" (header + 2 messages) and
// applies damage to its file.
func damaged(t *testing.T, damage func(path string, data []byte) []byte) (ws, path string) {
	t.Helper()
	ws = t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "s", "--role", "user", "--content", "one")
	mustRun(t, "--workspace", ws, "append", "--session", "s", "--role", "assistant", "--content", "two")
	matches, _ := filepath.Glob(filepath.Join(ws, "sessions", "*.jsonl"))
	if len(matches) != 1 {
		t.Fatalf("sessions: %v", matches)
	}
	path = matches[0]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, damage(path, data), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws, path
}

func TestCheckAndRepairTable(t *testing.T) {
	for _, tt := range []struct {
		name       string
		damage     func(string, []byte) []byte
		check      int    // exit code of check
		kind       string // problem kind check reports
		repair     int    // exit code of repair
		checkAfter int
	}{
		{"clean", func(_ string, b []byte) []byte { return b }, 0, "", 0, 0},
		{"torn tail", func(_ string, b []byte) []byte { return append(b, `{"type":"message","seq":4,"at":"20`...) }, 3, "torn_tail", 0, 0},
		{"NUL run at the tail", func(_ string, b []byte) []byte { return append(b, make([]byte, 64)...) }, 3, "torn_tail", 0, 0},
		{"broken line in the middle", func(_ string, b []byte) []byte {
			i := strings.Index(string(b), "\n") + 1
			return append(append(append([]byte{}, b[:i]...), "{not json\n"...), b[i:]...)
		}, 3, "corrupt_line", 0, 0},
		{"bad header", func(_ string, b []byte) []byte {
			i := strings.Index(string(b), "\n") + 1
			return append([]byte(`{"type":"message","seq":1,"at":"2026-01-01T00:00:00Z","role":"user","content":"x"}`+"\n"), b[i:]...)
		}, 4, "bad_header", 4, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws, path := damaged(t, tt.damage)
			before, _ := os.ReadFile(path)
			out, errOut, code := runCLI(t, "--workspace", ws, "check", "--json")
			if code != tt.check {
				t.Fatalf("check exit %d, want %d: %s %s", code, tt.check, out, errOut)
			}
			var rep checkOutput
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err, out)
			}
			if rep.Checked != 1 || rep.Clean != (tt.check == 0) || (tt.kind == "") != (len(rep.Files) == 0) {
				t.Fatalf("check --json: %+v", rep)
			}
			if tt.kind != "" && rep.Files[0].Problems[0].Kind != tt.kind {
				t.Fatalf("check found %+v, want %s", rep.Files[0].Problems, tt.kind)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("check changed the file")
			}
			// A dry run says what it would do and changes nothing.
			_, _, code = runCLI(t, "--workspace", ws, "repair", "--dry-run")
			if want := map[int]int{0: 0, 3: 3, 4: 4}[tt.check]; code != want {
				t.Fatalf("repair --dry-run exit %d, want %d", code, want)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("repair --dry-run changed the file")
			}
			out, _, code = runCLI(t, "--workspace", ws, "repair", "--json")
			if code != tt.repair {
				t.Fatalf("repair exit %d, want %d: %s", code, tt.repair, out)
			}
			var rr repairOutput
			if err := json.Unmarshal([]byte(out), &rr); err != nil {
				t.Fatal(err, out)
			}
			if tt.check == 3 {
				if len(rr.SetAside) != 1 {
					t.Fatalf("repair: %s", out)
				}
				aside, err := os.ReadFile(rr.SetAside[0].Aside)
				if err != nil || int64(len(aside)) != rr.SetAside[0].Bytes || !strings.Contains(string(before), string(aside)) {
					t.Fatalf("the set-aside file must hold the exact bytes: %q (%v)", aside, err)
				}
			}
			if _, _, code = runCLI(t, "--workspace", ws, "check"); code != tt.checkAfter {
				t.Fatalf("check after repair: exit %d, want %d", code, tt.checkAfter)
			}
			if tt.check != 4 {
				if out := mustRun(t, "--workspace", ws, "show", "s"); !strings.Contains(out, "user: one") || !strings.Contains(out, "assistant: two") {
					t.Fatalf("messages lost:\n%s", out)
				}
			}
		})
	}
}

func TestCheckTextAndErrors(t *testing.T) {
	ws, _ := damaged(t, func(_ string, b []byte) []byte { return append(b, "{\"type\""...) })
	out, _, code := runCLI(t, "--workspace", ws, "check")
	if code != exitRepairable || !strings.Contains(out, "torn_tail") || !strings.Contains(out, "[repairable]") || !strings.Contains(out, "run picosess repair to fix them") {
		t.Fatalf("check text: exit %d\n%s", code, out)
	}
	out = mustRun(t, "--workspace", ws, "repair")
	if !strings.Contains(out, "set aside") || !strings.Contains(out, "kept in ") || !strings.Contains(out, ".torn-") {
		t.Fatalf("repair text:\n%s", out)
	}
	if out := mustRun(t, "--workspace", ws, "repair"); !strings.Contains(out, "nothing to repair") {
		t.Fatalf("second repair:\n%s", out)
	}
	for _, args := range [][]string{{"check", "extra"}, {"repair", "--force"}} {
		if _, _, code := runCLI(t, append([]string{"--workspace", ws}, args...)...); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
	if _, errOut, code := runCLI(t, "--workspace", t.TempDir(), "check"); code != exitNotWS || !strings.Contains(errOut, "not a workspace") {
		t.Errorf("check of an empty directory: exit %d %q", code, errOut)
	}
}

// Through the built binary: a torn tail makes check exit 3; repair fixes
// it; check then exits 0 and every acknowledged message is there.
func TestBinaryCheckRepairTornTail(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	for _, c := range []string{"one", "two", "three"} {
		if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "s", "--role", "user", "--content", c); code != 0 {
			t.Fatal(errOut)
		}
	}
	var key keyOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "key", "--session", "s", "--json")), &key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ws, workspace.SessionsDir, key.ID+workspace.SessionExt)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"type":"message","seq":5,"at":"2026-01-01T00:00:00Z","role":"us`)
	f.Close()
	if out, _, code := exitOf(t, bin, "--workspace", ws, "check"); code != 3 {
		t.Fatalf("check on a torn tail: exit %d\n%s", code, out)
	}
	if out, errOut, code := exitOf(t, bin, "--workspace", ws, "repair"); code != 0 || !strings.Contains(out, "torn_tail") {
		t.Fatalf("repair: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := exitOf(t, bin, "--workspace", ws, "check"); code != 0 {
		t.Fatalf("check after repair: exit %d\n%s", code, out)
	}
	out, _, _ := exitOf(t, bin, "--workspace", ws, "show", "s")
	for _, c := range []string{"one", "two", "three"} {
		if !strings.Contains(out, "user: "+c) {
			t.Fatalf("acknowledged message %q lost:\n%s", c, out)
		}
	}
}

// check reports a damaged search index as repairable (exit 3); repair
// rebuilds it; an index behind the files is reported but is no error.
func TestCheckAndRepairSearchIndex(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	mustRun(t, "demo", ws, "--json")
	checkJSON := func(want int) checkOutput {
		t.Helper()
		out, errOut, code := runCLI(t, "--workspace", ws, "check", "--json")
		if code != want {
			t.Fatalf("check: exit %d, want %d: %s %s", code, want, out, errOut)
		}
		var c checkOutput
		if err := json.Unmarshal([]byte(out), &c); err != nil || c.Index == nil {
			t.Fatalf("check --json: %v %s", err, out)
		}
		return c
	}
	if c := checkJSON(0); c.Index.State != "missing" {
		t.Fatalf("index before any search: %+v", c.Index)
	}
	var rr repairOutput
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "repair", "--json")), &rr)
	if rr.Index == nil || rr.Index.State != "rebuilt" {
		t.Fatalf("repair must build a missing index: %+v", rr.Index)
	}
	if c := checkJSON(0); c.Index.State != "ok" || c.Index.Sessions != 5 {
		t.Fatalf("index after repair: %+v", c.Index)
	}
	mustRun(t, "--workspace", ws, "append", "trip-plan", "--role", "user", "--content", "and Porto?")
	if c := checkJSON(0); c.Index.State != "behind" || c.Index.Behind != 1 {
		t.Fatalf("index after an append: %+v", c.Index)
	}
	if err := os.WriteFile(filepath.Join(ws, "index", "index_meta.json"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := checkJSON(3); c.Index.State != "damaged" || c.Repairable != 1 || c.Clean {
		t.Fatalf("damaged index: %+v", c)
	}
	if _, _, code := runCLI(t, "--workspace", ws, "repair", "--dry-run"); code != 3 {
		t.Fatalf("repair --dry-run on a damaged index: exit %d, want 3", code)
	}
	out := mustRun(t, "--workspace", ws, "repair")
	if !strings.Contains(out, "search index: rebuilt") {
		t.Fatalf("repair:\n%s", out)
	}
	if c := checkJSON(0); c.Index.State != "ok" {
		t.Fatalf("index after rebuild: %+v", c.Index)
	}
}

// An interrupted command (its context canceled, as SIGINT does in main)
// exits 130.
func TestInterruptedExits130(t *testing.T) {
	ws := seedConversations(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb strings.Builder
	if code := run(ctx, []string{"--workspace", ws, "check"}, strings.NewReader(""), &out, &errb); code != exitInterrupted {
		t.Fatalf("check with a canceled context: exit %d, want 130 (%s)", code, errb.String())
	}
	if code := run(ctx, []string{"--workspace", ws, "export", "chat", "--format", "jsonl", "--all"}, strings.NewReader(""), &out, &errb); code != exitInterrupted {
		t.Fatalf("export with a canceled context: exit %d, want 130 (%s)", code, errb.String())
	}
}
