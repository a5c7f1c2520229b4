package summarize_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/summarize"
	"github.com/picosess/picosess/workspace"
)

// trip is a conversation with a Telegram user, user first.
var trip = []string{
	"We are planning the Lisbon trip for the 14th of May, three days, trains only.",
	"Noted: Lisbon, 14 May, three days, by train. Do you want hotels near Baixa?",
	"Yes, mid-range hotels near Baixa, and a day trip to Sintra.",
	"Sintra works well by train from Rossio station, about 40 minutes.",
	"Book the Sintra day for the 15th and keep the 16th free.",
	"Done: Sintra on the 15th, the 16th is free. Anything else?",
	"What is the budget for food per day?",
	"Around 45 euros per person per day is realistic in Lisbon.",
}

// exampleSession opens a workspace in a temp dir with config.json (if not
// empty) and a fixed clock, and appends trip to a Telegram user's session.
func exampleSession(config string) (*workspace.Workspace, *workspace.Session, func()) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "picosess-example-")
	if err != nil {
		panic(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644); err != nil {
			panic(err)
		}
	}
	now := time.Date(2026, 4, 9, 8, 0, 0, 0, time.UTC)
	w, err := workspace.Open(dir, &workspace.Options{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	s, err := w.SessionFor(ctx, "", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "42", SenderID: "42"})
	if err != nil {
		panic(err)
	}
	for i := 0; i < len(trip); i += 2 {
		if _, err := s.AppendTurn(ctx, workspace.UserMessage("42", trip[i]), workspace.AssistantMessage("", trip[i+1])); err != nil {
			panic(err)
		}
	}
	return w, s, func() { w.Close(); os.RemoveAll(dir) }
}

// Build what to send to a model within a token budget. The Compactor
// comes from the workspace config, for the session's agent, exactly as
// picosess context builds it; the newest messages that fit are sent, and
// the accounting says what was left out.
func ExampleCompactor_Context() {
	ctx := context.Background()
	w, s, cleanup := exampleSession("")
	defer cleanup()

	k, err := summarize.ForWorkspace(w).For(ctx, s)
	if err != nil {
		panic(err)
	}
	c, err := k.Context(ctx, s, summarize.Budget{MaxTokens: 80, Strategy: summarize.StrategyRecent})
	if err != nil {
		panic(err)
	}
	for i, m := range c.Messages {
		fmt.Printf("#%d %s: %s\n", c.Seqs[i], m.Role, m.Content)
	}
	fmt.Printf("%d tokens of %d; %d of %d messages sent\n", c.Tokens, c.Budget.MaxTokens, c.Included, c.Available)
	// Output:
	// #6 user: Book the Sintra day for the 15th and keep the 16th free.
	// #7 assistant: Done: Sintra on the 15th, the 16th is free. Anything else?
	// #8 user: What is the budget for food per day?
	// #9 assistant: Around 45 euros per person per day is realistic in Lisbon.
	// 79 tokens of 80; 4 of 8 messages sent
}

// Summarize a session with the extractive summarizer (the default: no
// network, deterministic). config.json asks for a summary every 6
// messages, keeping the newest 2; Maybe, called after each turn, writes a
// summary record when one is due. The messages stay in the file; the
// context then sends the summary in their place.
func ExampleCompactor_Maybe() {
	ctx := context.Background()
	w, s, cleanup := exampleSession(`{"summarize": {"message_threshold": 6, "keep_recent": 2, "summary_tokens": 100}}`)
	defer cleanup()

	k, err := summarize.ForWorkspace(w).For(ctx, s)
	if err != nil {
		panic(err)
	}
	out, err := k.Maybe(ctx, s)
	if err != nil {
		panic(err)
	}
	fmt.Println("due:", out.Decision.Reason)
	fmt.Printf("summary #%d of #2..#%d by %s\n", out.Summary.Seq, out.Summary.Through, out.Summary.By)

	c, err := k.Context(ctx, s, summarize.Budget{MaxTokens: 1000})
	if err != nil {
		panic(err)
	}
	for i, m := range c.Messages {
		fmt.Printf("#%d %s: %s\n", c.Seqs[i], m.Role, m.Content)
	}
	// Output:
	// due: 8 messages since the last summary (message_threshold 6)
	// summary #10 of #2..#7 by extractive
	// #10 system: Summary of the earlier conversation:
	// user: We are planning the Lisbon trip for the 14th of May, three days, trains only.
	// user: Yes, mid-range hotels near Baixa, and a day trip to Sintra.
	// assistant: Sintra works well by train from Rossio station, about 40 minutes.
	// user: Book the Sintra day for the 15th and keep the 16th free.
	// assistant: Anything else?
	// #8 user: What is the budget for food per day?
	// #9 assistant: Around 45 euros per person per day is realistic in Lisbon.
}
