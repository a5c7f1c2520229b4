package workspace_test

import (
	"context"
	"fmt"

	"github.com/picosess/picosess/workspace"
)

// An assistant stores the token usage its model reported with each reply;
// the session's metadata (ls --json, the HTTP listing) sums it.
func ExampleRecord_WithUsage() {
	ctx := context.Background()
	w, cleanup := openExample()
	defer cleanup()

	s, err := w.Session(ctx, workspace.Target{Name: "usage-example"})
	if err != nil {
		panic(err)
	}
	cached := workspace.AssistantMessage("claude-sonnet-4.5", "Still on Friday at 10.")
	cached.Usage = &workspace.Usage{InputTokens: 40, OutputTokens: 9, CacheReadTokens: 1800}
	if _, err := s.AppendTurn(ctx,
		workspace.UserMessage("alice", "When is the dentist?"),
		workspace.AssistantMessage("gpt-5", "Friday at 10.").WithUsage(1200, 85),
		workspace.UserMessage("alice", "Still?"),
		cached); err != nil {
		panic(err)
	}
	h, err := s.History(ctx, 0)
	if err != nil {
		panic(err)
	}
	for _, m := range h.Messages {
		if m.Usage != nil {
			fmt.Printf("#%d %s: in %d, out %d, cache read %d\n", m.Seq, m.ModelName, m.Usage.InputTokens, m.Usage.OutputTokens, m.Usage.CacheReadTokens)
		}
	}
	meta, err := s.Meta(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("session: in %d, out %d\n", meta.UsageIn, meta.UsageOut)
	// Output:
	// #3 gpt-5: in 1200, out 85, cache read 0
	// #5 claude-sonnet-4.5: in 40, out 9, cache read 1800
	// session: in 1240, out 94
}
