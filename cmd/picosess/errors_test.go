package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/index"
)

// With --json every error is one JSON object on stderr with a stable code;
// without, a line of text. Usage errors name the flag or argument and
// point to the command's --help.
func TestErrorsJSONCodes(t *testing.T) {
	t.Setenv(envSession, "") // the current session's variable would change the errors
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "alpha", "--role", "user", "--content", "one")
	mustRun(t, "--workspace", ws, "append", "--session", "beta", "--role", "user", "--content", "two")
	empty := t.TempDir()
	for _, tt := range []struct {
		args []string
		code string
		exit int
		want string // in the error text
		hint string
	}{
		{[]string{"--workspace", ws, "show", "nosuch"}, codeNotFound, 1, "nosuch", ""},
		{[]string{"--workspace", empty, "ls"}, codeNotWorkspace, 10, "has no sessions/", ""},
		{[]string{"--workspace", ws, "ls", "--limit", "-1"}, codeUsage, 1, "--limit -1", "see picosess ls --help"},
		{[]string{"--workspace", ws, "ls", "--limit", "ten"}, codeUsage, 1, `"--limit"`, "see picosess ls --help"},
		{[]string{"--workspace", ws, "ls", "--bogus"}, codeUsage, 1, "--bogus", "see picosess ls --help"},
		{[]string{"--workspace", ws, "show"}, codeUsage, 1, "which session? give SESSION", "see picosess show --help"},
		{[]string{"--workspace", ws, "append", "--session", "alpha"}, codeUsage, 1, "--role", "see picosess append --help"},
		{[]string{"--workspace", ws, "bogus"}, codeUsage, 1, `unknown command "bogus"`, "see picosess --help"},
		{[]string{"--workspace", ws, "--quiet", "--verbose", "ls"}, codeUsage, 1, "--quiet and --verbose", "see picosess ls --help"},
	} {
		_, errOut, code := runCLI(t, append(tt.args, "--json")...)
		var e errorJSON
		if err := json.Unmarshal([]byte(errOut), &e); err != nil || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: stderr is not one JSON object: %q", tt.args, errOut)
			continue
		}
		if code != tt.exit || e.Exit != tt.exit || e.Code != tt.code || !strings.Contains(e.Error, tt.want) || e.Hint != tt.hint {
			t.Errorf("%v: exit %d, %+v; want exit %d code %s error with %q hint %q", tt.args, code, e, tt.exit, tt.code, tt.want, tt.hint)
		}
		_, text, code := runCLI(t, tt.args...)
		if code != tt.exit || !strings.HasPrefix(text, "picosess: ") || !strings.Contains(text, tt.want) ||
			tt.hint != "" && !strings.HasSuffix(text, "\n  "+tt.hint+"\n") {
			t.Errorf("%v: text error: exit %d %q", tt.args, code, text)
		}
	}
}

// --quiet keeps errors and data, drops notes; --verbose adds info logs.
func TestQuietAndVerbose(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "alpha", "--role", "user", "--content", "one")
	out, errOut, code := runCLI(t, "--workspace", ws, "rm", "--purge", "--yes")
	if code != 0 || !strings.Contains(errOut, "nothing to purge") {
		t.Fatalf("rm --purge: %d %q %q", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "--workspace", ws, "--quiet", "rm", "--purge", "--yes")
	if code != 0 || errOut != "" || out != "" {
		t.Fatalf("rm --purge --quiet: %d %q %q", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "--workspace", ws, "-q", "ls", "--json")
	if code != 0 || errOut != "" || !strings.Contains(out, `"alpha"`) {
		t.Fatalf("ls -q: data must stay: %d %q %q", code, out, errOut)
	}
	if _, errOut, code = runCLI(t, "--workspace", ws, "-q", "show", "nosuch"); code != 1 || !strings.Contains(errOut, "nosuch") {
		t.Fatalf("show -q: errors must stay: %d %q", code, errOut)
	}
	out, errOut, code = runCLI(t, "--workspace", ws, "--verbose", "ls")
	if code != 0 || !strings.Contains(errOut, "level=INFO") || !strings.Contains(errOut, ws) || !strings.Contains(out, "one") {
		t.Fatalf("ls --verbose: %d %q %q", code, out, errOut)
	}
	if _, errOut, _ = runCLI(t, "--workspace", ws, "ls"); strings.Contains(errOut, "INFO") {
		t.Fatalf("info logs without --verbose: %q", errOut)
	}
}

// The one table: each class of error has its exit code and code, also
// when wrapped, and an exitError without a kind takes its code from its
// error, else from its exit code.
func TestClassify(t *testing.T) {
	interrupted, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		ctx  context.Context
		err  error
		exit int
		code string
	}{
		{context.Background(), fmt.Errorf("open: %w", workspace.ErrLocked), exitLocked, codeLocked},
		{context.Background(), &workspace.AmbiguousError{Ref: "sk_v1_1234", Candidates: []string{"a", "b"}}, exitFailure, codeAmbiguous},
		{context.Background(), fmt.Errorf("x: %w", workspace.ErrNotWorkspace), exitNotWS, codeNotWorkspace},
		{context.Background(), fmt.Errorf("x: %w", workspace.ErrTrashed), exitFailure, codeTrashed},
		{context.Background(), fmt.Errorf("x: %w", workspace.ErrConfig), exitFailure, codeConfig},
		{context.Background(), fmt.Errorf("x: %w", workspace.ErrCorrupt), exitFailure, codeCorrupt},
		{context.Background(), &exitError{code: exitFailure, err: fmt.Errorf("q: %w", index.ErrBadQuery)}, exitFailure, codeBadQuery},
		{context.Background(), fmt.Errorf("x: %w", migrate.ErrUsage), exitFailure, codeUsage},
		{context.Background(), usageErrorf("--x"), exitFailure, codeUsage},
		{context.Background(), &exitError{code: exitRepairable, msg: "partial"}, exitRepairable, codePartial},
		{context.Background(), &exitError{code: exitUnrepairabl}, exitUnrepairabl, codeUnrepairable},
		{context.Background(), &exitError{code: exitLocked, msg: "busy"}, exitLocked, codeLocked},
		{interrupted, fmt.Errorf("read: %w", context.Canceled), exitInterrupted, codeInterrupted},
		{context.Background(), fmt.Errorf("read: %w", context.Canceled), exitFailure, codeFailure},
		{context.Background(), fmt.Errorf("disk full"), exitFailure, codeFailure},
	} {
		if exit, code := classify(tt.ctx, tt.err); exit != tt.exit || code != tt.code {
			t.Errorf("classify(%v) = %d %s, want %d %s", tt.err, exit, code, tt.exit, tt.code)
		}
	}
}

// Through the built binary: --json errors on stderr, stdout empty, exit
// codes as the table says; --quiet keeps errors.
func TestBinaryErrorsJSON(t *testing.T) {
	bin := buildBinary(t)
	ws := t.TempDir()
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "a", "--role", "user", "--content", "x"); code != 0 {
		t.Fatal(errOut)
	}
	for _, tt := range []struct {
		args []string
		code string
		exit int
	}{
		{[]string{"--workspace", ws, "--json", "show", "nosuch"}, codeNotFound, 1},
		{[]string{"--workspace", ws, "--json", "-q", "show", "nosuch"}, codeNotFound, 1},
		{[]string{"--workspace", t.TempDir(), "--json", "ls"}, codeNotWorkspace, 10},
		{[]string{"--workspace", ws, "append", "--session", "a", "--json"}, codeUsage, 1},
		{[]string{"--workspace", ws, "ls", "--limit", "x", "--json"}, codeUsage, 1},
	} {
		out, errOut, exit := exitOf(t, bin, tt.args...)
		var e errorJSON
		if err := json.Unmarshal([]byte(errOut), &e); err != nil || out != "" || exit != tt.exit || e.Code != tt.code || e.Exit != tt.exit {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %s, exit %d", tt.args, exit, out, errOut, tt.code, tt.exit)
		}
	}
}
