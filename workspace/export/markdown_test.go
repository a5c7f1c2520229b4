package export

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

func TestMarkdownText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain\ntext", "plain\ntext"},
		{"# not a heading\n## nor this\n####### seven is text", "\\# not a heading\n\\## nor this\n####### seven is text"},
		{"   # indented up to 3", "   \\# indented up to 3"},
		{"    # 4 spaces is code", "    # 4 spaces is code"},
		{"#hashtag stays", "#hashtag stays"},
		{"#", "\\#"},
		{"Title\n=====\nSub\n---", "Title\n\\=====\nSub\n\\---"},
		{"a\n-", "a\n\\-"},
		{"```go\n# comment in code\n```\n# after", "```go\n# comment in code\n```\n\\# after"},
		{"~~~\n# in tilde fence\n~~~~\n# out", "~~~\n# in tilde fence\n~~~~\n\\# out"},
		{"````\n```\n# still code\n````", "````\n```\n# still code\n````"},
		{"```py\nunclosed\n# code", "```py\nunclosed\n# code\n```"},
		{"esc \x1b[2J here", `esc \x1b[2J here`},
	} {
		if got := markdownText(tt.in); got != tt.want {
			t.Errorf("markdownText(%q) =\n%q, want\n%q", tt.in, got, tt.want)
		}
	}
}

func TestFenced(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"ok":true}`, "```\n{\"ok\":true}\n```\n"},
		{"has ``` inside", "````\nhas ``` inside\n````\n"},
		{"``````six", "```````\n``````six\n```````\n"},
		{"ctl \x07\n", "```\nctl \\x07\n```\n"},
	} {
		if got := fenced(tt.in, ""); got != tt.want {
			t.Errorf("fenced(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := codeSpan("a`b"); got != "``a`b``" {
		t.Errorf("codeSpan: %q", got)
	}
	if got := codeSpan("`x"); got != "`` `x ``" {
		t.Errorf("codeSpan: %q", got)
	}
}

// seed makes a session with a user message that looks like Markdown
// headings, a tool call, a tool result holding a fence and a heading, and
// an answer with an ESC sequence.
func seed(t *testing.T) *workspace.Session {
	t.Helper()
	w, err := workspace.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: "md"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	recs := []workspace.Record{
		{Type: workspace.TypeMessage, Role: workspace.RoleUser, Sender: "alice", At: at, Content: "# Shopping\nmilk\n===\n```\n# kept in code\n```"},
		{Type: workspace.TypeMessage, Role: workspace.RoleAssistant, At: at.Add(time.Second),
			ToolCalls: json.RawMessage(`[{"id":"call_1","type":"function","function":{"name":"read","arguments":"{\"q\":\"` + "```" + `\"}"}}]`)},
		{Type: workspace.TypeMessage, Role: workspace.RoleTool, ToolCallID: "call_1", At: at.Add(2 * time.Second), Content: "## Result\n```\nnot the end\n```\n<b>html</b>"},
		{Type: workspace.TypeMessage, Role: workspace.RoleAssistant, At: at.Add(3 * time.Second), Content: "done \x1b]0;pwned\x07\x1b[2J"},
	}
	if _, err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTitle(ctx, "List # one"); err != nil {
		t.Fatal(err)
	}
	return s
}

func export(t *testing.T, s *workspace.Session, o Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(context.Background(), &b, s, o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMarkdownExport(t *testing.T) {
	s := seed(t)
	md := export(t, s, Options{Format: Markdown})
	// One heading per message and the title: nothing in the content
	// makes another.
	var headings []string
	inFence := ""
	for _, line := range strings.Split(md, "\n") {
		if inFence != "" {
			if line == inFence {
				inFence = ""
			}
			continue
		}
		if f := fenceOpening(line); f != "" {
			inFence = f
			continue
		}
		if isATXHeading(line) {
			headings = append(headings, line)
		}
	}
	if len(headings) != 5 || inFence != "" {
		t.Fatalf("headings %q (open fence %q) in\n%s", headings, inFence, md)
	}
	for _, want := range []string{
		"# List \\# one\n",
		"\\# Shopping\nmilk\n\\===\n```\n# kept in code\n```\n",
		"Result of tool call `call_1`:\n\n````\n## Result\n```\nnot the end\n```\n<b>html</b>\n````\n",
		"Tool calls:\n\n````json\n",
		`done \x1b]0;pwned\x07\x1b[2J`,
		"## user · alice — 2026-03-01T09:00:00Z (#2)",
		"- session: `" + s.ID() + "`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.ContainsRune(md, 0x1b) || strings.ContainsRune(md, 0x07) {
		t.Errorf("raw control characters in markdown:\n%q", md)
	}

	bare := export(t, s, Options{Format: Markdown, NoMetadata: true, All: true})
	for _, not := range []string{s.ID(), "2026-03-01", "(#", "title set"} {
		if strings.Contains(bare, not) {
			t.Errorf("--no-metadata markdown has %q:\n%s", not, bare)
		}
	}
	if !strings.Contains(bare, "## user · alice\n") || !strings.Contains(bare, "\\# Shopping") {
		t.Errorf("--no-metadata markdown:\n%s", bare)
	}
}

func TestTextExport(t *testing.T) {
	s := seed(t)
	txt := export(t, s, Options{Format: Text})
	for _, want := range []string{
		"List # one\nsession  " + s.ID() + "\nname     md\n",
		"\nuser (alice) · 2026-03-01 09:00 UTC · #2\n# Shopping\nmilk\n===\n",
		"→ tool call call_1: read({\"q\":\"```\"})\n",
		"\ntool · result of call_1 · 2026-03-01 09:00 UTC · #4\n## Result\n",
		`done \x1b]0;pwned\x07\x1b[2J`,
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	bare := export(t, s, Options{Format: Text, NoMetadata: true})
	if want := "List # one\n\nuser (alice)\n# Shopping\nmilk\n===\n```\n# kept in code\n```\n\nassistant\n→ tool call call_1"; !strings.HasPrefix(bare, want) {
		t.Errorf("text --no-metadata:\n%s\nwant a start of\n%s", bare, want)
	}
	if strings.Contains(bare, s.ID()) || strings.Contains(bare, "#2") || strings.ContainsRune(bare, 0x1b) {
		t.Errorf("text --no-metadata:\n%s", bare)
	}
	var b bytes.Buffer
	if err := Write(context.Background(), &b, s, Options{Format: JSON, NoMetadata: true}); err != ErrMetadata {
		t.Errorf("json with NoMetadata: %v", err)
	}
	if f, err := ParseFormat("TXT"); err != nil || f != Text || ContentType(f) != "text/plain; charset=utf-8" {
		t.Errorf("ParseFormat(TXT) = %q %v", f, err)
	}
}
