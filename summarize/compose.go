package summarize

import (
	"context"
	"errors"

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
	rec, err := composePlan(ctx, p, s, sz, c)
	return rec, p, err
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
