package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
)

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"field line col", "{\n  \"reset\": {\n    \"idle_minutes\": -5\n  }\n}", "config.json:3:21: reset.idle_minutes: want 0 (off) or a positive number"},
		{"zone", `{"reset": {"timezone": "Mars/Olympus"}}`, `config.json:1:24: reset.timezone: unknown time zone "Mars/Olympus"`},
		{"triggers not strings", `{"reset": {"triggers": ["/new", 7]}}`, "reset.triggers[1]: want a string, got a number"},
		{"negative cleanup", `{"cleanup": {"older_than": "-3d"}}`, "cleanup.older_than: want a positive duration"},
		{"bad duration", `{"cleanup": {"purge_after": "soon"}}`, `cleanup.purge_after: duration "soon"`},
		{"by_type daily", `{"reset": {"by_type": {"group": {"daily_at": "7pm"}}}}`, `reset.by_type.group.daily_at: want a time of day HH:MM`},
		{"send action", `{"send_policy": {"rules": [{"action": "maybe", "match": {"channel": "x"}}]}}`, `send_policy.rules[0].action: want "allow" or "deny"`},
		{"openclaw idle", `{"session": {"idleTimeout": -1}}`, "session.idleTimeout: want 0 (off)"},
		{"agent summarize", `{"agents": {"list": [{"id": "x", "summarize": {"token_percent": 140}}]}}`, "config.json:1:65: agents.list[0].summarize.token_percent"},
		{"syntax", "{\n  \"session\": {\n    \"dimensions\": [\"chat\",]\n  }\n}", "config.json:3:27: syntax error"},
		{"truncated", "{\"session\": {", "config.json:1:14: syntax error: unexpected EOF"},
		{"wrong type", `{"session": {"dimensions": "chat"}}`, "config.json:1:28: session.dimensions: want an array of strings, got a string"},
		{"bad dimension", `{"session": {"dimensions": ["chat", "peer"]}}`, `config.json:1:37: session.dimensions[1]: unknown dimension "peer"`},
		{"bad element type", `{"session": {"dimensions": ["chat", 3]}}`, "session.dimensions[1]: want a string, got a number"},
		{"bad rule dim", `{"agents": {"dispatch": {"rules": [{"when": {"channel": "x"}, "session_dimensions": ["nope"]}]}}}`, `agents.dispatch.rules[0].session_dimensions[0]: unknown dimension "nope"`},
		{"empty when", `{"agents": {"dispatch": {"rules": [{"name": "x"}]}}}`, "agents.dispatch.rules[0].when"},
		{"mentioned type", `{"agents": {"dispatch": {"rules": [{"when": {"mentioned": "yes"}}]}}}`, "agents.dispatch.rules[0].when.mentioned: want true or false"},
		{"alias twice", `{"session": {"identity_links": {"a": ["x"], "b": ["X"]}}}`, `session.identity_links.b[0]: alias "x" is also listed under "a"`},
		{"percent range", `{"summarize": {"token_percent": 140}}`, "summarize.token_percent: 140: want at most 100"},
		{"agent id", `{"agents": {"list": [{"summarize": {}}]}}`, "agents.list[0].id: want the agent id as a string, got null"},
		{"daily_at", `{"reset": {"daily_at": "25:00"}}`, `reset.daily_at: want a time of day HH:MM (00:00 to 23:59) or "off", got "25:00"`},
		{"dm_scope", `{"session": {"dm_scope": "per-moon"}}`, `session.dm_scope: unknown dm_scope "per-moon"`},
		{"session name", `{"session": {"name": "  "}}`, `config.json:1:22: session.name: want a session name, got "  "`},
		{"session name type", `{"session": {"name": 7}}`, `session.name: want a string, got a number`},
		{"trailing", `{} {}`, "config.json:1:4: unexpected data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("config.json", []byte(tt.doc))
			if err == nil {
				t.Fatalf("want error containing %q", tt.want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error must match ErrConfig: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A PicoClaw config.json is accepted as it is: its session and dispatch
// blocks are read, its other blocks ignored without warnings.
func TestParsePicoClawConfig(t *testing.T) {
	doc := `{
  "agents": {
    "defaults": {"workspace": "~/.picoclaw/workspace", "model": "gpt-5.4"},
    "list": [{"id": "support", "workspace": "~/.picoclaw/workspace-support",
              "summarize": {"message_threshold": 50}, "limits": {"max_tokens": 9000}}],
    "dispatch": {"rules": [
      {"name": "support group", "when": {"channel": "telegram", "chat": "group:-1009999"},
       "session_dimensions": ["chat", "sender"], "agent": "support"}]}
  },
  "session": {"dm_scope": "per-channel-peer",
              "identity_links": {"john": ["slack:u123", "telegram:987654321"]}},
  "channels": {"telegram": {"enabled": true}},
  "providers": {},
  "summarize": {"message_threshold": 30, "keep_recent": 6, "summarizer": {"kind": "extractive"}},
  "frobnicate": 1
}`
	cfg, warnings, err := Parse("config.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "frobnicate: unknown field") {
		t.Fatalf("warnings = %q, want one for frobnicate", warnings)
	}
	p := cfg.Policy()
	if !reflect.DeepEqual(p.Dimensions, []string{"chat", "sender"}) {
		t.Errorf("dm_scope per-channel-peer: dims %v", p.Dimensions)
	}
	r, err := keying.Resolve("main", keying.Inbound{Channel: "telegram", ChatType: "group", ChatID: "-1009999", SenderID: "987654321"}, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "sk_v1_12a521620be5b4cb7c5b338b5da4b61e6920c832649ce42e88bb4869026fec67" {
		t.Errorf("route %s %s", r.MatchedBy, r.Signature)
	}
	sup := cfg.Agent("support")
	if sup.Summarize.MessageThreshold != 50 || sup.Summarize.KeepRecent != 6 || sup.Limits.MaxTokens != 9000 || sup.Summarize.Limits.MaxTokens != 9000 {
		t.Errorf("per-agent override: %+v", sup)
	}
	if m := cfg.Agent("main"); m.Summarize.MessageThreshold != 30 || m.Limits.MaxTokens != 0 {
		t.Errorf("defaults for main: %+v", m)
	}
	if sup.Summarize.Summarizer.Kind != "extractive" {
		t.Errorf("summarizer %+v", sup.Summarize.Summarizer)
	}
}

func TestLoadConfigMissingIsDefault(t *testing.T) {
	cfg, w, err := Load(filepath.Join(t.TempDir(), "nope"))
	if err != nil || len(w) != 0 {
		t.Fatal(err, w)
	}
	if p := cfg.Policy(); p.Dimensions != nil || len(p.Rules) != 0 {
		t.Fatalf("default policy %+v", p)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{"session": {"dimensions": []}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Policy().Dimensions; d == nil || len(d) != 0 {
		t.Fatalf("explicit empty dimensions must stay empty, got %#v", d)
	}
}

// session.name is picosess's own: the named session append defaults to.
func TestSessionName(t *testing.T) {
	cfg, warnings, err := Parse("config.json", []byte(`{"session": {"name": "Notes", "dm_scope": "per-peer"}}`))
	if err != nil || len(warnings) != 0 || cfg.Session.Name != "Notes" {
		t.Fatalf("%+v %v %v", cfg.Session, warnings, err)
	}
}
