// Package summarize keeps long conversations inside a model's context
// window without losing the thread: it counts tokens, decides when a
// session is due for a summary and which messages to fold into it, runs a
// Summarizer (extractive, openai or command), and builds the context to
// send to a model within a token budget.
//
//	cs := summarize.ForWorkspace(w)   // each agent's settings from w's config.json, as the CLI reads them
//	k, err := cs.For(ctx, session)    // the Compactor of the session's agent: counter, summarizer, thresholds
//	out, err := k.Maybe(ctx, session) // after a turn: summarize if due (out.Summarized, out.Summary)
//	c, err := k.Context(ctx, session, summarize.Budget{MaxTokens: 8000})
//	// c.Messages is OpenAI chat format (summary as a system message); c.Tokens their total
//
// The core is pure functions over the active history as the workspace
// returns it ([]workspace.Record, oldest first, possibly beginning with a
// summary record): Due, Select, BuildRequest, Compose, BuildContext.
// Compactor applies them to a workspace.Session; Compactors builds one per
// agent from the workspace config (picosess summarize and context call
// it). Summaries are new records: raw messages are never rewritten.
//
// # Files it owns
//
//	<root>/locks/<id>.summarize.lock   flock held while a session is summarized, so
//	                                   two processes never summarize the same range;
//	                                   names its last holder; never deleted
//
// See docs/summarize.md for the rules and docs/performance.md for figures.
package summarize
