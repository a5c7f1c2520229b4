package summarize

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/picosess/picosess/workspace"
)

// ErrStale: the session changed between reading it and writing the summary
// (another summary, a reset or a restore landed meanwhile); nothing was
// written.
var ErrStale = errors.New("summarize: session changed while summarizing")

// Compactor applies Settings to the sessions of a workspace: it says when
// one is due, summarizes it, and builds its context. The zero value works:
// default settings, the estimate counter, the extractive summarizer.
// A Compactor is safe for concurrent use.
type Compactor struct {
	Settings   Settings
	Counter    Counter    // nil: Estimate
	Summarizer Summarizer // nil: Extractive counting with Counter
}

// NewCompactor builds a Compactor from settings: the counter and the
// summarizer they name.
func NewCompactor(s Settings) (*Compactor, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	c, err := NewCounter(s)
	if err != nil {
		return nil, err
	}
	sz, err := New(s.WithDefaults().Summarizer, c)
	if err != nil {
		return nil, err
	}
	return &Compactor{Settings: s, Counter: c, Summarizer: sz}, nil
}

func (k *Compactor) counter() Counter {
	if k.Counter == nil {
		return Estimate{}
	}
	return k.Counter
}

func (k *Compactor) summarizer() Summarizer {
	if k.Summarizer == nil {
		return Extractive{Counter: k.counter()}
	}
	return k.Summarizer
}

// Outcome is what Maybe or Summarize did.
type Outcome struct {
	Decision   Decision
	Summarized bool
	// Summary is the record appended (its Seq set) when Summarized.
	Summary workspace.Record
	// Busy: another process was summarizing this session; nothing was done.
	Busy bool
}

// Records returns a history as the flat record list the pure functions of
// this package take: the summary (if any) then the messages.
func Records(h workspace.History) []workspace.Record {
	out := make([]workspace.Record, 0, len(h.Messages)+1)
	if h.Summary != nil {
		out = append(out, *h.Summary)
	}
	return append(out, h.Messages...)
}

// Due reads the session's active history (no lock) and says whether it is
// due for a summary.
func (k *Compactor) Due(ctx context.Context, s *workspace.Session) (Decision, error) {
	r, err := k.read(ctx, s)
	return r.decision, err
}

// Maybe summarizes the session if it is due. See Summarize.
func (k *Compactor) Maybe(ctx context.Context, s *workspace.Session) (Outcome, error) {
	return k.run(ctx, s, false)
}

// Summarize summarizes the session now, due or not (there must still be
// something Select may fold). Two processes never summarize the same range
// twice: the work happens under an exclusive lock, on
// <root>/locks/<id>.summarize.lock or, on a store, a lease in the store
// that every machine sees (a second process finds it held and returns
// Busy), and the decision is re-made under that lock when the
// session changed in a way that matters since it was read.
//
// Writers are never held up by a summary: the active history is read, the
// messages chosen and the summarizer run without the session's append
// lock. Under it, AppendAfter looks only at what was appended since the
// read: new messages are fine (they stay in the active history after the
// summary), while a newer summary, a reset, a restore, a result of a
// folded tool call or a rewritten file make the summary stale (ErrStale)
// and nothing is written. When the summarizer fails nothing is written.
func (k *Compactor) Summarize(ctx context.Context, s *workspace.Session) (Outcome, error) {
	return k.run(ctx, s, true)
}

// reading is one read of a session's active history: where it ended and
// what Due made of it.
type reading struct {
	mark     workspace.Mark
	decision Decision
	fold     *foldStream // to read the folded messages again
}

// read reads the active history (no lock), one message at a time, and
// applies Due to it (fold_stream.go).
func (k *Compactor) read(ctx context.Context, s *workspace.Session) (reading, error) {
	hs, m, err := s.HistoryStreamMark(ctx)
	if err != nil {
		return reading{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	d, f, err := dueStream(ctx, hs, k.Settings, k.counter())
	if err != nil {
		return reading{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	return reading{mark: m, decision: d, fold: f}, nil
}

// beforeLock, when a test sets it, runs between Maybe's lock-free read
// and its taking the summarize lock: what another process may do then.
var beforeLock func(*workspace.Session)

func (k *Compactor) run(ctx context.Context, s *workspace.Session, force bool) (Outcome, error) {
	var r reading
	read := false // r holds a read
	if !force {
		// Lock-free first: most turns are not due.
		var err error
		if r, err = k.read(ctx, s); err != nil || !r.decision.Due {
			return Outcome{Decision: r.decision}, err
		}
		read = true
		if beforeLock != nil {
			beforeLock(s)
		}
	}
	ctx, unlock, ok, err := lockSummarize(ctx, s)
	if err != nil {
		return Outcome{}, err
	}
	if !ok {
		return Outcome{Busy: true}, nil
	}
	defer unlock()

	if read {
		// Another process may have summarized (or reset) the session
		// between the read and the lock: look at what came since, and
		// read again only if it matters.
		since, _, err := s.Since(ctx, r.mark)
		read = err == nil && stillHolds(r.decision.Plan, since) == nil
	}
	if !read {
		if r, err = k.read(ctx, s); err != nil {
			return Outcome{}, err
		}
		if !r.decision.Due && !force {
			return Outcome{Decision: r.decision}, nil // summarized meanwhile
		}
	}
	out := Outcome{Decision: r.decision}
	rec, err := composeStream(ctx, r.fold, r.decision.Plan, k.Settings, k.summarizer(), k.counter())
	if err != nil {
		return out, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	plan := r.decision.Plan
	seqs, err := s.AppendAfter(ctx, r.mark, func(since []workspace.Record) error {
		return stillHolds(plan, since)
	}, rec)
	if errors.Is(err, workspace.ErrDiverged) {
		err = fmt.Errorf("%w: %w", ErrStale, err)
	}
	if err != nil {
		return out, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	rec.Seq = seqs[len(seqs)-1]
	out.Summarized, out.Summary = true, rec
	return out, nil
}

// SummarizeLockPath is the lock file taken while a session of a file
// workspace is summarized (on a store the lock is a lease in the store).
func SummarizeLockPath(s *workspace.Session) string {
	return s.Workspace().LeasePath(s.ID(), "summarize")
}

// lockSummarize takes the summarize lock without waiting. ok is false when
// another process (or another Compactor of this one) holds it: of this
// machine on a file workspace (an flock on SummarizeLockPath), of any
// machine that shares the store on a workspace with one (a lease in the
// store; docs/redis.md). The returned context ends when the lock is lost
// (a lease that could not be renewed in time), so that the summary's work
// stops; AppendAfter still refuses a summary made stale meanwhile.
func lockSummarize(ctx context.Context, s *workspace.Session) (held context.Context, unlock func(), ok bool, err error) {
	l, err := s.TryLock(ctx, "summarize")
	if err != nil {
		return nil, nil, false, fmt.Errorf("summarize: %w", err)
	}
	if l == nil {
		return nil, nil, false, nil
	}
	held, cancel := context.WithCancel(ctx)
	if lost := l.Lost(); lost != nil {
		go func() {
			select {
			case <-lost:
				cancel()
			case <-held.Done():
			}
		}()
	}
	return held, func() { cancel(); l.Release() }, true, nil
}

// tailFirst guesses how many of the newest messages to read for a
// budget: one per 16 tokens (chat messages average more), within bounds.
func tailFirst(maxTokens int) int {
	return min(max(maxTokens/16, 32), 4096)
}

// Context builds the context of a session within a budget (see
// BuildContext). The recent and summarize strategies read only the tail of
// the session, widening it until the budget is full or the active history
// is read whole; smart reads the whole active history, since a system
// message or pinned message may sit anywhere in it, one message at a
// time, holding only what the budget (or the limits) may still take
// (context_stream.go). History limits
// (Settings.Limits: limits.max_messages, limits.max_tokens) are applied
// first, as workspace.History.Within does (Context.Limited counts what
// they left out). With the summarize strategy, a history that does not
// fit is summarized first (as Summarize, under the same locks), then the
// context is built again; so is a history over a limit when
// limits.compaction is "summarize".
func (k *Compactor) Context(ctx context.Context, s *workspace.Session, b Budget) (Context, error) {
	out, err := k.buildContext(ctx, s, b)
	if err != nil {
		return out, err
	}
	overBudget := b.Strategy == StrategySummarize && out.Omitted > 0
	overLimit := out.Limited > 0 && k.Settings.Limits.Compaction == workspace.CompactionSummarize
	if !overBudget && !overLimit {
		return out, nil
	}
	o, err := k.Summarize(ctx, s)
	if errors.Is(err, ErrNothingToSummarize) || (err == nil && !o.Summarized) {
		return out, nil // nothing to fold, or another process is on it
	}
	if err != nil {
		return out, err
	}
	return k.buildContext(ctx, s, b)
}

func (k *Compactor) buildContext(ctx context.Context, s *workspace.Session, b Budget) (Context, error) {
	limit := tailFirst(b.MaxTokens)
	if b.Strategy == StrategySmart || b.Strategy == "" {
		limit = 0
	}
	maxMsgs, maxToks := max(k.Settings.Limits.MaxMessages, 0), max(k.Settings.Limits.MaxTokens, 0)
	if limit == 0 && maxMsgs == 0 && maxToks == 0 {
		// The whole active history, read one message at a time, holding
		// only what the budget may still take (context_stream.go).
		return streamContext(ctx, s, b, k.counter())
	}
	if limit == 0 {
		return k.streamWithin(ctx, s, b, maxMsgs, maxToks) // smart, with history limits
	}
	for {
		h, err := s.History(ctx, limit)
		if err != nil {
			return Context{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
		}
		if maxMsgs > 0 || maxToks > 0 {
			if h = h.Within(maxMsgs, maxToks); h.Trimmed > 0 {
				h.More = false // the limit binds within what was read
			}
		}
		recs := Records(h)
		used := TokensReplyPrime
		if h.More {
			// Cheap upper bound first: if all that was read fits, there is
			// no point building a context from it; read further.
			for _, r := range recs {
				used += RecordTokens(k.counter(), r)
			}
		}
		if !h.More || used > b.MaxTokens {
			out, err := BuildContext(recs, b, k.counter())
			if err != nil || !h.More || out.Omitted > 0 {
				k.noteLimited(&out, h)
				return out, err
			}
			used = out.Tokens
		}
		// Everything read fits: read enough more, judging by the tokens
		// per message seen so far, to fill the budget (at least twice as
		// many).
		next := 2 * limit
		if used > 0 {
			next = max(next, limit*b.MaxTokens/used*5/4)
		}
		limit = next
	}
}

// noteLimited records in out what the history limits left out of h.
func (k *Compactor) noteLimited(out *Context, h workspace.History) {
	if h.Trimmed == 0 {
		return
	}
	out.Limited, out.LimitedTokens = h.Trimmed, h.TrimmedTokens
	l := k.Settings.Limits
	var which []string
	if l.MaxMessages > 0 {
		which = append(which, fmt.Sprintf("limits.max_messages %d", l.MaxMessages))
	}
	if l.MaxTokens > 0 {
		which = append(which, fmt.Sprintf("limits.max_tokens %d", l.MaxTokens))
	}
	out.Notes = append(out.Notes, fmt.Sprintf("history limits (%s) left out %d older messages (%d tokens); they stay in the file",
		strings.Join(which, ", "), h.Trimmed, h.TrimmedTokens))
}

// TokenFunc adapts a counter to workspace.Options.CountTokens, so that the
// tokens stored at append are the ones this package counts (RecordTokens).
// The workspace's default counter is the config's already.
func TokenFunc(c Counter) func(workspace.Record) int { return workspace.TokenCounter(c) }
