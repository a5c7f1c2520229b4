package migrate

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

func openWS(t testing.TB, dir string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(dir, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// planView is the part of a plan a golden file shows.
type planView struct {
	ID       string   `json:"id"`
	Rule     Rule     `json:"rule"`
	Action   Action   `json:"action"`
	Keys     []string `json:"keys"`
	Aliases  []string `json:"aliases"`
	Scope    any      `json:"scope,omitempty"`
	Messages int      `json:"messages"`
	Records  int      `json:"records"`
	Gens     int      `json:"generations"`
}

func planGolden(t *testing.T, p *Plan) []byte {
	var out []planView
	for _, s := range p.Sessions {
		out = append(out, planView{s.ID, s.Rule, s.Action, s.Keys, s.Aliases, s.Scope, s.Messages, s.Records, s.Generations})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// Every fixture tree: plan, apply, verify, plan and apply again (nothing
// changes), golden plan.
func TestMigrateFixturesTwice(t *testing.T) {
	ctx := context.Background()
	for _, ft := range fixtureTrees {
		t.Run(ft.dir, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			copyTree(t, filepath.Join(legacyRoot, ft.dir), src)
			ws := openWS(t, filepath.Join(t.TempDir(), "ws"))
			opts := PlanOptions{Read: Options{Location: lisbon(t)}}
			p, err := NewPlan(ctx, src, ws, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Sessions {
				if s.Action != ActionCreate {
					t.Fatalf("%s: %s on an empty workspace", s.ID, s.Action)
				}
			}
			checkGolden(t, "plan/"+ft.dir, planGolden(t, p))
			before := treeHashes(t, src)
			rep, err := Apply(ctx, ws, p, ApplyOptions{ReportDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Verify.OK() || rep.Verify.Messages != p.Messages() || rep.Actions[ActionCreate] != len(p.Sessions) {
				t.Fatalf("report %+v verify %+v", rep.Actions, rep.Verify)
			}
			if !equalMaps(before, treeHashes(t, src)) {
				t.Fatal("apply changed the source")
			}
			for _, s := range p.Sessions {
				checkSession(t, ws, s)
			}
			// again: nothing to do
			p2, err := NewPlan(ctx, src, ws, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p2.Sessions {
				if s.Action != ActionSkip {
					t.Fatalf("second plan: %s is %s, want skip", s.ID, s.Action)
				}
			}
			files := treeHashes(t, filepath.Join(ws.Root(), "sessions"))
			rep2, err := Apply(ctx, ws, p2, ApplyOptions{})
			if err != nil || rep2.Appended != 0 || !rep2.Verify.OK() {
				t.Fatalf("second apply: %v, appended %d", err, rep2.Appended)
			}
			if !equalMaps(files, treeHashes(t, filepath.Join(ws.Root(), "sessions"))) {
				t.Fatal("second apply changed the workspace")
			}
		})
	}
}

// checkSession compares a written session with its plan: header, and every
// record in order with its seq and through.
func checkSession(t *testing.T, ws *workspace.Workspace, ps *PlannedSession) {
	t.Helper()
	s, err := ws.OpenID(ps.ID)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h := recs[0]
	if h.Type != workspace.TypeSession || h.ID != ps.ID || strings.Join(h.Aliases, ",") != strings.Join(ps.Aliases, ",") || len(h.Origin) == 0 {
		t.Fatalf("header %+v", h)
	}
	if ps.Rule == RuleB && keying.LegacyHash(h.Aliases[0]) != ps.ID {
		t.Fatalf("Rule B: id %s is not opaque(aliases[0] %q)", ps.ID, h.Aliases[0])
	}
	body := recs[1:]
	if len(body) != len(ps.records) {
		t.Fatalf("%s: %d records written, %d planned", ps.ID, len(body), len(ps.records))
	}
	for i := range body {
		w, g := ps.records[i], body[i]
		if recFP(&g) != recFP(&w) || g.Seq != w.Seq || g.Through != w.Through || g.Sender != w.Sender || g.ModelName != w.ModelName || string(g.ToolCalls) != string(w.ToolCalls) {
			t.Fatalf("%s record %d:\n got %+v\nwant %+v", ps.ID, i, g, w)
		}
	}
}

func TestPlanRules(t *testing.T) {
	ctx := context.Background()
	p, err := NewPlan(ctx, filepath.Join(legacyRoot, "picoclaw/1-old-json"), nil, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	find := func(key string) *PlannedSession {
		for _, s := range p.Sessions {
			for _, k := range s.Keys {
				if k == key {
					return s
				}
			}
		}
		t.Fatalf("no session for %s", key)
		return nil
	}
	// Rule A: a Telegram DM continues where live traffic will land
	dm := find("agent:main:telegram:direct:123456789")
	if dm.Rule != RuleA || dm.ID != "sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5" {
		t.Fatalf("telegram DM: %s %s", dm.Rule, dm.ID)
	}
	// the pre-routing key of the same chat is an earlier generation of it
	if pre := find("telegram:123456789"); pre != dm || dm.Generations != 2 {
		t.Fatalf("telegram:123456789 must join the DM as a generation: %+v", pre)
	}
	// Rule B for main, and for a per-peer key without a channel
	main := find("agent:main:main")
	if main.Rule != RuleB || main.ID != keying.MainID("main") || main.Aliases[0] != "agent:main:main" {
		t.Fatalf("main: %+v", main)
	}
	alice := find("agent:main:direct:alice")
	if alice.Rule != RuleB || alice.ID != "sk_v1_63bf14a1deb1123eac6bf8c0474a6a9160b993b5360facfd507784503b9c68db" {
		t.Fatalf("alice: %s %s", alice.Rule, alice.ID)
	}
	// topic folds into the chat under ["chat"]
	topic := find("agent:main:telegram:group:-1001234567890/42")
	if topic.ID != "sk_v1_36124e6f38d9be96ffea284f78b98fa8a2e0e2a6724c3b41986e7f3f1fd908a5" {
		t.Fatalf("topic: %s", topic.ID)
	}
	// agent:main:main appears on main only
	for _, s := range p.Sessions {
		for _, a := range s.Aliases {
			if a == "agent:main:main" && s != main {
				t.Fatalf("%s carries agent:main:main", s.ID)
			}
		}
	}
	// under [chat, topic] the topic is its own dimension
	p2, err := NewPlan(ctx, filepath.Join(legacyRoot, "picoclaw/1-old-json"), nil, PlanOptions{Policy: &keying.Policy{Dimensions: []string{"chat", "topic"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p2.Sessions {
		if s.Keys[0] == "agent:main:telegram:group:-1001234567890/42" && s.ID != "sk_v1_4d56fa5533575427d45d54c75abef774faf1a53016d7d7dea825e7be93207cf9" {
			t.Fatalf("topic under [chat topic]: %s", s.ID)
		}
		// a group cannot fill [sender]: Rule B
	}
	p3, err := NewPlan(ctx, filepath.Join(legacyRoot, "picoclaw/1-old-json"), nil, PlanOptions{Policy: &keying.Policy{Dimensions: []string{"chat", "sender"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p3.Sessions {
		if s.Keys[0] == "agent:main:telegram:group:-1001234567890" && s.Rule != RuleB {
			t.Fatalf("a group key has no sender: want Rule B, got %s", s.Rule)
		}
	}
}

// Facts a record has no field for reach the header's origin, by seq.
func TestOriginKeepsExtras(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, t.TempDir())
	p, err := NewPlan(ctx, filepath.Join(legacyRoot, "openclaw/2026.1-clawdbot"), ws, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, ws, p, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := ws.OpenID(p.Sessions[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Header(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		System string                    `json:"system"`
		RawKey string                    `json:"raw_key"`
		Files  []originFile              `json:"files"`
		Extras map[string]map[string]any `json:"extras"`
	}
	if err := json.Unmarshal(h.Origin, &o); err != nil {
		t.Fatal(err)
	}
	if o.System != "openclaw" || o.RawKey != "agent:main:telegram:dm:123456789" || len(o.Files) != 2 || len(o.Files[0].SHA256) != 64 {
		t.Fatalf("origin %s", h.Origin)
	}
	if o.Extras["3"]["reasoning_signatures"] == nil || o.Extras["4"] != nil {
		t.Fatalf("extras %v: reasoning signatures kept, tool name and error flag in the record, not here", o.Extras)
	}
	recs, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr := recs[3]; tr.Role != workspace.RoleTool || tr.ToolName != "sessions_spawn" || tr.IsError {
		t.Fatalf("tool result %+v", tr)
	}
}
