package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// The trash goes with a store copy, both ways, run as the binary: each
// deleted session under its trash name, byte for byte, restorable on the
// destination; a second run writes nothing; a destination entry that is
// not the source's is reported (exit 3) and left alone.
func TestStoreCopyTrashBothWaysBinary(t *testing.T) {
	bin := buildBinary(t)
	url := redisURL(t)
	ws := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := exitOf(t, bin, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	// Two deletions of one session (two trash names) and a live one.
	for i, text := range []string{"first life", "second life"} {
		run("--workspace", ws, "append", "--session", "gone", "--role", "user", "--content", text)
		run("--workspace", ws, "append", "--session", "gone", "--role", "assistant", "--content", fmt.Sprintf("answer %d", i))
		run("--workspace", ws, "rm", "gone", "--yes")
	}
	run("--workspace", ws, "append", "--session", "kept", "--role", "user", "--content", "still here")
	trashOf := func(dir string) map[string]string {
		des, _ := os.ReadDir(filepath.Join(dir, "sessions", ".trash"))
		m := map[string]string{}
		for _, de := range des {
			if strings.HasSuffix(de.Name(), ".jsonl") {
				b, _ := os.ReadFile(filepath.Join(dir, "sessions", ".trash", de.Name()))
				m[de.Name()] = string(b)
			}
		}
		return m
	}
	orig := trashOf(ws)
	if len(orig) != 2 {
		t.Fatalf("%d trash entries to start with", len(orig))
	}

	// Files to Redis.
	var rep storeCopyOutput
	if err := json.Unmarshal([]byte(run("store", "copy", "--from", ws, "--to", url, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Trash) != 2 || rep.TrashCopied != 2 || rep.TrashRecords != 6 || len(rep.Sessions) != 1 || len(rep.Failed) != 0 {
		t.Fatalf("copy to redis: %+v", rep)
	}
	local := t.TempDir()
	var listed []map[string]any
	if err := json.Unmarshal([]byte(run("--workspace", local, "--store", url, "rm", "--trash", "--json")), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("trash on redis: %v %v", listed, err)
	}
	// Idempotent.
	_ = json.Unmarshal([]byte(run("store", "copy", "--from", ws, "--to", url, "--json")), &rep)
	if rep.TrashCopied != 0 || len(rep.Trash) != 2 || rep.TrashRecords != 6 {
		t.Fatalf("second copy: %+v", rep)
	}

	// Redis back to files: the same trash files, byte for byte.
	back := t.TempDir()
	_ = json.Unmarshal([]byte(run("store", "copy", "--from", url, "--to", back, "--json")), &rep)
	if len(rep.Trash) != 2 || rep.TrashCopied != 2 || len(rep.Failed) != 0 {
		t.Fatalf("copy to files: %+v", rep)
	}
	got := trashOf(back)
	for name, b := range orig {
		if got[name] != b {
			t.Errorf("trash %s: the round trip changed it", name)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d trash files after the round trip", len(got))
	}

	// Restore works on both destinations, and shows the same session.
	id := rep.Trash[0].ID
	run("--workspace", local, "--store", url, "rm", "--restore", id)
	run("--workspace", back, "rm", "--restore", id)
	run("--workspace", ws, "rm", "--restore", id)
	want := run("--workspace", ws, "show", "gone", "--all")
	if !strings.Contains(want, "second life") {
		t.Fatalf("restored: %s", want)
	}
	if g := run("--workspace", local, "--store", url, "show", "gone", "--all"); g != want {
		t.Errorf("restored on redis:\n%s\nwant\n%s", g, want)
	}
	if g := run("--workspace", back, "show", "gone", "--all"); g != want {
		t.Errorf("restored on files:\n%s\nwant\n%s", g, want)
	}
	// A restored session on Redis takes appends on from its last seq.
	run("--workspace", local, "--store", url, "append", "--session", "gone", "--role", "user", "--content", "back again")
	if g := run("--workspace", local, "--store", url, "show", "gone", "--all"); !strings.Contains(g, "back again") {
		t.Fatalf("append after restore on redis: %s", g)
	}

	// A trash entry in the destination that is not the source's.
	back2 := t.TempDir()
	run("store", "copy", "--from", url, "--to", back2)
	for name := range trashOf(back2) {
		p := filepath.Join(back2, "sessions", ".trash", name)
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), "first life", "FIRST LIFE", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := exitOf(t, bin, "store", "copy", "--from", url, "--to", back2, "--json")
	_ = json.Unmarshal([]byte(out), &rep)
	if code != exitRepairable || len(rep.Failed) != 1 || rep.Failed[0].Trash == "" || !strings.Contains(errOut, "differs") {
		t.Fatalf("diverged trash entry: exit %d %+v %s", code, rep, errOut)
	}
}

// min_replicas on a primary without replicas: check warns
// (store_replicas), and an append exits 14, saying it was not
// acknowledged rather than not written (the primary may hold it).
func TestStoreMinReplicasCheckAndAppend(t *testing.T) {
	srv := redistest.StartServer(t)
	url := srv.URL() + "?min_replicas=1&wait_timeout=100ms"
	ws := t.TempDir()
	out, errOut, code := runCLI(t, "--workspace", ws, "--store", url, "append", "--session", "x", "--role", "user", "--content", "hi")
	if code != exitStore || !strings.Contains(errOut, "not acknowledged") || !strings.Contains(errOut, "replicas") {
		t.Fatalf("append: exit %d %s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "--workspace", ws, "--store", url, "check")
	if code != 0 || !strings.Contains(out, "warning store_replicas: min_replicas is 1 but the primary has 0 replica(s)") {
		t.Fatalf("check: exit %d %s%s", code, out, errOut)
	}
	var rep struct {
		Store storeHealth `json:"store"`
	}
	out, _, _ = runCLI(t, "--workspace", ws, "--store", url, "--json", "check")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Store.Replication == nil || rep.Store.Replication.Connected != 0 || rep.Store.ReplicaWarning == "" {
		t.Fatalf("check --json: %s %v", out, err)
	}
}

// A redis+sentinel:// store through the CLI: append and show, store copy
// to it, and check (the primary's replica counted against min_replicas).
func TestStoreSentinelURL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts three servers")
	}
	master := redistest.StartServer(t)
	redistest.StartServer(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	sentinel := redistest.StartSentinel(t, "pm", master.Addr(), 5*time.Second, 10*time.Second)
	url := "redis+sentinel://" + sentinel.Addr() + "/pm?min_replicas=1&wait_timeout=2s"
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "--store", url, "append", "--session", "s", "--role", "user", "--content", "through sentinel")
	if out := mustRun(t, "--workspace", ws, "--store", url, "show", "s"); !strings.Contains(out, "through sentinel") {
		t.Fatalf("show: %s", out)
	}
	src := seedConversations(t)
	var rep storeCopyOutput
	if err := json.Unmarshal([]byte(mustRun(t, "store", "copy", "--from", src, "--to", url, "--json")), &rep); err != nil || len(rep.Sessions) != 1 || rep.Copied == 0 {
		t.Fatalf("copy: %+v %v", rep, err)
	}
	out, errOut, code := runCLI(t, "--workspace", ws, "--store", url, "check")
	if code != 0 || strings.Contains(out, "store_replicas") || !strings.Contains(out, "redis+sentinel://") {
		t.Fatalf("check: exit %d %s%s", code, out, errOut)
	}
}
