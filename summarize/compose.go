package summarize

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/picosess/picosess/workspace"
)

// ErrNothingToSummarize: the active history has nothing Select may fold.
var ErrNothingToSummarize = errors.New("summarize: nothing to summarize")

// Compose runs one summarization over an active history and returns the
// summary record to append (type summary, through, text, tokens, by) with
// the plan it followed. It writes nothing: when the summarizer fails the
// error says which range it was asked for and the caller appends nothing,
// so the session stays as it was.
func Compose(ctx context.Context, history []workspace.Record, s Settings, sz Summarizer, c Counter) (workspace.Record, Plan, error) {
	if c == nil {
		c = Estimate{}
	}
	p := Select(history, s)
	if p.Empty() {
		return workspace.Record{}, p, fmt.Errorf("%w: %s", ErrNothingToSummarize, p.Why)
	}
	req := BuildRequest(p, s)
	var res Result
	parts := Chunks(req, s.WithDefaults().MaxInputTokens, c)
	for i, part := range parts {
		if i > 0 {
			part.Previous = res.Text
		}
		var err error
		res, err = sz.Summarize(ctx, part)
		if err == nil && strings.TrimSpace(res.Text) == "" {
			err = ErrEmptySummary
		}
		if err != nil {
			where := fmt.Sprintf("seq %d..%d (%d messages)", p.From, p.Through, len(p.Fold))
			if len(parts) > 1 {
				where += fmt.Sprintf(", part %d of %d (seq %d..%d)", i+1, len(parts), part.From, part.Through)
			}
			return workspace.Record{}, p, fmt.Errorf("summarize %s: %w", where, err)
		}
	}
	text := strings.TrimSpace(res.Text)
	if text == "" {
		return workspace.Record{}, p, fmt.Errorf("summarize seq %d..%d: %w", p.From, p.Through, ErrEmptySummary)
	}
	rec := workspace.Record{
		Type:    workspace.TypeSummary,
		Through: p.Through,
		Text:    text,
		By:      res.By,
	}
	rec.Tokens = MessageTokens(c, SummaryMessage(text))
	return rec, p, nil
}

// Chunks splits a request whose transcript would exceed maxTokens into
// consecutive requests, each within maxTokens (a single message larger than
// that, already trimmed by BuildRequest, goes alone). The caller folds them
// in order, giving each the previous one's summary as Previous; only the
// first carries the original previous summary. maxTokens <= 0 means no
// limit.
func Chunks(req Request, maxTokens int, c Counter) []Request {
	if maxTokens <= 0 || len(req.Messages) == 0 {
		return []Request{req}
	}
	if c == nil {
		c = Estimate{}
	}
	// Room for the previous summary (the original one, or the target size
	// of the running one) and the framing.
	room := maxTokens - max(c.Count(req.Previous), req.TargetTokens) - 64
	var out []Request
	cur := Request{Previous: req.Previous, TargetTokens: req.TargetTokens}
	used := 0
	flush := func() {
		cur.From = cur.Messages[0].Seq
		cur.Through = cur.Messages[len(cur.Messages)-1].Seq
		out = append(out, cur)
		cur = Request{TargetTokens: req.TargetTokens}
		used = 0
	}
	for _, m := range req.Messages {
		n := c.Count(m.Text) + 8 // "[seq] role: " and the newline
		if used > 0 && used+n > room {
			flush()
		}
		cur.Messages = append(cur.Messages, m)
		used += n
	}
	flush()
	if len(out) == 1 {
		out[0].From, out[0].Through = req.From, req.Through
	}
	return out
}
