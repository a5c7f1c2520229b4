package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/picosess/picosess/summarize"
	"github.com/picosess/picosess/workspace"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// summarizeOptions are the flags of summarize.
type summarizeOptions struct {
	force  bool
	dryRun bool
	due    bool
}

// summarizeResult is the --json shape of summarize SESSION, and one entry
// of summarize --due (docs/cli.md).
type summarizeResult struct {
	ID         string `json:"id"`
	Agent      string `json:"agent"`
	Summarizer string `json:"summarizer"`
	DryRun     bool   `json:"dry_run"`
	Due        bool   `json:"due"`
	Reason     string `json:"reason"`
	// Summarized: a summary record was appended (never in a dry run).
	Summarized bool `json:"summarized"`
	// Busy: another process was summarizing the session; nothing done.
	Busy bool `json:"busy,omitempty"`
	// From..Through is the range folded (or that would be, in a dry run);
	// 0 when nothing is to be summarized.
	From           int64 `json:"from"`
	Through        int64 `json:"through"`
	MessagesFolded int   `json:"messages_folded"`
	// PreviousSummary is the seq of the summary folded in, 0 if none.
	PreviousSummary int64 `json:"previous_summary,omitempty"`
	MessagesKept    int   `json:"messages_kept"`
	TokensBefore    int   `json:"tokens_before"`
	// TokensAfter is the active history's cost after summarizing; 0 when
	// nothing was written.
	TokensAfter int               `json:"tokens_after"`
	Summary     *workspace.Record `json:"summary,omitempty"`
	Error       string            `json:"error,omitempty"`
}

// summarizeDueOutput is the --json shape of summarize --due.
type summarizeDueOutput struct {
	DryRun     bool              `json:"dry_run"`
	Checked    int               `json:"checked"`
	Due        int               `json:"due"`
	Summarized int               `json:"summarized"`
	Busy       int               `json:"busy"`
	Failed     int               `json:"failed"`
	Sessions   []summarizeResult `json:"sessions"` // the sessions that were due, in listing order
}

func newSummarizeCmd(a *app) *cobra.Command {
	var o summarizeOptions
	cmd := &cobra.Command{
		Use:   "summarize SESSION [--force] [--dry-run] | summarize --due [--dry-run]",
		Short: "Fold a session's older messages into a summary record",
		Long: `Summarize a session when it is due: message_threshold messages since the
last summary, token_percent of context_window, or past limits.max_messages
or limits.max_tokens (docs/summarize.md). Everything but the newest
keep_recent messages is folded, with the previous summary, into one new
summary record; the cut never separates a tool call from its results. Raw
messages stay in the file untouched.

The settings and the summarizer (summarize.summarizer: extractive, openai or
command) come from the workspace config.json, for the session's agent.

  --force     summarize even if not due (when anything can be folded)
  --dry-run   say what would be folded and by which summarizer; write nothing
  --due       every session that is due, with a progress bar on a terminal
              and a summary line at the end

A session another process is summarizing is left alone ("busy"). A failing
summarizer (endpoint down, command failing) writes nothing: the session stays
as it was.

--json prints one object (docs/cli.md). With --due --json, one JSON line per
session goes to stderr as progress.

EXAMPLES
  picosess summarize sk_v1_67fe19a8ec8f
  picosess summarize my-project --force --dry-run
  picosess summarize --due

EXIT STATUS
  0 summarized, or not due (the reason is printed), or nothing to fold;
  1 bad flags, unknown SESSION, a config error, the summarizer failed, or
    (--due) every due session failed; 3 (--due) some sessions failed while
    others were summarized; 10 not a workspace; 11 another process is
    summarizing SESSION, or its lock timed out; 130 interrupted.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.due {
				if len(args) > 0 {
					return usageErrorf("--due summarizes every due session: give no SESSION")
				}
				if o.force {
					return usageErrorf("--force applies to one SESSION, not to --due")
				}
				return a.runSummarizeDue(cmd.Context(), &o)
			}
			if len(args) != 1 {
				return usageErrorf("summarize takes one SESSION (or --due), got %d argument(s)", len(args))
			}
			return a.runSummarize(cmd.Context(), &o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "summarize even if not due")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be summarized; write nothing")
	cmd.Flags().BoolVar(&o.due, "due", false, "summarize every session that is due")
	return cmd
}

// compactors is the library's per-agent assembly of counter, compactor and
// summarizer for w (summarize.ForWorkspace), the openai summarizer reading
// its API key through the app's getenv, so tests can give one.
func (a *app) compactors(w *workspace.Workspace) *summarize.Compactors {
	cs := summarize.ForWorkspace(w)
	cs.Getenv = a.getenv
	return cs
}

func agentName(agent string) string {
	if agent == "" {
		return "main"
	}
	return agent
}

// describeSummarizer names the summarizer settings choose: "extractive",
// "openai http://…/v1 model m", "command prog".
func describeSummarizer(s summarize.Settings) string {
	ss := s.WithDefaults().Summarizer
	switch ss.Kind {
	case summarize.KindOpenAI:
		return fmt.Sprintf("openai %s (model %s)", ss.BaseURL, ss.Model)
	case summarize.KindCommand:
		return "command " + strings.Join(ss.Command, " ")
	}
	return ss.Kind
}

func (a *app) runSummarize(ctx context.Context, o *summarizeOptions, ref string) error {
	s, closeWS, err := a.openSession(ctx, ref)
	if err != nil {
		return err
	}
	defer closeWS()
	res, err := a.summarizeOne(ctx, a.compactors(s.Workspace()), s, o.force, o.dryRun)
	if err != nil {
		return err
	}
	if res.Busy {
		msg := fmt.Sprintf("another process is summarizing %s; nothing done", s.ID())
		if h, rerr := s.LeaseHolder(ctx, "summarize"); rerr == nil && h != "" {
			msg += " (lock held by " + h + ")"
		}
		if a.jsonOut {
			if err := a.writeJSON(res); err != nil {
				return err
			}
		}
		return &exitError{code: exitLocked, msg: msg}
	}
	if a.jsonOut {
		return a.writeJSON(res)
	}
	return writeSummarizeText(a.stdout, res)
}

// summarizeOne summarizes (or plans to) one session. A failing summarizer
// is an error; not due and nothing to fold are results.
func (a *app) summarizeOne(ctx context.Context, cs *summarize.Compactors, s *workspace.Session, force, dryRun bool) (summarizeResult, error) {
	m, err := s.Meta(ctx)
	if err != nil {
		return summarizeResult{}, err
	}
	k, err := cs.For(ctx, s)
	if err != nil {
		return summarizeResult{}, err
	}
	res := summarizeResult{ID: s.ID(), Agent: agentName(m.Agent), Summarizer: describeSummarizer(k.Settings), DryRun: dryRun}
	d, err := k.Due(ctx, s)
	if err != nil {
		return res, err
	}
	res.fromDecision(d)
	if dryRun || (!d.Due && !force) || d.Plan.Empty() {
		if !dryRun {
			res.From, res.Through, res.MessagesFolded, res.PreviousSummary = 0, 0, 0, 0
		}
		return res, nil
	}
	var out summarize.Outcome
	if force {
		out, err = k.Summarize(ctx, s)
	} else {
		out, err = k.Maybe(ctx, s)
	}
	if err != nil {
		if errors.Is(err, summarize.ErrStale) {
			return res, fmt.Errorf("%w\n  nothing was written; run summarize again", err)
		}
		return res, fmt.Errorf("%w\n  nothing was written: the session is unchanged", err)
	}
	if out.Busy {
		res.Busy = true
		return res, nil
	}
	if !out.Summarized {
		// another process summarized it between our look and the lock
		res.fromDecision(out.Decision)
		res.From, res.Through, res.MessagesFolded, res.PreviousSummary = 0, 0, 0, 0
		return res, nil
	}
	// The plan the summary followed is the one made under the lock.
	res.fromDecision(out.Decision)
	res.Through = out.Summary.Through
	res.Summarized = true
	rec := out.Summary
	res.Summary = &rec
	after, err := k.Due(ctx, s)
	if err != nil {
		return res, err
	}
	res.TokensAfter = after.Tokens
	return res, nil
}

func (r *summarizeResult) fromDecision(d summarize.Decision) {
	r.Due, r.Reason, r.TokensBefore = d.Due, d.Reason, d.Tokens
	p := d.Plan
	r.From, r.Through, r.MessagesFolded, r.MessagesKept = p.From, p.Through, p.Folded, p.Kept
	r.PreviousSummary = 0
	if p.Previous != nil {
		r.PreviousSummary = p.Previous.Seq
	}
	if p.Empty() && p.Why != "" && !strings.Contains(r.Reason, p.Why) {
		r.Reason += "; nothing to summarize: " + p.Why
	}
}

func writeSummarizeText(w io.Writer, r summarizeResult) error {
	bw := &errWriter{w: w}
	prev := ""
	if r.PreviousSummary > 0 {
		prev = fmt.Sprintf(" and the summary #%d", r.PreviousSummary)
	}
	switch {
	case r.Summarized:
		fmt.Fprintf(bw, "summarized %s through #%d: %d message(s) (#%d..#%d)%s folded into summary #%d by %s\n",
			r.ID, r.Through, r.MessagesFolded, r.From, r.Through, prev, r.Summary.Seq, r.Summary.By)
		fmt.Fprintf(bw, "active history: %d token(s) before, %d after; %d recent message(s) kept\n", r.TokensBefore, r.TokensAfter, r.MessagesKept)
	case r.DryRun && r.MessagesFolded > 0:
		due := "due: " + r.Reason
		if !r.Due {
			due = "not due (" + r.Reason + "); --force would summarize"
		}
		fmt.Fprintf(bw, "dry run: %s\n  would fold %d message(s) (#%d..#%d)%s into a summary with %s, keeping %d recent message(s); active history now %d token(s)\n  nothing was written\n",
			due, r.MessagesFolded, r.From, r.Through, prev, r.Summarizer, r.MessagesKept, r.TokensBefore)
	case r.DryRun:
		fmt.Fprintf(bw, "dry run: nothing to summarize in %s: %s\n", r.ID, r.Reason)
	case r.Due || r.MessagesFolded == 0 && strings.Contains(r.Reason, "nothing to summarize"):
		fmt.Fprintf(bw, "nothing to summarize in %s: %s\n", r.ID, r.Reason)
	default:
		fmt.Fprintf(bw, "not due: %s (%s)\n  --force summarizes anyway\n", r.Reason, r.ID)
	}
	return bw.err
}

func (a *app) runSummarizeDue(ctx context.Context, o *summarizeOptions) error {
	w, err := a.openWorkspace()
	if err != nil {
		return err
	}
	defer w.Close()
	cs := a.compactors(w)
	metas, err := w.List(ctx, workspace.ListOptions{})
	if err != nil {
		return err
	}
	out := summarizeDueOutput{DryRun: o.dryRun, Sessions: []summarizeResult{}}
	bar := a.newProgress(len(metas), "summarize")
	var ctxErr error
	for _, m := range metas {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		out.Checked++
		res, err := a.dueOne(ctx, cs, w, m, o.dryRun)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			ctxErr = err
			break
		}
		if res.Due || res.Busy || res.Error != "" {
			out.Due++
			switch {
			case res.Error != "":
				out.Failed++
			case res.Busy:
				out.Busy++
			case res.Summarized:
				out.Summarized++
			}
			out.Sessions = append(out.Sessions, res)
			if !a.jsonOut {
				bar.log(summarizeLine(res))
			}
		}
		bar.step(progressLine{Done: out.Checked, Total: len(metas), ID: m.ID, Action: dueAction(res)})
	}
	bar.finish()
	if ctxErr != nil {
		return ctxErr
	}
	if a.jsonOut {
		if err := a.writeJSON(out); err != nil {
			return err
		}
	} else {
		verb := "summarized"
		if o.dryRun {
			verb = "to summarize (dry run, nothing written)"
		}
		fmt.Fprintf(a.stdout, "checked %d session(s): %d due, %d %s, %d busy, %d failed\n",
			out.Checked, out.Due, out.Summarized+countDry(out, o.dryRun), verb, out.Busy, out.Failed)
	}
	switch {
	case out.Failed > 0 && out.Failed == out.Due-out.Busy:
		return &exitError{code: exitFailure, msg: fmt.Sprintf("every due session failed (%d)", out.Failed)}
	case out.Failed > 0:
		return &exitError{code: exitRepairable, msg: fmt.Sprintf("partial: %d of %d due session(s) failed", out.Failed, out.Due)}
	}
	return nil
}

func countDry(out summarizeDueOutput, dry bool) int {
	if !dry {
		return 0
	}
	n := 0
	for _, s := range out.Sessions {
		if s.Error == "" && !s.Busy {
			n++
		}
	}
	return n
}

// dueOne summarizes one listed session if it is due; a failure is kept in
// the result (Error) so that --due goes on with the others.
func (a *app) dueOne(ctx context.Context, cs *summarize.Compactors, w *workspace.Workspace, m workspace.Meta, dryRun bool) (summarizeResult, error) {
	res := summarizeResult{ID: m.ID, Agent: agentName(m.Agent), DryRun: dryRun}
	s, err := w.OpenID(m.ID)
	if err == nil {
		res, err = a.summarizeOne(ctx, cs, s, false, dryRun)
	}
	if err != nil {
		res.ID, res.Error = m.ID, err.Error()
		if res.Agent == "" {
			res.Agent = agentName(m.Agent)
		}
	}
	return res, err
}

func dueAction(r summarizeResult) string {
	switch {
	case r.Error != "":
		return "failed"
	case r.Busy:
		return "busy"
	case r.Summarized:
		return "summarized"
	case r.Due && r.DryRun:
		return "would_summarize"
	}
	return "not_due"
}

func summarizeLine(r summarizeResult) string {
	switch dueAction(r) {
	case "failed":
		return fmt.Sprintf("FAILED %s: %s", r.ID, firstLine(r.Error))
	case "busy":
		return fmt.Sprintf("busy   %s: another process is summarizing it", r.ID)
	case "summarized":
		return fmt.Sprintf("done   %s: %d message(s) through #%d folded by %s; %d -> %d token(s)", r.ID, r.MessagesFolded, r.Through, r.Summary.By, r.TokensBefore, r.TokensAfter)
	}
	return fmt.Sprintf("due    %s: would fold %d message(s) (#%d..#%d) with %s: %s", r.ID, r.MessagesFolded, r.From, r.Through, r.Summarizer, r.Reason)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// progressLine is one JSON progress line on stderr (--json).
type progressLine struct {
	Done   int    `json:"done"`
	Total  int    `json:"total"`
	ID     string `json:"id"`
	Key    string `json:"key,omitempty"`
	Action string `json:"action"`
	// Messages and Written are set by migrate.
	Messages int `json:"messages,omitempty"`
	Written  int `json:"written,omitempty"`
}

// progress shows long work on stderr: a bar when stderr is a terminal,
// JSON lines with --json, nothing otherwise (plain text lines of results
// go to stdout through log).
type progress struct {
	a    *app
	bar  interface{ Add(int) error }
	fin  func()
	clr  func()
	json *json.Encoder
}

func (a *app) newProgress(total int, what string) *progress {
	p := &progress{a: a}
	switch {
	case a.jsonOut:
		p.json = json.NewEncoder(a.stderr)
	case isTerminal(a.stderr) && total > 0:
		p.bar, p.fin, p.clr = newBar(a.stderr, total, what)
	}
	return p
}

func (p *progress) step(l progressLine) {
	switch {
	case p.json != nil:
		_ = p.json.Encode(l)
	case p.bar != nil:
		_ = p.bar.Add(1)
	}
}

// log prints a line of results on stdout, clearing the bar first.
func (p *progress) log(line string) {
	if p.clr != nil {
		p.clr()
	}
	fmt.Fprintln(p.a.stdout, line)
}

func (p *progress) finish() {
	if p.fin != nil {
		p.fin()
	}
}

// newBar is a progress bar on a terminal; clear wipes it so a line can be
// printed above it.
func newBar(w io.Writer, total int, what string) (bar interface{ Add(int) error }, finish, clear func()) {
	b := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
	return b, func() { _ = b.Finish() }, func() { _ = b.Clear() }
}
