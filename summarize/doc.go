// Package summarize keeps long conversations inside a model's context
// window without losing the thread: it counts tokens, decides when a
// session is due for a summary and which messages to fold into it, runs a
// Summarizer (extractive, openai or command), and builds the context to
// send to a model within a token budget.
//
// The core is pure functions over the active history as the workspace
// returns it ([]workspace.Record, oldest first, possibly beginning with a
// summary record): Due, Select, BuildRequest, Compose, BuildContext.
// Compactor applies them to a workspace.Session. Summaries are new
// records: raw messages are never rewritten.
//
//	counter, _ := summarize.NewTiktoken("")            // o200k_base, offline tables
//	w, _ := workspace.Open(dir, &workspace.Options{CountTokens: summarize.TokenFunc(counter)})
//	k := &summarize.Compactor{Settings: settings, Counter: counter}  // extractive by default
//	out, err := k.Maybe(ctx, session)                  // after a turn: summarize if due
//	c, err := k.Context(ctx, session, summarize.Budget{MaxTokens: 8000})
//	// c.Messages is OpenAI chat format (summary as a system message); c.Tokens their total
//
// # Files it owns
//
//	<root>/locks/<id>.summarize.lock   flock held while a session is summarized, so
//	                                   two processes never summarize the same range;
//	                                   names its last holder; never deleted
//
// See docs/summarize.md for the rules and docs/performance.md for figures.
package summarize
