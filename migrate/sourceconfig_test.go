package migrate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// An OpenClaw config in JSON5 (comments, unquoted keys, single quotes,
// trailing commas) is read: dmScope and identity links go into the
// proposal as OpenClaw spells them, and session.store moves the store
// outside the state dir ({agentId}), where its sessions are read.
func TestSourceConfigOpenClawJSON5AndStore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	state := filepath.Join(root, ".openclaw")
	elsewhere := filepath.Join(root, "data", "oc-main")
	copyTree(t, filepath.Join("..", "testdata", "legacy", "openclaw", "2026.1-clawdbot", "agents", "main", "sessions"), elsewhere)
	write(t, filepath.Join(state, "openclaw.json"), `// written by hand
{
  agents: {list: [{id: 'main'}]},
  session: {
    dmScope: 'per-channel-peer', /* one session per person and channel */
    identityLinks: {alice: ['telegram:123456789',],},
    store: '`+filepath.Join(root, "data", "oc-{agentId}", "sessions.json")+`',
  },
}
`)
	write(t, filepath.Join(state, "clawdbot.json"), `{session: {dmScope: 'main'}}`)
	before := treeHashes(t, root)
	res, cfg, err := ReadInstall(ctx, state, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.System != SystemOpenClaw || cfg.Path != filepath.Join(state, "openclaw.json") {
		t.Fatalf("system %s config %q", res.System, cfg.Path)
	}
	if len(cfg.StoreDirs) != 1 || cfg.StoreDirs[0] != elsewhere {
		t.Fatalf("store dirs %q, want %s", cfg.StoreDirs, elsewhere)
	}
	if res.Source("agent:main:telegram:dm:123456789") == nil || res.Messages() == 0 {
		t.Fatalf("sessions of the moved store not read: %d sources", len(res.Sources))
	}
	for _, f := range res.Files {
		if !strings.HasPrefix(f.Path, "../data/oc-main/") {
			t.Fatalf("file %s: want a path relative to the state dir, into the moved store", f.Path)
		}
	}
	var prop struct {
		Session map[string]any `json:"session"`
	}
	if err := json.Unmarshal(cfg.Proposal, &prop); err != nil {
		t.Fatal(err)
	}
	if prop.Session["dmScope"] != "per-channel-peer" || prop.Session["identityLinks"] == nil || len(prop.Session) != 2 {
		t.Fatalf("proposal %s", cfg.Proposal)
	}
	if !strings.Contains(strings.Join(cfg.Warnings, "\n"), "clawdbot.json is an older name") {
		t.Fatalf("older config not reported: %q", cfg.Warnings)
	}
	pol := cfg.Policy()
	if pol.Direct == nil || strings.Join(pol.Direct.Dimensions, ",") != "chat,sender" || pol.IdentityLinks["alice"] == nil {
		t.Fatalf("policy %+v", pol)
	}
	if !equalMaps(before, treeHashes(t, root)) {
		t.Fatal("reading changed the source")
	}
	// a config that is not JSON5 is an error naming the file
	write(t, filepath.Join(state, "openclaw.json"), "{session: {dmScope: }")
	_, _, err = ReadInstall(ctx, state, Options{})
	if !errorsIs(err, ErrSourceConfig) || !strings.Contains(err.Error(), "openclaw.json") {
		t.Fatalf("bad config: %v", err)
	}
}

// Without a config, the scope the direct chats' keys were written under
// is proposed (OpenClaw's default would be main, which these keys were not
// written under); a config that says otherwise is overruled, with a
// warning.
func TestSourceConfigFromKeys(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	copyTree(t, filepath.Join("..", "testdata", "legacy", "openclaw", "2026.1-clawdbot"), state)
	for _, cfgText := range []string{"", `{"session": {"dmScope": "main"}}`} {
		if cfgText != "" {
			write(t, filepath.Join(state, "clawdbot.json"), cfgText)
		}
		res, cfg, err := ReadInstall(ctx, state, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v := cfg.value("dmScope"); v != "per-channel-peer" {
			t.Fatalf("config %q: proposed dmScope %v, want per-channel-peer (the keys' shape)", cfgText, v)
		}
		if !strings.Contains(strings.Join(cfg.Warnings, "\n"), "written under dmScope \"per-channel-peer\"") {
			t.Fatalf("no warning: %q", cfg.Warnings)
		}
		// the DM takes its derived id under the proposal: chat and sender
		p, err := PlanResult(ctx, res, nil, PlanOptions{Policy: ptr(cfg.Policy())})
		if err != nil {
			t.Fatal(err)
		}
		want := keying.Opaque("v=1|agent=main|channel=telegram|account=default|chat=direct:123456789|sender=123456789")
		found := false
		for _, ps := range p.Sessions {
			if ps.Keys[0] == "agent:main:telegram:dm:123456789" {
				found = ps.ID == want && ps.Rule == RuleA
			}
		}
		if !found {
			t.Fatalf("config %q: the DM did not get %s", cfgText, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A PicoClaw config.json: dimensions, dm_scope and identity links are
// proposed verbatim; agent workspaces set in it are read.
func TestSourceConfigPicoClaw(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	copyTree(t, filepath.Join("..", "testdata", "legacy", "picoclaw", "2-legacy-jsonl-after-migrate"), filepath.Join(home, "workspace", "sessions"))
	copyTree(t, filepath.Join("..", "testdata", "legacy", "picoclaw", "4-new-opaque-fresh"), filepath.Join(home, "..", filepath.Base(home)+"-support", "sessions"))
	write(t, filepath.Join(home, "config.json"), `{"agents": {"defaults": {"workspace": "~/ignored-not-there"}, "list": [{"id": "support", "workspace": "../`+filepath.Base(home)+`-support"}]},
 "session": {"dimensions": ["chat", "sender"], "identity_links": {"john": ["telegram:987654321"]}}, "channels": {"telegram": {"token": "x"}}}`)
	res, cfg, err := ReadInstall(ctx, home, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.System != SystemPicoClaw || len(cfg.StoreDirs) != 1 {
		t.Fatalf("system %s store dirs %q", res.System, cfg.StoreDirs)
	}
	other := 0
	for _, f := range res.Files {
		if strings.HasPrefix(f.Path, "../") {
			other++
		}
	}
	if other == 0 {
		t.Fatal("the support agent's workspace was not read")
	}
	if got := strings.Join(cfg.Policy().Dimensions, ","); got != "chat,sender" {
		t.Fatalf("dimensions %s", got)
	}
	if strings.Contains(string(cfg.Proposal), "token") || strings.Contains(string(cfg.Proposal), "channels") {
		t.Fatalf("proposal carries more than keying: %s", cfg.Proposal)
	}
}

// --write-config: written when absent, left alone when equal, merged into
// a config without keying settings (others kept), refused when the
// workspace keys sessions differently.
func TestWriteProposedConfig(t *testing.T) {
	prop := json.RawMessage("{\n  \"session\": {\n    \"dmScope\": \"per-peer\"\n  }\n}\n")
	dir := t.TempDir()
	if c, err := WriteProposedConfig(dir, prop); err != nil || c != ConfigWritten {
		t.Fatalf("absent: %s %v", c, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, workspace.ConfigFile)); string(b) != string(prop) {
		t.Fatalf("written %q", b)
	}
	if c, err := WriteProposedConfig(dir, prop); err != nil || c != ConfigUnchanged {
		t.Fatalf("same: %s %v", c, err)
	}
	write(t, filepath.Join(dir, workspace.ConfigFile), `{"summarize": {"message_threshold": 30}, "session": {"name": "notes"}}`)
	if c, err := WriteProposedConfig(dir, prop); err != nil || c != ConfigMerged {
		t.Fatalf("merge: %s %v", c, err)
	}
	cfg, _, err := workspace.LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Session.DMScopeOC != "per-peer" || cfg.Session.Name != "notes" || cfg.Summarize.MessageThreshold != 30 {
		t.Fatalf("merged config %+v %+v", cfg.Session, cfg.Summarize)
	}
	conflict := `{"session": {"dimensions": ["chat"]}}`
	write(t, filepath.Join(dir, workspace.ConfigFile), conflict)
	if _, err := WriteProposedConfig(dir, prop); !errorsIs(err, ErrConfigConflict) || !strings.Contains(err.Error(), "session.dimensions") {
		t.Fatalf("conflict: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, workspace.ConfigFile)); string(b) != conflict {
		t.Fatalf("a conflicting config was changed: %q", b)
	}
}
