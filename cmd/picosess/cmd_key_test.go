package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI drives the real command tree with buffers.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func TestKeyJSON(t *testing.T) {
	ws := t.TempDir()
	out, errOut, code := runCLI(t, "--workspace", ws, "key", "--channel", "telegram", "--chat-type", "direct",
		"--chat", "123456789", "--sender", "123456789", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got keyOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err, out)
	}
	if got.ID != "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5" ||
		got.Signature != "v=1|agent=main|channel=telegram|account=default|chat=direct:123456789" ||
		got.MainID != "sk_v1_6d9217fe77c7f11d9cc992aabe81a2d09604e9c48babbda8fdad3791f9c19f3b" ||
		len(got.Aliases) != 4 || got.Scope == nil || got.Scope.Channel != "telegram" {
		t.Fatalf("got %+v", got)
	}
	if _, err := os.Stat(filepath.Join(ws, "sessions")); err == nil {
		t.Fatal("key must not create a workspace")
	}
}

// Identity links and dispatch rules come from the workspace config;
// --dimensions overrides the dimensions but not the links.
func TestKeyUsesWorkspaceConfig(t *testing.T) {
	ws := t.TempDir()
	cfg := `{"session": {"identity_links": {"john": ["slack:u123"]}},
	  "agents": {"dispatch": {"rules": [{"name": "slack mentions", "when": {"channel": "slack", "mentioned": true},
	    "session_dimensions": ["space", "sender"]}]}}}`
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--workspace", ws, "key", "--channel", "slack", "--account", "Workspace-A", "--chat-type", "channel",
		"--chat", "C001", "--space-type", "workspace", "--space", "T001", "--sender", "U123", "--mentioned", "--json"}
	out, errOut, code := runCLI(t, args...)
	if code != 0 {
		t.Fatal(errOut)
	}
	var got keyOutput
	_ = json.Unmarshal([]byte(out), &got)
	if got.ID != "sk_v1_60b1dc07ac333cb0c84dee505e593eb85d03d60cf187261ad4f5f9d85ecb0a6c" || got.MatchedBy != "dispatch.rule:slack mentions" {
		t.Fatalf("config rule and links not applied: %+v", got)
	}
	t.Setenv("PICOSESS_WORKSPACE", ws)
	out, _, _ = runCLI(t, append(args[2:], "--dimensions", "sender")...)
	_ = json.Unmarshal([]byte(out), &got)
	if got.Signature != "v=1|agent=main|channel=slack|account=workspace-a|sender=john" {
		t.Fatalf("--dimensions with config links: %s", got.Signature)
	}
}

func TestKeyErrors(t *testing.T) {
	ws := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "--channel", "x", "--dimensions", "chat,peer"}, `unknown dimension "peer"`},
		{[]string{"key", "--channel", "x", "--scope", "per-moon"}, `unknown scope name "per-moon"`},
		{[]string{"key", "--chat", "1"}, "--channel is required"},
		{[]string{"key", "--channel", "x", "--scope", "main", "--dimensions", "chat"}, "give one"},
		{[]string{"key", "--channel", "x", "--bogus"}, "unknown flag: --bogus"},
	} {
		_, errOut, code := runCLI(t, append([]string{"--workspace", ws}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tt.args, code, errOut, tt.want)
		}
	}
	if err := os.WriteFile(filepath.Join(ws, "config.json"), []byte("{\n \"session\": {\"dimensions\": [\"chat\" \"x\"]}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, "--workspace", ws, "key", "--channel", "x")
	if code != 1 || !strings.Contains(errOut, "config.json:2:") {
		t.Errorf("config syntax error must say line and column: exit %d %q", code, errOut)
	}
}

func TestKeyNamedSession(t *testing.T) {
	out, _, code := runCLI(t, "--workspace", t.TempDir(), "key", "--session", "My-Project", "--json")
	var got keyOutput
	_ = json.Unmarshal([]byte(out), &got)
	if code != 0 || got.Name != "my-project" || !strings.HasPrefix(got.ID, "sk_v1_") || got.Scope != nil {
		t.Fatalf("exit %d %+v", code, got)
	}
}
