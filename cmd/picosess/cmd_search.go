package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"
	"unicode"

	"github.com/picosess/picosess/workspace/index"
	"github.com/spf13/cobra"
)

// searchOptions are the flags of search.
type searchOptions struct {
	sessions                                           []string
	agent, channel, account, chat, topic, sender, role string
	since, until, sort                                 string
	active, any                                        bool
	limit, offset                                      int
}

func newSearchCmd(a *app) *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search QUERY [--session S]... [--agent A] [--sender ID] [--since T] [--any] [--limit N] [--json]",
		Short: "Search every session's messages",
		Long: `Search the messages of every session. QUERY, as in grep or a web search:

  dentist friday        messages with both words (every word is required)
  dentist OR doctor     either word (OR in capitals; a b OR c is a AND (b OR c))
  flat -sold            flat, but not sold (also -"a phrase", -role:tool)
  "berlin flat"         the words together, in this order
  berl*                 a word that starts with berl ('*' alone: every message)
  role:user dentist     field:value narrows: role, sender, agent, channel,
                        account, chat, topic, session (an id or id prefix);
                        whole values, any case: sender:"ann lee", chat:direct:42

--any makes the words alternatives (any may match, more matches rank
higher); fields and -exclusions still apply. Quote a word with a colon that
is not a field ("re:meeting"), or escape a character with \. A malformed
QUERY (an unclosed quote, a lone -, an unknown field) is an error that
names the column.

Every conversation is searched, past resets included. The index
(<workspace>/index/) first catches up with the session files, so a search
finds every message appended before it began; a missing or damaged index is
rebuilt on the way. English and Chinese/Japanese text alike; emoji are words.

The flags always apply around QUERY, whatever QUERY says. --since and
--until take a duration back from now (90m, 36h, 7d, 2w, 1d12h), today,
yesterday, a date (2026-12-01: its midnight) or a time (2026-12-01T08:30,
RFC 3339), in local time unless it names its zone, as ls --since does; the
index keeps message times to the hour, so they select whole hours. --active
keeps each session's current conversation (after its last reset).

Another process using the index (a long-running assistant) makes search
wait up to --lock-timeout, then fail naming it.

Text output: per hit, time, SESSION:SEQ (show opens the session there),
role and sender, title, then the snippet. --json prints JSON Lines, one hit
per line (docs/cli.md).

EXAMPLES
  picosess search 'berlin flat'
  picosess search '"the berlin flat" -sold' --sender alice --since 30d
  picosess search 'role:user dentist OR doctor' --since yesterday
  picosess search 公寓 --agent main --sort time --limit 5 --json

EXIT STATUS
  0 searched (also when nothing matched); 1 bad query or flags, failure;
  10 not a workspace; 11 the index is held by another process (named);
  12 the index cannot be written or read here (permissions, read-only,
  disk full: the message says what to do); 130 interrupted. A missing or
  damaged index is rebuilt, not an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSearch(cmd, &o, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&o.sessions, "session", nil, "only this SESSION (repeatable)")
	fl.StringVar(&o.agent, "agent", "", "only sessions of this agent")
	fl.StringVar(&o.channel, "channel", "", "only sessions of this channel")
	fl.StringVar(&o.account, "account", "", "only sessions of this account")
	fl.StringVar(&o.chat, "chat", "", `only sessions of this chat scope value ("direct:42", "group:-100123")`)
	fl.StringVar(&o.topic, "topic", "", "only sessions of this topic")
	fl.StringVar(&o.sender, "sender", "", "only messages from this sender")
	fl.StringVar(&o.role, "role", "", "only messages of this role (user, assistant, system, tool)")
	fl.StringVar(&o.since, "since", "", "only messages from this time on (7d, yesterday, 2026-12-01, RFC 3339)")
	fl.StringVar(&o.until, "until", "", "only messages before this time (same forms)")
	fl.BoolVar(&o.active, "active", false, "only the current conversation of each session")
	fl.BoolVar(&o.any, "any", false, "any of the words may match (more matches rank higher)")
	fl.StringVar(&o.sort, "sort", index.SortRelevance, "order: relevance or time (newest first)")
	fl.IntVar(&o.limit, "limit", index.DefaultLimit, "at most N hits")
	fl.IntVar(&o.offset, "offset", 0, "skip the first N hits")
	return cmd
}

// queryError shows where a query went wrong: the message, then the query
// with a caret under the column.
func queryError(err error) error {
	var qe *index.QueryError
	if !errors.As(err, &qe) {
		return &exitError{code: exitFailure, err: err}
	}
	line := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, qe.Query)
	r := []rune(line)
	pad := strings.Repeat(" ", cells(string(r[:min(len(r), max(0, qe.Column-1))])))
	return &exitError{code: exitFailure, err: fmt.Errorf("%w\n  %s\n  %s^", err, line, pad)}
}

// cells is the width of s on a terminal, roughly: CJK and fullwidth
// characters take two cells, others one.
func cells(s string) int {
	n := 0
	for _, r := range s {
		n++
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) || 0xFF01 <= r && r <= 0xFF60 {
			n++
		}
	}
	return n
}

func (a *app) runSearch(cmd *cobra.Command, o *searchOptions, text string) error {
	ctx := cmd.Context()
	if o.limit < 1 || o.offset < 0 {
		return usageErrorf("--limit must be at least 1 and --offset at least 0")
	}
	q := index.Query{Text: text, Any: o.any, Sort: o.sort, Limit: o.limit, Offset: o.offset, Filter: index.Filter{
		Agent: o.agent, Channel: o.channel, Account: o.account, Chat: o.chat, Topic: o.topic,
		Sender: o.sender, Role: o.role, ActiveOnly: o.active}}
	now := time.Now()
	var err error
	if o.since != "" {
		if q.Since, err = parseSince("--since", o.since, now, time.Local); err != nil {
			return err
		}
	}
	if o.until != "" {
		if q.Until, err = parseSince("--until", o.until, now, time.Local); err != nil {
			return err
		}
	}
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	for _, ref := range o.sessions {
		s, err := lookup(ctx, w, ref)
		if err != nil {
			return err
		}
		q.Sessions = append(q.Sessions, s.ID())
	}
	q.Mark = a.searchMarks()
	indexMemoryLimit()
	x, err := index.Open(w, &index.Options{LockTimeout: a.lockTimeout, Logger: a.logger()})
	if err != nil {
		return err
	}
	defer x.Close()
	res, err := x.Search(ctx, q)
	if errors.Is(err, index.ErrBadQuery) {
		return queryError(err)
	}
	if err != nil {
		return err
	}
	if a.jsonOut {
		for _, h := range res.Hits {
			// index.Hit is the line of search --json (docs/cli.md); the
			// whole message stays out of it (json:"-").
			if err := a.writeJSON(h); err != nil {
				return err
			}
		}
		return nil
	}
	for _, h := range res.Hits {
		who := h.Role
		if h.Sender != "" {
			who += " " + flat(h.Sender)
		}
		if h.Tool != "" {
			who += " " + flat(h.Tool)
		}
		if h.Failed {
			who += " (failed)"
		}
		fmt.Fprintf(a.stdout, "%s  %s:%d  %s  %s\n    %s\n", h.Time.Local().Format("2006-01-02 15:04"), shortID(h.Session), h.Seq,
			who, clip(h.Title, 50), a.snippet(h.Snippet))
	}
	shown := uint64(o.offset + len(res.Hits))
	if res.Total > shown {
		fmt.Fprintf(a.stderr, "%d of %d hits shown (--limit, --offset for more)\n", len(res.Hits), res.Total-uint64(o.offset))
	} else if res.Total == 0 {
		fmt.Fprintln(a.stderr, "no messages match")
	}
	return nil
}

// indexMemoryLimitBytes is the Go runtime's soft memory limit while a
// command may build or catch up the search index (search, reindex),
// unless GOMEMLIMIT says otherwise. The catch-up holds a bounded amount
// (a batch of 500 documents being analyzed, the next one being read,
// scorch's merges: 9-11 MB live), but at the default GOGC the heap grows
// to twice that between collections and the runtime keeps what it freed:
// 50 MB resident for a first search of 100 000 messages instead of 25.
// Soft: a catch-up that needs more (many new sessions at once) gets it,
// with collections more often (the runtime caps their CPU at half).
const indexMemoryLimitBytes = 28 << 20

func indexMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(indexMemoryLimitBytes)
	}
}
