package policy

import "github.com/picosess/picosess/workspace/config"

// Limits are the history limits that apply to one agent's sessions, each
// with where it came from.
type Limits struct {
	// MaxMessages and MaxTokens bound the active history an assistant
	// reads (context, Session.Active); 0 means no limit.
	MaxMessages Setting[int] `json:"max_messages"`
	MaxTokens   Setting[int] `json:"max_tokens"`
	// Compaction is what crossing a limit does: "trim" leaves the oldest
	// messages out of what is read, "summarize" summarizes first.
	Compaction Setting[string] `json:"compaction"`
}

// ResolveLimits computes the limits of an agent's sessions: the defaults
// (none, trim), then the workspace's limits block (where OpenClaw's
// session.maxMessages and maxTokens land), agents.defaults.limits and the
// agent's agents.list[] entry, each laid over the one before. A value of
// -1 switches a limit inherited from below off. cfg may be nil.
func ResolveLimits(cfg *config.File, agent string) Limits {
	l := Limits{
		MaxMessages: Setting[int]{From: "default"},
		MaxTokens:   Setting[int]{From: "default"},
		Compaction:  Setting[string]{Value: config.CompactionTrim, From: "default"},
	}
	if cfg == nil {
		return l
	}
	for _, lv := range agentLevels(cfg, agent) {
		if v := lv.a.Limits.MaxMessages; v != 0 {
			l.MaxMessages = Setting[int]{max(v, 0), lv.at("limits.max_messages")}
		}
		if v := lv.a.Limits.MaxTokens; v != 0 {
			l.MaxTokens = Setting[int]{max(v, 0), lv.at("limits.max_tokens")}
		}
		if v := lv.a.Limits.Compaction; v != "" {
			l.Compaction = Setting[string]{v, lv.at("limits.compaction")}
		}
	}
	return l
}

// On reports whether any limit is set.
func (l Limits) On() bool { return l.MaxMessages.Value > 0 || l.MaxTokens.Value > 0 }

// Summarize reports whether crossing a limit summarizes rather than trims.
func (l Limits) Summarize() bool { return l.Compaction.Value == config.CompactionSummarize }
