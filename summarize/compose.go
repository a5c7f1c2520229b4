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
	res, err := sz.Summarize(ctx, req)
	if err != nil {
		return workspace.Record{}, p, fmt.Errorf("summarize seq %d..%d (%d messages): %w", p.From, p.Through, len(p.Fold), err)
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
