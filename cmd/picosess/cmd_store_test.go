package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// redisURL is a URL of the test server under a prefix of its own (its
// keys removed when the test ends).
func redisURL(t *testing.T) string {
	t.Helper()
	base := redistest.URL(t)
	prefix := redistest.Prefix()
	redistest.OpenURL(t, base, prefix) // cleans the prefix at the end
	return base + "?prefix=" + prefix
}

func TestStoreCopyBothWays(t *testing.T) {
	ws := seedConversations(t)
	mustRun(t, "--workspace", ws, "append", "--session", "other", "--role", "user", "--content", "a second session")
	url := redisURL(t)
	var rep storeCopyOutput
	if err := json.Unmarshal([]byte(mustRun(t, "store", "copy", "--from", ws, "--to", url, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sessions) != 2 || rep.Copied != rep.Records || rep.Records < 10 || len(rep.Failed) != 0 || strings.Contains(rep.To, "?") && !strings.Contains(rep.To, "prefix") {
		t.Fatalf("copy to redis: %+v", rep)
	}
	// The same commands on the copy: the same output.
	local := t.TempDir()
	for _, args := range [][]string{
		{"export", "chat", "--format", "jsonl", "--all"},
		{"export", "chat", "--format", "markdown"},
		{"export", "other", "--format", "json"},
		{"show", "chat", "--all"},
		{"ls", "--json"},
	} {
		want := mustRun(t, append([]string{"--workspace", ws}, args...)...)
		got := mustRun(t, append([]string{"--workspace", local, "--store", url}, args...)...)
		if args[0] == "ls" {
			// Sizes and order agree; only the store's mtime-based fields may not.
			var a, b []map[string]any
			_ = json.Unmarshal([]byte(want), &a)
			_ = json.Unmarshal([]byte(got), &b)
			if len(a) != 2 || len(b) != 2 || a[0]["id"] != b[0]["id"] || a[0]["size"] != b[0]["size"] || a[0]["title"] != b[0]["title"] {
				t.Errorf("ls differs:\nfiles %s\nredis %s", want, got)
			}
			continue
		}
		if got != want {
			t.Errorf("%v differs:\nfiles:\n%s\nredis:\n%s", args, want, got)
		}
	}
	// Idempotent: again, nothing is written.
	_ = json.Unmarshal([]byte(mustRun(t, "store", "copy", "--from", ws, "--to", url, "--json")), &rep)
	if rep.Copied != 0 || len(rep.Sessions) != 2 {
		t.Fatalf("second copy: %+v", rep)
	}
	// Resumable: what was appended since is what is copied.
	mustRun(t, "--workspace", ws, "append", "--session", "other", "--role", "assistant", "--content", "later")
	_ = json.Unmarshal([]byte(mustRun(t, "store", "copy", "--from", ws, "--to", url, "--json")), &rep)
	if rep.Copied != 1 {
		t.Fatalf("copy after an append: %+v", rep)
	}
	// And back to files: byte for byte the original files.
	back := t.TempDir()
	mustRun(t, "store", "copy", "--from", url, "--to", back)
	des, _ := os.ReadDir(filepath.Join(ws, "sessions"))
	n := 0
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".jsonl") {
			continue
		}
		n++
		a, _ := os.ReadFile(filepath.Join(ws, "sessions", de.Name()))
		b, err := os.ReadFile(filepath.Join(back, "sessions", de.Name()))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s: the round trip changed it (%v)", de.Name(), err)
		}
	}
	if n != 2 {
		t.Fatalf("%d session files", n)
	}
	// A destination that is not a copy is reported and left alone.
	mustRun(t, "--workspace", back, "append", "--session", "other", "--role", "user", "--content", "only here")
	_, errOut, code := runCLI(t, "store", "copy", "--from", ws, "--to", back)
	if code != exitRepairable || !strings.Contains(errOut, "not the start of the source") && !strings.Contains(errOut, "differs") {
		t.Fatalf("copy onto a diverged session: exit %d %s", code, errOut)
	}
}

// Redis away: the append fails with its own exit code and code, and the
// URL's password is not printed.
func TestStoreUnavailableExit(t *testing.T) {
	ws := t.TempDir()
	_, errOut, code := runCLI(t, "--workspace", ws, "--store", "redis://u:hunter2@127.0.0.1:1/0?dial_timeout=200ms", "--json",
		"append", "--session", "x", "--role", "user", "--content", "lost?")
	if code != exitStore || !strings.Contains(errOut, `"store_unavailable"`) || strings.Contains(errOut, "hunter2") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(ws, "sessions")); err == nil {
		if des, _ := os.ReadDir(filepath.Join(ws, "sessions")); len(des) > 1 {
			t.Fatalf("something was written on disk: %v", des)
		}
	}
}

// A files-only command on Redis says so.
func TestStoreRefusesRepair(t *testing.T) {
	url := redisURL(t)
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "--store", url, "append", "--session", "x", "--role", "user", "--content", "hi")
	_, errOut, code := runCLI(t, "--workspace", ws, "--store", url, "--json", "repair")
	if code == 0 || !strings.Contains(errOut, codeStoreUnsupported) {
		t.Fatalf("repair on redis: exit %d %s", code, errOut)
	}
}

// check on a Redis store says what the server keeps on disk, and warns
// when a restart would lose the sessions.
func TestCheckWarnsPersistenceOff(t *testing.T) {
	for _, c := range []struct {
		args []string
		warn string
	}{
		{[]string{"--appendonly", "no"}, "persistence off"},
		{[]string{"--appendonly", "yes", "--appendfsync", "everysec"}, "up to about a second"},
		{[]string{"--appendonly", "yes", "--appendfsync", "always"}, ""},
	} {
		srv := redistest.StartServer(t, c.args...)
		ws := t.TempDir()
		// The store named in config.json: check reads it although it
		// opens the workspace without its config.
		cfg := `{"store": {"kind": "redis", "url": "` + srv.URL() + `"}}`
		if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "--workspace", ws, "append", "--session", "x", "--role", "user", "--content", "hi")
		out, errOut, code := runCLI(t, "--workspace", ws, "check", "--json")
		if code != 0 {
			t.Fatalf("%v: exit %d %s", c.args, code, errOut)
		}
		var got checkOutput
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.Checked != 1 || got.Store == nil || got.Store.Kind != "redis" {
			t.Fatalf("%v: %s", c.args, out)
		}
		if c.warn == "" && (got.Store.Warning != "" || got.Warnings != 0) || c.warn != "" && !strings.Contains(got.Store.Warning, c.warn) {
			t.Fatalf("%v: warning %q, want %q", c.args, got.Store.Warning, c.warn)
		}
		srv.Kill()
	}
}

// The trash on Redis: rm, rm --trash (with the title), rm --restore.
func TestStoreTrash(t *testing.T) {
	url := redisURL(t)
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "--store", url, "append", "--session", "gone", "--role", "user", "--content", "remember the milk")
	mustRun(t, "--workspace", ws, "--store", url, "rm", "gone", "--yes")
	list := mustRun(t, "--workspace", t.TempDir(), "--store", url, "rm", "--trash")
	if !strings.Contains(list, "remember the milk") {
		t.Fatalf("rm --trash on redis:\n%s", list)
	}
	var trash []map[string]any
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "--store", url, "rm", "--trash", "--json")), &trash)
	if len(trash) != 1 {
		t.Fatalf("trash: %v", trash)
	}
	mustRun(t, "--workspace", ws, "--store", url, "rm", "--restore", trash[0]["name"].(string))
	if out := mustRun(t, "--workspace", ws, "--store", url, "show", "gone"); !strings.Contains(out, "remember the milk") {
		t.Fatalf("restored:\n%s", out)
	}
}
