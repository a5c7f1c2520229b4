package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/termtext"
	"github.com/picosess/picosess/workspace/tokens"
)

// Formats.
const (
	Markdown = "markdown"
	Text     = "text"
	JSON     = "json"
	JSONL    = "jsonl"
)

// Formats lists the formats, in the order help texts give them.
var Formats = []string{Markdown, Text, JSON, JSONL}

// ErrMetadata: NoMetadata was asked of a format that carries records as
// stored.
var ErrMetadata = errors.New("export: no-metadata applies to markdown and text; json and jsonl carry the records as stored")

// Options choose what Write writes.
type Options struct {
	// Format is Markdown, JSON or JSONL; "" means Markdown.
	Format string
	// All exports every conversation of the file, past resets included,
	// instead of the active history.
	All bool
	// NoMetadata (Markdown and Text) leaves out what is about the session
	// rather than the conversation: its id, scope, dates and counts, each
	// message's time and seq, title and checkpoint records.
	NoMetadata bool
}

// ParseFormat checks a format name (case-insensitive; "md" is Markdown).
func ParseFormat(s string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(s))
	switch f {
	case "", "md":
		return Markdown, nil
	case "txt":
		return Text, nil
	case Markdown, Text, JSON, JSONL:
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
	case Text:
		return "text/plain; charset=utf-8"
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
	ext := map[string]string{Markdown: ".md", Text: ".txt", JSON: ".json", JSONL: ".jsonl"}[format]
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
	if o.NoMetadata && (format == JSON || format == JSONL) {
		return ErrMetadata
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
	if !o.All {
		// The active history is streamed: its messages are read one at a
		// time as they are written (workspace.HistoryStream), so an
		// export of 100 000 messages holds one of them, not all.
		hs, err := s.HistoryStream(ctx)
		if err != nil {
			return err
		}
		d.Summary = hs.Summary
		if err := writeActive(ctx, bw, d, m, hs, format, !o.NoMetadata); err != nil {
			return err
		}
		return bw.Flush()
	}
	if d.Segments, err = s.Segments(ctx); err != nil {
		return err
	}
	switch format {
	case JSON:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(All{d.Head, d.Segments}); err != nil {
			return err
		}
	case Markdown:
		writeMarkdown(bw, d, m, !o.NoMetadata)
	case Text:
		writeText(bw, d, m, !o.NoMetadata)
	}
	return bw.Flush()
}

// messages are the messages of an active-history export, counted before
// they are read (a Markdown export says how many first), then read one at
// a time (*workspace.HistoryStream).
type messages interface {
	Len() int
	Each(ctx context.Context, fn func(workspace.Record) error) error
}

// writeActive writes the active history d.Summary and ms in format: the
// bytes the same document with every message held would give.
func writeActive(ctx context.Context, w *bufio.Writer, d doc, m workspace.Meta, ms messages, format string, meta bool) error {
	switch format {
	case JSON:
		// The document without messages, then the messages spliced into
		// its empty array, each indented as the array's element. Quotes
		// inside strings are escaped, so the first "messages": [] is the
		// field.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(Active{d.Head, d.Summary, []workspace.Record{}}); err != nil {
			return err
		}
		doc := bytes.Clone(buf.Bytes())
		i := bytes.Index(doc, []byte(`"messages": []`)) + len(`"messages": [`)
		w.Write(doc[:i])
		enc.SetIndent("    ", "  ")
		sep := "\n    "
		err := ms.Each(ctx, func(r workspace.Record) error {
			buf.Reset()
			if err := enc.Encode(r); err != nil {
				return err
			}
			w.WriteString(sep)
			sep = ",\n    "
			_, err := w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			return err
		})
		if err != nil {
			return err
		}
		if ms.Len() > 0 {
			w.WriteString("\n  ")
		}
		_, err = w.Write(doc[i:])
		return err
	case JSONL:
		if err := WriteRecordLine(w, d.Header); err != nil {
			return err
		}
		if d.Summary != nil {
			if err := WriteRecordLine(w, *d.Summary); err != nil {
				return err
			}
		}
		return ms.Each(ctx, func(r workspace.Record) error { return WriteRecordLine(w, r) })
	case Markdown:
		writeMarkdownHead(w, d, m, meta)
		if meta {
			fmt.Fprintf(w, "- active history: %d message(s)\n", ms.Len())
		}
		if d.Summary != nil {
			writeMarkdownRecord(w, *d.Summary, meta)
		}
		return ms.Each(ctx, func(r workspace.Record) error {
			writeMarkdownRecord(w, r, meta)
			return nil
		})
	case Text:
		writeTextHead(w, d, m, meta)
		if d.Summary != nil {
			writeTextRecord(w, *d.Summary, meta)
		}
		return ms.Each(ctx, func(r workspace.Record) error {
			writeTextRecord(w, r, meta)
			return nil
		})
	}
	return nil
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

// writeMarkdown writes d as a Markdown document; meta adds the session's
// id, scope, dates and counts, and each message's time and seq.
func writeMarkdown(w io.Writer, d doc, m workspace.Meta, meta bool) {
	writeMarkdownHead(w, d, m, meta)
	if d.Segments != nil {
		if meta {
			fmt.Fprintf(w, "- %d conversation(s), %d message(s)\n", len(d.Segments), m.Messages)
		}
		for _, g := range d.Segments {
			switch {
			case g.Reset != nil && meta:
				fmt.Fprintf(w, "\n---\n\n*Conversation %d: reset (%s) at %s*\n", g.Index+1, markdownLine(g.Reset.Reason), g.Reset.At.UTC().Format(time.RFC3339))
			case g.Reset != nil:
				fmt.Fprintf(w, "\n---\n\n*Conversation %d*\n", g.Index+1)
			}
			for _, r := range g.Records {
				writeMarkdownRecord(w, r, meta)
			}
		}
		return
	}
	if meta {
		fmt.Fprintf(w, "- active history: %d message(s)\n", len(d.Messages))
	}
	if d.Summary != nil {
		writeMarkdownRecord(w, *d.Summary, meta)
	}
	for _, r := range d.Messages {
		writeMarkdownRecord(w, r, meta)
	}
}

// writeMarkdownHead writes the title and, with meta, the session's id,
// scope and dates.
func writeMarkdownHead(w io.Writer, d doc, m workspace.Meta, meta bool) {
	title := d.Title
	if title == "" {
		title = d.ID
	}
	fmt.Fprintf(w, "# %s\n", markdownLine(title))
	if meta {
		fmt.Fprintf(w, "\n- session: %s\n", codeSpan(d.ID))
		switch {
		case m.Name != "":
			fmt.Fprintf(w, "- name: %s\n", codeSpan(flat(m.Name)))
		case m.Scope != nil:
			fmt.Fprintf(w, "- scope: %s\n", codeSpan(flat(keying.Signature(*m.Scope))))
		}
		fmt.Fprintf(w, "- created: %s, updated: %s\n", m.Created.UTC().Format(time.RFC3339), m.Updated.UTC().Format(time.RFC3339))
	}
}

func writeMarkdownRecord(w io.Writer, r workspace.Record, meta bool) {
	at := r.At.UTC().Format(time.RFC3339)
	switch r.Type {
	case workspace.TypeMessage:
		who := r.Role
		if r.Sender != "" {
			who += " · " + r.Sender
		}
		if meta {
			fmt.Fprintf(w, "\n## %s — %s (#%d)\n\n", markdownLine(who), at, r.Seq)
		} else {
			fmt.Fprintf(w, "\n## %s\n\n", markdownLine(who))
		}
		switch {
		case isToolResult(r):
			// A tool result is data (JSON, HTML, a listing): fenced, so
			// nothing in it is read as Markdown.
			if l := markdownResultOf(r); l != "" {
				fmt.Fprintf(w, "%s\n\n", l)
			}
			io.WriteString(w, fenced(r.Content, ""))
		case r.Content != "":
			fmt.Fprintf(w, "%s\n", markdownText(r.Content))
		}
		if len(r.ToolCalls) > 0 {
			if r.Content != "" {
				io.WriteString(w, "\n")
			}
			fmt.Fprintf(w, "Tool calls:\n\n%s", fenced(string(r.ToolCalls), "json"))
		}
	case workspace.TypeSummary:
		head := "**Summary of the earlier conversation**"
		if meta {
			head = fmt.Sprintf("**Summary of the conversation through #%d** (%s)", r.Through, at)
		}
		fmt.Fprintf(w, "\n> %s\n>\n> %s\n", head, strings.ReplaceAll(markdownText(r.Text), "\n", "\n> "))
	default:
		if meta { // titles, checkpoints, restores are about the session
			fmt.Fprintf(w, "\n*#%d %s %s*\n", r.Seq, r.At.UTC().Format("2006-01-02 15:04"), markdownLine(Describe(r)))
		}
	}
}

// isToolResult: a message that answers a tool call.
func isToolResult(r workspace.Record) bool {
	return r.ToolCallID != "" || r.Role == workspace.RoleTool || r.Role == workspace.RoleFunction
}

// flat is s on one line, its control characters escaped.
func flat(s string) string { return strings.Join(strings.Fields(termtext.Escape(s)), " ") }

// markdownLine is s on one line for a heading or an emphasis: control
// characters escaped, and Markdown's punctuation escaped with a backslash
// so that nothing in it starts a link, code, emphasis or HTML.
func markdownLine(s string) string {
	var b strings.Builder
	for _, r := range flat(s) {
		if strings.ContainsRune("\\`*_[]<>#|", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdownText is message text as Markdown: control characters escaped,
// and lines that Markdown would read as headings ("# Title", or a line of
// = or - under text) escaped with a backslash, outside the code fences
// the text opens itself. A fence left open at the end is closed, so that
// the rest of the document is not swallowed into it.
func markdownText(s string) string {
	lines := strings.Split(strings.TrimRight(termtext.Escape(s), "\n"), "\n")
	fence := "" // the marker of the open fence, "" outside one
	for i, line := range lines {
		body := strings.TrimLeft(line, " ")
		indent := len(line) - len(body)
		switch {
		case fence != "":
			if strings.HasPrefix(body, fence) && indent <= 3 && strings.TrimRight(body, fence[:1]+" \t") == "" {
				fence = ""
			}
		case indent > 3:
			// indented code, or a paragraph's continuation: no heading
		case fenceOpening(body) != "":
			fence = fenceOpening(body)
		case isATXHeading(body) || isSetextUnderline(body):
			lines[i] = line[:indent] + "\\" + body
		}
	}
	out := strings.Join(lines, "\n")
	if fence != "" {
		out += "\n" + fence
	}
	return out
}

// fenceOpening returns the fence a line opens (``` or ~~~, or longer), or
// "" when it opens none.
func fenceOpening(body string) string {
	for _, c := range []string{"`", "~"} {
		n := len(body) - len(strings.TrimLeft(body, c))
		if n >= 3 && (c == "~" || !strings.Contains(body[n:], "`")) {
			return body[:n]
		}
	}
	return ""
}

// isATXHeading: 1 to 6 #, then a space, a tab or the end of the line.
func isATXHeading(body string) bool {
	n := len(body) - len(strings.TrimLeft(body, "#"))
	return n >= 1 && n <= 6 && (len(body) == n || body[n] == ' ' || body[n] == '\t')
}

// isSetextUnderline: a line of only = or only - (trailing blanks allowed),
// which makes the line above it a heading.
func isSetextUnderline(body string) bool {
	t := strings.TrimRight(body, " \t")
	return t != "" && (strings.Trim(t, "=") == "" || strings.Trim(t, "-") == "")
}

// fenced is s in a code fence longer than any run of backquotes in it
// (CommonMark closes a fence only with one at least as long), control
// characters escaped.
func fenced(s, info string) string {
	s = strings.TrimRight(termtext.Escape(s), "\n")
	fence := strings.Repeat("`", max(3, longestRun(s, '`')+1))
	return fence + info + "\n" + s + "\n" + fence + "\n"
}

// codeSpan is s as inline code, between more backquotes than any run in
// it.
func codeSpan(s string) string {
	d := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return d + " " + s + " " + d
	}
	return d + s + d
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// writeText writes d as plain text for people: per message a line naming
// its author (with meta: its time and seq), then the message as written.
func writeText(w io.Writer, d doc, m workspace.Meta, meta bool) {
	writeTextHead(w, d, m, meta)
	if d.Segments != nil {
		for _, g := range d.Segments {
			switch {
			case g.Reset != nil && meta:
				fmt.Fprintf(w, "\n──── conversation %d · #%d reset (%s) at %s ────\n", g.Index+1, g.Reset.Seq, flat(g.Reset.Reason), g.Reset.At.UTC().Format(time.RFC3339))
			case g.Reset != nil:
				fmt.Fprintf(w, "\n──── conversation %d ────\n", g.Index+1)
			}
			for _, r := range g.Records {
				writeTextRecord(w, r, meta)
			}
		}
		return
	}
	if d.Summary != nil {
		writeTextRecord(w, *d.Summary, meta)
	}
	for _, r := range d.Messages {
		writeTextRecord(w, r, meta)
	}
}

// writeTextHead writes the title and, with meta, the session's id, scope
// and dates.
func writeTextHead(w io.Writer, d doc, m workspace.Meta, meta bool) {
	title := d.Title
	if title == "" {
		title = d.ID
	}
	fmt.Fprintln(w, flat(title))
	if meta {
		fmt.Fprintf(w, "session  %s\n", d.ID)
		switch {
		case m.Name != "":
			fmt.Fprintf(w, "name     %s\n", flat(m.Name))
		case m.Scope != nil:
			fmt.Fprintf(w, "scope    %s\n", flat(keying.Signature(*m.Scope)))
		}
		fmt.Fprintf(w, "created  %s   updated %s\n", m.Created.UTC().Format(time.RFC3339), m.Updated.UTC().Format(time.RFC3339))
	}
}

func writeTextRecord(w io.Writer, r workspace.Record, meta bool) {
	stamp := ""
	if meta {
		stamp = fmt.Sprintf(" · %s · #%d", r.At.UTC().Format("2006-01-02 15:04 UTC"), r.Seq)
	}
	body := func(s string) {
		if s = strings.TrimRight(termtext.Escape(s), "\n"); s != "" {
			fmt.Fprintln(w, s)
		}
	}
	switch r.Type {
	case workspace.TypeMessage:
		who := flat(r.Role)
		if r.Sender != "" {
			who += " (" + flat(r.Sender) + ")"
		}
		if res := ResultOf(r); res != "" {
			who += " · " + res
		}
		fmt.Fprintf(w, "\n%s%s\n", who, stamp)
		body(r.Content)
		for _, c := range ToolCalls(r.ToolCalls) {
			fmt.Fprintf(w, "→ %s\n", flat(c))
		}
	case workspace.TypeSummary:
		if meta {
			fmt.Fprintf(w, "\n[summary of the conversation through #%d]%s\n", r.Through, stamp)
		} else {
			fmt.Fprintln(w, "\n[summary of the earlier conversation]")
		}
		body(r.Text)
	default:
		if meta {
			fmt.Fprintf(w, "\n%s%s\n", flat(Describe(r)), stamp)
		}
	}
}

// ToolCalls renders tool calls as "tool call ID: name(arguments)", in
// every shape PicoClaw and our migrations write (tokens.ParseCalls);
// calls it cannot read are given as their JSON.
func ToolCalls(raw json.RawMessage) []string {
	calls, err := tokens.ParseCalls(raw)
	if err != nil {
		return []string{"tool calls " + string(raw)}
	}
	out := make([]string, 0, len(calls))
	for _, c := range calls {
		out = append(out, fmt.Sprintf("tool call %s: %s(%s)", c.ID, c.Name, c.Arguments))
	}
	return out
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
	case workspace.TypeUntrash:
		return "[brought back from the trash]"
	}
	return "[" + r.Type + "]"
}
