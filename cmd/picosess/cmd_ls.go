package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/picosess/picosess/keying"
	"github.com/picosess/picosess/workspace"
	"github.com/spf13/cobra"
)

// lsOptions are the flags of ls.
type lsOptions struct {
	agent, channel, since string
	limit                 int
	rescan                bool
}

// lsEntry is one element of the --json array of ls (docs/cli.md).
type lsEntry struct {
	ID             string        `json:"id"`
	Title          string        `json:"title"`
	Name           string        `json:"name,omitempty"`
	Agent          string        `json:"agent"`
	Channel        string        `json:"channel"`
	Scope          *keying.Scope `json:"scope,omitempty"`
	Aliases        []string      `json:"aliases"`
	Created        time.Time     `json:"created,omitzero"`
	Updated        time.Time     `json:"updated,omitzero"`
	Messages       int           `json:"messages"`
	ActiveMessages int           `json:"active_messages"`
	Tokens         int           `json:"tokens"`
	UsageIn        int           `json:"usage_in"`
	UsageOut       int           `json:"usage_out"`
	Summary        bool          `json:"summary"`
	Segments       int           `json:"segments"`
	// Damaged: "empty file" or "no session header" (no created, no
	// updated then); picosess check says more.
	Damaged string `json:"damaged,omitempty"`
}

func newLsCmd(a *app) *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [--agent A] [--channel C] [--since DUR] [--limit N] [--rescan]",
		Short: "List sessions, newest first",
		Long: `List the sessions of the workspace, most recently updated first.

On a terminal the list is grouped by last activity: Today, Yesterday, This
Week (the 7 days before yesterday) and Older, in local time. Otherwise it is
one plain table (UPDATED in UTC, RFC 3339) for scripts. The ID column is a
prefix that every SESSION argument accepts. --json prints one JSON array.

--since keeps the sessions active since a time: a duration back from now
(90m, 36h, 7d, 2w), today, yesterday, a date (2026-12-01) or a time
(2026-12-01T08:30, RFC 3339), in local time unless it names its zone; the
same forms as search --since.

A listing reads the sessions that the change journal (cache/changes, which
every append writes) names, and those created or removed since the last one;
every five minutes it looks at every session file anyway. --rescan looks at
every file now: after a session file was changed by another program.

EXAMPLES
  picosess ls --channel telegram --since 7d
  picosess ls --json | jq -r '.[] | select(.messages > 100) | .id'

EXIT STATUS
  0 listed (also when nothing matches); 1 bad flags; 10 not a workspace.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lo := workspace.ListOptions{Agent: o.agent, Channel: o.channel, Limit: o.limit, Rescan: o.rescan}
			if o.limit < 0 {
				return usageErrorf("--limit %d: want 0 (all) or more", o.limit)
			}
			if o.since != "" {
				t, err := parseSince("--since", o.since, time.Now(), time.Local)
				if err != nil {
					return err
				}
				lo.Since = t
			}
			w, err := a.openWorkspace()
			if err != nil {
				return err
			}
			defer w.Close()
			lsHeapTarget()
			switch {
			case a.jsonOut:
				return a.writeLsJSON(cmd.Context(), w, lo)
			case a.term().tty:
				list, err := w.List(cmd.Context(), lo)
				if err != nil {
					return err
				}
				return writeLsGrouped(a.stdout, list, time.Now(), a.term())
			}
			return streamLsTable(cmd.Context(), a.stdout, w, lo)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.agent, "agent", "", "only sessions of this agent")
	fl.StringVar(&o.channel, "channel", "", "only sessions of this channel")
	fl.StringVar(&o.since, "since", "", "only sessions active since then (7d, yesterday, 2026-12-01, ...)")
	fl.IntVar(&o.limit, "limit", 0, "at most N sessions (0: all)")
	fl.BoolVar(&o.rescan, "rescan", false, "look at every session file, not only those the change journal names")
	return cmd
}

func newLsEntry(m workspace.Meta) lsEntry {
	e := lsEntry{ID: m.ID, Title: m.Title, Name: m.Name, Agent: m.Agent, Channel: m.Channel, Scope: m.Scope,
		Aliases: m.Aliases, Created: m.Created, Updated: m.Updated, Messages: m.Messages,
		ActiveMessages: m.ActiveMessages, Tokens: m.Tokens, UsageIn: m.UsageIn, UsageOut: m.UsageOut,
		Summary: m.Summary, Segments: m.Segments, Damaged: m.Damaged}
	if e.Aliases == nil {
		e.Aliases = []string{}
	}
	return e
}

// where says in a few words what a session is: its channel, or its name.
func where(m workspace.Meta) string {
	switch {
	case m.Name != "":
		return "name:" + flat(m.Name)
	case m.Channel != "":
		return flat(m.Channel)
	}
	return "-"
}

// lsGCPercent is the collector's target while ls runs, unless GOGC says
// otherwise: a listing holds a compact index of every session (about
// 400 bytes each, 40 MB at 100 000 sessions) while it decodes and prints
// one entry after another, and at the default 100 the heap would grow to
// twice the index before a collection. 50 keeps ls of 100 000 sessions
// under 100 MB resident for a few more collections (about 20 ms each).
const lsGCPercent = 50

func lsHeapTarget() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(lsGCPercent)
	}
}

// writeLsJSON prints the --json array one element at a time (the bytes of
// writeJSON of the whole array): a listing of a million sessions never
// holds them all.
func (a *app) writeLsJSON(ctx context.Context, w *workspace.Workspace, lo workspace.ListOptions) error {
	bw := bufio.NewWriterSize(a.stdout, 64<<10)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	sep := byte('[')
	err := w.ListEach(ctx, lo, func(m workspace.Meta) error {
		buf.Reset()
		if err := enc.Encode(newLsEntry(m)); err != nil {
			return err
		}
		bw.WriteByte(sep)
		sep = ','
		_, err := bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		return err
	})
	if err != nil {
		return err
	}
	if sep == '[' {
		bw.WriteByte('[')
	}
	bw.WriteString("]\n")
	return bw.Flush()
}

// streamLsTable prints what writeLsTable prints, byte for byte, holding one
// line of text per session rather than every Meta and a tabwriter's cells.
func streamLsTable(ctx context.Context, w io.Writer, ws *workspace.Workspace, lo workspace.ListOptions) error {
	rows := []string{lsHeader}
	err := ws.ListEach(ctx, lo, func(m workspace.Meta) error {
		rows = append(rows, lsRow(m))
		return nil
	})
	if err != nil {
		return err
	}
	return writeTabbed(w, rows)
}

// lsHeader is the first line of the plain table.
const lsHeader = "UPDATED\tID\tAGENT\tWHERE\tMSGS\tTITLE"

// lsRow is one line of the plain table, its cells separated by tabs.
func lsRow(m workspace.Meta) string {
	if m.Damaged != "" {
		return fmt.Sprintf("damaged\t%s\t-\t-\t-\t%s", shortID(m.ID), damagedTitle(m))
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%s", m.Updated.UTC().Format(time.RFC3339), shortID(m.ID),
		orDash(flat(m.Agent)), where(m), m.Messages, clip(m.Title, 60))
}

// writeTabbed aligns rows of tab-separated cells as
// tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) does when every row has the same
// number of cells: each cell but the last padded with spaces to the widest
// of its column (in runes) plus two. Rows holding tabwriter's escape byte
// (0xff) go through tabwriter itself.
func writeTabbed(w io.Writer, rows []string) error {
	var width []int
	for _, r := range rows {
		if strings.IndexByte(r, tabwriter.Escape) >= 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, r := range rows {
				fmt.Fprintln(tw, r)
			}
			return tw.Flush()
		}
		for j := 0; ; j++ {
			i := strings.IndexByte(r, '\t')
			if i < 0 {
				break
			}
			if j == len(width) {
				width = append(width, 0)
			}
			width[j] = max(width[j], utf8.RuneCountInString(r[:i])+2)
			r = r[i+1:]
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	pad := strings.Repeat(" ", slices.Max(append(width, 0)))
	for _, r := range rows {
		for j := 0; ; j++ {
			i := strings.IndexByte(r, '\t')
			if i < 0 {
				break
			}
			bw.WriteString(r[:i])
			bw.WriteString(pad[:width[j]-utf8.RuneCountInString(r[:i])])
			r = r[i+1:]
		}
		bw.WriteString(r)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// writeLsTable is the plain table: one header line, one line per session.
func writeLsTable(w io.Writer, list []workspace.Meta) error {
	rows := []string{lsHeader}
	for _, m := range list {
		rows = append(rows, lsRow(m))
	}
	return writeTabbed(w, rows)
}

// damagedTitle is what ls says of a file that is not a session it can
// list (Meta.Damaged) in place of a title.
func damagedTitle(m workspace.Meta) string {
	return fmt.Sprintf("(%s, %d bytes: see picosess check)", m.Damaged, m.Size)
}

// lsGroup names the group of a time of last activity, relative to now in
// now's location.
func lsGroup(t, now time.Time) string {
	t = t.In(now.Location())
	y, mo, d := now.Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, now.Location())
	switch {
	case !t.Before(today):
		return "Today"
	case !t.Before(today.AddDate(0, 0, -1)):
		return "Yesterday"
	case !t.Before(today.AddDate(0, 0, -8)):
		return "This Week"
	}
	return "Older"
}

// lsStamp is the time column of the grouped view: the time of day today
// and yesterday, the date before, the year when it is not this one.
func lsStamp(t, now time.Time, group string) string {
	t = t.In(now.Location())
	switch {
	case group == "Today" || group == "Yesterday":
		return t.Format("15:04")
	case t.Year() != now.Year():
		return t.Format("Jan 02 2006")
	}
	return t.Format("Jan 02 15:04")
}

// writeLsGrouped is the terminal view: sessions under Today, Yesterday,
// This Week and Older headings (the list is newest first, so each group
// appears once), in one grid whose columns line up across the groups and
// whose title column is cut to fit the terminal's width.
func writeLsGrouped(w io.Writer, list []workspace.Meta, now time.Time, t *termOut) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no sessions")
		return err
	}
	const indent, gap = "  ", "  "
	header := []string{"UPDATED", "ID", "AGENT", "CHANNEL", "MSGS"}
	rows := make([][]string, len(list))
	groups := make([]string, len(list))
	width := make([]int, len(header))
	for i, h := range header {
		width[i] = displayWidth(h)
	}
	for i, m := range list {
		groups[i] = lsGroup(m.Updated, now)
		rows[i] = []string{lsStamp(m.Updated, now, groups[i]), shortID(m.ID), orDash(flat(m.Agent)), where(m), fmt.Sprint(m.Messages)}
		if m.Damaged != "" {
			groups[i] = "Damaged"
			rows[i] = []string{"-", shortID(m.ID), "-", "-", "-"}
		}
		for j, c := range rows[i] {
			width[j] = max(width[j], displayWidth(c))
		}
	}
	used := len(indent)
	for _, n := range width {
		used += n + len(gap)
	}
	titleWidth := max(t.width-used, 12) // a narrower terminal wraps rather than lose the title
	line := func(cells []string, title string, style func(int, string) string) string {
		var b strings.Builder
		b.WriteString(indent)
		for j, c := range cells {
			if j == len(cells)-1 { // MSGS: a number, right-aligned
				c = strings.Repeat(" ", width[j]-displayWidth(c)) + c
			} else {
				c = padRight(c, width[j])
			}
			b.WriteString(style(j, c) + gap)
		}
		b.WriteString(fitWidth(title, titleWidth))
		return strings.TrimRight(b.String(), " ") + "\n"
	}
	bw := &errWriter{w: w}
	io.WriteString(bw, t.faint(strings.TrimRight(line(header, "TITLE", func(_ int, c string) string { return c }), "\n"))+"\n")
	group := ""
	for i, m := range list {
		if groups[i] != group {
			group = groups[i]
			fmt.Fprintf(bw, "%s\n", t.bold(group))
		}
		title := flat(m.Title)
		if m.Damaged != "" {
			title = damagedTitle(m)
		}
		io.WriteString(bw, line(rows[i], title, func(j int, c string) string {
			if j == 1 {
				return t.faint(c)
			}
			return c
		}))
	}
	return bw.err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
