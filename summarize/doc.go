// Package summarize keeps long conversations inside a model's context
// window without losing the thread: it counts tokens, decides when a
// session is due for a summary and which messages to fold into it, runs a
// Summarizer (extractive, openai or command), and builds the context to
// send to a model within a token budget.
//
// Everything here works on the active history as the workspace returns it
// ([]workspace.Record, oldest first, possibly beginning with a summary
// record). Summaries are new records: raw messages are never rewritten.
//
//	c, _ := summarize.NewTiktoken("")                 // o200k_base, offline tables
//	set := summarize.Settings{}.Merge(agentOverride)  // zero fields: defaults
//	if d := summarize.Due(history, set, c); d.Due {
//		req := summarize.BuildRequest(d.Plan, set)
//		res, err := summarize.Extractive{Counter: c}.Summarize(ctx, req)
//		// append {type: summary, through: d.Plan.Through, text: res.Text, by: res.By}
//	}
//	ctx, _ := summarize.BuildContext(history, summarize.Budget{MaxTokens: 8000}, c)
//	// ctx.Messages is OpenAI chat format; ctx.Tokens their total
//
// The package owns no files of its own on disk; the session glue takes the
// session's lock in <root>/locks/ so that two processes never summarize the
// same range twice. See docs/summarize.md.
package summarize
