package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
)

// The source install's own config is read by itself: the plan shows the
// proposal, the ids follow it, --write-config writes it (dry run: says it
// would), and never over a config.json that keys sessions differently.
func TestMigrateWriteConfig(t *testing.T) {
	src := legacyTree(t, "legacy/openclaw/2026.1-clawdbot")
	if err := os.WriteFile(filepath.Join(src, "clawdbot.json"), []byte("{\n  // JSON5, as Clawdbot reads it\n  session: {dmScope: 'per-channel-peer', identityLinks: {alice: ['telegram:123456789']}},\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, src)
	ws := filepath.Join(t.TempDir(), "ws")
	dmID := keying.Opaque("v=1|agent=main|channel=telegram|account=default|chat=direct:123456789|sender=alice")

	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	for _, want := range []string{"target config: the proposed config", "proposed from " + filepath.Join(src, "clawdbot.json"),
		`session.dmScope "per-channel-peer"`, "pass --write-config"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run", "--write-config")
	if !strings.Contains(out, "--write-config: would write "+filepath.Join(ws, "config.json")) || strings.Contains(out, "pass --write-config") {
		t.Errorf("dry run with --write-config:\n%s", out)
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Fatal("a dry run created the workspace")
	}
	p := dryRunJSON(t, ws, src)
	found := false
	for _, s := range p.Sessions {
		if s.Keys[0] == "agent:main:telegram:dm:123456789" {
			found = s.ID == dmID && s.Rule == migrate.RuleA
		}
	}
	if !found {
		t.Fatalf("the DM is not planned under the source's keying (%s): %+v", dmID, p.Sessions)
	}

	// apply with --write-config: the config is written, the DM is where a
	// live message routes under it
	_, errOut, code := runCLI(t, "--workspace", ws, "migrate", "--from", src, "--yes", "--write-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	cfg, _, err := workspace.LoadConfig(ws)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.DMScopeOC != "per-channel-peer" || len(cfg.Session.IdentityLinksOC) != 1 {
		t.Fatalf("written config: %+v", cfg.Session)
	}
	key := mustRun(t, "--workspace", ws, "key", "--channel", "telegram", "--chat-type", "direct", "--chat", "123456789", "--sender", "123456789", "--json")
	var k struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(key), &k); err != nil || k.ID != dmID {
		t.Fatalf("a live DM routes to %s, the import is in %s (%v)", k.ID, dmID, err)
	}
	// again: nothing changes, the config is left alone
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run", "--write-config")
	if !strings.Contains(out, "already keys sessions this way") || !strings.Contains(out, "0 create, 0 append, 0 merge") {
		t.Errorf("second run:\n%s", out)
	}
	// a config.json that keys sessions differently is refused, untouched
	other := `{"session": {"dimensions": ["chat"]}}`
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLI(t, "--workspace", ws, "migrate", "--from", src, "--yes", "--write-config")
	if code != exitFailure || !strings.Contains(errOut, "keys sessions differently") || !strings.Contains(errOut, "session.dimensions") {
		t.Fatalf("conflict: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "config.json")); string(b) != other {
		t.Fatalf("the conflicting config was changed: %s", b)
	}
	// without --write-config the workspace's config decides, and the plan says so
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "target config: the workspace's config.json") || !strings.Contains(out, "keys sessions differently from the source install") {
		t.Errorf("plan under a different workspace config:\n%s", out)
	}
	// --config still overrides
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run", "--config", filepath.Join(ws, "config.json"))
	if !strings.Contains(out, "target config: --config "+filepath.Join(ws, "config.json")) {
		t.Errorf("--config:\n%s", out)
	}
	if after := treeDigest(t, src); len(after) != len(before) {
		t.Fatal("the source changed")
	} else {
		for p, h := range before {
			if after[p] != h {
				t.Fatalf("%s changed", p)
			}
		}
	}
}

// Clodds through the CLI: the encrypted context opens with the password
// from --source-key-file or $CLODDS_SESSION_KEY, is reported without it,
// and the password is in no output or report.
func TestMigrateClodds(t *testing.T) {
	const pw = "correct horse battery staple"
	src := t.TempDir()
	env, err := os.ReadFile(filepath.Join("..", "..", "migrate", "testdata", "clodds", "encrypted-context.json"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(src, "clodds.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE sessions (id TEXT, key TEXT PRIMARY KEY, user_id TEXT, channel TEXT NOT NULL, chat_id TEXT NOT NULL, chat_type TEXT NOT NULL, context TEXT DEFAULT '{}', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, title TEXT)`,
		`CREATE TABLE messages (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, timestamp INTEGER NOT NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO sessions VALUES ('s1', 'agent:main:telegram:dm:42:42', '42', 'telegram', '42', 'dm', ?, 1767225500000, 1767225602000, 'Weather bets')`, strings.TrimSpace(string(env))); err != nil {
		t.Fatal(err)
	}
	for i, m := range [][2]string{{"user", "is it going to rain in Lisbon?"}, {"assistant", "The market says 62% yes."}, {"user", "and in Porto?"}} {
		if _, err := db.Exec(`INSERT INTO messages VALUES (?, 's1', ?, ?, ?)`, "m"+itoa(i), m[0], m[1], 1767225600000+int64(i)*1000); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	before := treeDigest(t, src)

	out := mustRun(t, "--workspace", filepath.Join(t.TempDir(), "ws"), "migrate", "--from", src, "--dry-run")
	if !strings.Contains(out, "Clodds: 1 session(s), 3 message(s)") || !strings.Contains(out, "is encrypted and no password was given") {
		t.Errorf("plan without the password:\n%s", out)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(t.TempDir(), "ws")
	report := filepath.Join(t.TempDir(), "report")
	stdout, errOut, code := runCLI(t, "--workspace", ws, "migrate", "--from", src, "--yes", "--source-key-file", keyFile, "--report", report)
	if code != 0 || strings.Contains(stdout, "encrypted") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	// Clodds' default dmScope (per-channel-peer), proposed: chat and sender
	id := keying.Opaque("v=1|agent=main|channel=telegram|account=default|chat=direct:42|sender=42")
	show := mustRun(t, "--workspace", ws, "show", id, "--all", "--json")
	for _, want := range []string{"and in Porto?", "Weather bets", "asked about weather markets", "before switching to sports"} {
		if !strings.Contains(show, want) {
			t.Errorf("session %s lacks %q:\n%s", id, want, show)
		}
	}
	for _, f := range []string{"report.json", "report.txt"} {
		b, err := os.ReadFile(filepath.Join(report, f))
		if err != nil || strings.Contains(string(b), pw) {
			t.Fatalf("%s: %v, or it holds the password", f, err)
		}
	}
	if strings.Contains(stdout+errOut, pw) {
		t.Fatal("the password was printed")
	}
	// the environment variable works the same
	t.Setenv(CloddsKeyEnv, pw)
	out = mustRun(t, "--workspace", filepath.Join(t.TempDir(), "ws2"), "migrate", "--from", src, "--dry-run")
	if strings.Contains(out, "encrypted") || strings.Contains(out, pw) {
		t.Errorf("plan with $%s:\n%s", CloddsKeyEnv, out)
	}
	for p, h := range treeDigest(t, src) {
		if before[p] != h {
			t.Fatalf("%s changed", p)
		}
	}
}

// --write-config into a config.json PicoClaw v0.1.2 wrote (kept private,
// 0600): the plan shows the lines it adds, applying adds exactly those
// (every line the file had stays, in place, and its mode), and a symbolic
// link is never replaced: the merged config goes beside it and the plan
// says what to do.
func TestMigrateWriteConfigMergesInPlace(t *testing.T) {
	src := legacyTree(t, "upstream/openclaw/2026.1.24/state")
	old, err := os.ReadFile(filepath.Join("..", "..", "testdata", "upstream", "picoclaw", "v0.1.2", "home", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(t.TempDir(), "ws")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(ws, "config.json")
	if err := os.WriteFile(cfg, old, 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run", "--write-config")
	for _, want := range []string{"would add the session settings to " + cfg, `+  "session": {`, `+    "dmScope": "per-channel-peer"`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(cfg); !bytes.Equal(b, old) {
		t.Fatal("the dry run changed config.json")
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes", "--write-config")
	got, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// the file ends "\n  }\n}" (no final newline): the member goes after
	// the last one's value, laid out as its neighbours are
	if !bytes.HasSuffix(old, []byte("\n  }\n}")) {
		t.Fatalf("the fixture's end changed: %q", old[len(old)-10:])
	}
	want := append(old[:len(old)-2:len(old)-2], []byte(",\n  \"session\": {\n    \"dmScope\": \"per-channel-peer\"\n  }\n}")...)
	if !bytes.Equal(got, want) {
		t.Errorf("config.json after --write-config:\n%s\nwant\n%s", got, want)
	}
	if st, _ := os.Stat(cfg); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	// a symbolic link (a config kept with the user's dotfiles)
	ws = filepath.Join(t.TempDir(), "ws")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	dot := filepath.Join(t.TempDir(), "picosess-config.json")
	if err := os.WriteFile(dot, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dot, filepath.Join(ws, "config.json")); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes", "--write-config")
	if !strings.Contains(out+mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run", "--write-config"), "cannot be edited in place safely (it is a symbolic link") {
		t.Errorf("the plan does not say why:\n%s", out)
	}
	if b, _ := os.ReadFile(dot); !bytes.Equal(b, old) {
		t.Error("the linked config was changed")
	}
	if fi, err := os.Lstat(filepath.Join(ws, "config.json")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symbolic link was replaced")
	}
	b, err := os.ReadFile(filepath.Join(ws, migrate.ConfigBesideName))
	if err != nil || !strings.Contains(string(b), `"dmScope": "per-channel-peer"`) {
		t.Errorf("beside: %s %v", b, err)
	}
}
