package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
)

// Migrating again after an upgrade. testdata/remigrate/ holds the session
// files that picosess at c47846b (the commit before OpenClaw orphans were
// linked) wrote for testdata installs; testdata/remigrate/gen.sh rebuilds
// that version from the git history and writes them again. Each test puts
// such a workspace beside a copy of its install (the install's path is the
// one field that names where it was) and migrates with this version.

const (
	aliceDM      = "sk_v1_1d577aea99e66f4c4c8ea726a7195b24ea156d6b9cee9d3439a3ae1ea267c743" // per-channel-peer (the install's dmScope)
	aliceDMOld   = "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5" // picosess's defaults
	aliceArchive = "sk_v1_23b931ca137124bc4352957a6f31a94fbc5b28742c7d348ba25e63633cc3079b" // openclaw:main:afe26bb2-…, the orphan
)

// fixedTimesTree copies testdata/rel and gives every file the time
// gen.sh gave it (sorted paths, the first one latest, a minute apart):
// PicoClaw messages without times take their file's.
func fixedTimesTree(t *testing.T, rel string) string {
	t.Helper()
	src := legacyTree(t, rel)
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, f := range files {
		at := base.Add(time.Duration(len(files)-i) * time.Minute)
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		t.Fatal(err)
	}
	return real
}

// oldWorkspace is the workspace testdata/remigrate/name holds, as the
// older version left it after migrating src.
func oldWorkspace(t *testing.T, name, src string) string {
	t.Helper()
	from := filepath.Join("..", "..", "testdata", "remigrate", name)
	ws := filepath.Join(t.TempDir(), "ws")
	if err := os.MkdirAll(filepath.Join(ws, "sessions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(from, "config.json")); err == nil {
		if err := os.WriteFile(filepath.Join(ws, "config.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(from, "sessions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, "sessions", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte(`"from":"@FROM@"`), []byte(`"from":"`+src+`"`))
		if err := os.WriteFile(filepath.Join(ws, "sessions", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

// cleanMigration is this version's migration of src into a new workspace
// with the given config.json ("" none).
func cleanMigration(t *testing.T, src, config string) string {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "clean")
	if config != "" {
		if err := os.MkdirAll(ws, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	return ws
}

// sessionFiles maps each live session file's name to its bytes.
func liveSessionFiles(t *testing.T, ws string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(ws, "sessions"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".jsonl") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(ws, "sessions", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// liveMessages counts every message of every live session by what it is
// (role, content, time, tool call id), and says where each one is.
func liveMessages(t *testing.T, ws string) (map[string]int, map[string][]string) {
	t.Helper()
	count, where := map[string]int{}, map[string][]string{}
	for name := range liveSessionFiles(t, ws) {
		id := strings.TrimSuffix(name, ".jsonl")
		for _, r := range fileLines(t, ws, id) {
			if r["type"] != "message" {
				continue
			}
			k := fmt.Sprintf("%v|%v|%v|%v|%v", r["role"], r["content"], r["at"], r["tool_call_id"], r["tool_calls"])
			count[k]++
			where[k] = append(where[k], id)
		}
	}
	return count, where
}

// sameMessages fails unless ws holds exactly the messages of want, each as
// many times (each message once where want has it once).
func sameMessages(t *testing.T, ws, want string) {
	t.Helper()
	got, where := liveMessages(t, ws)
	exp, _ := liveMessages(t, want)
	for k, n := range exp {
		if got[k] != n {
			t.Errorf("message %q: %d time(s) in live sessions %v, want %d", k, got[k], where[k], n)
		}
	}
	for k, n := range got {
		if exp[k] == 0 {
			t.Errorf("message %q: %d time(s) in %v, not in a clean migration", k, n, where[k])
		}
	}
}

func trashNames(t *testing.T, ws string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(ws, "sessions", ".trash"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// searchSessions runs search --json and returns the sessions of its hits.
func searchSessions(t *testing.T, ws, q string) map[string]int {
	t.Helper()
	out := mustRun(t, "--workspace", ws, "search", q, "--json")
	hits := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var h struct {
			Session string `json:"session"`
		}
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("search output %q: %v", l, err)
		}
		hits[h.Session]++
	}
	return hits
}

// An OpenClaw install migrated by the older version under the install's
// own dmScope: the Telegram DM's current conversation in its session, the
// orphan (a conversation before a /new) archived on its own. This version
// links the orphan to the DM. Untouched since, the DM's session is written
// again in time order (the old file to the trash) and the archive retired:
// the result is byte for byte a clean migration's, each message once, found
// once by search, and a third run writes nothing.
func TestMigrateAgainLinksOrphanInOrder(t *testing.T) {
	const cfg = `{"session": {"dmScope": "per-channel-peer"}}`
	src := fixedTimesTree(t, "upstream/openclaw/2026.1.24/state")
	ws := oldWorkspace(t, "clawdbot-2026.1.24-config", src)
	clean := cleanMigration(t, src, cfg+"\n")

	// the older layout is searchable twice' worth: the orphan's reply is in
	// the archive
	if hits := searchSessions(t, ws, "Ribeira"); len(hits) != 1 || hits[aliceDM] == 0 {
		t.Fatalf("before: Ribeira found in %v", hits)
	}
	if hits := searchSessions(t, ws, "milk"); len(hits) != 1 || hits[aliceArchive] == 0 {
		t.Fatalf("before: milk found in %v", hits)
	}

	before := treeDigest(t, filepath.Join(ws, "sessions"))
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run", "--verbose")
	for _, want := range []string{"1 rebuild", "earlier imports: 1 superseded", "openclaw:main:afe26bb2-f679-434a-bfe6-edb7cb1541d8  earlier import", "retire"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if after := treeDigest(t, filepath.Join(ws, "sessions")); !equalDigests(before, after) {
		t.Fatal("the dry run changed the sessions")
	}

	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	if !strings.Contains(out, "sessions rebuild  1") || !strings.Contains(out, "retired: "+aliceArchive) || !strings.Contains(out, "verify: all 16 messages present") {
		t.Errorf("apply:\n%s", out)
	}
	got, want := liveSessionFiles(t, ws), liveSessionFiles(t, clean)
	if len(got) != len(want) {
		t.Errorf("live sessions %d, a clean migration has %d", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs from a clean migration's:\n%s\nwant\n%s", name, got[name], b)
		}
	}
	sameMessages(t, ws, clean)
	trash := strings.Join(trashNames(t, ws), " ")
	if !strings.Contains(trash, aliceArchive) || !strings.Contains(trash, aliceDM) {
		t.Errorf("trash: %s", trash)
	}
	// the orphan's conversation is found once, in the DM's session, as
	// often as in a clean migration (the index dropped the old files)
	for _, q := range []string{"milk", "Ribeira", "Bob"} {
		if hits, want := searchSessions(t, ws, q), searchSessions(t, clean, q); fmt.Sprint(hits) != fmt.Sprint(want) {
			t.Errorf("after: %s found %v, a clean migration %v", q, hits, want)
		}
	}
	if hits := searchSessions(t, ws, "milk"); len(hits) != 1 || hits[aliceDM] == 0 {
		t.Errorf("after: milk found in %v", hits)
	}

	before = treeDigest(t, filepath.Join(ws, "sessions"))
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	if !strings.Contains(out, "records written    0") && !strings.Contains(out, "records written   0") {
		t.Errorf("third run wrote:\n%s", out)
	}
	if after := treeDigest(t, filepath.Join(ws, "sessions")); !equalDigests(before, after) {
		t.Error("the third run changed the sessions")
	}
}

// The same, but the user went on in the DM's session after the first
// migration: its lines are never rewritten. The orphan arrives late, as
// the design records a late import (checkpoint, reset, the conversation,
// restore), so the live conversation, the user's message last, stays the
// active one; the archive is retired; again, nothing is written.
func TestMigrateAgainAfterUseKeepsUserLines(t *testing.T) {
	const cfg = `{"session": {"dmScope": "per-channel-peer"}}`
	src := fixedTimesTree(t, "upstream/openclaw/2026.1.24/state")
	ws := oldWorkspace(t, "clawdbot-2026.1.24-config", src)
	clean := cleanMigration(t, src, cfg+"\n")
	mustRun(t, "--workspace", ws, "append", aliceDM, "--role", "user", "--content", "back after the upgrade")
	mustRun(t, "--workspace", ws, "append", aliceDM, "--role", "assistant", "--content", "welcome back")
	old, err := os.ReadFile(filepath.Join(ws, "sessions", aliceDM+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}

	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "0 create, 0 append, 1 merge, 1 skip") || !strings.Contains(out, "earlier imports: 1 superseded") {
		t.Errorf("dry run:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	now, err := os.ReadFile(filepath.Join(ws, "sessions", aliceDM+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(now, old) {
		t.Fatalf("the session's existing lines changed:\nwas\n%s\nnow\n%s", old, now)
	}
	var types []string
	for _, r := range fileLines(t, ws, aliceDM)[strings.Count(string(old), "\n"):] {
		types = append(types, r["type"].(string))
	}
	if want := "checkpoint reset message message message message message message restore"; strings.Join(types, " ") != want {
		t.Errorf("records added: %s, want %s", strings.Join(types, " "), want)
	}
	// the live conversation is still the active one
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.OpenID(aliceDM)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.History(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.Messages); n != 6 || h.Messages[n-2].Content != "back after the upgrade" || h.Messages[n-1].Content != "welcome back" {
		t.Errorf("active history after the late import: %d messages, %+v", n, h.Messages)
	}
	// the session's last activity is still the user's last message, not
	// the older one imported after it: cleanup must not find it idle
	m, err := s.Meta(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if last := h.Messages[len(h.Messages)-1].At; !m.Updated.Equal(last) {
		t.Errorf("updated %v after the late import, want the last message's %v", m.Updated, last)
	}
	// every imported message once, plus the user's two
	got, where := liveMessages(t, ws)
	exp, _ := liveMessages(t, clean)
	for k, n := range exp {
		if got[k] != n {
			t.Errorf("message %q: %d time(s) in %v, want %d", k, got[k], where[k], n)
		}
	}
	if total, want := sum(got), sum(exp)+2; total != want {
		t.Errorf("%d live messages, want %d", total, want)
	}
	if hits := searchSessions(t, ws, "milk"); len(hits) != 1 || hits[aliceDM] == 0 {
		t.Errorf("milk found in %v", hits)
	}
	before := treeDigest(t, filepath.Join(ws, "sessions"))
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	if after := treeDigest(t, filepath.Join(ws, "sessions")); !equalDigests(before, after) {
		t.Errorf("the next run changed the sessions:\n%s", out)
	}
}

// Migrated by the older version without a config (picosess's defaults);
// this version keys the DM by the install's dmScope, so its id changes.
// Untouched, the old DM session and the archive are both superseded: the
// trash has them, the live sessions are a clean migration's. Written to
// since, the old DM session is where the conversation goes on: its lines
// stay, the orphan goes into it late, nothing is made under the new id.
func TestMigrateAgainUnderAnotherID(t *testing.T) {
	src := fixedTimesTree(t, "upstream/openclaw/2026.1.24/state")
	clean := cleanMigration(t, src, "")

	ws := oldWorkspace(t, "clawdbot-2026.1.24-defaults", src)
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "earlier imports: 2 superseded") {
		t.Errorf("dry run:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	sameMessages(t, ws, clean)
	got, want := liveSessionFiles(t, ws), liveSessionFiles(t, clean)
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs from a clean migration's", name)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d live sessions, want %d", len(got), len(want))
	}
	trash := strings.Join(trashNames(t, ws), " ")
	if !strings.Contains(trash, aliceArchive) || !strings.Contains(trash, aliceDMOld) {
		t.Errorf("trash: %s", trash)
	}

	ws = oldWorkspace(t, "clawdbot-2026.1.24-defaults", src)
	mustRun(t, "--workspace", ws, "append", aliceDMOld, "--role", "user", "--content", "still here")
	oldDM, err := os.ReadFile(filepath.Join(ws, "sessions", aliceDMOld+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "earlier imports: 1 superseded (to the trash once applied), 1 written to since (kept)") || !strings.Contains(out, "0 create, 0 append, 1 merge, 1 skip") {
		t.Errorf("dry run:\n%s", out)
	}
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	if !strings.Contains(out, "verify: all 16 messages present") {
		t.Errorf("apply:\n%s", out)
	}
	requireCleanPlusOne(t, ws, clean)
	// the conversation goes on where it was: its lines unchanged, the
	// orphan added late; no session under the new id
	now, err := os.ReadFile(filepath.Join(ws, "sessions", aliceDMOld+".jsonl"))
	if err != nil || !bytes.HasPrefix(now, oldDM) || len(now) == len(oldDM) {
		t.Errorf("the session written to since: %v\n%s", err, now)
	}
	if _, err := os.Stat(filepath.Join(ws, "sessions", aliceDM+".jsonl")); !os.IsNotExist(err) {
		t.Errorf("a session was created under the new id beside the one written to (%v)", err)
	}
	if hits := searchSessions(t, ws, "milk"); len(hits) != 1 || hits[aliceDMOld] == 0 {
		t.Errorf("milk found in %v", hits)
	}
	before := treeDigest(t, filepath.Join(ws, "sessions"))
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	if after := treeDigest(t, filepath.Join(ws, "sessions")); !equalDigests(before, after) {
		t.Error("the next run changed the sessions")
	}
}

// PicoClaw v0.2.9: the older version kept in every chat the leading
// messages v0.2.7-v0.2.9 copied from the main session (and ordered the
// legacy history otherwise); this version drops them from the chats. The
// untouched chats are written again: each of main's messages is in main
// only, and the sessions are a clean migration's.
func TestMigrateAgainDropsCopiesOfMain(t *testing.T) {
	src := fixedTimesTree(t, "upstream/picoclaw/v0.2.9")
	clean := cleanMigration(t, src, "")
	ws := oldWorkspace(t, "picoclaw-v0.2.9-defaults", src)
	was, _ := liveMessages(t, ws)
	if sum(was) <= sum(mustCount(t, clean)) {
		t.Fatalf("the older version's workspace holds %d messages: no copies to drop", sum(was))
	}
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "5 rebuild") {
		t.Errorf("dry run:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	sameMessages(t, ws, clean)
	got, want := liveSessionFiles(t, ws), liveSessionFiles(t, clean)
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs from a clean migration's", name)
		}
	}
}

// A DM kept under its legacy key is taken over by the assistant's route
// (its file goes to the trash). Migrating again continues it there: the
// legacy key's session is not created a second time.
func TestMigrateAgainAfterAdoption(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	ws := filepath.Join(t.TempDir(), "ws")
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	const legacyDM = "sk_v1_3b66656d896312ba71370c2ee8899871ef32d65f915e13ea8cc78c1eff1c39b6" // agent:main:discord:bot-a:direct:555000111
	mustRun(t, "--workspace", ws, "append", "--channel", "discord", "--account", "bot-a", "--chat-type", "direct",
		"--chat", "999888777", "--sender", "555000111", "--role", "user", "--content", "hello on the new route")
	if _, err := os.Stat(filepath.Join(ws, "sessions", legacyDM+".jsonl")); !os.IsNotExist(err) {
		t.Fatalf("the imported DM was not taken over (%v)", err)
	}
	before, _ := liveMessages(t, ws)
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "0 create, 0 append, 0 merge, 10 skip") {
		t.Errorf("dry run after adoption:\n%s", out)
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	after, where := liveMessages(t, ws)
	for k, n := range after {
		if before[k] != n {
			t.Errorf("message %q: %d time(s) in %v, was %d", k, n, where[k], before[k])
		}
	}
	if _, err := os.Stat(filepath.Join(ws, "sessions", legacyDM+".jsonl")); !os.IsNotExist(err) {
		t.Errorf("the legacy key's session was created again (%v)", err)
	}
	out = mustRun(t, "--workspace", ws, "migrate", "--verify", "--from", src)
	if !strings.Contains(out, "all 26") {
		t.Errorf("verify after adoption:\n%s", out)
	}
}

// An earlier import the plan would retire that is written to between the
// plan and its apply stays live, whole, and the report says so.
func TestMigrateAgainRetireRace(t *testing.T) {
	ws, w, p := planAgain(t)
	if len(p.Retire) != 1 || p.Retire[0].ID != aliceArchive || !p.Retire[0].Retire {
		t.Fatalf("plan retires %+v", p.Retire)
	}
	rep := appendThenApply(t, w, p, aliceArchive, "a note in the archive")
	if len(rep.Retired) != 1 || rep.Retired[0].Done == "trash" || !strings.Contains(rep.Retired[0].Done, "written to since") {
		t.Fatalf("retired: %+v", rep.Retired)
	}
	if m := fileLines(t, ws, aliceArchive); m[len(m)-1]["content"] != "a note in the archive" {
		t.Errorf("the archive lost its last line: %v", m[len(m)-1])
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func mustCount(t *testing.T, ws string) map[string]int {
	t.Helper()
	m, _ := liveMessages(t, ws)
	return m
}

func equalDigests(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A session planned for a rebuild that an assistant writes to before the
// apply is not moved to the trash: the apply looks again and adds the
// orphan late, the new line kept.
func TestMigrateAgainRebuildRace(t *testing.T) {
	ws, w, p := planAgain(t)
	for _, ps := range p.Sessions {
		if ps.ID == aliceDM && ps.Action != migrate.ActionRebuild {
			t.Fatalf("planned %s for the DM, want rebuild", ps.Action)
		}
	}
	rep := appendThenApply(t, w, p, aliceDM, "written during the migration")
	if !rep.Verify.OK() {
		t.Fatalf("verify: %+v", rep.Verify.Missing)
	}
	if strings.Contains(strings.Join(trashNames(t, ws), " "), aliceDM) {
		t.Fatal("the DM's session went to the trash with the new line")
	}
	var found bool
	for _, r := range fileLines(t, ws, aliceDM) {
		found = found || r["content"] == "written during the migration"
	}
	if !found {
		t.Fatal("the line written during the migration is gone")
	}
	for _, s := range rep.Sessions {
		if s.ID == aliceDM && s.Action != migrate.ActionMerge {
			t.Errorf("the DM's session: %s, want merge (the orphan added late)", s.Action)
		}
	}
}

// The archive of the orphan was written to after the first migration (a
// note added to it): it stays live, whole, and the orphan's messages are
// not imported into the DM a second time; verify finds them there.
func TestMigrateAgainArchiveWrittenTo(t *testing.T) {
	src := fixedTimesTree(t, "upstream/openclaw/2026.1.24/state")
	ws := oldWorkspace(t, "clawdbot-2026.1.24-config", src)
	clean := cleanMigration(t, src, `{"session": {"dmScope": "per-channel-peer"}}`+"\n")
	mustRun(t, "--workspace", ws, "append", aliceArchive, "--role", "user", "--content", "a note in the archive")
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "earlier imports: 0 superseded (to the trash once applied), 1 written to since (kept)") || !strings.Contains(out, "not imported again") {
		t.Errorf("dry run:\n%s", out)
	}
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	if !strings.Contains(out, "verify: all 16 messages present") {
		t.Errorf("apply:\n%s", out)
	}
	requireCleanPlusOne(t, ws, clean)
	if hits := searchSessions(t, ws, "milk"); len(hits) != 1 || hits[aliceArchive] == 0 {
		t.Errorf("milk found in %v", hits)
	}
}

// requireCleanPlusOne checks that the live sessions of ws hold every
// message a clean migration (clean) holds, as many times, and one more:
// the one the test appended.
func requireCleanPlusOne(t *testing.T, ws, clean string) {
	t.Helper()
	live, where := liveMessages(t, ws)
	exp, _ := liveMessages(t, clean)
	for k, n := range exp {
		if live[k] != n {
			t.Errorf("message %q: %d time(s) in %v, want %d", k, live[k], where[k], n)
		}
	}
	if total := sum(live); total != sum(exp)+1 {
		t.Errorf("%d live messages, want %d", total, sum(exp)+1)
	}
}

// planAgain makes the workspace the older version left of the Clawdbot
// install (times fixed) and plans migrating it again with this one.
func planAgain(t *testing.T) (ws string, w *workspace.Workspace, p *migrate.Plan) {
	t.Helper()
	src := fixedTimesTree(t, "upstream/openclaw/2026.1.24/state")
	ws = oldWorkspace(t, "clawdbot-2026.1.24-config", src)
	w, err := workspace.Open(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if p, err = migrate.NewPlan(context.Background(), src, w, migrate.PlanOptions{}); err != nil {
		t.Fatal(err)
	}
	return ws, w, p
}

// appendThenApply appends a user message to session id, as an assistant
// would between the plan and its apply, then applies the plan.
func appendThenApply(t *testing.T, w *workspace.Workspace, p *migrate.Plan, id, text string) *migrate.Report {
	t.Helper()
	ctx := context.Background()
	s, err := w.OpenID(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: "user", Content: text}); err != nil {
		t.Fatal(err)
	}
	rep, err := migrate.Apply(ctx, w, p, migrate.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
