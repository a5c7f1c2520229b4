package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/picosess/picosess/workspace"
)

// Summarizer folds a previous summary and a run of messages into a new
// summary. Implementations must honour ctx and must not return an empty
// text without an error.
type Summarizer interface {
	Summarize(ctx context.Context, req Request) (Result, error)
}

// Request is what a summarizer is given. It is also, as JSON, what the
// command summarizer reads on stdin.
type Request struct {
	// Previous is the text of the summary being folded in ("" if none).
	Previous string `json:"previous"`
	// Messages are the messages to fold, condensed: tool calls as
	// name(short args), tool results truncated, oversized messages trimmed
	// with a note.
	Messages []Input `json:"messages"`
	// TargetTokens is the size the summary should not exceed.
	TargetTokens int `json:"target_tokens"`
	// From and Through are the seq range the summary will cover.
	From    int64 `json:"from_seq"`
	Through int64 `json:"through_seq"`
}

// Input is one condensed message.
type Input struct {
	Seq  int64  `json:"seq"`
	Role string `json:"role"`
	Text string `json:"text"`
	// Tool is the tool name for tool calls and results.
	Tool string `json:"tool,omitempty"`
	// Trimmed is how many characters were cut from the original.
	Trimmed int `json:"trimmed,omitempty"`
}

// Result is a summary.
type Result struct {
	Text string `json:"text"`
	By   string `json:"by"` // "extractive", "openai:<model>", "command:<program>"
}

// ErrEmptySummary: a summarizer produced no text.
var ErrEmptySummary = errors.New("summarize: summarizer returned an empty summary")

// BuildRequest condenses a plan into the request given to a summarizer.
// Every folded message appears except thought-only ones (reasoning with no
// content, calls or media, which PicoClaw keeps out of contexts too); tool
// calls become
// "called name(args)" with args cut to max_tool_args_chars; tool results
// are cut to max_tool_result_chars; any text longer than max_message_chars
// is trimmed, keeping its head and tail, with a note saying how much was cut.
func BuildRequest(p Plan, s Settings) Request {
	s = s.WithDefaults()
	req := Request{TargetTokens: s.SummaryTokens, From: p.From, Through: p.Through, Messages: []Input{}}
	if p.Previous != nil {
		req.Previous = p.Previous.Text
	}
	names := map[string]string{} // tool call id -> function name
	for _, r := range p.Fold {
		if in, ok := condense(r, s, names); ok {
			req.Messages = append(req.Messages, in)
		}
	}
	return req
}

// condense is one folded message as BuildRequest gives it to a summarizer
// (s with its defaults); ok is false for a thought-only message, which is
// left out. names maps the tool call ids seen so far to their function
// names: an assistant's calls are added to it, a tool result is named
// from it (nil: no calls are recorded; a result is named "tool").
func condense(r workspace.Record, s Settings, names map[string]string) (in Input, ok bool) {
	if isThoughtOnly(r) {
		return Input{}, false
	}
	in = Input{Seq: r.Seq, Role: r.Role}
	var parts []string
	if r.Content != "" {
		parts = append(parts, r.Content)
	}
	if n := len(r.Media); n > 0 || len(r.Attachments) > 0 {
		// Media bytes are not given to a summarizer; that there were
		// some is part of the conversation.
		parts = append(parts, fmt.Sprintf("[%s sent %d media item(s)%s]", r.Role, n, attachmentNote(r.Attachments)))
	}
	switch r.Role {
	case workspace.RoleAssistant:
		if !noCalls(r.ToolCalls) {
			calls, err := ParseToolCalls(r.ToolCalls)
			if err != nil {
				parts = append(parts, "[tool calls unreadable: "+shorten(err.Error(), 80)+"]")
			}
			var tools []string
			for _, c := range calls {
				if names != nil {
					names[c.ID] = c.Function.Name
				}
				tools = append(tools, c.Function.Name)
				parts = append(parts, fmt.Sprintf("called %s(%s)", c.Function.Name, shorten(oneLine(c.Function.Arguments), s.MaxToolArgsChars)))
			}
			in.Tool = strings.Join(tools, ",")
		}
	case workspace.RoleTool:
		in.Tool = names[r.ToolCallID]
		if in.Tool == "" {
			in.Tool = "tool"
		}
		body, cut := trimMiddle(r.Content, s.MaxToolResultChars)
		in.Trimmed = cut
		in.Text = in.Tool + " returned: " + body
		return in, true
	}
	text := strings.Join(parts, "\n")
	in.Text, in.Trimmed = trimMiddle(text, s.MaxMessageChars)
	return in, true
}

// trimMiddle keeps the head and tail of an over-long text and says, in the
// text, how many characters were cut from between them.
func trimMiddle(text string, max int) (string, int) {
	n := utf8.RuneCountInString(text)
	if max <= 0 || n <= max {
		return text, 0
	}
	r := []rune(text)
	head := max * 2 / 3
	tail := max - head
	cut := n - head - tail
	return fmt.Sprintf("%s […%d characters trimmed…] %s", string(r[:head]), cut, string(r[n-tail:])), cut
}

// shorten cuts text to max characters, marking the cut with "…".
func shorten(text string, max int) string {
	if utf8.RuneCountInString(text) <= max {
		return text
	}
	r := []rune(text)
	return string(r[:max]) + "…"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// attachmentNote names the attachments' files, if any can be read.
func attachmentNote(raw json.RawMessage) string {
	var atts []struct {
		Filename string `json:"filename"`
		Type     string `json:"type"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &atts) != nil || len(atts) == 0 {
		return ""
	}
	var names []string
	for _, a := range atts {
		switch {
		case a.Filename != "":
			names = append(names, a.Filename)
		case a.Type != "":
			names = append(names, a.Type)
		}
	}
	return fmt.Sprintf(" and %d attachment(s) %s", len(atts), strings.Join(names, ", "))
}
