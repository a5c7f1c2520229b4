package workspace

import (
	"context"

	"github.com/picosess/picosess/workspace/config"
	"github.com/picosess/picosess/workspace/policy"
)

// Compaction values of limits.compaction: what crossing a history limit does.
const (
	CompactionTrim      = config.CompactionTrim
	CompactionSummarize = config.CompactionSummarize
)

// Within returns h with history limits applied: the oldest messages are
// left out until at most maxMessages remain and their tokens, with the
// summary's, are at most maxTokens (0 means no limit). What is kept is one
// contiguous tail. An assistant message with tool calls and the tool
// results that follow it are kept or left out together, so a call is
// never cut from its result; results whose call is already left out go
// too. The newest such group is always kept, even when it alone is over a
// limit, so that a model is never sent nothing. Trimmed and TrimmedTokens
// count what was left out of the messages h holds (when h.More, older
// ones exist and are left out as well). Nothing is read or written.
func (h History) Within(maxMessages, maxTokens int) History {
	if maxMessages <= 0 && maxTokens <= 0 {
		return h
	}
	budget := maxTokens
	if budget > 0 && h.Summary != nil {
		budget = max(budget-h.Summary.Tokens, 0)
	}
	msgs, tokens := 0, 0
	keep := len(h.Messages) // index of the oldest message kept
	for keep > 0 {
		start := groupStart(h.Messages, keep-1)
		n, t := keep-start, 0
		for _, m := range h.Messages[start:keep] {
			t += m.Tokens
		}
		fits := (maxMessages <= 0 || msgs+n <= maxMessages) && (maxTokens <= 0 || tokens+t <= budget)
		if !fits && keep < len(h.Messages) {
			break
		}
		msgs, tokens, keep = msgs+n, tokens+t, start
	}
	if keep > 0 || h.More {
		// Results at the start of what is kept answer a call that was
		// left out above, or that was not read (More): they go too.
		for keep < len(h.Messages)-1 && isToolResult(h.Messages[keep]) {
			keep++
		}
	}
	for _, m := range h.Messages[:keep] {
		h.Trimmed++
		h.TrimmedTokens += m.Tokens
	}
	h.Messages = h.Messages[keep:]
	return h
}

// groupStart is the index of the first message of the group that ends at
// msgs[i]: an assistant message with tool calls followed by its tool
// results is one group; any other message is a group of its own.
func groupStart(msgs []Record, i int) int {
	j := i
	for j >= 0 && isToolResult(msgs[j]) {
		j--
	}
	if j >= 0 && j < i && msgs[j].Role == RoleAssistant && len(msgs[j].ToolCalls) > 0 {
		return j
	}
	if j < i {
		return j + 1 // results without their call: a group of their own
	}
	return i
}

func isToolResult(m Record) bool { return m.Role == RoleTool }

// Limits are the history limits of the session's agent (limits.max_messages,
// limits.max_tokens, limits.compaction), each with where it came from.
func (s *Session) Limits(ctx context.Context) policy.Limits {
	t, _ := s.policyTarget(ctx)
	return policy.ResolveLimits(s.w.opts.Config, t.Agent)
}

// Active is the active history as an assistant should read it: History
// with the session's limits applied (Within). Nothing is deleted: what the
// limits leave out stays in the file, in search and in exports. With
// limits.compaction "summarize", summarize.Compactor.Context summarizes
// instead of trimming; Active itself always trims.
func (s *Session) Active(ctx context.Context) (History, error) {
	l := s.Limits(ctx)
	read := 0
	if l.MaxMessages.Value > 0 && l.MaxTokens.Value <= 0 {
		// One more than the limit tells whether older messages exist.
		read = l.MaxMessages.Value + 1
	}
	h, err := s.History(ctx, read)
	if err != nil {
		return History{}, err
	}
	return h.Within(l.MaxMessages.Value, l.MaxTokens.Value), nil
}
