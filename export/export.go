// Package export writes a session out as a document: Markdown for people,
// JSON or JSON Lines for programs. picosess export and the HTTP API's
// export route both write through it, so they give the same bytes.
//
//	err := export.Write(ctx, os.Stdout, s, export.Options{Format: export.Markdown})
//	err = export.Write(ctx, f, s, export.Options{Format: export.JSONL, All: true}) // streams any size
//
// It reads the session through the workspace package and writes nothing
// to disk.
package export

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
)

// Formats.
const (
	Markdown = "markdown"
	JSON     = "json"
	JSONL    = "jsonl"
)

// Formats lists the formats, in the order help texts give them.
var Formats = []string{Markdown, JSON, JSONL}

// Options choose what Write writes.
type Options struct {
	// Format is Markdown, JSON or JSONL; "" means Markdown.
	Format string
	// All exports every conversation of the file, past resets included,
	// instead of the active history.
	All bool
}

// ParseFormat checks a format name (case-insensitive; "md" is Markdown).
func ParseFormat(s string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(s))
	switch f {
	case "", "md":
		return Markdown, nil
	case Markdown, JSON, JSONL:
		return f, nil
	}
	return "", fmt.Errorf("format %q: want one of %s", s, strings.Join(Formats, ", "))
}

// ContentType is the media type of a format.
func ContentType(format string) string {
	switch format {
	case JSON:
		return "application/json"
	case JSONL:
		return "application/x-ndjson"
	}
	return "text/markdown; charset=utf-8"
}

// FileName is a download name for a session exported in format: the
// session's name, else its id, and the format's extension.
func FileName(m workspace.Meta, format string) string {
	base := m.ID
	if m.Name != "" {
		base = m.Name
	}
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, base)
	ext := map[string]string{Markdown: ".md", JSON: ".json", JSONL: ".jsonl"}[format]
	return base + ext
}

// Head is the first part of a JSON export.
type Head struct {
	ID     string           `json:"id"`
	Title  string           `json:"title"`
	Header workspace.Record `json:"header"`
}

// Active is the document of a JSON export of the active history.
type Active struct {
	Head
	Summary  *workspace.Record  `json:"summary"`
	Messages []workspace.Record `json:"messages"`
}

// All is the document of a JSON export of every conversation.
type All struct {
	Head
	Segments []workspace.Segment `json:"segments"`
}

// doc is what an export writes: Summary and Messages for the active
// history, Segments with All.
type doc struct {
	Head
	Summary  *workspace.Record
	Messages []workspace.Record
	Segments []workspace.Segment
}

// Write writes session s to out as o says. A JSON Lines export of every
// conversation streams the file's records as they are (any size, in
// constant memory); the others read what they export first.
func Write(ctx context.Context, out io.Writer, s *workspace.Session, o Options) error {
	format, err := ParseFormat(o.Format)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	if format == JSONL && o.All {
		for e, err := range s.Records(ctx, 0) {
			if err != nil {
				return err
			}
			if err := WriteRecordLine(bw, e.Record); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	header, err := s.Header(ctx)
	if err != nil {
		return err
	}
	m, err := s.Meta(ctx)
	if err != nil {
		return err
	}
	d := doc{Head: Head{ID: s.ID(), Title: m.Title, Header: header}}
	if o.All {
		if d.Segments, err = s.Segments(ctx); err != nil {
			return err
		}
	} else {
		h, err := s.History(ctx, 0)
		if err != nil {
			return err
		}
		d.Summary, d.Messages = h.Summary, h.Messages
		if d.Messages == nil {
			d.Messages = []workspace.Record{}
		}
	}
	switch format {
	case JSON:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		var v any = Active{d.Head, d.Summary, d.Messages}
		if o.All {
			v = All{d.Head, d.Segments}
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	case JSONL:
		recs := []workspace.Record{header}
		if d.Summary != nil {
			recs = append(recs, *d.Summary)
		}
		for _, r := range append(recs, d.Messages...) {
			if err := WriteRecordLine(bw, r); err != nil {
				return err
			}
		}
	case Markdown:
		writeMarkdown(bw, d, m)
	}
	return bw.Flush()
}

// WriteRecordLine writes r in its on-disk form and a newline.
func WriteRecordLine(w io.Writer, r workspace.Record) error {
	b, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode record %d: %w", r.Seq, err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func writeMarkdown(w io.Writer, d doc, m workspace.Meta) {
	title := d.Title
	if title == "" {
		title = d.ID
	}
	fmt.Fprintf(w, "# %s\n\n", strings.Join(strings.Fields(title), " "))
	fmt.Fprintf(w, "- session: `%s`\n", d.ID)
	switch {
	case m.Name != "":
		fmt.Fprintf(w, "- name: `%s`\n", m.Name)
	case m.Scope != nil:
		fmt.Fprintf(w, "- scope: `%s`\n", keying.Signature(*m.Scope))
	}
	fmt.Fprintf(w, "- created: %s, updated: %s\n", m.Created.UTC().Format(time.RFC3339), m.Updated.UTC().Format(time.RFC3339))
	if d.Segments != nil {
		fmt.Fprintf(w, "- %d conversation(s), %d message(s)\n", len(d.Segments), m.Messages)
		for _, g := range d.Segments {
			if g.Reset != nil {
				fmt.Fprintf(w, "\n---\n\n*Conversation %d: reset (%s) at %s*\n", g.Index+1, g.Reset.Reason, g.Reset.At.UTC().Format(time.RFC3339))
			}
			for _, r := range g.Records {
				writeMarkdownRecord(w, r)
			}
		}
		return
	}
	fmt.Fprintf(w, "- active history: %d message(s)\n", len(d.Messages))
	if d.Summary != nil {
		writeMarkdownRecord(w, *d.Summary)
	}
	for _, r := range d.Messages {
		writeMarkdownRecord(w, r)
	}
}

func writeMarkdownRecord(w io.Writer, r workspace.Record) {
	at := r.At.UTC().Format(time.RFC3339)
	switch r.Type {
	case workspace.TypeMessage:
		who := r.Role
		if r.Sender != "" {
			who += " · " + r.Sender
		}
		fmt.Fprintf(w, "\n## %s — %s (#%d)\n\n", who, at, r.Seq)
		if r.ToolCallID != "" {
			fmt.Fprintf(w, "Result of tool call `%s`:\n\n", r.ToolCallID)
		}
		if r.Content != "" {
			fmt.Fprintf(w, "%s\n", strings.TrimRight(r.Content, "\n"))
		}
		if len(r.ToolCalls) > 0 {
			fmt.Fprintf(w, "\nTool calls:\n\n```json\n%s\n```\n", r.ToolCalls)
		}
	case workspace.TypeSummary:
		fmt.Fprintf(w, "\n> **Summary of the conversation through #%d** (%s)\n>\n> %s\n", r.Through, at,
			strings.ReplaceAll(strings.TrimRight(r.Text, "\n"), "\n", "\n> "))
	default:
		fmt.Fprintf(w, "\n*#%-4d %s  %s*\n", r.Seq, r.At.UTC().Format("2006-01-02 15:04"), Describe(r))
	}
}

// Describe says in a few words what a record that is not a message is:
// "[title set to "x"]", "[reset: idle]", "[checkpoint "v1" saved through
// #12]".
func Describe(r workspace.Record) string {
	switch r.Type {
	case workspace.TypeSummary:
		return fmt.Sprintf("[summary of the history through #%d] %s", r.Through, r.Text)
	case workspace.TypeTitle:
		return fmt.Sprintf("[title set to %q]", r.Text)
	case workspace.TypeCheckpoint:
		return fmt.Sprintf("[checkpoint %q saved through #%d]", r.Name, r.Through)
	case workspace.TypeRestore:
		return fmt.Sprintf("[checkpoint #%d restored]", r.Checkpoint)
	case workspace.TypeCheckpointDelete:
		return fmt.Sprintf("[checkpoint #%d deleted]", r.Checkpoint)
	case workspace.TypeReset:
		return fmt.Sprintf("[reset: %s]", r.Reason)
	}
	return "[" + r.Type + "]"
}
