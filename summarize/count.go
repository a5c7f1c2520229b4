package summarize

import (
	"fmt"

	"github.com/picosess/picosess/workspace/tokens"
)

// Counter counts the tokens of a text (package tokens, which the workspace
// counts with too). Implementations are safe for concurrent use.
type Counter = tokens.Counter

// Per-message overhead of the chat format, the same for every counter
// (package tokens).
const (
	TokensPerMessage  = tokens.PerMessage
	TokensPerToolCall = tokens.PerToolCall
	TokensReplyPrime  = tokens.ReplyPrime
)

// MessageTokens counts one chat message as a model sees it: frame, role,
// content, and each tool call's id, name and arguments, or the
// tool_call_id of a tool result.
func MessageTokens(c Counter, m ChatMessage) int {
	tm := tokens.Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
	for _, tc := range m.ToolCalls {
		tm.Calls = append(tm.Calls, tokens.Call{ID: tc.ID, Type: tc.Type, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	return tokens.MessageTokens(c, tm)
}

// NewCounter returns the counter that settings name: tiktoken with
// s.Encoding (o200k_base by default) or the estimate.
func NewCounter(s Settings) (Counter, error) {
	s = s.WithDefaults()
	c, err := tokens.New(s.Counter, s.Encoding)
	if err != nil {
		return nil, fmt.Errorf("%w: summarize.counter %q, encoding %q: %w", ErrSettings, s.Counter, s.Encoding, err)
	}
	return c, nil
}

// Tiktoken counts with an OpenAI BPE encoding, offline (package tokens).
type Tiktoken = tokens.Tiktoken

// NewTiktoken builds a counter for the named encoding ("" means
// o200k_base); see tokens.NewTiktoken.
func NewTiktoken(encoding string) (*Tiktoken, error) {
	t, err := tokens.NewTiktoken(encoding)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSettings, err)
	}
	return t, nil
}

// Estimate is a cheap counter for when exactness matters less than speed
// (package tokens).
type Estimate = tokens.Estimate
