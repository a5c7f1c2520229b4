package summarize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/picosess/picosess/workspace"
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
const SummaryPrefix = "Summary of the earlier conversation:\n"

// SummaryMessage is the system message that stands in for summarized
// history.
func SummaryMessage(text string) ChatMessage {
	return ChatMessage{Role: workspace.RoleSystem, Content: SummaryPrefix + text}
}

// ParseToolCalls reads a record's tool_calls in any shape PicoClaw and our
// migrations write: [{id, type?, function:{name, arguments}}], where
// arguments is a JSON string or (older writers) an object, or the pre-2026-02
// shape with top-level name and arguments. A missing type is "function".
func ParseToolCalls(raw json.RawMessage) ([]ToolCall, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var items []struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		Function  *struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("tool_calls: %w", err)
	}
	calls := make([]ToolCall, 0, len(items))
	for i, it := range items {
		name, args := it.Name, it.Arguments
		if it.Function != nil {
			name, args = it.Function.Name, it.Function.Arguments
		}
		if it.ID == "" {
			return nil, fmt.Errorf("tool_calls[%d]: no id", i)
		}
		if name == "" {
			return nil, fmt.Errorf("tool_calls[%d] (%s): no function name", i, it.ID)
		}
		typ := it.Type
		if typ == "" {
			typ = "function"
		}
		calls = append(calls, ToolCall{ID: it.ID, Type: typ, Function: FunctionCall{Name: name, Arguments: argumentsText(args)}})
	}
	return calls, nil
}

// argumentsText turns arguments given as a JSON string into its text, and
// arguments given as an object into compact JSON text.
func argumentsText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "{}"
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// isThoughtOnly: an assistant message with no content, tool calls or media
// (reasoning only). PicoClaw keeps these out of the model context.
func isThoughtOnly(r workspace.Record) bool {
	return r.Role == workspace.RoleAssistant && strings.TrimSpace(r.Content) == "" && noCalls(r.ToolCalls) &&
		len(r.Media) == 0 && len(r.Attachments) == 0
}

func noCalls(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || string(raw) == "[]"
}

// isMessage reports whether r is a message record (records read from older
// writers may lack the type but carry a role).
func isMessage(r workspace.Record) bool {
	return r.Type == workspace.TypeMessage || (r.Type == "" && r.Role != "")
}
