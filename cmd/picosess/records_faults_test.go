package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// tree is every entry under dir: its size, mode, mtime and a hash of its
// bytes.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%v %d %s", fi.Mode(), fi.Size(), fi.ModTime())
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = v
		return nil
	})
	return out
}

// check writes nothing: no holder line in the index lock, no directory,
// no cache; with the index built and without locks/ at all.
func TestCheckWritesNothing(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "alpha", "--role", "user", "--content", "find me")
	mustRun(t, "--workspace", ws, "search", "find")
	before := tree(t, ws)
	if _, err := os.Stat(filepath.Join(ws, "locks", "index.lock")); err != nil {
		t.Fatalf("the index lock is not there to test: %v", err)
	}
	out, errOut, code := runCLI(t, "--workspace", ws, "check")
	if code != 0 {
		t.Fatalf("check: %d %s %s", code, out, errOut)
	}
	after := tree(t, ws)
	for p, v := range after {
		if before[p] != v {
			t.Errorf("check changed %s:\n  %s\n  %s", p, before[p], v)
		}
	}
	if len(after) != len(before) {
		t.Errorf("check made or removed entries: %d before, %d after", len(before), len(after))
	}
	// Without locks/ and the trash (a workspace copied without its empty
	// directories, or on a read-only disk): nothing is created.
	os.RemoveAll(filepath.Join(ws, "locks"))
	os.RemoveAll(filepath.Join(ws, "sessions", ".trash"))
	if _, errOut, code := runCLI(t, "--workspace", ws, "check"); code != 0 {
		t.Fatalf("check without locks/: %d %s", code, errOut)
	}
	for _, d := range []string{"locks", "sessions/.trash"} {
		if _, err := os.Stat(filepath.Join(ws, d)); !os.IsNotExist(err) {
			t.Errorf("check made %s", d)
		}
	}
}

// The one table maps refused records and disk faults to their codes,
// also when wrapped.
func TestClassifyRecordsAndFaults(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		err  error
		exit int
		code string
	}{
		{fmt.Errorf("x: %w", &workspace.RecordError{Type: "restore", Field: "checkpoint", Reason: "r", Err: workspace.ErrInvalidRecord}), exitFailure, codeInvalid},
		{fmt.Errorf("x: %w", &workspace.RecordError{Type: "message", Reason: "r", Err: workspace.ErrTooLarge}), exitFailure, codeTooLarge},
		{fmt.Errorf("append: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), exitFailure, codeNoSpace},
		{fmt.Errorf("append: %w", &fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}), exitFailure, codeNoSpace},
		{fmt.Errorf("lock: %w", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}), exitFailure, codeReadOnly},
		{fmt.Errorf("lock: %w", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}), exitFailure, codePermission},
		{fmt.Errorf("%w: cannot create x: %w", workspace.ErrNotWorkspace, syscall.EROFS), exitNotWS, codeNotWorkspace},
	} {
		if exit, code := classify(ctx, tt.err); exit != tt.exit || code != tt.code {
			t.Errorf("classify(%v) = %d %s, want %d %s", tt.err, exit, code, tt.exit, tt.code)
		}
	}
}

// An empty and a headerless file are listed as damaged, not as sessions
// of the year 1.
func TestLsListsDamagedFiles(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "fine", "--role", "user", "--content", "hello")
	os.WriteFile(filepath.Join(ws, "sessions", keying.NamedID("empty")+".jsonl"), nil, 0o644)
	os.WriteFile(filepath.Join(ws, "sessions", keying.NamedID("foreign")+".jsonl"), []byte(`{"role":"user","content":"picoclaw"}`+"\n"), 0o644)
	out := mustRun(t, "--workspace", ws, "ls", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 3 {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	got := map[string]any{}
	for _, e := range list {
		got[e["id"].(string)] = e["damaged"]
		if e["damaged"] != nil && (e["created"] != nil || e["updated"] != nil) {
			t.Errorf("a damaged entry with times: %v", e)
		}
	}
	if got[keying.NamedID("empty")] != "empty file" || got[keying.NamedID("foreign")] != "no session header" || got[keying.NamedID("fine")] != nil {
		t.Fatalf("damaged: %v", got)
	}
	out = mustRun(t, "--workspace", ws, "ls")
	if strings.Contains(out, "0001-01-01") || strings.Count(out, "damaged") != 2 || !strings.Contains(out, "(empty file, 0 bytes: see picosess check)") {
		t.Fatalf("ls:\n%s", out)
	}
}

// A line over the read limit, written by hand: show passes over it and
// says so, in text and JSON; ls and show count it as the message it is.
func TestShowSaysWhatItSkipped(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "big", "--role", "user", "--content", "before")
	path := filepath.Join(ws, "sessions", keying.NamedID("big")+".jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `{"type":"message","seq":3,"at":"2026-11-21T09:00:05Z","role":"tool","content":"%s","tokens":7}`+"\n", strings.Repeat("x", workspace.DefaultMaxRecordBytes+100))
	f.Close()
	mustRun(t, "--workspace", ws, "append", "--session", "big", "--role", "user", "--content", "after")
	out := mustRun(t, "--workspace", ws, "show", "big")
	if !strings.Contains(out, "active history: 3 message(s)") || !strings.Contains(out, "[skipped seq 3: a tool message of 8.0 MiB, over the read limit of 8.0 MiB") ||
		!strings.Contains(out, "before") || !strings.Contains(out, "after") || len(out) > 10000 {
		t.Fatalf("show:\n%.2000s", out)
	}
	var js struct {
		Messages []workspace.Record  `json:"messages"`
		Skipped  []workspace.Skipped `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "show", "big", "--json")), &js); err != nil || len(js.Messages) != 2 || len(js.Skipped) != 1 || js.Skipped[0].Seq != 3 {
		t.Fatalf("show --json: %+v %v", js, err)
	}
	if out := mustRun(t, "--workspace", ws, "show", "big", "--all"); !strings.Contains(out, "[skipped seq 3") {
		t.Fatalf("show --all:\n%.2000s", out)
	}
	_, _, code := runCLI(t, "--workspace", ws, "check")
	if code != 0 {
		t.Fatalf("check: exit %d (an oversized record is a warning)", code)
	}
}

// Seqs used twice: check says repairable (exit 3), repair renumbers
// (exit 0), check is clean after.
func TestRepairRenumbersThroughTheCLI(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "dup", "--role", "user", "--content", "one")
	path := filepath.Join(ws, "sessions", keying.NamedID("dup")+".jsonl")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(path, []byte(lines[0]+lines[1]+lines[1]), 0o644)
	out, _, code := runCLI(t, "--workspace", ws, "check", "--json")
	var c checkOutput
	if json.Unmarshal([]byte(out), &c); code != exitRepairable || c.Repairable != 1 || c.Unrepairable != 0 {
		t.Fatalf("check: exit %d %s", code, out)
	}
	out, errOut, code := runCLI(t, "--workspace", ws, "repair")
	if code != 0 || !strings.Contains(out, "renumbered") || !strings.Contains(out, ".orig-") {
		t.Fatalf("repair: exit %d %s %s", code, out, errOut)
	}
	if _, _, code := runCLI(t, "--workspace", ws, "check"); code != 0 {
		t.Fatalf("check after repair: exit %d", code)
	}
}
