package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// collected is an export of the active history with every message held,
// as Write made it before it streamed: the bytes a streamed export must
// give.
func collected(t *testing.T, s *workspace.Session, format string, meta bool) []byte {
	t.Helper()
	ctx := context.Background()
	header, _ := s.Header(ctx)
	m, _ := s.Meta(ctx)
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := doc{Head: Head{ID: s.ID(), Title: m.Title, Header: header}, Summary: h.Summary, Messages: h.Messages}
	if d.Messages == nil {
		d.Messages = []workspace.Record{}
	}
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	switch format {
	case JSON:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(Active{d.Head, d.Summary, d.Messages})
	case JSONL:
		recs := []workspace.Record{header}
		if d.Summary != nil {
			recs = append(recs, *d.Summary)
		}
		for _, r := range append(recs, d.Messages...) {
			WriteRecordLine(bw, r)
		}
	case Markdown:
		writeMarkdown(bw, d, m, meta)
	case Text:
		writeText(bw, d, m, meta)
	}
	bw.Flush()
	return b.Bytes()
}

// A streamed export of the active history is byte for byte the export of
// the same history held whole, in every format, with and without
// metadata, for an empty history, one with a summary, and one with tool
// calls, HTML characters, control characters and wide text.
func TestStreamedExportIsCollected(t *testing.T) {
	ctx := context.Background()
	w, err := workspace.Open(t.TempDir(), &workspace.Options{NoConfig: true, Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: "streamed"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string) {
		t.Helper()
		for _, format := range []string{JSON, JSONL, Markdown, Text} {
			for _, meta := range []bool{true, false} {
				if !meta && (format == JSON || format == JSONL) {
					continue
				}
				want := collected(t, s, format, meta)
				var got bytes.Buffer
				if err := Write(ctx, &got, s, Options{Format: format, NoMetadata: !meta}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("%s, %s (meta %v):\nstreamed\n%s\nheld\n%s", step, format, meta, got.Bytes(), want)
				}
			}
		}
	}
	check("no messages")
	msg := func(role, content string) workspace.Record {
		return workspace.Record{Type: workspace.TypeMessage, Role: role, Content: content}
	}
	if _, err := s.Append(ctx, msg(workspace.RoleUser, "a <b> & \"c\" \x1b[2J 日本語"), msg(workspace.RoleAssistant, "# heading\nline")); err != nil {
		t.Fatal(err)
	}
	check("two messages")
	if _, err := s.SetSummary(ctx, "the summary <of> it", "test"); err != nil {
		t.Fatal(err)
	}
	check("a summary and no message after it")
	_, err = s.Append(ctx, msg(workspace.RoleUser, "after"), workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant,
		ToolCalls: json.RawMessage(`[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"x\":\"<y>\"}"}}]`)})
	if err != nil {
		t.Fatal(err)
	}
	check("messages after the summary")
}
