package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

const legacyRoot = "../testdata/legacy"

// fixtureTrees are the shared legacy installs, each with the system
// auto-detection must find.
var fixtureTrees = []struct {
	dir    string
	system System
}{
	{"picoclaw/1-old-json", SystemPicoClaw},
	{"picoclaw/2-legacy-jsonl-after-migrate", SystemPicoClaw},
	{"picoclaw/3-new-opaque-upgraded-from-2", SystemPicoClaw},
	{"picoclaw/4-new-opaque-fresh", SystemPicoClaw},
	{"openclaw/2025.12-clawdis-flat", SystemOpenClaw},
	{"openclaw/2026.1-clawdbot", SystemOpenClaw},
	{"openclaw/2026.4-openclaw", SystemOpenClaw},
	{"pocketpaw/dot-pocketpaw", SystemPocketPaw},
}

func lisbon(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	return loc
}

func TestFixtureGolden(t *testing.T) {
	for _, ft := range fixtureTrees {
		t.Run(ft.dir, func(t *testing.T) {
			r := mustRead(t, filepath.Join(legacyRoot, ft.dir), Options{Location: lisbon(t)})
			if r.System != ft.system {
				t.Fatalf("detected %s, want %s", r.System, ft.system)
			}
			checkGolden(t, "legacy/"+filepath.ToSlash(ft.dir), goldenView(t, r))
		})
	}
}

func TestFixturesAccountEveryFile(t *testing.T) {
	for _, ft := range fixtureTrees {
		t.Run(ft.dir, func(t *testing.T) {
			dir := filepath.Join(legacyRoot, ft.dir)
			before := treeHashes(t, dir)
			r := mustRead(t, dir, Options{Location: lisbon(t)})
			checkAccounted(t, dir, r)
			if after := treeHashes(t, dir); !equalMaps(before, after) {
				t.Fatal("reading changed the source tree")
			}
			for _, s := range r.Sources {
				if len(s.Records) != len(s.Provenance) {
					t.Fatalf("%s: %d records, %d provenance entries", s.Key, len(s.Records), len(s.Provenance))
				}
				for i, rec := range s.Records {
					if rec.At.Location() != time.UTC || rec.At.IsZero() {
						t.Fatalf("%s record %d: at %v is not a UTC time", s.Key, i, rec.At)
					}
					if rec.Seq != int64(i+2) {
						t.Fatalf("%s record %d: seq %d", s.Key, i, rec.Seq)
					}
					if rec.Through >= rec.Seq {
						t.Fatalf("%s record %d: through %d does not point back", s.Key, i, rec.Through)
					}
				}
				for _, f := range s.Files {
					if len(f.SHA256) != 64 || f.Size == 0 && !strings.HasSuffix(f.Path, ".jsonl") {
						t.Fatalf("%s: file info %+v", s.Key, f)
					}
				}
			}
		})
	}
}

func TestFixtureCounts(t *testing.T) {
	type want struct {
		sources, messages           int
		toolCalls, toolResults      int
		summaries, titles, resets   int
		checkpoints, setAside, gens int
	}
	wants := map[string]want{
		"picoclaw/1-old-json":                   {sources: 11, messages: 26, toolCalls: 1, toolResults: 1, summaries: 1, gens: 11},
		"picoclaw/2-legacy-jsonl-after-migrate": {sources: 11, messages: 26, toolCalls: 1, toolResults: 1, summaries: 1, gens: 11},
		"picoclaw/3-new-opaque-upgraded-from-2": {sources: 11, messages: 36, toolCalls: 1, toolResults: 1, summaries: 1, gens: 11},
		"picoclaw/4-new-opaque-fresh":           {sources: 12, messages: 26, summaries: 1, gens: 12},
		"openclaw/2025.12-clawdis-flat":         {sources: 1, messages: 5, summaries: 1, gens: 1},
		"openclaw/2026.1-clawdbot":              {sources: 1, messages: 5, toolCalls: 1, toolResults: 1, gens: 1},
		"openclaw/2026.4-openclaw":              {sources: 2, messages: 15, toolCalls: 2, toolResults: 2, summaries: 1, resets: 1, checkpoints: 2, gens: 3},
		"pocketpaw/dot-pocketpaw":               {sources: 3, messages: 22, summaries: 1, titles: 1, resets: 1, gens: 4},
	}
	for _, ft := range fixtureTrees {
		t.Run(ft.dir, func(t *testing.T) {
			r := mustRead(t, filepath.Join(legacyRoot, ft.dir), Options{Location: lisbon(t)})
			var got want
			got.sources = len(r.Sources)
			for _, s := range r.Sources {
				got.setAside += len(s.SetAside)
				got.gens += s.Generations
				for _, rec := range s.Records {
					switch rec.Type {
					case workspace.TypeMessage:
						got.messages++
						if len(rec.ToolCalls) > 0 {
							got.toolCalls++
						}
						if rec.ToolCallID != "" {
							got.toolResults++
						}
					case workspace.TypeSummary:
						got.summaries++
					case workspace.TypeTitle:
						got.titles++
					case workspace.TypeReset:
						got.resets++
					case workspace.TypeCheckpoint:
						got.checkpoints++
					}
				}
			}
			if got != wants[ft.dir] {
				t.Fatalf("got  %+v\nwant %+v", got, wants[ft.dir])
			}
		})
	}
}

// The P4 conversion kept every message: the JSON copies add nothing and are
// reported as duplicates, the JSONL files are imported.
func TestPicoConvertedCopiesAreDuplicates(t *testing.T) {
	r := mustRead(t, filepath.Join(legacyRoot, "picoclaw/2-legacy-jsonl-after-migrate"), Options{})
	for _, f := range r.Files {
		switch {
		case strings.HasSuffix(f.Path, ".json.migrated"):
			if f.Class != ClassDuplicate {
				t.Errorf("%s: %s, want duplicate", f.Path, f.Class)
			}
		case strings.HasSuffix(f.Path, ".jsonl"):
			if f.Class != ClassImported || f.Records == 0 {
				t.Errorf("%s: %+v", f.Path, f)
			}
		}
	}
	s := r.Source("agent:main:telegram:direct:123456789")
	if s.Records[0].Type != workspace.TypeSummary || s.Records[0].Text != "User 123456789 asked about notes.txt; it contains a shopping reminder." {
		t.Fatalf("summary with skip 0 must sit first: %+v", s.Records[0])
	}
	tc := s.Records[4]
	if tc.Role != workspace.RoleAssistant || !strings.Contains(string(tc.ToolCalls), `"id":"call_read_file_1"`) || !strings.Contains(string(tc.ToolCalls), `"arguments":"{\"path\":\"notes.txt\"}"`) {
		t.Fatalf("tool call not carried: %+v", tc)
	}
	if res := s.Records[5]; res.Role != workspace.RoleTool || res.ToolCallID != "call_read_file_1" || res.Content != "buy milk\ncall bob" {
		t.Fatalf("tool result not carried: %+v", res)
	}
	if s.Records[6].ModelName != "gpt-5.4" {
		t.Fatalf("model name lost: %+v", s.Records[6])
	}
}

// P5 promotion: the legacy files of a promoted chat are duplicates of its
// sk_v1_ session, whose aliases name the legacy key.
func TestPicoPromotedDuplicates(t *testing.T) {
	r := mustRead(t, filepath.Join(legacyRoot, "picoclaw/3-new-opaque-upgraded-from-2"), Options{})
	id := "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5"
	s := r.Source(id)
	if s == nil || s.Messages() != 8 || r.Source("agent:main:telegram:direct:123456789") != nil {
		t.Fatal("the promoted DM must be one source of 8 messages")
	}
	if s.Scope == nil || s.Scope.Channel != "telegram" || s.Scope.Values["chat"] != "direct:123456789" {
		t.Fatalf("scope %+v", s.Scope)
	}
	wantKey := false
	for _, k := range s.RawKeys {
		wantKey = wantKey || k == "agent:main:telegram:direct:123456789"
	}
	if !wantKey {
		t.Fatalf("raw keys %q lack the legacy key", s.RawKeys)
	}
	for _, f := range r.Files {
		if strings.HasPrefix(f.Path, "agent_main_telegram_direct_123456789") && (f.Class != ClassDuplicate || f.Key != id) {
			t.Errorf("%+v", f)
		}
	}
	// main is never merged anywhere
	if m := r.Source("agent:main:main"); m == nil || m.Messages() != 2 {
		t.Fatal("main must stay its own source")
	}
}

func TestOpenClawMapping(t *testing.T) {
	r := mustRead(t, filepath.Join(legacyRoot, "openclaw/2026.1-clawdbot"), Options{})
	s := r.Source("agent:main:telegram:dm:123456789")
	a := s.Records[1]
	if a.ReasoningContent != "Delegate the search to a sub-agent so the chat stays responsive." || a.ModelName != "claude-opus-4-5" {
		t.Fatalf("assistant %+v", a)
	}
	if !strings.Contains(string(a.ToolCalls), `"function":{"name":"sessions_spawn","arguments":"{\"label\":\"research-hotels\",`) {
		t.Fatalf("tool calls %s", a.ToolCalls)
	}
	if !strings.Contains(string(s.Provenance[1].Extra), `"reasoning_signatures":["EqQBCkgIBhABGAIiQP"]`) {
		t.Fatalf("reasoning signature lost: %s", s.Provenance[1].Extra)
	}
	if tr := s.Records[2]; tr.Role != workspace.RoleTool || tr.ToolCallID != "toolu_01Ke3Lm5No7Pq9Rs1Tu3Vw5X" || tr.ToolName != "sessions_spawn" || tr.IsError {
		t.Fatalf("tool result %+v %s", tr, s.Provenance[2].Extra)
	}
	if u := s.Records[0]; u.Sender != "123456789" || !strings.HasPrefix(u.Content, "[Telegram Alice (@alice_k) id:123456789") {
		t.Fatalf("user %+v: envelope must be kept verbatim and give the sender", u)
	}
	if m := s.Records[4]; m.ModelName != "delivery-mirror" || !strings.Contains(string(s.Provenance[4].Extra), "delivery_mirror") {
		t.Fatalf("delivery mirror %+v", m)
	}
	if _, ok := s.Meta["store"].(map[string]any)["skillsSnapshot"]; ok {
		t.Fatal("bloat fields must be kept as a hash only")
	}

	// the v1 compaction covers what precedes firstKeptEntryIndex 4
	r = mustRead(t, filepath.Join(legacyRoot, "openclaw/2025.12-clawdis-flat"), Options{})
	s = r.Source("agent:main:main")
	if s.RawKeys[0] != "main" {
		t.Fatalf("flat key main must stay an alias: %q", s.RawKeys)
	}
	for _, rec := range s.Records {
		if rec.Type == workspace.TypeSummary && rec.Through != 3 {
			t.Fatalf("v1 compaction through %d, want 3 (the reply before entry 4)", rec.Through)
		}
	}

	// reset archive linked by time, compaction checkpoint and label
	r = mustRead(t, filepath.Join(legacyRoot, "openclaw/2026.4-openclaw"), Options{})
	s = r.Source("agent:main:main")
	if s.Generations != 2 || s.Records[4].Type != workspace.TypeReset || s.Records[4].Reason != workspace.ReasonImported {
		t.Fatalf("generations %d, record 4 %+v", s.Generations, s.Records[4])
	}
	var label, ckpt workspace.Record
	for _, rec := range s.Records {
		if rec.Type == workspace.TypeCheckpoint && rec.Name == "lisbon-dates" {
			label = rec
		}
		if rec.Type == workspace.TypeCheckpoint && strings.HasPrefix(rec.Name, "compaction-") {
			ckpt = rec
		}
	}
	if label.Through != 10 || s.Records[label.Through-2].Content[:15] != "You settled on " {
		t.Fatalf("label %+v", label)
	}
	if ckpt.Through != 13 {
		t.Fatalf("compaction checkpoint %+v, want through the pre-compaction leaf (seq 13)", ckpt)
	}
	if f := fileClass(r, ".checkpoint.1b7d9e40-2c6a-4f85-b3e1-8a0d5c7f9e12.jsonl"); f.Class != ClassDuplicate {
		t.Fatalf("checkpoint copy %+v", f)
	}
	if f := fileClass(r, ".reset.2026-04-09T08-02-11.455Z"); f.Class != ClassGeneration || f.Key != "agent:main:main" {
		t.Fatalf("reset archive %+v", f)
	}
	if len(r.Warnings) != 7 {
		t.Fatalf("want one warning per entry without a transcript (7): %q", r.Warnings)
	}
}

func TestCanonOCKey(t *testing.T) {
	for _, c := range []struct{ in, agent, want string }{
		{"main", "main", "agent:main:main"},
		{"+15551234567", "main", "agent:main:+15551234567"},
		{"group:120363041234567890@g.us", "main", "agent:main:whatsapp:group:120363041234567890@g.us"},
		{"120363041234567890@g.us", "main", "agent:main:whatsapp:group:120363041234567890@g.us"},
		{"discord:channel:1187245913476520001", "main", "agent:main:discord:channel:1187245913476520001"},
		{"group:abc", "main", "agent:main:unknown:group:abc"},
		{"subagent:7c1e", "ops", "agent:ops:subagent:7c1e"},
		{"cron:daily", "main", "agent:main:cron:daily"},
		{"global", "main", "global"},
		{"agent:main:main", "ops", "agent:ops:main"},
		{"agent:main:telegram:dm:1", "main", "agent:main:telegram:dm:1"},
		{"Foo Bar", "main", "agent:main:foo bar"},
	} {
		if got := canonOCKey(c.in, c.agent); got != c.want {
			t.Errorf("canonOCKey(%q, %q) = %q, want %q", c.in, c.agent, got, c.want)
		}
	}
}

func TestPocketPawMapping(t *testing.T) {
	r := mustRead(t, filepath.Join(legacyRoot, "pocketpaw/dot-pocketpaw"), Options{Location: time.UTC})
	g := r.Source("google_chat:spaces/AAAAx1yZ2w")
	if g == nil || g.KeyInferred || g.Records[0].Sender != "Carol Diaz" {
		t.Fatalf("google chat key from metadata: %+v", g)
	}
	tg := r.Source("telegram:123456789")
	if tg.Generations != 2 || tg.Records[4].Type != workspace.TypeReset || tg.Records[4].Reason != workspace.ReasonManual || tg.RawKeys[0] != "telegram:123456789:a1b2c3d4" {
		t.Fatalf("/new generations: %+v", tg)
	}
	ws := r.Source("websocket:3b2f6c1e-9a4d-4e7b-8c15-2f0d9e6a7b31")
	n := len(ws.Records)
	if sum := ws.Records[n-2]; sum.Type != workspace.TypeSummary || sum.Through != 3 {
		t.Fatalf("compaction summary %+v, want through message 2 (seq 3)", sum)
	}
	if title := ws.Records[n-1]; title.Type != workspace.TypeTitle || title.Text != "Prime number checker" {
		t.Fatalf("title %+v", title)
	}
	// naive times in another zone move by its offset
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	r2 := mustRead(t, filepath.Join(legacyRoot, "pocketpaw/dot-pocketpaw"), Options{Location: ny})
	if d := r2.Source("telegram:123456789").Records[0].At.Sub(tg.Records[0].At); d != 5*time.Hour {
		t.Fatalf("New York times are %v after UTC ones, want 5h", d)
	}
}

// A PicoClaw home holds several sessions dirs: P0's beside the workspace,
// the main agent's and one per other agent. All are read; the agent comes
// from the key, not the directory.
func TestPicoHomeWithAgentWorkspaces(t *testing.T) {
	home := t.TempDir()
	copyTree(t, filepath.Join(legacyRoot, "picoclaw/2-legacy-jsonl-after-migrate"), filepath.Join(home, "workspace", "sessions"))
	copyTree(t, filepath.Join(legacyRoot, "picoclaw/4-new-opaque-fresh"), filepath.Join(home, "workspace-support", "sessions"))
	write(t, filepath.Join(home, "sessions", "telegram:999.json"), `{"key":"telegram:999","messages":[{"role":"user","content":"p0 era"}],"created":"2026-02-09T10:00:00Z","updated":"2026-02-09T10:00:00Z"}`)
	write(t, filepath.Join(home, "config.json"), `{"agents":{"defaults":{"workspace":"~/.picoclaw/workspace"}}}`)
	write(t, filepath.Join(home, "workspace", "AGENTS.md"), "# agents\n")
	r := mustRead(t, home, Options{})
	// 11 + 12 + 1 sources, less the two legacy keys (the Telegram DM and
	// cli:default) that exactly one P5 meta of the other dir lists: across
	// dirs of one install they are folded into that session
	if r.System != SystemPicoClaw || len(r.Sources) != 11+12+1-2 || r.Source("cli:default") != nil {
		t.Fatalf("system %s, %d sources", r.System, len(r.Sources))
	}
	if s := r.Source("telegram:999"); s == nil || s.Messages() != 1 || s.Agent != "main" {
		t.Fatalf("P0 dir not read: %+v", s)
	}
	if s := r.Source("sk_v1_12a521620be5b4cb7c5b338b5da4b61e6920c832649ce42e88bb4869026fec67"); s == nil || s.Agent != "support" {
		t.Fatalf("agent must come from the scope: %+v", s)
	}
	for _, f := range r.Files {
		if strings.HasSuffix(f.Path, "config.json") || strings.HasSuffix(f.Path, "AGENTS.md") {
			t.Fatalf("%s is outside every sessions dir and must not be read", f.Path)
		}
	}
}

// Upstream moved ~/.clawdbot to ~/.moltbot and left a symlink: a home
// holding both reads the store once.
func TestOpenClawSymlinkedStateDirReadOnce(t *testing.T) {
	home := t.TempDir()
	copyTree(t, filepath.Join(legacyRoot, "openclaw/2026.1-clawdbot"), filepath.Join(home, ".moltbot"))
	if err := os.Symlink(filepath.Join(home, ".moltbot"), filepath.Join(home, ".clawdbot")); err != nil {
		t.Skip(err)
	}
	r := mustRead(t, home, Options{})
	if len(r.Sources) != 1 || r.Sources[0].Messages() != 5 {
		t.Fatalf("%d sources", len(r.Sources))
	}
	// pointing at the symlink itself reads the real directory
	r = mustRead(t, filepath.Join(home, ".clawdbot"), Options{})
	if len(r.Sources) != 1 || r.Sources[0].Messages() != 5 {
		t.Fatalf("through the symlink: %d sources", len(r.Sources))
	}
}

func TestPocketPawMemoryReported(t *testing.T) {
	home := t.TempDir()
	copyTree(t, filepath.Join(legacyRoot, "pocketpaw/dot-pocketpaw"), home)
	write(t, filepath.Join(home, "memory", "MEMORY.md"), "# facts\n")
	write(t, filepath.Join(home, "memory", "users", "ab12", "MEMORY.md"), "# user facts\n")
	r := mustRead(t, home, Options{})
	checkAccounted(t, home, r)
	if f := fileClass(r, "users/ab12/MEMORY.md"); f.Class != ClassIgnored || !strings.Contains(f.Reason, "long-term memory") {
		t.Fatalf("%+v", f)
	}
}
