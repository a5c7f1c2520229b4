package summarize

import (
	"encoding/json"
	"strings"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/tokens"
)

// ChatMessage is one message in OpenAI chat-completions format, as sent to
// a model.
type ChatMessage struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// ToolCall is one function call an assistant message asks for.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its arguments as JSON text.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// SummaryPrefix opens the system message that carries a summary.
const SummaryPrefix = tokens.SummaryPrefix

// SummaryMessage is the system message that stands in for summarized
// history.
func SummaryMessage(text string) ChatMessage {
	return ChatMessage{Role: workspace.RoleSystem, Content: SummaryPrefix + text}
}

// ParseToolCalls reads a record's tool_calls in any shape PicoClaw and our
// migrations write (see tokens.ParseCalls). A missing type is "function".
func ParseToolCalls(raw json.RawMessage) ([]ToolCall, error) {
	calls, err := tokens.ParseCalls(raw)
	if err != nil || calls == nil {
		return nil, err
	}
	out := make([]ToolCall, len(calls))
	for i, c := range calls {
		out[i] = ToolCall{ID: c.ID, Type: c.Type, Function: FunctionCall{Name: c.Name, Arguments: c.Arguments}}
	}
	return out, nil
}

// isThoughtOnly: an assistant message with no content, tool calls or media
// (reasoning only). PicoClaw keeps these out of the model context.
func isThoughtOnly(r workspace.Record) bool {
	return r.Role == workspace.RoleAssistant && strings.TrimSpace(r.Content) == "" && noCalls(r.ToolCalls) &&
		len(r.Media) == 0 && len(r.Attachments) == 0
}

func noCalls(raw json.RawMessage) bool { return tokens.NoCalls(raw) }

// isMessage reports whether r is a message record (records read from older
// writers may lack the type but carry a role).
func isMessage(r workspace.Record) bool {
	return r.Type == workspace.TypeMessage || (r.Type == "" && r.Role != "")
}
