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

// The lifecycle policies through the built binary, as an operator meets
// them: idle and daily resets, triggers, --at, policy, cleanup.

// lifecycleWS is a workspace whose config sets idle and daily resets in a
// zone with DST, a different idle rule for groups, a history limit, a send
// rule and an expiry.
func lifecycleWS(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	writeConfig(t, ws, `{
  "reset": {"idle_minutes": 60, "daily_at": "04:00", "timezone": "Europe/Berlin",
            "by_type": {"group": {"idle_minutes": 240}}},
  "limits": {"max_messages": 50},
  "send_policy": {"rules": [{"action": "deny", "match": {"chat_type": "group"}}]},
  "cleanup": {"older_than": "30d"}
}`)
	return ws
}

// binAppend appends a user message at a time through the binary and
// returns its --json answer.
func binAppend(t *testing.T, bin, ws, session, at, content string) appendOutput {
	t.Helper()
	out, errOut, code := exitOf(t, bin, "--workspace", ws, "--json", "append", "--session", session, "--role", "user", "--at", at, "--content", content)
	if code != 0 {
		t.Fatalf("append %q at %s: exit %d: %s", content, at, code, errOut)
	}
	var a appendOutput
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("append --json: %v: %q", err, out)
	}
	return a
}

// fileRecords reads every record of a session file.
func fileRecords(t *testing.T, ws, id string) []workspace.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ws, workspace.SessionsDir, id+workspace.SessionExt))
	if err != nil {
		t.Fatal(err)
	}
	var out []workspace.Record
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var r workspace.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		out = append(out, r)
	}
	return out
}

func TestBinaryResetsAndTriggers(t *testing.T) {
	bin := buildBinary(t)
	ws := lifecycleWS(t)

	a := binAppend(t, bin, ws, "diary", "2026-03-10T08:00:00Z", "first")
	if a.Reset != nil {
		t.Fatalf("first message reset: %+v", a.Reset)
	}
	if a := binAppend(t, bin, ws, "diary", "2026-03-10T08:59:00Z", "59 minutes later"); a.Reset != nil {
		t.Fatalf("59 minutes under idle_minutes 60 reset: %+v", a.Reset)
	}
	// Idle: 61 minutes after the last message, same day.
	a = binAppend(t, bin, ws, "diary", "2026-03-10T10:00:00Z", "an hour later")
	if a.Reset == nil || a.Reset.Reason != "idle" || !strings.Contains(a.Reset.Rule, "idle_minutes=60 (reset.idle_minutes)") || a.Reset.Seq != a.Seq-1 {
		t.Fatalf("idle reset: %+v", a)
	}
	// Daily: 04:00 Berlin is 03:00Z in winter; 02:50Z then 03:10Z crosses it
	// within the idle window.
	binAppend(t, bin, ws, "diary", "2026-03-11T02:30:00Z", "late night")
	binAppend(t, bin, ws, "diary", "2026-03-11T02:50:00Z", "still up")
	a = binAppend(t, bin, ws, "diary", "2026-03-11T03:10:00Z", "after four in Berlin")
	if a.Reset == nil || a.Reset.Reason != "daily" || !strings.Contains(a.Reset.Rule, "daily_at=04:00 Europe/Berlin (reset.daily_at)") {
		t.Fatalf("daily reset: %+v", a)
	}
	// In summer (CEST) the boundary is 02:00Z.
	binAppend(t, bin, ws, "diary", "2026-07-01T01:30:00Z", "summer night")
	a = binAppend(t, bin, ws, "diary", "2026-07-01T01:59:00Z", "before the boundary")
	if a.Reset != nil {
		t.Fatalf("01:59Z in July is 03:59 CEST, before the boundary: %+v", a.Reset)
	}
	if a := binAppend(t, bin, ws, "diary", "2026-07-01T02:01:00Z", "after"); a.Reset == nil || a.Reset.Reason != "daily" {
		t.Fatalf("02:01Z in July is 04:01 CEST: %+v", a.Reset)
	}

	// Trigger alone: the message is the reset; the text line on stderr says so.
	out, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "diary", "--role", "user", "--at", "2026-07-01T02:02:00Z", "--content", "/new")
	if code != 0 || !strings.Contains(errOut, "new conversation (manual reset, seq") || !strings.Contains(errOut, "trigger /new") {
		t.Fatalf("trigger alone: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Trigger with text: the text is the first message of the new one.
	a = binAppend(t, bin, ws, "diary", "2026-07-01T02:03:00Z", "/reset  plan the trip")
	if a.Reset == nil || a.Reset.Reason != "manual" || a.Reset.Trigger != "/reset" {
		t.Fatalf("trigger with text: %+v", a)
	}
	recs := fileRecords(t, ws, a.ID)
	last, before := recs[len(recs)-1], recs[len(recs)-2]
	if last.Type != "message" || last.Content != "plan the trip" || before.Type != "reset" || before.Reason != "manual" || before.Trigger != "/reset" {
		t.Fatalf("trigger with text wrote %+v after %+v", last, before)
	}
	// Only user messages count: an assistant's "/new" is stored as is.
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "diary", "--role", "assistant", "--content", "/new"); code != 0 || errOut != "" {
		t.Fatalf("assistant /new: exit %d %q", code, errOut)
	}
	if recs := fileRecords(t, ws, a.ID); recs[len(recs)-1].Role != "assistant" || recs[len(recs)-1].Content != "/new" {
		t.Fatalf("assistant /new: %+v", recs[len(recs)-1])
	}
	// --at before the last record: refused, nothing written.
	size := fileSize(t, ws, a.ID)
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "diary", "--role", "user", "--at", "2026-01-01T00:00:00Z", "--content", "too old"); code != 1 ||
		!strings.Contains(errOut, "before") || !strings.Contains(errOut, "nothing was written") {
		t.Fatalf("--at in the past: exit %d %q", code, errOut)
	}
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "diary", "--role", "user", "--at", "yesterday", "--content", "x"); code != 1 || !strings.Contains(errOut, "--at") {
		t.Fatalf("--at yesterday: exit %d %q", code, errOut)
	}
	if fileSize(t, ws, a.ID) != size {
		t.Fatal("a refused append changed the file")
	}
	// Every reset kept the older conversations: show --all has them all.
	all := mustRun(t, "--workspace", ws, "show", "diary", "--all")
	for _, want := range []string{"first", "an hour later", "still up", "summer night", "plan the trip"} {
		if !strings.Contains(all, want) {
			t.Errorf("show --all lacks %q", want)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func fileSize(t *testing.T, ws, id string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(ws, workspace.SessionsDir, id+workspace.SessionExt))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestBinaryPolicy(t *testing.T) {
	bin := buildBinary(t)
	ws := lifecycleWS(t)
	out, errOut, code := exitOf(t, bin, "--workspace", ws, "--json", "append", "--channel", "telegram", "--chat-type", "group", "--chat", "-100123",
		"--sender", "42", "--role", "user", "--at", "2026-03-10T08:00:00Z", "--content", "hello group")
	if code != 0 {
		t.Fatalf("append: %d %s", code, errOut)
	}
	var a appendOutput
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}

	// 3 hours later: under the group's idle_minutes 240, before 04:00.
	text, errOut, code := exitOf(t, bin, "--workspace", ws, "policy", a.ID, "--at", "2026-03-10T11:00:00Z")
	if code != 0 {
		t.Fatalf("policy: exit %d %s", code, errOut)
	}
	for _, want := range []string{
		"agent main, channel telegram, chat type group",
		"idle_minutes   240", "reset.by_type.group.idle_minutes",
		"daily_at       04:00", "reset.daily_at",
		"Europe/Berlin", "/new /reset", "default",
		"max_messages  50", "limits.max_messages",
		"continues the conversation",
		"sending: denied (send_policy.rules[0] matches: deny)",
		"expiry: after 30d without a message",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("policy output lacks %q:\n%s", want, text)
		}
	}
	// 5 hours later: the group's idle rule fires, and is named.
	var rep workspace.PolicyReport
	out, errOut, code = exitOf(t, bin, "--workspace", ws, "--json", "policy", a.ID, "--at", "2026-03-10T13:00:00Z")
	if code != 0 {
		t.Fatalf("policy --json: exit %d %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Next.Reset || rep.Next.Reason != "idle" || rep.Reset.IdleMinutes.Value != 240 || rep.Reset.IdleMinutes.From != "reset.by_type.group.idle_minutes" ||
		rep.Send.Allowed || rep.Limits.MaxMessages.Value != 50 || rep.ExpirySeconds != 30*24*3600 ||
		!rep.ExpiresAt.Equal(time.Date(2026, 4, 9, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("policy --json: %+v", rep)
	}
	// policy writes nothing.
	if n := len(fileRecords(t, ws, a.ID)); n != 2 {
		t.Fatalf("policy wrote records: %d", n)
	}
	// Bad input is named.
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "policy", a.ID, "--at", "noon"); code != 1 || !strings.Contains(errOut, "--at") {
		t.Fatalf("policy --at noon: %d %q", code, errOut)
	}
	if _, errOut, code := exitOf(t, bin, "--workspace", ws, "policy", "nosuch"); code != 1 || !strings.Contains(errOut, "nosuch") {
		t.Fatalf("policy nosuch: %d %q", code, errOut)
	}
}

func TestBinaryBadConfigWritesNothing(t *testing.T) {
	bin := buildBinary(t)
	for _, tt := range []struct{ config, want string }{
		{`{"reset": {"timezone": "Mars/Olympus"}}`, "reset.timezone"},
		{`{"reset": {"daily_at": "25:00"}}`, "reset.daily_at"},
		{`{"reset": {"idle_minutes": -5}}`, "reset.idle_minutes"},
		{`{"cleanup": {"ttl": "-1h"}}`, "cleanup.ttl"},
		{`{"reset": {"triggers": "/new"}}`, "reset.triggers"},
		{`{"reset": {"by_channel": {"telegram": {"triggers": [1]}}}}`, "reset.by_channel.telegram.triggers[0]"},
	} {
		ws := t.TempDir()
		writeConfig(t, ws, tt.config)
		_, errOut, code := exitOf(t, bin, "--workspace", ws, "append", "--session", "s", "--role", "user", "--content", "hi")
		if code != 1 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "config.json:1:") {
			t.Errorf("%s: exit %d, stderr %q; want 1 naming %s with its line", tt.config, code, errOut, tt.want)
		}
		if entries, _ := os.ReadDir(filepath.Join(ws, workspace.SessionsDir)); len(entries) != 0 {
			t.Errorf("%s: a session was written: %v", tt.config, entries)
		}
	}
}

func TestBinaryCleanupThenRestore(t *testing.T) {
	bin := buildBinary(t)
	ws := lifecycleWS(t)
	old := time.Now().Add(-45 * 24 * time.Hour).UTC().Format(time.RFC3339)
	stale := binAppend(t, bin, ws, "stale", old, "an old question")
	fresh := binAppend(t, bin, ws, "fresh", time.Now().UTC().Format(time.RFC3339), "a new one")
	staleBytes, _ := os.ReadFile(filepath.Join(ws, workspace.SessionsDir, stale.ID+workspace.SessionExt))

	out, errOut, code := exitOf(t, bin, "--workspace", ws, "cleanup", "--dry-run")
	if code != 0 || !strings.Contains(out, "would move 1 session") || !strings.Contains(out, shortID(stale.ID)) || strings.Contains(out, shortID(fresh.ID)) {
		t.Fatalf("cleanup --dry-run (config's older_than 30d): exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.SessionsDir, stale.ID+workspace.SessionExt)); err != nil {
		t.Fatalf("dry run moved the session: %v", err)
	}
	out, errOut, code = exitOf(t, bin, "--workspace", ws, "cleanup")
	if code != 0 || !strings.Contains(out, "moved 1 session") {
		t.Fatalf("cleanup: exit %d\n%s%s", code, out, errOut)
	}
	// An append to the trashed session says so instead of starting a new
	// empty one.
	_, errOut, code = exitOf(t, bin, "--workspace", ws, "append", stale.ID, "--role", "user", "--content", "hello?")
	if code != 1 || !strings.Contains(errOut, "moved to the trash as "+stale.ID) || !strings.Contains(errOut, "rm --restore") {
		t.Fatalf("append to a trashed session by id: exit %d %q", code, errOut)
	}
	if fileExists(filepath.Join(ws, workspace.SessionsDir, stale.ID+workspace.SessionExt)) {
		t.Fatal("an append by id recreated the trashed session")
	}
	// By name (or route), as an assistant writes, the expired conversation
	// is over: the message starts a new session, and the note says where
	// the old one is.
	_, errOut, code = exitOf(t, bin, "--workspace", ws, "append", "--session", "stale", "--role", "user", "--content", "hello again")
	if code != 0 || !strings.Contains(errOut, "the earlier one is in the trash as "+stale.ID) {
		t.Fatalf("append to a trashed named session: exit %d %q", code, errOut)
	}
	if _, errOut, code = exitOf(t, bin, "--workspace", ws, "rm", "--yes", "stale"); code != 0 {
		t.Fatalf("rm the new one: %d %s", code, errOut)
	}
	// The note's trash name restores the original (the id alone would
	// bring back the latest deletion: the new one).
	out, errOut, code = exitOf(t, bin, "--workspace", ws, "rm", "--restore", stale.ID+workspace.SessionExt)
	if code != 0 {
		t.Fatalf("rm --restore: exit %d %s %s", code, out, errOut)
	}
	got, _ := os.ReadFile(filepath.Join(ws, workspace.SessionsDir, stale.ID+workspace.SessionExt))
	checkRestored(t, string(got), string(staleBytes))
}
