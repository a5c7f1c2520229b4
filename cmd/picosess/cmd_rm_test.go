package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

func TestRmRestorePurge(t *testing.T) {
	ws := seedConversations(t)
	// Not a terminal and no --yes: refused, nothing moved.
	_, errOut, code := runCLI(t, "--workspace", ws, "rm", "chat")
	if code != 1 || !strings.Contains(errOut, "refusing without --yes") {
		t.Fatalf("rm without --yes: exit %d %q", code, errOut)
	}
	if out := mustRun(t, "--workspace", ws, "ls"); !strings.Contains(out, "name:chat") {
		t.Fatal("rm without --yes deleted the session")
	}
	var del rmOutput
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "rm", "chat", "--yes", "--json")), &del); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, "sessions", ".trash", del.Trash)); err != nil || !strings.HasPrefix(del.Trash, del.ID) {
		t.Fatalf("not in the trash: %+v (%v)", del, err)
	}
	if _, _, code := runCLI(t, "--workspace", ws, "show", "chat"); code != 1 {
		t.Fatalf("show of a deleted session: exit %d", code)
	}
	var trash []workspace.Trashed
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "rm", "--trash", "--json")), &trash)
	if len(trash) != 1 || trash[0].Name != del.Trash {
		t.Fatalf("rm --trash: %+v", trash)
	}
	// The trash list: when, how big, the reference to restore and the
	// title, human-readable, no 64-hex names.
	list := mustRun(t, "--workspace", ws, "rm", "--trash")
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "DELETED") ||
		!strings.Contains(lines[1], "seconds ago") && !strings.Contains(lines[1], "now") ||
		!strings.Contains(lines[1], " KiB") && !strings.Contains(lines[1], " B ") ||
		!strings.Contains(lines[1], shortID(del.ID)+"  first question") || strings.Contains(list, del.ID) {
		t.Fatalf("rm --trash:\n%s", list)
	}
	if out := mustRun(t, "--workspace", ws, "rm", "--restore", shortID(del.ID)); out != "restored "+shortID(del.ID)+" \"first question\"\n" {
		t.Fatalf("rm --restore: %q", out)
	}
	if out := mustRun(t, "--workspace", ws, "show", "chat", "--all"); !strings.Contains(out, "first question") {
		t.Fatalf("restored session lost records:\n%s", out)
	}
	// Delete again, then purge: --older-than spares a fresh deletion.
	if out := mustRun(t, "--workspace", ws, "rm", "chat", "-y"); out != "deleted "+shortID(del.ID)+" \"first question\" to the trash\nundo: picosess rm --restore "+shortID(del.ID)+"\n" {
		t.Fatalf("rm: %q", out)
	}
	var p purgeOutput
	_ = json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "rm", "--purge", "--older-than", "1h", "--yes", "--json")), &p)
	if p.Purged == nil || len(p.Purged) != 0 {
		t.Fatalf("purge --older-than 1h removed a fresh deletion: %+v", p)
	}
	if _, _, code := runCLI(t, "--workspace", ws, "rm", "--purge"); code != 1 {
		t.Fatal("rm --purge without --yes and without a terminal must be refused")
	}
	if out := mustRun(t, "--workspace", ws, "rm", "--purge", "--yes"); !strings.HasPrefix(out, "purged "+shortID(del.ID)+" \"first question\" (") ||
		!strings.Contains(out, "iB, deleted ") && !strings.Contains(out, " B, deleted ") {
		t.Fatalf("purge: %q", out)
	}
	if des, _ := os.ReadDir(filepath.Join(ws, "sessions", ".trash")); len(des) != 0 {
		t.Fatalf("trash not empty after purge: %v", des)
	}
	if _, errOut, code := runCLI(t, "--workspace", ws, "rm", "--restore", del.ID); code != 1 || !strings.Contains(errOut, "nothing in the trash matches") {
		t.Fatalf("restore after purge: exit %d %q", code, errOut)
	}
}

// A session started again since the deletion blocks --restore.
func TestRmRestoreRefusesOverLiveSession(t *testing.T) {
	ws := t.TempDir()
	mustRun(t, "--workspace", ws, "append", "--session", "s", "--role", "user", "--content", "one")
	mustRun(t, "--workspace", ws, "rm", "s", "--yes")
	mustRun(t, "--workspace", ws, "append", "--session", "s", "--role", "user", "--content", "two")
	list := mustRun(t, "--workspace", ws, "rm", "--trash", "--json")
	var trash []workspace.Trashed
	_ = json.Unmarshal([]byte(list), &trash)
	_, errOut, code := runCLI(t, "--workspace", ws, "rm", "--restore", trash[0].ID)
	if code != 1 || !strings.Contains(errOut, "is live again") {
		t.Fatalf("restore over a live session: exit %d %q", code, errOut)
	}
	if out := mustRun(t, "--workspace", ws, "show", "s"); !strings.Contains(out, "two") || strings.Contains(out, "one") {
		t.Fatalf("the live session was touched:\n%s", out)
	}
}

func TestRmErrors(t *testing.T) {
	ws := seedConversations(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rm"}, "which session?"},
		{[]string{"rm", "--restore"}, "--restore needs the REF"},
		{[]string{"rm", "chat", "--older-than", "1d"}, "--older-than goes with --purge"},
		{[]string{"rm", "--purge", "--restore", "x"}, "give one"},
		{[]string{"rm", "--purge", "chat"}, "take no SESSION"},
		{[]string{"rm", "--purge", "--older-than", "soon", "--yes"}, `--older-than "soon"`},
		{[]string{"rm", "nosuch", "--yes"}, `no session matches "nosuch"`},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestAskYes(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " yes ": true, "n\n": false, "\n": false, "": false, "yess\n": false} {
		var out strings.Builder
		if got := askYes(strings.NewReader(in), &out, "Delete?"); got != want || out.String() != "Delete? [y/N] " {
			t.Errorf("askYes(%q) = %v (prompt %q), want %v", in, got, out.String(), want)
		}
	}
}

// The newest deletion of an id is restored by the short id; older ones
// need their trash name.
func TestTrashRefs(t *testing.T) {
	id := "sk_v1_" + strings.Repeat("a", 64)
	other := "sk_v1_" + strings.Repeat("b", 64)
	now := time.Now()
	refs := trashRefs([]workspace.Trashed{
		{Name: id + ".jsonl", ID: id, Deleted: now.Add(-time.Hour)},
		{Name: id + ".20260101T000000Z.jsonl", ID: id, Deleted: now},
		{Name: other + ".jsonl", ID: other, Deleted: now.Add(-48 * time.Hour)},
	})
	if refs[id+".jsonl"] != id+".jsonl" || refs[id+".20260101T000000Z.jsonl"] != shortID(id) || refs[other+".jsonl"] != shortID(other) {
		t.Fatalf("refs %v", refs)
	}
}
