package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/migrate"
)

// legacyTree copies testdata/legacy/<rel> (or legacy-damaged) into a
// temporary directory and returns the copy.
func legacyTree(t *testing.T, rel string) string {
	t.Helper()
	from := filepath.Join("..", "..", "testdata", rel)
	to := filepath.Join(t.TempDir(), "src")
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, r)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// treeDigest maps every file below dir to its SHA-256.
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sessionSizes maps each session file of a workspace to its size.
func sessionSizes(t *testing.T, ws string) map[string]int64 {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(ws, "sessions", "*.jsonl"))
	out := map[string]int64{}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(m)] = st.Size()
	}
	return out
}

// planJSON is what the tests read of migrate --dry-run --json.
type planJSON struct {
	DryRun   bool                   `json:"dry_run"`
	Messages int                    `json:"messages"`
	Actions  map[migrate.Action]int `json:"actions"`
	System   migrate.System         `json:"system"`
	Sessions []struct {
		ID       string         `json:"id"`
		Keys     []string       `json:"keys"`
		Action   migrate.Action `json:"action"`
		Messages int            `json:"messages"`
		Rule     migrate.Rule   `json:"rule"`
	} `json:"sessions"`
}

func dryRunJSON(t *testing.T, ws, src string, extra ...string) planJSON {
	t.Helper()
	out := mustRun(t, append([]string{"--workspace", ws, "--json", "migrate", "--from", src, "--dry-run"}, extra...)...)
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return p
}

func TestMigrateDryRunWritesNothing(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	before := treeDigest(t, src)
	ws := filepath.Join(t.TempDir(), "ws")
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--dry-run")
	for _, want := range []string{"plan: into " + ws, "PicoClaw: 10 session(s), 26 message(s) from " + src,
		"under their old key (5), because:", "the old key names no channel", "actions: 10 create, 0 append, 0 merge, 0 skip; files: 11 imported",
		"problems: none", "dry run: nothing written"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if !hasFields(out, "PicoClaw", "P0-P3", "JSON", "files", "10", "26", "5", "0", "5") {
		t.Errorf("dry run lacks the era line (10 sessions, 26 messages, 5 derived, 0 own id, 5 old key):\n%s", out)
	}
	if strings.Contains(out, telegramDM) || strings.Contains(out, "Rule") {
		t.Errorf("the summary lists sessions or rule letters:\n%s", out)
	}
	// --verbose adds the table of every session
	out = mustRun(t, "--workspace", ws, "--verbose", "migrate", "--from", src, "--dry-run")
	if !hasFields(out, "agent:main:telegram:direct:123456789", "(+1)", "PicoClaw", "P0-P3", "JSON", "files", telegramDM, "derived", "8", "create") ||
		!strings.Contains(out, "agent:main:direct:alice") {
		t.Errorf("--verbose lacks the session table:\n%s", out)
	}
	p := dryRunJSON(t, ws, src)
	if !p.DryRun || p.System != migrate.SystemPicoClaw || len(p.Sessions) != 10 || p.Messages != 26 || p.Actions[migrate.ActionCreate] != 10 {
		t.Fatalf("dry run --json: %+v", p)
	}
	var dm bool
	for _, s := range p.Sessions {
		if s.ID == telegramDM {
			dm = s.Keys[0] == "agent:main:telegram:direct:123456789" && s.Rule == migrate.RuleA && s.Messages == 8
		}
	}
	if !dm {
		t.Errorf("the Telegram DM is not planned as %s (Rule A, 8 messages): %+v", telegramDM, p.Sessions)
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Fatalf("a dry run created the workspace: %v", err)
	}
	// the refusal without --yes on a non-terminal stdin writes nothing either
	stdout, stderr, code := runCLI(t, "--workspace", ws, "migrate", "--from", src)
	if code != exitFailure || !strings.Contains(stderr, "refusing to migrate without --yes") || !strings.Contains(stdout, "PicoClaw: 10 session(s), 26 message(s)") {
		t.Fatalf("no --yes: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Fatalf("a refused migration created the workspace: %v", err)
	}
	if after := treeDigest(t, src); len(after) != len(before) {
		t.Fatalf("the source tree changed: %d files, was %d", len(after), len(before))
	} else {
		for p, h := range before {
			if after[p] != h {
				t.Errorf("source file %s changed", p)
			}
		}
	}
}

func TestMigrateTwiceChangesNothing(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	ws := filepath.Join(t.TempDir(), "ws")
	out := mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	for _, want := range []string{"sessions create  10", "messages         26", "verify: all 26 messages present in 10 sessions", "report: " + filepath.Join(ws, MigrationsDir)} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate lacks %q:\n%s", want, out)
		}
	}
	sizes := sessionSizes(t, ws)
	if len(sizes) != 10 {
		t.Fatalf("%d session files, want 10", len(sizes))
	}
	// the migrated session answers to its legacy key
	shown := mustRun(t, "--workspace", ws, "show", "agent:main:telegram:direct:123456789", "--json")
	var sh showActive
	if err := json.Unmarshal([]byte(shown), &sh); err != nil || sh.ID != telegramDM || len(sh.Messages) == 0 {
		t.Fatalf("show by legacy key: %v %+v", err, sh)
	}

	p := dryRunJSON(t, ws, src)
	if p.Actions[migrate.ActionSkip] != 10 || len(p.Actions) != 1 {
		t.Errorf("plan after migrating: %v, want every session skip", p.Actions)
	}
	var rep struct {
		ReportDir string                 `json:"report_dir"`
		Actions   map[migrate.Action]int `json:"actions"`
		Appended  int                    `json:"appended"`
		Partial   bool                   `json:"partial"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "--workspace", ws, "--json", "migrate", "--from", src, "--yes")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Actions[migrate.ActionSkip] != 10 || rep.Appended != 0 || rep.Partial {
		t.Errorf("second migrate: %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(rep.ReportDir, "report.json")); err != nil {
		t.Errorf("report: %v", err)
	}
	again := sessionSizes(t, ws)
	for f, n := range sizes {
		if again[f] != n {
			t.Errorf("%s: %d bytes, was %d", f, again[f], n)
		}
	}
	// nothing to write: no question needed, even without --yes
	if _, stderr, code := runCLI(t, "--workspace", ws, "migrate", "--from", src); code != 0 {
		t.Errorf("third migrate without --yes (all skip): exit %d: %s", code, stderr)
	}
}

func TestMigrateEveryFixtureTree(t *testing.T) {
	for _, rel := range []string{
		"legacy/picoclaw/2-legacy-jsonl-after-migrate", "legacy/picoclaw/3-new-opaque-upgraded-from-2", "legacy/picoclaw/4-new-opaque-fresh",
		"legacy/openclaw/2025.12-clawdis-flat", "legacy/openclaw/2026.1-clawdbot", "legacy/openclaw/2026.4-openclaw", "legacy/pocketpaw/dot-pocketpaw",
	} {
		t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) {
			src := legacyTree(t, rel)
			ws := filepath.Join(t.TempDir(), "ws")
			args := []string{"--workspace", ws, "migrate", "--from", src, "--source-tz", "Europe/Lisbon"}
			out, stderr, code := runCLI(t, append(args, "--yes")...)
			if code != 0 || !strings.Contains(out, "verify: all") {
				t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
			}
			sizes := sessionSizes(t, ws)
			if len(sizes) == 0 {
				t.Fatal("no sessions")
			}
			if out, stderr, code = runCLI(t, append(args, "--yes")...); code != 0 || !hasFields(out, "records", "written", "0") {
				t.Fatalf("second run: exit %d\n%s\n%s", code, out, stderr)
			}
			again := sessionSizes(t, ws)
			for f, n := range sizes {
				if again[f] != n {
					t.Errorf("%s: %d bytes, was %d", f, again[f], n)
				}
			}
			if out := mustRun(t, "--workspace", ws, "migrate", "--verify", "--from", src, "--source-tz", "Europe/Lisbon"); !strings.Contains(out, "verified: all") {
				t.Errorf("verify: %s", out)
			}
		})
	}
}

func TestMigrateVerifyFindsMissingMessages(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	ws := filepath.Join(t.TempDir(), "ws")
	// verify before any workspace exists
	if _, stderr, code := runCLI(t, "--workspace", ws, "migrate", "--verify", "--from", src); code != exitNotWS {
		t.Fatalf("verify without a workspace: exit %d: %s", code, stderr)
	}
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	out := mustRun(t, "--workspace", ws, "migrate", "--verify", "--from", src)
	if !strings.Contains(out, "verified: all 26 message(s) of 10 session(s)") {
		t.Fatalf("verify: %s", out)
	}
	mustRun(t, "--workspace", ws, "rm", telegramDM, "--yes")
	out, stderr, code := runCLI(t, "--workspace", ws, "migrate", "--verify", "--from", src)
	if code != exitUnrepairabl || !strings.Contains(out, "MISSING: 8 of 26 message(s)") || !strings.Contains(stderr, "8 of 26 message(s)") {
		t.Fatalf("verify after rm: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, shortID(telegramDM)+"  agent_main_telegram_direct_123456789.json") {
		t.Errorf("missing messages are not listed with their source file:\n%s", out)
	}
	var v migrateVerifyOutput
	out, _, _ = runCLI(t, "--workspace", ws, "--json", "migrate", "--verify", "--from", src)
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.OK || v.VerifyReport == nil || len(v.Missing) != 8 {
		t.Fatalf("verify --json: %v %s", err, out)
	}
	// migrating again brings them back
	mustRun(t, "--workspace", ws, "migrate", "--from", src, "--yes")
	mustRun(t, "--workspace", ws, "migrate", "--verify", "--from", src)
}

func TestMigrateDamagedIsPartial(t *testing.T) {
	src := legacyTree(t, "legacy-damaged/picoclaw/torn-tail-no-newline")
	ws := filepath.Join(t.TempDir(), "ws")
	report := filepath.Join(t.TempDir(), "report")
	out, stderr, code := runCLI(t, "--workspace", ws, "migrate", "--from", src, "--yes", "--report", report)
	if code != exitRepairable || !strings.Contains(stderr, "partial migration: damaged input was set aside; see "+report) {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "set aside: ") || !strings.Contains(out, "set-aside/ with the 1 damaged run(s)") {
		t.Errorf("report text:\n%s", out)
	}
	aside, _ := filepath.Glob(filepath.Join(report, "set-aside", "*.bin"))
	if len(aside) != 1 {
		t.Fatalf("set-aside files: %v", aside)
	}
	if b, err := os.ReadFile(aside[0]); err != nil || len(b) == 0 {
		t.Errorf("set-aside bytes: %v, %d", err, len(b))
	}
	for _, f := range []string{"report.json", "report.txt"} {
		if _, err := os.Stat(filepath.Join(report, f)); err != nil {
			t.Error(err)
		}
	}
	// the plan says so ahead of time
	if dry := mustRun(t, "--workspace", t.TempDir(), "migrate", "--from", src, "--dry-run"); !strings.Contains(dry, "set aside, not imported") {
		t.Errorf("dry run does not report the damage:\n%s", dry)
	}
}

func TestMigrateJSONProgressOnStderr(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	ws := filepath.Join(t.TempDir(), "ws")
	stdout, stderr, code := runCLI(t, "--workspace", ws, "--json", "migrate", "--from", src, "--yes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep migrate.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Verify == nil || !rep.Verify.OK() || len(rep.Sessions) != 10 {
		t.Fatalf("stdout is not the report: %v\n%s", err, stdout)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var p progressLine
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("stderr line %q: %v", l, err)
		}
		if p.Total == 10 && p.Action == "create" && p.ID != "" {
			n++
		}
	}
	if n != 10 {
		t.Errorf("%d progress lines, want 10:\n%s", n, stderr)
	}
}

func TestMigrateConfigChangesKeying(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"session": {"dm_scope": "per-channel-peer"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	def := dryRunJSON(t, ws, src)
	alt := dryRunJSON(t, ws, src, "--config", cfg)
	id := func(p planJSON) string {
		for _, s := range p.Sessions {
			if s.Keys[0] == "agent:main:telegram:direct:123456789" {
				return s.ID
			}
		}
		return ""
	}
	if id(def) != telegramDM || id(alt) == "" || id(alt) == telegramDM {
		t.Errorf("--config per-channel-peer: DM id %q, default %q", id(alt), id(def))
	}
	// the workspace's own config.json is the default
	writeConfig(t, ws, `{"session": {"dm_scope": "per-channel-peer"}}`)
	if got := id(dryRunJSON(t, ws, src)); got != id(alt) {
		t.Errorf("workspace config: DM id %q, want %q", got, id(alt))
	}
}

func TestMigrateErrors(t *testing.T) {
	src := legacyTree(t, "legacy/picoclaw/1-old-json")
	plain := legacyTree(t, "legacy-damaged/none/plain-directory")
	ws := filepath.Join(t.TempDir(), "ws")
	badCfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(badCfg, []byte("{\"session\": {\"dm_scope\": 7}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate"}, 1, "--from DIR is required"},
		{[]string{"migrate", src}, 1, "unknown command"},
		{[]string{"migrate", "--from", filepath.Join(src, "nope"), "--dry-run"}, 1, "no such file or directory"},
		{[]string{"migrate", "--from", plain, "--dry-run"}, 1, "holds no PicoClaw, OpenClaw, PocketPaw or Clodds sessions"},
		{[]string{"migrate", "--from", src, "--source", "hermes", "--dry-run"}, 1, `--source "hermes": want auto, picoclaw, openclaw, pocketpaw, clodds or redischat`},
		{[]string{"migrate", "--from", src, "--source", "openclaw", "--dry-run"}, 1, "no openclaw sessions directory"},
		{[]string{"migrate", "--from", src, "--source-tz", "Mars/Olympus", "--dry-run"}, 1, `--source-tz "Mars/Olympus"`},
		{[]string{"migrate", "--from", src, "--verify", "--yes"}, 1, "--verify only reads"},
		{[]string{"migrate", "--from", src, "--dry-run", "--yes"}, 1, "--dry-run writes nothing"},
		{[]string{"migrate", "--from", src, "--config", filepath.Join(src, "none.json"), "--dry-run"}, 1, "--config: open"},
		{[]string{"migrate", "--from", src, "--config", badCfg, "--dry-run"}, 1, "--config: "},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Errorf("failed migrations created the workspace")
	}
}

func TestBinaryMigrateRefusesWithoutTerminal(t *testing.T) {
	bin := buildBinary(t)
	src := legacyTree(t, "legacy/pocketpaw/dot-pocketpaw")
	ws := filepath.Join(t.TempDir(), "ws")
	out, errOut, code := exitOf(t, bin, "--workspace", ws, "migrate", "--from", src)
	if code != 1 || !strings.Contains(errOut, "refusing to migrate without --yes") || !strings.Contains(out, "PocketPaw: 3 session(s), 22 message(s)") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(ws); !os.IsNotExist(err) {
		t.Fatal("the refused migration created the workspace")
	}
	if _, errOut, code = exitOf(t, bin, "--workspace", ws, "migrate", "--from", src, "--yes", "--source-tz", "UTC"); code != 0 {
		t.Fatalf("--yes: exit %d: %s", code, errOut)
	}
}

// hasFields reports whether some line of out is exactly these fields.
func hasFields(out string, fields ...string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}
