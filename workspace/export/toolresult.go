package export

import (
	"fmt"

	"github.com/picosess/picosess/workspace"
)

// ResultOf says, on one line, what a tool result answers: "result of
// read_file (call_1)", "result of read_file", "result of call_1", with
// ", failed" when the tool reported an error. It is "" for a message that
// names neither a tool nor a call. show and the text export print it; the
// values are escaped and flattened to one line.
func ResultOf(r workspace.Record) string {
	name, id := flat(r.ToolName), flat(r.ToolCallID)
	var s string
	switch {
	case name != "" && id != "":
		s = "result of " + name + " (" + id + ")"
	case name != "":
		s = "result of " + name
	case id != "":
		s = "result of " + id
	case r.IsError:
		s = "tool result"
	default:
		return ""
	}
	if r.IsError {
		s += ", failed"
	}
	return s
}

// markdownResultOf is the line above a fenced tool result in Markdown:
// "Result of `read_file` (tool call `call_1`):", "…, which failed:".
func markdownResultOf(r workspace.Record) string {
	var s string
	switch name, id := flat(r.ToolName), flat(r.ToolCallID); {
	case name != "" && id != "":
		s = fmt.Sprintf("Result of %s (tool call %s)", codeSpan(name), codeSpan(id))
	case name != "":
		s = "Result of " + codeSpan(name)
	case id != "":
		s = "Result of tool call " + codeSpan(id)
	case r.IsError:
		s = "Tool result"
	default:
		return ""
	}
	if r.IsError {
		s += ", which failed"
	}
	return s + ":"
}
