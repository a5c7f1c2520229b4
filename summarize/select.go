package summarize

import (
	"fmt"

	"github.com/picosess/picosess/workspace"
)

// Active is an active history split into the summary that stands in for
// older messages and the messages after it.
type Active struct {
	Summary  *workspace.Record  // the latest summary record, nil if none
	Messages []workspace.Record // message records after the summary, oldest first
}

// Split finds the latest summary in an active history (as the workspace
// returns it: oldest first, possibly beginning with a summary) and the
// messages it does not cover (seq > through). Records of other types
// (title, checkpoint...) are left out.
func Split(history []workspace.Record) Active {
	var a Active
	for i := range history {
		if history[i].Type == workspace.TypeSummary {
			a.Summary = &history[i]
		}
	}
	a.Messages = make([]workspace.Record, 0, len(history))
	for _, r := range history {
		if !isMessage(r) {
			continue
		}
		if a.Summary != nil && r.Seq <= a.Summary.Through {
			continue
		}
		a.Messages = append(a.Messages, r)
	}
	return a
}

// Plan is what one summarization would do: fold the previous summary and
// the messages Fold (seq From..Through) into a new summary, and keep Keep.
// An empty Fold means there is nothing to summarize (Why says why).
type Plan struct {
	Previous *workspace.Record
	Fold     []workspace.Record
	Keep     []workspace.Record
	From     int64
	Through  int64
	Why      string
	// Folded and Kept are how many messages the plan folds and keeps. A
	// Compactor's plan (the Decision of its Due, Maybe and Summarize) is
	// made from a streamed read and has these counts but not the records:
	// its Fold and Keep are nil. Select fills both.
	Folded, Kept int

	// folded maps the tool call ids whose latest call is among Fold to
	// that call's seq: a result for one of them appended later would pair
	// with a call the summary swallows (see stillHolds).
	folded map[string]int64
}

// Empty reports whether the plan summarizes nothing.
func (p Plan) Empty() bool { return p.Folded == 0 && len(p.Fold) == 0 }

// Select chooses what to summarize: every message after the last summary
// except at least the newest keep_recent, cut where a user turn starts and
// never between an assistant's tool call and its results. A history with
// no usable user-turn start (a cron session of tool turns, say) is cut at
// the latest message that is not a tool result and splits no tool pair.
func Select(history []workspace.Record, s Settings) Plan {
	return selectActive(Split(history), s)
}

// selectActive is Select over a history already split.
func selectActive(a Active, s Settings) Plan {
	s = s.WithDefaults()
	p := Plan{Previous: a.Summary, Keep: a.Messages, Kept: len(a.Messages)}
	keep := s.KeepRecent
	if keep < 0 { // Disabled: keep nothing back
		keep = 0
	}
	n := len(a.Messages)
	if n <= keep {
		p.Why = fmt.Sprintf("%d messages since the last summary, keep_recent is %d", n, keep)
		return p
	}
	crossing, lastCall := callPairs(a.Messages)
	cut := cutAt(n, keep, func(c int) string { return a.Messages[c].Role }, func(c int) bool { return crossing[c] })
	if cut <= 0 {
		p.Why = noCut
		return p
	}
	p.Fold = a.Messages[:cut]
	p.Keep = a.Messages[cut:]
	p.Folded, p.Kept = len(p.Fold), len(p.Keep)
	p.From = p.Fold[0].Seq
	p.Through = p.Fold[len(p.Fold)-1].Seq
	p.folded = map[string]int64{}
	for id, i := range lastCall {
		if i < cut {
			p.folded[id] = a.Messages[i].Seq
		}
	}
	return p
}

// noCut is Plan.Why when no cut qualifies.
const noCut = "no place to cut: every candidate splits a tool call from its result"

// cutAt is where Select cuts n messages (n > keep) keeping at least keep:
// the cut c keeps messages c.. and folds the others. role(c) is the role
// of message c, crossing(c) says whether cutting before it separates a
// tool call from one of its results. It returns 0 or less when no cut
// qualifies.
func cutAt(n, keep int, role func(c int) string, crossing func(c int) bool) int {
	// Cutting after the last message (c == n, only when keep_recent is
	// off) splits nothing.
	for c := n - keep; c > 0; c-- {
		if c == n || role(c) == workspace.RoleUser && !crossing(c) {
			return c
		}
	}
	for c := n - keep; c > 0; c-- {
		if role(c) != workspace.RoleTool && !crossing(c) {
			return c
		}
	}
	return -1
}

// pairCrossings marks, for each cut position c (0..len), whether cutting
// before msgs[c] would separate an assistant's tool call from one of its
// results (call before the cut, result at or after it).
func pairCrossings(msgs []workspace.Record) []bool {
	crossing, _ := callPairs(msgs)
	return crossing
}

// callPairs is pairCrossings, also giving the index of the latest call of
// each tool call id.
func callPairs(msgs []workspace.Record) (crossing []bool, lastCall map[string]int) {
	// diff[i+1]++ / diff[j+1]-- marks cuts c in (i, j] as crossing the pair
	// whose call is at i and whose result is at j. A result pairs with the
	// latest call of its id before it (some models reuse ids every turn).
	diff := make([]int, len(msgs)+2)
	callAt := map[string]int{}
	for j, m := range msgs {
		switch {
		case m.Role == workspace.RoleAssistant && !noCalls(m.ToolCalls):
			calls, err := ParseToolCalls(m.ToolCalls)
			if err != nil {
				continue
			}
			for _, c := range calls {
				callAt[c.ID] = j
			}
		case m.Role == workspace.RoleTool && m.ToolCallID != "":
			if i, ok := callAt[m.ToolCallID]; ok {
				diff[i+1]++
				diff[j+1]--
			}
		}
	}
	out := make([]bool, len(msgs)+1)
	run := 0
	for c := 0; c <= len(msgs); c++ {
		run += diff[c]
		out[c] = run > 0
	}
	return out, callAt
}

// Decision says whether a session is due for summarizing, and why.
type Decision struct {
	Due      bool   `json:"due"`
	Reason   string `json:"reason"`
	Messages int    `json:"messages"` // messages since the last summary
	Tokens   int    `json:"tokens"`   // tokens of the active history, summary included
	Plan     Plan   `json:"-"`        // what Select would fold now, due or not
}

// Due decides whether the active history should be summarized now: it has
// message_threshold messages since the last summary, or takes token_percent
// of context_window, or passes limits.max_messages or limits.max_tokens
// with limits.compaction "summarize" (with "trim", the default, a limit
// only bounds what is read) —
// and Select finds something to summarize (so a session whose only
// messages are the kept ones is never due, and summarizing cannot loop).
// Records without a stored token count are counted with c.
func Due(history []workspace.Record, s Settings, c Counter) Decision {
	return dueActive(Split(history), s, c)
}

// dueActive is Due over a history already split.
func dueActive(a Active, s Settings, c Counter) Decision {
	s = s.WithDefaults()
	d := Decision{Messages: len(a.Messages), Tokens: activeTokens(a, c), Plan: selectActive(a, s)}
	decide(&d, s)
	return d
}

// decide sets d's Due and Reason from its Messages, Tokens and Plan and
// the settings s (with their defaults).
func decide(d *Decision, s Settings) {
	switch {
	case on(s.MessageThreshold) && d.Messages >= s.MessageThreshold:
		d.Reason = fmt.Sprintf("%d messages since the last summary (message_threshold %d)", d.Messages, s.MessageThreshold)
	case on(s.TokenPercent) && on(s.ContextWindow) && d.Tokens*100 >= s.TokenPercent*s.ContextWindow:
		d.Reason = fmt.Sprintf("%d tokens is at least %d%% of the %d-token context window", d.Tokens, s.TokenPercent, s.ContextWindow)
	case s.Limits.Compaction == workspace.CompactionSummarize && on(s.Limits.MaxMessages) && d.Messages > s.Limits.MaxMessages:
		d.Reason = fmt.Sprintf("%d messages is over limits.max_messages %d", d.Messages, s.Limits.MaxMessages)
	case s.Limits.Compaction == workspace.CompactionSummarize && on(s.Limits.MaxTokens) && d.Tokens > s.Limits.MaxTokens:
		d.Reason = fmt.Sprintf("%d tokens is over limits.max_tokens %d", d.Tokens, s.Limits.MaxTokens)
	default:
		d.Reason = fmt.Sprintf("below thresholds: %d messages, %d tokens", d.Messages, d.Tokens)
		return
	}
	if d.Plan.Empty() {
		d.Reason += "; but nothing to summarize: " + d.Plan.Why
		return
	}
	d.Due = true
}

// activeTokens counts what the active history costs a model: the summary
// as a system message plus every message, plus the reply priming.
func activeTokens(a Active, c Counter) int {
	n := TokensReplyPrime
	if a.Summary != nil {
		n += RecordTokens(c, *a.Summary)
	}
	for _, m := range a.Messages {
		n += RecordTokens(c, m)
	}
	return n
}

// RecordTokens is the token count of a message or summary record as the
// context builder sends it: workspace.RecordTokens, the function the
// workspace stores counts with at append. A stored count is trusted.
func RecordTokens(c Counter, r workspace.Record) int { return workspace.RecordTokens(c, r) }

// recordMessage converts a message record to its chat form. Unparsable
// tool calls are dropped from the message and reported in err.
func recordMessage(r workspace.Record) (ChatMessage, error) {
	m := ChatMessage{Role: r.Role, Content: r.Content, ToolCallID: r.ToolCallID}
	if r.Role == workspace.RoleAssistant && !noCalls(r.ToolCalls) {
		calls, err := ParseToolCalls(r.ToolCalls)
		if err != nil {
			return m, fmt.Errorf("seq %d: %w", r.Seq, err)
		}
		m.ToolCalls = calls
	}
	if r.Role != workspace.RoleTool {
		m.ToolCallID = ""
	}
	return m, nil
}
