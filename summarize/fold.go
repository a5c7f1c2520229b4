package summarize

import (
	"context"
	"fmt"
	"strings"

	"github.com/picosess/picosess/workspace"
)

// composePlan runs the summarizer over a plan Select made (see Compose,
// which is Select then this) and returns the summary record to append.
// It writes nothing.
func composePlan(ctx context.Context, p Plan, s Settings, sz Summarizer, c Counter) (workspace.Record, error) {
	if p.Empty() {
		return workspace.Record{}, fmt.Errorf("%w: %s", ErrNothingToSummarize, p.Why)
	}
	req := BuildRequest(p, s)
	var res Result
	parts := Chunks(req, s.WithDefaults().MaxInputTokens, storedCounts(p, req, c))
	for i, part := range parts {
		if i > 0 {
			part.Previous = res.Text
		}
		var err error
		if res, err = summarizePart(ctx, sz, part); err != nil {
			return workspace.Record{}, partError(p, len(p.Fold), i+1, len(parts), part, err)
		}
	}
	return summaryRecord(p, res, c), nil
}

// summarizePart runs the summarizer on one part; an empty summary is an
// error.
func summarizePart(ctx context.Context, sz Summarizer, part Request) (Result, error) {
	res, err := sz.Summarize(ctx, part)
	return res, emptyIsError(res, err)
}

// emptyIsError is err, or ErrEmptySummary for a summary with no text.
func emptyIsError(res Result, err error) error {
	if err == nil && strings.TrimSpace(res.Text) == "" {
		return ErrEmptySummary
	}
	return err
}

// partError says where the summary of plan p (folded messages) failed:
// part i of n when there are several.
func partError(p Plan, folded, i, n int, part Request, err error) error {
	where := fmt.Sprintf("seq %d..%d (%d messages)", p.From, p.Through, folded)
	if n > 1 {
		where += fmt.Sprintf(", part %d of %d (seq %d..%d)", i, n, part.From, part.Through)
	}
	return fmt.Errorf("summarize %s: %w", where, err)
}

// summaryRecord is the record to append for summary res of plan p.
func summaryRecord(p Plan, res Result, c Counter) workspace.Record {
	text := strings.TrimSpace(res.Text)
	rec := workspace.Record{Type: workspace.TypeSummary, Through: p.Through, Text: text, By: res.By}
	rec.Tokens = MessageTokens(c, SummaryMessage(text))
	return rec
}

// stillHolds says whether a plan made from a read still holds, given the
// records appended after that read (oldest first): the summary it would
// replace is still the latest, the active history still runs through the
// folded messages (no reset, no restore), and no result of a tool call
// the plan folds arrived (Select would not have cut there). New messages
// are fine: they come after the cut and stay in the active history after
// the summary. It returns nil or an error wrapping ErrStale. The work is
// proportional to len(since), so it can run under the session's lock.
func stillHolds(p Plan, since []workspace.Record) error {
	folded := p.folded
	var superseded map[string]bool
	for _, r := range since {
		switch r.Type {
		case workspace.TypeSummary:
			return fmt.Errorf("%w: another summary (seq %d) was written meanwhile", ErrStale, r.Seq)
		case workspace.TypeReset:
			return fmt.Errorf("%w: the session was reset meanwhile (seq %d)", ErrStale, r.Seq)
		case workspace.TypeRestore:
			return fmt.Errorf("%w: checkpoint %d was restored meanwhile (seq %d)", ErrStale, r.Checkpoint, r.Seq)
		}
		if !isMessage(r) || len(folded) == 0 {
			continue
		}
		switch {
		case r.Role == workspace.RoleAssistant && !noCalls(r.ToolCalls):
			calls, err := ParseToolCalls(r.ToolCalls)
			if err != nil {
				continue
			}
			for _, c := range calls {
				if superseded == nil {
					superseded = map[string]bool{}
				}
				superseded[c.ID] = true
			}
		case r.Role == workspace.RoleTool && r.ToolCallID != "" && !superseded[r.ToolCallID]:
			if at, ok := folded[r.ToolCallID]; ok {
				return fmt.Errorf("%w: seq %d answers tool call %s of seq %d, which the summary folds", ErrStale, r.Seq, r.ToolCallID, at)
			}
		}
	}
	return nil
}

// knownCounts counts with Counter, except the texts in known, whose count
// is known already.
type knownCounts struct {
	Counter
	known map[string]int
}

func (k knownCounts) Count(text string) int {
	if n, ok := k.known[text]; ok {
		return n
	}
	return k.Counter.Count(text)
}

// storedCounts is c, but for the input texts that are a folded plain
// message's whole content it answers from the count stored with the
// message: that is the frame, the role and the content (MessageTokens), so
// the content's own count is what is left after the frame and the role.
// A stored count is trusted, as RecordTokens trusts it; it is exact when
// the workspace counts with the same counter (summarize.TokenFunc, or the
// config's counter, which is the workspace's default). Chunks then counts
// only the condensed texts (tool calls and results, trimmed or media
// messages): the first summary of a long session does not count again
// what was counted once at append.
func storedCounts(p Plan, req Request, c Counter) Counter {
	known := make(map[string]int, len(req.Messages))
	roles := map[string]int{}
	i := 0
	for _, in := range req.Messages {
		for i < len(p.Fold) && p.Fold[i].Seq < in.Seq {
			i++
		}
		if i == len(p.Fold) {
			break
		}
		r := p.Fold[i]
		if r.Seq != in.Seq || r.Tokens <= 0 || in.Text != r.Content || in.Trimmed != 0 ||
			r.Role == workspace.RoleTool || !noCalls(r.ToolCalls) || r.ToolCallID != "" {
			continue
		}
		frame, ok := roles[r.Role]
		if !ok {
			frame = TokensPerMessage + c.Count(r.Role)
			roles[r.Role] = frame
		}
		if n := r.Tokens - frame; n >= 0 {
			known[in.Text] = n
		}
	}
	return knownCounts{Counter: c, known: known}
}
