package migrate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/picosess/picosess/migrate"
	"github.com/picosess/picosess/workspace"
)

// picoclawTree is a tiny PicoClaw home: one session of the JSON era (one
// file per session, P0-P3) and one of the JSONL era (P4: messages and a
// meta file), as docs/migration.md describes them.
var picoclawTree = map[string]string{
	"workspace/sessions/agent_main_telegram_direct_123456789.json": `{
  "key": "agent:main:telegram:direct:123456789",
  "messages": [
    {"role": "user", "content": "What is on my list?", "created_at": "2026-03-01T08:00:00Z"},
    {"role": "assistant", "content": "Buy milk and call Bob.", "created_at": "2026-03-01T08:00:05Z"}
  ],
  "created": "2026-03-01T08:00:00Z",
  "updated": "2026-03-01T08:00:05Z"
}`,
	"workspace/sessions/agent_main_telegram_group_-100123.jsonl": `{"role":"user","content":"Who brings the cake?","created_at":"2026-03-02T18:00:00Z"}
{"role":"assistant","content":"Alice does.","created_at":"2026-03-02T18:00:03Z"}
{"role":"user","content":"Thanks!","created_at":"2026-03-02T18:01:00Z"}
`,
	"workspace/sessions/agent_main_telegram_group_-100123.meta.json": `{
  "key": "agent:main:telegram:group:-100123", "summary": "", "skip": 0, "count": 3,
  "created_at": "2026-03-02T18:00:00Z", "updated_at": "2026-03-02T18:01:00Z"
}`,
}

// Migrate a small PicoClaw install: plan first (a dry run that writes
// nothing), then apply, which writes through the workspace's locks and
// verifies every message. A second plan finds everything there.
func Example() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "picosess-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	home := filepath.Join(tmp, ".picoclaw")
	for name, text := range picoclawTree {
		p := filepath.Join(home, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			panic(err)
		}
	}
	ws, err := workspace.Open(filepath.Join(tmp, "workspace"), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()

	plan, err := migrate.NewPlan(ctx, home, ws, migrate.PlanOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("system:", plan.System)
	for _, s := range plan.Sessions {
		fmt.Printf("%s %s rule %s: %d messages from %s\n", s.Action, s.ID[:14], s.Rule, s.Messages, s.Keys[0])
	}

	rep, err := migrate.Apply(ctx, ws, plan, migrate.ApplyOptions{ReportDir: filepath.Join(tmp, "report")})
	if err != nil {
		panic(err)
	}
	fmt.Printf("applied: %d messages, %d records; verified %d messages, ok %v\n", rep.Messages, rep.Appended, rep.Verify.Messages, rep.Verify.OK())

	again, err := migrate.NewPlan(ctx, home, ws, migrate.PlanOptions{})
	if err != nil {
		panic(err)
	}
	for _, s := range again.Sessions {
		fmt.Println("again:", s.Action, s.ID[:14])
	}
	// Output:
	// system: picoclaw
	// create sk_v1_67fe19a8 rule A: 2 messages from agent:main:telegram:direct:123456789
	// create sk_v1_a2f22d9f rule A: 3 messages from agent:main:telegram:group:-100123
	// applied: 5 messages, 5 records; verified 5 messages, ok true
	// again: skip sk_v1_67fe19a8
	// again: skip sk_v1_a2f22d9f
}
