package export

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

func TestResultOf(t *testing.T) {
	for _, tt := range []struct {
		r        workspace.Record
		text, md string
	}{
		{workspace.Record{ToolCallID: "call_1", ToolName: "read_file"}, "result of read_file (call_1)", "Result of `read_file` (tool call `call_1`):"},
		{workspace.Record{ToolCallID: "call_1", ToolName: "read_file", IsError: true}, "result of read_file (call_1), failed", "Result of `read_file` (tool call `call_1`), which failed:"},
		{workspace.Record{ToolName: "exec"}, "result of exec", "Result of `exec`:"},
		{workspace.Record{ToolCallID: "call_1"}, "result of call_1", "Result of tool call `call_1`:"},
		{workspace.Record{IsError: true}, "tool result, failed", "Tool result, which failed:"},
		{workspace.Record{ToolName: "a\nb\x1b"}, `result of a b\x1b`, "Result of `a b\\x1b`:"},
		{workspace.Record{}, "", ""},
	} {
		if got := ResultOf(tt.r); got != tt.text {
			t.Errorf("ResultOf(%+v) = %q, want %q", tt.r, got, tt.text)
		}
		if got := markdownResultOf(tt.r); got != tt.md {
			t.Errorf("markdownResultOf(%+v) = %q, want %q", tt.r, got, tt.md)
		}
	}
}

// The Markdown and text exports name a tool result's tool and say when it
// failed.
func TestExportShowsToolNameAndError(t *testing.T) {
	w, err := workspace.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: "tools"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if _, err := s.Append(ctx,
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant, At: at, ToolCalls: []byte(`[{"id":"call_1","type":"function","function":{"name":"read_file","arguments":"{}"}}]`)},
		workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleTool, At: at, ToolCallID: "call_1", ToolName: "read_file", IsError: true, Content: "ENOENT"},
	); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		f    string
		want string
	}{
		{Markdown, "Result of `read_file` (tool call `call_1`), which failed:"},
		{Text, "tool · result of read_file (call_1), failed"},
		{JSONL, `"tool_name":"read_file","is_error":true`},
	} {
		var b bytes.Buffer
		if err := Write(ctx, &b, s, Options{Format: tt.f}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s export lacks %q:\n%s", tt.f, tt.want, b.String())
		}
	}
}
