package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrEncoding: an unknown counter or encoding.
var ErrEncoding = errors.New("tokens: unknown counter")

// Counter counts the tokens of a text. Implementations are safe for
// concurrent use.
type Counter interface {
	Count(text string) int
	// Name says which counter made a count ("tiktoken:o200k_base",
	// "estimate").
	Name() string
}

// Counter kinds, as config.json's summarize.counter spells them.
const (
	KindTiktoken = "tiktoken"
	KindEstimate = "estimate"
)

// New returns the counter kind names ("" is tiktoken) with encoding ("" is
// DefaultEncoding; ignored by the estimate).
func New(kind, encoding string) (Counter, error) {
	switch kind {
	case "", KindTiktoken:
		return NewTiktoken(encoding)
	case KindEstimate:
		return Estimate{}, nil
	}
	return nil, fmt.Errorf("%w %q (want %q or %q)", ErrEncoding, kind, KindTiktoken, KindEstimate)
}

// Per-message overhead of the chat format, the same for every counter, so
// that a count is the text's tokens plus a fixed frame (OpenAI's published
// accounting: every message costs 3 tokens besides its role and content,
// and a reply is primed with 3 more).
const (
	PerMessage  = 3
	PerToolCall = 3
	ReplyPrime  = 3
)

// SummaryPrefix opens the system message that carries a summary.
const SummaryPrefix = "Summary of the earlier conversation:\n"

// Message is what a model sees of one chat message.
type Message struct {
	Role       string
	Content    string
	Calls      []Call
	ToolCallID string
}

// Call is one tool call of an assistant message.
type Call struct {
	ID, Type, Name, Arguments string
}

// MessageTokens counts one chat message as a model sees it: frame, role,
// content, and each tool call's id, name and arguments, or the
// tool_call_id of a tool result.
func MessageTokens(c Counter, m Message) int {
	n := PerMessage + c.Count(m.Role) + c.Count(m.Content)
	for _, tc := range m.Calls {
		n += PerToolCall + c.Count(tc.ID) + c.Count(tc.Name) + c.Count(tc.Arguments)
	}
	if m.ToolCallID != "" {
		n += c.Count(m.ToolCallID)
	}
	return n
}

// ParseCalls reads a message's tool_calls in any shape PicoClaw and our
// migrations write: [{id, type?, function:{name, arguments}}], where
// arguments is a JSON string or (older writers) an object, or the pre-2026-02
// shape with top-level name and arguments. A missing type is "function".
func ParseCalls(raw json.RawMessage) ([]Call, error) {
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
	calls := make([]Call, 0, len(items))
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
		calls = append(calls, Call{ID: it.ID, Type: typ, Name: name, Arguments: argumentsText(args)})
	}
	return calls, nil
}

// NoCalls reports whether raw tool_calls hold no call.
func NoCalls(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null" || string(raw) == "[]"
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

// Estimate is a cheap counter for when exactness matters less than speed:
// about one token per 5 bytes of a word, one per two punctuation marks in a
// run, and one per CJK character, never less than one per word. It is usually within
// 25% of o200k_base on English prose and code.
type Estimate struct{}

// Count estimates the number of tokens of text.
func (Estimate) Count(text string) int {
	n := 0
	word := 0  // bytes in the current run of letters and digits
	punct := 0 // marks in the current run of punctuation
	flush := func() {
		n += (word+4)/5 + (punct+1)/2
		word, punct = 0, 0
	}
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'):
			if punct > 0 {
				flush()
			}
			word++
		case r == ' ' || r == '\n' || r == '\t' || r == '\r':
			flush()
		case r >= 0x2E80 && (unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
			unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)):
			flush()
			n++
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if punct > 0 {
				flush()
			}
			word += size
		default:
			if word > 0 {
				flush()
			}
			punct++
		}
	}
	flush()
	return n
}

// Name is "estimate".
func (Estimate) Name() string { return KindEstimate }
