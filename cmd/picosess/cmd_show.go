package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/picosess/picosess/workspace/export"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// showOptions are the flags of show.
type showOptions struct {
	limit int
	all   bool
}

// DefaultShowLimit is how many messages of the active history show prints
// when --limit is not given.
const DefaultShowLimit = 50

// showSession is what both --json shapes of show say about the session.
type showSession struct {
	ID      string        `json:"id"`
	Title   string        `json:"title"`
	Name    string        `json:"name,omitempty"`
	Scope   *keying.Scope `json:"scope,omitempty"`
	LastSeq int64         `json:"last_seq"`
}

// showActive is the --json shape of show (docs/cli.md).
type showActive struct {
	showSession
	Summary  *workspace.Record  `json:"summary"`
	Messages []workspace.Record `json:"messages"`
	More     bool               `json:"more"`
	// Skipped are records over the read limit, not read (History.Skipped).
	Skipped []workspace.Skipped `json:"skipped,omitempty"`
}

// showAll is the --json shape of show --all.
type showAll struct {
	showSession
	Segments []workspace.Segment `json:"segments"`
}

func newShowCmd(a *app) *cobra.Command {
	var o showOptions
	cmd := &cobra.Command{
		Use:   "show [SESSION] [--limit N] [--all]",
		Short: "Print a session's conversation",
		Long: fmt.Sprintf(`Print a session: its title and scope, then the active history (the
messages since the last reset, with the latest summary standing in for the
messages it covers), newest %d by default. --limit N prints the last N
messages (0: all of them); only the tail of the file is read.

--all prints every conversation of the file instead, oldest first, with the
resets that separate them, titles, checkpoints and restores.

SESSION:SEQ (as search prints its hits) prints the records around SEQ
instead, whatever their conversation: %d on each side, or --limit N.

--json prints one object (docs/cli.md): messages as stored on disk.

EXAMPLES
  picosess show sk_v1_67fe19a8ec8f
  picosess show agent:main:telegram:direct:123456789 --limit 10
  picosess show my-project --all
  picosess show sk_v1_67fe19a8ec8f:12

Without SESSION: the session $PICOSESS_SESSION names, else config.json's
session.name (as append uses).

EXIT STATUS
  0 printed; 1 bad flags, unknown or ambiguous SESSION, no record SEQ;
  10 not a workspace.`, DefaultShowLimit, DefaultAroundRecords),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := a.currentSession(args)
			if err != nil {
				return err
			}
			return a.runShow(cmd, &o, ref)
		},
	}
	cmd.Flags().IntVar(&o.limit, "limit", DefaultShowLimit, "print the last N messages of the active history (0: all)")
	cmd.Flags().BoolVar(&o.all, "all", false, "print every conversation, past resets included")
	return cmd
}

func (a *app) runShow(cmd *cobra.Command, o *showOptions, ref string) error {
	ctx := cmd.Context()
	if o.limit < 0 {
		return usageErrorf("--limit %d: want 0 (all) or more", o.limit)
	}
	if o.all && cmd.Flags().Changed("limit") {
		return usageErrorf("--limit applies to the active history; --all prints every record")
	}
	r, closeWS, err := a.openSessionRef(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	s := r.Session
	if r.Seq > 0 && !o.all { // SESSION:SEQ, as search prints hits
		n := DefaultAroundRecords
		if cmd.Flags().Changed("limit") {
			n = o.limit
		}
		return a.showAround(ctx, s, r.Seq, n)
	}
	m, err := s.Meta(ctx)
	if err != nil {
		return err
	}
	head := showSession{ID: m.ID, Title: m.Title, Name: m.Name, Scope: m.Scope, LastSeq: m.LastSeq}
	bw := &errWriter{w: a.stdout}
	if o.all {
		segs, err := s.Segments(ctx)
		if err != nil {
			return err
		}
		if a.jsonOut {
			return a.writeJSON(showAll{showSession: head, Segments: segs})
		}
		writeSessionHeading(bw, m)
		for _, g := range segs {
			writeSegmentHeading(bw, g)
			writeSkipped(bw, g.Skipped)
			for _, r := range g.Records {
				writeRecordStyled(bw, r, a.term())
			}
		}
		return bw.err
	}
	if o.limit == 0 {
		return a.showAllActive(ctx, s, m, head)
	}
	h, err := s.History(ctx, o.limit)
	if err != nil {
		return err
	}
	out := showActive{showSession: head, Summary: h.Summary, Messages: h.Messages, More: h.More, Skipped: h.Skipped}
	out.LastSeq = h.LastSeq
	if out.Messages == nil {
		out.Messages = []workspace.Record{}
	}
	if a.jsonOut {
		return a.writeJSON(out)
	}
	writeSessionHeading(bw, m)
	fmt.Fprintf(bw, "active history: %d message(s)", m.ActiveMessages)
	if out.More {
		fmt.Fprintf(bw, ", the last %d shown (--limit 0 shows all)", len(out.Messages))
	}
	if m.Segments > 1 {
		fmt.Fprintf(bw, "; %d earlier conversation(s) (--all)", m.Segments-1)
	}
	fmt.Fprintln(bw)
	writeSkipped(bw, out.Skipped)
	if out.Summary != nil {
		writeRecordStyled(bw, *out.Summary, a.term())
	}
	for _, r := range out.Messages {
		writeRecordStyled(bw, r, a.term())
	}
	if len(out.Messages) == 0 && out.Summary == nil {
		fmt.Fprintln(bw, "  (no messages since the last reset)")
	}
	return bw.err
}

// showAllActive is show --limit 0: the whole active history, streamed
// (workspace.HistoryStream) so that a history of 100 000 messages is
// printed holding one message at a time. The output is what the general
// path prints, byte for byte (--json included).
func (a *app) showAllActive(ctx context.Context, s *workspace.Session, m workspace.Meta, head showSession) error {
	hs, err := s.HistoryStream(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(a.stdout, 64<<10)
	ew := &errWriter{w: bw}
	out := showActive{showSession: head, Summary: hs.Summary, Messages: []workspace.Record{}, Skipped: hs.Skipped}
	out.LastSeq = hs.LastSeq
	if a.jsonOut {
		// The object with no messages, then the messages spliced in where
		// its empty array is: quotes inside strings are escaped, so the
		// first ,"messages":[] is the field.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return err
		}
		doc := buf.Bytes()
		i := bytes.Index(doc, []byte(`,"messages":[]`)) + len(`,"messages":[`)
		ew.Write(doc[:i])
		n := 0
		err := hs.Each(ctx, func(r workspace.Record) error {
			buf.Reset()
			if err := enc.Encode(r); err != nil {
				return err
			}
			if n > 0 {
				ew.Write([]byte{','})
			}
			n++
			ew.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			return ew.err
		})
		if err != nil {
			return err
		}
		ew.Write(doc[i:])
		if ew.err != nil {
			return ew.err
		}
		return bw.Flush()
	}
	writeSessionHeading(ew, m)
	fmt.Fprintf(ew, "active history: %d message(s)", m.ActiveMessages)
	if m.Segments > 1 {
		fmt.Fprintf(ew, "; %d earlier conversation(s) (--all)", m.Segments-1)
	}
	fmt.Fprintln(ew)
	writeSkipped(ew, out.Skipped)
	if out.Summary != nil {
		writeRecordStyled(ew, *out.Summary, a.term())
	}
	err = hs.Each(ctx, func(r workspace.Record) error {
		writeRecordStyled(ew, r, a.term())
		return ew.err
	})
	if err != nil {
		return err
	}
	if hs.Len() == 0 && out.Summary == nil {
		fmt.Fprintln(ew, "  (no messages since the last reset)")
	}
	if ew.err != nil {
		return ew.err
	}
	return bw.Flush()
}

// writeSkipped says which records show passed over without reading them:
// lines over the read limit (workspace.Options.MaxRecordBytes).
func writeSkipped(w io.Writer, sk []workspace.Skipped) {
	for _, k := range sk {
		what := k.Type
		if what == "" {
			what = "unreadable"
		}
		if k.Role != "" {
			what = flat(k.Role) + " " + what
		}
		seq := "a record"
		if k.Seq > 0 {
			seq = fmt.Sprintf("seq %d", k.Seq)
		}
		fmt.Fprintf(w, "  [skipped %s: a %s of %s, over the read limit of %s; not read (picosess check lists it)]\n",
			seq, what, humanize.IBytes(uint64(max(k.Bytes, 0))), humanize.IBytes(uint64(max(k.Limit, 0))))
	}
}

// errWriter keeps the first write error so a long print checks it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// writeSessionHeading prints what show says of a session before its
// records; what came from chats (title, name, aliases) is escaped.
func writeSessionHeading(w io.Writer, m workspace.Meta) {
	fmt.Fprintf(w, "session  %s\n", m.ID)
	fmt.Fprintf(w, "title    %s\n", clip(m.Title, 100))
	switch {
	case m.Name != "":
		fmt.Fprintf(w, "name     %s\n", flat(m.Name))
	case m.Scope != nil:
		fmt.Fprintf(w, "scope    %s\n", flat(keying.Signature(*m.Scope)))
	}
	if len(m.Aliases) > 0 {
		fmt.Fprintf(w, "aliases  %s\n", flat(strings.Join(m.Aliases, ", ")))
	}
	fmt.Fprintf(w, "created  %s   updated %s   %d message(s), %d token(s)",
		m.Created.UTC().Format(time.RFC3339), m.Updated.UTC().Format(time.RFC3339), m.Messages, m.Tokens)
	if m.UsageIn != 0 || m.UsageOut != 0 {
		fmt.Fprintf(w, "; model usage in %d · out %d", m.UsageIn, m.UsageOut)
	}
	fmt.Fprint(w, "\n\n")
}

// usageTag is how show prints the usage a model reported for a message:
// "[in 1200 · out 85 tokens]", with the prompt-cache counts when reported;
// "" for none.
func usageTag(u *workspace.Usage) string {
	if u == nil {
		return ""
	}
	s := fmt.Sprintf("[in %d · out %d", u.InputTokens, u.OutputTokens)
	if u.CacheReadTokens != 0 {
		s += fmt.Sprintf(" · cache read %d", u.CacheReadTokens)
	}
	if u.CacheWriteTokens != 0 {
		s += fmt.Sprintf(" · cache write %d", u.CacheWriteTokens)
	}
	return s + " tokens]"
}

func writeSegmentHeading(w io.Writer, g workspace.Segment) {
	if g.Reset == nil {
		fmt.Fprintf(w, "── conversation %d ──\n", g.Index+1)
		return
	}
	fmt.Fprintf(w, "\n── conversation %d · #%d reset (%s) at %s ──\n", g.Index+1, g.Reset.Seq, flat(g.Reset.Reason),
		g.Reset.At.UTC().Format(time.RFC3339))
}

// plain is how records print when not to a terminal.
var plain = plainTerm()

// writeRecordText prints one record for a person: "#seq hh:mm role
// (sender): text", continuation lines indented, control characters
// escaped.
func writeRecordText(w io.Writer, r workspace.Record) { writeRecordStyled(w, r, plain) }

// writeRecordStyled is writeRecordText styled for t (a terminal: the seq
// and time faint, the author bold).
func writeRecordStyled(w io.Writer, r workspace.Record, t *termOut) {
	stamp := r.At.UTC().Format("2006-01-02 15:04")
	head := fmt.Sprintf("#%-4d %s  ", r.Seq, stamp)
	var text string
	switch r.Type {
	case workspace.TypeMessage:
		who := flat(r.Role)
		if r.Sender != "" {
			who += " (" + flat(r.Sender) + ")"
		}
		who = t.bold(who)
		if u := usageTag(r.Usage); u != "" {
			who += " " + t.faint(u)
		}
		text = who + ":"
		if r.Content != "" {
			text += " " + escapeControls(r.Content)
		}
		for _, c := range export.ToolCalls(r.ToolCalls) {
			text += "\n→ " + flat(c)
		}
		if res := export.ResultOf(r); res != "" {
			text = who + " [" + res + "]: " + escapeControls(r.Content)
		}
	case workspace.TypeSummary:
		text = fmt.Sprintf("[summary of the history through #%d] %s", r.Through, escapeControls(r.Text))
	case workspace.TypeTitle:
		text = fmt.Sprintf("[title set to %q]", r.Text)
	case workspace.TypeCheckpoint:
		text = fmt.Sprintf("[checkpoint %q saved through #%d]", r.Name, r.Through)
	case workspace.TypeRestore:
		text = fmt.Sprintf("[checkpoint #%d restored]", r.Checkpoint)
	case workspace.TypeCheckpointDelete:
		text = fmt.Sprintf("[checkpoint #%d deleted]", r.Checkpoint)
	case workspace.TypeReset:
		text = fmt.Sprintf("[reset: %s]", flat(r.Reason))
	case workspace.TypeUntrash:
		text = "[brought back from the trash]"
	case workspace.TypeAliases:
		switch {
		case r.Moved > 0:
			text = fmt.Sprintf("[the conversation of %s moved here: the %d records below; now also answers to %s]", r.Continues, r.Moved, flat(strings.Join(r.Aliases, ", ")))
		case r.Continues != "":
			text = fmt.Sprintf("[continues %s; now also answers to %s]", r.Continues, flat(strings.Join(r.Aliases, ", ")))
		default:
			text = "[now also answers to " + flat(strings.Join(r.Aliases, ", ")) + "]"
		}
	default:
		text = "[" + flat(r.Type) + "]"
	}
	indent := "\n" + strings.Repeat(" ", len([]rune(head)))
	fmt.Fprintf(w, "%s%s\n", t.faint(head), strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", indent))
}
