package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

var ocProposal = json.RawMessage(`{"session":{"dmScope":"per-channel-peer","identityLinks":{"alice":["telegram:1","slack:U2"]}}}`)

// insertedOnly reports whether merged is old with one run of bytes
// inserted: everything old had is there, in place, byte for byte.
func insertedOnly(old, merged []byte) bool {
	p := 0
	for p < len(old) && p < len(merged) && old[p] == merged[p] {
		p++
	}
	q := 0
	for q < len(old)-p && q < len(merged)-p && old[len(old)-1-q] == merged[len(merged)-1-q] {
		q++
	}
	return p+q == len(old) && len(merged) > len(old)
}

// Merging into an existing config.json inserts the proposed members and
// changes nothing else: each layout keeps its own indentation, spacing,
// line endings, key order, number spelling and escapes, and the new
// members are laid out like their neighbours.
func TestMergeConfigKeepsFormatting(t *testing.T) {
	for _, c := range []struct{ name, old, want string }{
		{"four spaces, other blocks, no session",
			"{\n    \"agents\": {\n        \"defaults\": {\"model\": \"x\", \"max_tokens\": 8192.0}\n    },\n    \"channels\": {\"telegram\": {\"token\": \"t\"}}\n}\n",
			"{\n    \"agents\": {\n        \"defaults\": {\"model\": \"x\", \"max_tokens\": 8192.0}\n    },\n    \"channels\": {\"telegram\": {\"token\": \"t\"}},\n    \"session\": {\n        \"dmScope\": \"per-channel-peer\",\n        \"identityLinks\": {\n            \"alice\": [\n                \"telegram:1\",\n                \"slack:U2\"\n            ]\n        }\n    }\n}\n"},
		{"a session block without keying (OpenClaw reset names)",
			"{\n  \"session\": {\n    \"idleMinutes\": 120,\n    \"resetTriggers\": [\"/neu\"]\n  },\n  \"reset\": {\"daily_at\": \"04:00\"}\n}\n",
			"{\n  \"session\": {\n    \"idleMinutes\": 120,\n    \"resetTriggers\": [\"/neu\"],\n    \"dmScope\": \"per-channel-peer\",\n    \"identityLinks\": {\n      \"alice\": [\n        \"telegram:1\",\n        \"slack:U2\"\n      ]\n    }\n  },\n  \"reset\": {\"daily_at\": \"04:00\"}\n}\n"},
		{"one line, no final newline",
			`{"summarize":{"message_threshold":20}}`,
			`{"summarize":{"message_threshold":20},"session":{"dmScope":"per-channel-peer","identityLinks":{"alice":["telegram:1","slack:U2"]}}}`},
		{"one line with spaces around the colons",
			`{ "session" : { "idleMinutes" : 150 , "x_note" : "caf\u00e9" } }`,
			`{ "session" : { "idleMinutes" : 150 , "x_note" : "caf\u00e9" , "dmScope" : "per-channel-peer" , "identityLinks" : {"alice":["telegram:1","slack:U2"]} } }`},
		{"tabs and CRLF",
			"{\r\n\t\"limits\": {\r\n\t\t\"max_messages\": 500\r\n\t}\r\n}\r\n",
			"{\r\n\t\"limits\": {\r\n\t\t\"max_messages\": 500\r\n\t},\r\n\t\"session\": {\r\n\t\t\"dmScope\": \"per-channel-peer\",\r\n\t\t\"identityLinks\": {\r\n\t\t\t\"alice\": [\r\n\t\t\t\t\"telegram:1\",\r\n\t\t\t\t\"slack:U2\"\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}\r\n"},
		{"an empty session object",
			"{\n  \"session\": {},\n  \"limits\": {\"max_messages\": 50}\n}\n",
			"{\n  \"session\": {\n    \"dmScope\": \"per-channel-peer\",\n    \"identityLinks\": {\n      \"alice\": [\n        \"telegram:1\",\n        \"slack:U2\"\n      ]\n    }\n  },\n  \"limits\": {\"max_messages\": 50}\n}\n"},
		{"an empty file object",
			"{}\n",
			"{\n  \"session\": {\n    \"dmScope\": \"per-channel-peer\",\n    \"identityLinks\": {\n      \"alice\": [\n        \"telegram:1\",\n        \"slack:U2\"\n      ]\n    }\n  }\n}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.json")
			if err := os.WriteFile(path, []byte(c.old), 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := ProposedConfigEdit(dir, ocProposal)
			if err != nil {
				t.Fatal(err)
			}
			if e.Change != ConfigMerged || e.Path != path {
				t.Fatalf("edit: %s %s (%s)", e.Change, e.Path, e.Why)
			}
			if b, _ := os.ReadFile(path); string(b) != c.old {
				t.Fatal("planning the edit wrote config.json")
			}
			if err := e.Write(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("merged:\n%s\nwant\n%s", got, c.want)
			}
			if !insertedOnly([]byte(c.old), got) && c.old != "{}\n" && !strings.Contains(c.old, "{}") {
				t.Errorf("more than an insertion changed:\n%s", got)
			}
			cfg, _, err := workspace.ParseConfig(path, got)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Session.DMScopeOC != "per-channel-peer" || len(cfg.Session.IdentityLinksOC) != 1 {
				t.Errorf("merged config reads as %+v", cfg.Session)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want the file's 0600", st.Mode().Perm())
			}
			if !strings.Contains(e.Diff, "+") || !strings.HasPrefix(e.Diff, "--- config.json") {
				t.Errorf("diff:\n%s", e.Diff)
			}
			// a second edit finds the keying there
			again, err := ProposedConfigEdit(dir, ocProposal)
			if err != nil || again.Change != ConfigUnchanged {
				t.Errorf("second edit: %+v %v", again, err)
			}
		})
	}
}

// A config.json written by PicoClaw v0.1.2 itself (83 lines, no session
// block), used as the workspace's: the session block goes at its end, and
// every line it had is still there, in place.
func TestMergeIntoPicoClawConfig(t *testing.T) {
	old, err := os.ReadFile(filepath.Join("..", "testdata", "upstream", "picoclaw", "v0.1.2", "home", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteProposedConfig(dir, ocProposal); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !insertedOnly(old, got) {
		t.Fatalf("not an insertion:\n%s", got)
	}
	ins := string(got[bytes.LastIndex(got, []byte("},\n  \"session\"")):])
	if !strings.HasPrefix(ins, "},\n  \"session\": {\n    \"dmScope\": \"per-channel-peer\",\n") {
		t.Errorf("inserted:\n%s", ins)
	}
}

// Where config.json cannot be edited in place safely, the merged config
// goes beside it (config.merged.json, with the original's mode) and
// config.json is left exactly as it was; the reason is given.
func TestMergeConfigBeside(t *testing.T) {
	for _, c := range []struct {
		name, why string
		setup     func(t *testing.T, dir string) string // returns config.json's text
	}{
		{"a symbolic link", "symbolic link", func(t *testing.T, dir string) string {
			real := filepath.Join(t.TempDir(), "dotfiles-config.json")
			text := "{\n  \"limits\": {\"max_messages\": 50}\n}\n"
			if err := os.WriteFile(real, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(dir, "config.json")); err != nil {
				t.Fatal(err)
			}
			return text
		}},
		{"another hard link", "hard links", func(t *testing.T, dir string) string {
			text := "{\n  \"limits\": {\"max_messages\": 50}\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(filepath.Join(dir, "config.json"), filepath.Join(t.TempDir(), "backup.json")); err != nil {
				t.Fatal(err)
			}
			return text
		}},
		{"session twice", "appears 2 times", func(t *testing.T, dir string) string {
			text := "{\n  \"session\": {\"idleMinutes\": 10},\n  \"session\": {\"idleMinutes\": 20}\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return text
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			text := c.setup(t, dir)
			ch, err := WriteProposedConfig(dir, ocProposal)
			if err != nil {
				t.Fatal(err)
			}
			if ch != ConfigBeside {
				t.Fatalf("change %s, want %s", ch, ConfigBeside)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err != nil || string(b) != text {
				t.Fatalf("config.json changed: %q %v", b, err)
			}
			e, err := ProposedConfigEdit(dir, ocProposal)
			if err != nil || !strings.Contains(e.Why, c.why) {
				t.Errorf("why: %+v %v", e, err)
			}
			beside := filepath.Join(dir, ConfigBesideName)
			b, err := os.ReadFile(beside)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := workspace.ParseConfig(beside, b)
			if err != nil || cfg.Session.DMScopeOC != "per-channel-peer" {
				t.Errorf("beside: %+v %v\n%s", cfg, err, b)
			}
			if st, _ := os.Stat(beside); st.Mode().Perm() != 0o600 {
				t.Errorf("beside mode %v, want 0600", st.Mode().Perm())
			}
		})
	}
}

// config.json is strict JSON: one with comments is refused with its
// position before anything is written, and one that keys sessions
// differently is never touched.
func TestMergeConfigRefuses(t *testing.T) {
	dir := t.TempDir()
	text := "{\n  // my settings\n  \"limits\": {\"max_messages\": 50}\n}\n"
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := WriteProposedConfig(dir, ocProposal)
	var ce *workspace.ConfigError
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Fatalf("comments: %v", err)
	}
	text = "{\"session\": {\"dimensions\": [\"chat\"]}}"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteProposedConfig(dir, ocProposal); !errors.Is(err, ErrConfigConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != text {
		t.Fatalf("changed: %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigBesideName)); !os.IsNotExist(err) {
		t.Fatal("a conflict wrote a file beside")
	}
}
