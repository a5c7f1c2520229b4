package workspace_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// openExample opens a workspace in a fresh temp dir whose clock stands
// still at 09:00 UTC on 2 March 2026, so that the output below does not
// depend on when it runs. A real assistant passes nil options.
func openExample() (w *workspace.Workspace, cleanup func()) {
	dir, err := os.MkdirTemp("", "picosess-example-")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	w, err = workspace.Open(dir, &workspace.Options{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	return w, func() { w.Close(); os.RemoveAll(dir) }
}

// An assistant appends a turn for a Telegram user: the workspace routes
// the message under its config (config.json; here the defaults), creates
// the session on the first message, and writes the whole turn in one
// locked append. History reads the active history back from the tail.
func Example() {
	ctx := context.Background()
	w, cleanup := openExample()
	defer cleanup()

	in := keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "123456789", SenderID: "123456789"}
	s, err := w.SessionFor(ctx, "", in)
	if err != nil {
		panic(err)
	}
	turn, err := s.AppendTurn(ctx,
		workspace.UserMessage("123456789", "What is on my list?"),
		workspace.ToolCallMessage("gpt-5", "", workspace.ToolCall{ID: "call_1", Name: "read_file", Arguments: `{"path":"notes.txt"}`}),
		workspace.ToolResult("call_1", "buy milk\ncall bob"),
		workspace.AssistantMessage("gpt-5", "Buy milk and call Bob."))
	if err != nil {
		panic(err)
	}
	fmt.Println("session", s.ID())
	fmt.Println("seqs", turn.Seqs)

	h, err := s.History(ctx, 50) // the newest 50 messages at most
	if err != nil {
		panic(err)
	}
	for _, m := range h.Messages {
		switch {
		case len(m.ToolCalls) > 0:
			fmt.Printf("#%d %s calls %s\n", m.Seq, m.Role, m.ToolCalls)
		case m.ToolCallID != "":
			fmt.Printf("#%d %s (%s) %q\n", m.Seq, m.Role, m.ToolCallID, m.Content)
		default:
			fmt.Printf("#%d %s %q\n", m.Seq, m.Role, m.Content)
		}
	}
	fmt.Println("at", h.Messages[0].At.Format(time.RFC3339))
	// Output:
	// session sk_v1_67fe19a8ec8fd03673f4b28c2fcddc0a2712152896ff962b8eec1b0debfdb4c5
	// seqs [2 3 4 5]
	// #2 user "What is on my list?"
	// #3 assistant calls [{"id":"call_1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"notes.txt\"}"}}]
	// #4 tool (call_1) "buy milk\ncall bob"
	// #5 assistant "Buy milk and call Bob."
	// at 2026-03-02T09:00:00Z
}

// Update computes what to append from the session's current state, under
// the session's lock: here, an answer only when the last message is the
// user's and still unanswered. Two processes running this at once write
// one answer, not two.
func ExampleSession_Update() {
	ctx := context.Background()
	w, cleanup := openExample()
	defer cleanup()
	s, err := w.SessionFor(ctx, "", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "42", SenderID: "42"})
	if err != nil {
		panic(err)
	}
	if _, err := s.AppendTurn(ctx, workspace.UserMessage("42", "ping")); err != nil {
		panic(err)
	}
	answer := func(h workspace.History) ([]workspace.Record, error) {
		if n := len(h.Messages); n == 0 || h.Messages[n-1].Role != workspace.RoleUser {
			return nil, nil // answered already: write nothing
		}
		return []workspace.Record{workspace.AssistantMessage("gpt-5", "pong")}, nil
	}
	for range 2 {
		seqs, err := s.Update(ctx, answer)
		if err != nil {
			panic(err)
		}
		fmt.Println("appended", seqs)
	}
	// Output:
	// appended [3]
	// appended []
}

// A user message that is a reset trigger (/new and /reset unless
// config.json says otherwise) starts a new conversation: AppendTurn writes
// a reset record, the text after the trigger is the new conversation's
// first message, and the active history no longer holds the old messages
// (they stay in the file, in search and in exports).
func ExampleSession_AppendTurn_resetTrigger() {
	ctx := context.Background()
	w, cleanup := openExample()
	defer cleanup()
	s, err := w.SessionFor(ctx, "", keying.Inbound{Channel: "telegram", ChatType: "direct", ChatID: "42", SenderID: "42"})
	if err != nil {
		panic(err)
	}
	if _, err := s.AppendTurn(ctx, workspace.UserMessage("42", "plan the Lisbon trip"), workspace.AssistantMessage("", "Done.")); err != nil {
		panic(err)
	}
	turn, err := s.AppendTurn(ctx, workspace.UserMessage("42", "/new what about Porto?"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("reset #%d: %s (trigger %s)\n", turn.Reset.Seq, turn.Reset.Reason, turn.Reset.Trigger)
	h, err := s.History(ctx, 0)
	if err != nil {
		panic(err)
	}
	for _, m := range h.Messages {
		fmt.Printf("#%d %s %q\n", m.Seq, m.Role, m.Content)
	}
	// Output:
	// reset #4: manual (trigger /new)
	// #5 user "what about Porto?"
}
