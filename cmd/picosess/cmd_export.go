package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// exportOptions are the flags of export.
type exportOptions struct {
	format string
	all    bool
}

var exportFormats = []string{"markdown", "json", "jsonl"}

// exportDoc is what an export writes: Summary and Messages for the active
// history, Segments with --all.
type exportDoc struct {
	ID       string
	Title    string
	Header   workspace.Record
	Summary  *workspace.Record
	Messages []workspace.Record
	Segments []workspace.Segment
}

// exportHead, exportActive and exportAll are the document of export
// --format json (docs/cli.md), without and with --all.
type exportHead struct {
	ID     string           `json:"id"`
	Title  string           `json:"title"`
	Header workspace.Record `json:"header"`
}

type exportActive struct {
	exportHead
	Summary  *workspace.Record  `json:"summary"`
	Messages []workspace.Record `json:"messages"`
}

type exportAll struct {
	exportHead
	Segments []workspace.Segment `json:"segments"`
}

func newExportCmd(a *app) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export SESSION [--format markdown|json|jsonl] [--all]",
		Short: "Write a session out as Markdown, JSON or JSON Lines",
		Long: `Write a session to standard output.

By default the active history is exported (the summary standing in for the
messages it covers, then the messages since the last reset); --all exports
every conversation of the file, past resets included.

  markdown  a document for people: a heading per message, tool calls as JSON
  json      one object: id, title, header, then summary and messages, or
            segments with --all (records as stored on disk)
  jsonl     records as stored, one per line, the header first; with --all the
            file's records exactly as they are (streamed, any size), which a
            workspace reads back as a session file

The global --json flag has no effect here: --format chooses.

EXAMPLES
  picosess export my-project > my-project.md
  picosess export sk_v1_67fe19a8ec8f --format jsonl --all | jq -c 'select(.type=="message")'

EXIT STATUS
  0 exported; 1 bad flags or --format, unknown or ambiguous SESSION;
  10 not a workspace; 130 interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runExport(cmd, &o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.format, "format", "markdown", "markdown, json or jsonl")
	cmd.Flags().BoolVar(&o.all, "all", false, "every conversation, past resets included")
	return cmd
}

func (a *app) runExport(cmd *cobra.Command, o *exportOptions, ref string) error {
	ctx := cmd.Context()
	format := strings.ToLower(o.format)
	switch format {
	case "md":
		format = "markdown"
	case "markdown", "json", "jsonl":
	default:
		return usageErrorf("--format %q: want one of %s", o.format, strings.Join(exportFormats, ", "))
	}
	s, closeWS, err := a.openSession(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	bw := bufio.NewWriter(a.stdout)
	if format == "jsonl" && o.all {
		// Stream: a session of any size goes out in constant memory.
		for e, err := range s.Records(ctx, 0) {
			if err != nil {
				return err
			}
			if err := writeRecordLine(bw, e.Record); err != nil {
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
	doc := exportDoc{ID: s.ID(), Title: m.Title, Header: header}
	if o.all {
		if doc.Segments, err = s.Segments(ctx); err != nil {
			return err
		}
	} else {
		h, err := s.History(ctx, 0)
		if err != nil {
			return err
		}
		doc.Summary, doc.Messages = h.Summary, h.Messages
		if doc.Messages == nil {
			doc.Messages = []workspace.Record{}
		}
	}
	switch format {
	case "json":
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		var v any = exportActive{exportHead{doc.ID, doc.Title, doc.Header}, doc.Summary, doc.Messages}
		if o.all {
			v = exportAll{exportHead{doc.ID, doc.Title, doc.Header}, doc.Segments}
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	case "jsonl":
		recs := []workspace.Record{header}
		if doc.Summary != nil {
			recs = append(recs, *doc.Summary)
		}
		for _, r := range append(recs, doc.Messages...) {
			if err := writeRecordLine(bw, r); err != nil {
				return err
			}
		}
	case "markdown":
		writeMarkdown(bw, doc, m)
	}
	return bw.Flush()
}

func writeRecordLine(w io.Writer, r workspace.Record) error {
	b, err := r.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode record %d: %w", r.Seq, err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func writeMarkdown(w io.Writer, doc exportDoc, m workspace.Meta) {
	title := doc.Title
	if title == "" {
		title = doc.ID
	}
	fmt.Fprintf(w, "# %s\n\n", strings.Join(strings.Fields(title), " "))
	fmt.Fprintf(w, "- session: `%s`\n", doc.ID)
	switch {
	case m.Name != "":
		fmt.Fprintf(w, "- name: `%s`\n", m.Name)
	case m.Scope != nil:
		fmt.Fprintf(w, "- scope: `%s`\n", keying.Signature(*m.Scope))
	}
	fmt.Fprintf(w, "- created: %s, updated: %s\n", m.Created.UTC().Format(time.RFC3339), m.Updated.UTC().Format(time.RFC3339))
	if doc.Segments != nil {
		fmt.Fprintf(w, "- %d conversation(s), %d message(s)\n", len(doc.Segments), m.Messages)
		for _, g := range doc.Segments {
			if g.Reset != nil {
				fmt.Fprintf(w, "\n---\n\n*Conversation %d: reset (%s) at %s*\n", g.Index+1, g.Reset.Reason, g.Reset.At.UTC().Format(time.RFC3339))
			}
			for _, r := range g.Records {
				writeMarkdownRecord(w, r)
			}
		}
		return
	}
	fmt.Fprintf(w, "- active history: %d message(s)\n", len(doc.Messages))
	if doc.Summary != nil {
		writeMarkdownRecord(w, *doc.Summary)
	}
	for _, r := range doc.Messages {
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
		var b strings.Builder
		writeRecordText(&b, r)
		fmt.Fprintf(w, "\n*%s*\n", strings.TrimSpace(b.String()))
	}
}
