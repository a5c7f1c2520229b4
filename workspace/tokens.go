package workspace

import (
	"github.com/picosess/picosess/workspace/tokens"
)

// RecordTokens is the token count of a message or summary record as a
// model sees it (the chat frame, role, content, tool calls or the tool
// call id; a summary as the system message that carries it). A stored
// count (Record.Tokens) is trusted. summarize's context builder counts
// with this same function, so the count stored at append is the one the
// builder would make.
func RecordTokens(c tokens.Counter, r Record) int {
	if r.Tokens > 0 {
		return r.Tokens
	}
	if r.Type == TypeSummary {
		return tokens.MessageTokens(c, tokens.Message{Role: RoleSystem, Content: tokens.SummaryPrefix + r.Text})
	}
	m := tokens.Message{Role: r.Role, Content: r.Content}
	if r.Role == RoleAssistant && !tokens.NoCalls(r.ToolCalls) {
		if calls, err := tokens.ParseCalls(r.ToolCalls); err == nil {
			m.Calls = calls // unreadable calls are left out, as the builder does
		}
	}
	if r.Role == RoleTool {
		m.ToolCallID = r.ToolCallID
	}
	return tokens.MessageTokens(c, m)
}

// TokenCounter adapts a counter to Options.CountTokens: the tokens of
// message and summary records (RecordTokens, ignoring a count already
// set), 0 for other records.
func TokenCounter(c tokens.Counter) func(Record) int {
	return func(r Record) int {
		if r.Type != TypeMessage && r.Type != TypeSummary {
			return 0
		}
		r.Tokens = 0
		return RecordTokens(c, r)
	}
}

// defaultCounter is the counter the config's summarize block names
// (tiktoken o200k_base unless it says otherwise), built on first use; an
// unusable setting (already refused when the config was read) falls back
// to the estimate with a warning.
func (w *Workspace) defaultCounter() tokens.Counter {
	w.counterOnce.Do(func() {
		s := w.opts.Config.Defaults().Summarize
		c, err := tokens.New(s.Counter, s.Encoding)
		if err != nil {
			w.log.Warn("token counter unusable; counting with the estimate", "err", err)
			c = tokens.Estimate{}
		}
		w.counter = c
	})
	return w.counter
}
