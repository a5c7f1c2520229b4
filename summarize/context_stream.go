package summarize

import (
	"context"
	"fmt"
	"slices"

	"github.com/picosess/picosess/workspace"
)

// streamContext builds the context of a session's whole active history as
// BuildContext would on the folded history, reading the history one
// message at a time (workspace.HistoryStream) and holding only the blocks
// the budget may still take: see streamFitter.
func streamContext(ctx context.Context, s *workspace.Session, b Budget, c Counter) (Context, error) {
	if err := checkBudget(&b); err != nil {
		return Context{}, err
	}
	if c == nil {
		c = Estimate{}
	}
	hs, err := s.HistoryStream(ctx)
	if err != nil {
		return Context{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	f := newStreamFitter(hs.Summary, b, c)
	if err := hs.Each(ctx, func(r workspace.Record) error {
		f.add(r) // Split as BuildContext does, as the messages come
		return nil
	}); err != nil {
		return Context{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	return f.finish(), nil
}

// streamFitter is BuildContext (buildBlocks, then the fitter) for messages
// given one at a time, oldest first, in memory that follows what the
// context may send rather than the history's length. The result is the
// same Context; TestStreamFitterIsBuildContext compares the two on
// random histories, every strategy.
//
// Blocks are built as buildBlocks builds them. A block is final when no
// later message can change it: it has no tool calls, or each of its call
// ids has its result or was called again by a later block (a result pairs
// with the latest call of its id). A final block is repaired
// (keepAnswered) and counted at once. The selection passes are then done
// as early as they can be:
//
//   - system messages (smart) never have tool calls, so each is final when
//     it comes and is taken or not right then, in history order, as the
//     fitter's first pass does;
//   - the summary and the pins are known from the start; pinned blocks are
//     kept to the end;
//   - the recent pass walks back from the newest block, skipping blocks
//     already taken and stopping at the first that does not fit. To reach
//     a block it must take every block newer than it that no earlier pass
//     took, among them every final block that is neither system nor
//     pinned ("plain"). So a final block not taken and not pinned, with
//     more than the budget in plain blocks after it, can never be taken
//     nor be the one the walk stops at: it is let go, its messages and
//     tokens added to Omitted and OmittedTokens.
//
// What stays is the taken system messages, the pinned blocks, blocks still
// waiting for a result, and a tail a little over the budget (plus what
// arrived since the last sweep, at most as much again). Besides that, the
// ids of tool calls (to pair results and to tell a second result from an
// orphan) are kept for the whole history, a few bytes per call.
type streamFitter struct {
	b       Budget
	c       Counter
	limit   int // the most the recent pass can take: max(MaxTokens - priming, 0)
	pins    map[int64]bool
	cut     bool // a summary stands in for the messages through seq through
	through int64
	sum     *block // the summary to send, nil if none (or empty)
	left    int
	out     Context

	seen  int                     // non-thought-only messages read (nextTo)
	calls map[string]*streamBlock // tool call id -> block of its latest call; nil once answered
	ord   int                     // ordinal of the next block

	held    []*streamBlock // blocks kept, oldest first
	sweepAt int            // len(held) that triggers the next sweep

	answered []ordRepair // keepAnswered's repairs, listed after the others in block order

	blocks    int // blocks that are sent or could be (held or let go)
	goneMsgs  int // messages of the blocks let go
	goneToks  int // and their tokens
	goneOrd   int // ordinal of the newest block let go (-1: none)
	breakLead int // ordinal of the oldest non-system block let go (-1: none)
}

// streamBlock is a block under construction or held for the selection.
type streamBlock struct {
	block
	ord    int  // position among blocks, from 0
	open   int  // call ids still waiting for a result
	mark   int  // seen after its last message
	final  bool // no message can be added or removed any more
	gone   bool // dropped by keepAnswered (nothing left to send)
	chosen bool
	pinned bool
}

type ordRepair struct {
	ord     int
	repairs []string
}

func newStreamFitter(summary *workspace.Record, b Budget, c Counter) *streamFitter {
	f := &streamFitter{b: b, c: c, limit: max(b.MaxTokens-TokensReplyPrime, 0), left: b.MaxTokens - TokensReplyPrime,
		calls: map[string]*streamBlock{}, sweepAt: 64, goneOrd: -1, breakLead: -1,
		out: Context{Budget: b, Strategy: b.Strategy}}
	if b.Strategy == StrategySmart && len(b.Pinned) > 0 {
		f.pins = make(map[int64]bool, len(b.Pinned))
		for _, s := range b.Pinned {
			f.pins[s] = true
		}
	}
	if summary != nil && summary.Text != "" {
		f.sum = summaryBlock(summary, c)
	}
	if summary != nil { // an empty one only cuts (KeepLast)
		f.cut, f.through = true, summary.Through
	}
	return f
}

// add takes the next record of the active history.
func (f *streamFitter) add(r workspace.Record) {
	if !isMessage(r) || (f.cut && r.Seq <= f.through) {
		return
	}
	f.out.Available++
	if isThoughtOnly(r) {
		return
	}
	f.seen++
	m, tok, recount, ok := contextMessage(r, f.c, &f.out.Repairs)
	if !ok {
		return
	}
	if r.Role == workspace.RoleTool {
		bl, ok := f.calls[r.ToolCallID]
		switch {
		case !ok:
			f.out.Repairs = append(f.out.Repairs, fmt.Sprintf("seq %d: tool result for %q has no call in the history: left out", r.Seq, r.ToolCallID))
			return
		case bl == nil:
			f.out.Repairs = append(f.out.Repairs, fmt.Sprintf("seq %d: second result for tool call %q: left out", r.Seq, r.ToolCallID))
			return
		}
		f.calls[r.ToolCallID] = nil
		if bl.mark != f.seen-1 {
			f.out.Repairs = append(f.out.Repairs, fmt.Sprintf("seq %d: tool result moved next to its call (seq %d)", r.Seq, bl.seqs[0]))
		}
		bl.msgs = append(bl.msgs, m)
		bl.seqs = append(bl.seqs, r.Seq)
		bl.toks = append(bl.toks, tok)
		bl.mark = f.seen
		if bl.open--; bl.open == 0 {
			f.final(bl)
		}
		return
	}
	bl := &streamBlock{block: block{msgs: []ChatMessage{m}, seqs: []int64{r.Seq}, toks: []int{tok},
		system: r.Role == workspace.RoleSystem, recount: recount}, ord: f.ord, mark: f.seen}
	f.ord++
	f.held = append(f.held, bl)
	for _, tc := range m.ToolCalls {
		old, ok := f.calls[tc.ID]
		if ok && old == bl {
			continue // an id repeated within the message
		}
		f.calls[tc.ID] = bl
		bl.open++
		if ok && old != nil {
			// The older call can no longer get its result.
			if old.open--; old.open == 0 {
				f.final(old)
			}
		}
	}
	if bl.open == 0 {
		f.final(bl)
	}
	if len(f.held) >= f.sweepAt {
		f.sweep()
		f.sweepAt = max(2*len(f.held), 64)
	}
}

// final repairs and counts a block no message can change any more and, for
// a system message (smart), takes it if it fits, as the fitter's first
// pass does.
func (f *streamFitter) final(bl *streamBlock) {
	bl.final = true
	var reps []string
	if !keepAnswered(&bl.block, &reps) {
		bl.gone = true
	}
	if len(reps) > 0 {
		f.answered = append(f.answered, ordRepair{bl.ord, reps})
	}
	if bl.gone {
		return
	}
	bl.count(f.c)
	bl.pinned = f.pins != nil && bl.has(f.pins)
	f.blocks++
	if bl.system && f.b.Strategy == StrategySmart {
		if bl.tokens <= f.left {
			bl.chosen = true
			f.left -= bl.tokens
		} else {
			f.note("system message seq %d (%d tokens) does not fit", bl.seqs[0], bl.tokens)
		}
	}
}

// sweep lets go of the blocks the budget can no longer take (see
// streamFitter) and of those keepAnswered dropped.
func (f *streamFitter) sweep() {
	after := 0 // tokens of the plain final blocks newer than the one looked at
	kept := f.held[:0:0]
	for i := len(f.held) - 1; i >= 0; i-- {
		bl := f.held[i]
		if bl.gone {
			continue
		}
		plain := bl.final && !bl.system && !bl.pinned
		if bl.final && !bl.chosen && !bl.pinned && (after > f.limit || bl.ord < f.goneOrd) {
			f.goneMsgs += len(bl.msgs)
			f.goneToks += bl.tokens
			f.goneOrd = max(f.goneOrd, bl.ord)
			if !bl.system && (f.breakLead < 0 || bl.ord < f.breakLead) {
				f.breakLead = bl.ord
			}
		} else {
			kept = append(kept, bl)
		}
		if plain {
			after += bl.tokens
		}
	}
	slices.Reverse(kept)
	clear(f.held)
	f.held = kept
}

func (f *streamFitter) note(format string, args ...any) {
	f.out.Truncated = true
	f.out.Notes = append(f.out.Notes, fmt.Sprintf(format, args...))
}

// finish closes the blocks still waiting for results, runs the remaining
// passes (summary, pins, recent) over the blocks held and assembles the
// Context as fitter.assemble does.
func (f *streamFitter) finish() Context {
	for _, bl := range f.held {
		if !bl.final {
			f.final(bl)
		}
	}
	if len(f.answered) > 0 {
		slices.SortStableFunc(f.answered, func(a, b ordRepair) int { return a.ord - b.ord })
		for _, a := range f.answered {
			f.out.Repairs = append(f.out.Repairs, a.repairs...)
		}
	}
	held := f.held[:0]
	for _, bl := range f.held {
		if !bl.gone {
			held = append(held, bl)
		}
	}
	tookSummary := false
	summary := func() {
		switch {
		case f.sum == nil:
		case f.sum.tokens <= f.left:
			tookSummary = true
			f.left -= f.sum.tokens
		default:
			f.note("the summary (seq %d, %d tokens) does not fit", f.sum.seqs[0], f.sum.tokens)
		}
	}
	take := func(bl *streamBlock) bool {
		if bl.tokens > f.left {
			return false
		}
		bl.chosen = true
		f.left -= bl.tokens
		return true
	}
	switch f.b.Strategy {
	case StrategySummarize:
		summary()
	case StrategySmart:
		summary()
		for i := len(held) - 1; i >= 0; i-- {
			if bl := held[i]; !bl.chosen && bl.pinned && !take(bl) {
				f.note("pinned message seq %d (%d tokens) does not fit", bl.seqs[0], bl.tokens)
			}
		}
	}
	for i := len(held) - 1; i >= 0; i-- {
		bl := held[i]
		if bl.chosen {
			continue
		}
		if !take(bl) {
			f.note("older messages from seq %d back do not fit (%d tokens left, next needs %d)",
				bl.seqs[0], f.left, bl.tokens)
			break
		}
	}

	out := f.out
	out.start()
	addBlock := out.add
	lead := true // in the run of system messages that opens the history
	for _, bl := range held {
		lead = lead && bl.system && (f.breakLead < 0 || bl.ord < f.breakLead)
		if !lead && tookSummary {
			addBlock(f.sum)
			tookSummary = false
		}
		if bl.chosen {
			addBlock(&bl.block)
		} else {
			out.Omitted += len(bl.msgs)
			out.OmittedTokens += bl.tokens
		}
	}
	if tookSummary {
		addBlock(f.sum)
	}
	out.Omitted += f.goneMsgs
	out.OmittedTokens += f.goneToks
	if len(out.Messages) == 0 {
		out.Tokens = 0 // nothing to send primes no reply
		out.Truncated = out.Truncated || f.blocks > 0 || (f.sum != nil && out.Strategy != StrategyRecent)
	}
	return out
}

// streamWithin is the smart context of a session with history limits
// (limits.max_messages, limits.max_tokens): BuildContext on the active
// history as workspace.History.Within leaves it, with Context.Limited and
// the note saying what the limits left out, as reading the whole history
// gave them, but holding only a tail of the history a little over the
// limits. The history is streamed; a sweep (each time the tail held
// doubles) lets go of the oldest messages once what comes after them
// alone settles the limits' cut: it starts at a message that is not a
// tool result (no group of a call and its results crosses it), holds at
// least two groups and is over a limit. Within walks back group by group
// and stops at the first group that no longer fits (the newest is always
// kept), so it stops within such a tail where it would have stopped in the
// whole history. The messages let go are added to Trimmed and
// TrimmedTokens. When only max_tokens is set and the records carry no
// counts (Within counts stored tokens only), nothing is ever over it and
// the whole history is held, as before.
func (k *Compactor) streamWithin(ctx context.Context, s *workspace.Session, b Budget, maxMsgs, maxToks int) (Context, error) {
	if err := checkBudget(&b); err != nil {
		return Context{}, err
	}
	hs, err := s.HistoryStream(ctx)
	if err != nil {
		return Context{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	budget := maxToks // as Within counts it
	if budget > 0 && hs.Summary != nil {
		budget = max(budget-hs.Summary.Tokens, 0)
	}
	over := func(msgs, toks int) bool {
		return (maxMsgs > 0 && msgs > maxMsgs) || (maxToks > 0 && toks > budget)
	}
	var (
		tail           []workspace.Record
		gone, goneToks int
		sweepAt        = 256
	)
	sweep := func() {
		msgs, toks, groups := 0, 0, 0
		for i := len(tail) - 1; i > 0; i-- {
			msgs, toks = msgs+1, toks+tail[i].Tokens
			if tail[i].Role == workspace.RoleTool {
				continue
			}
			if groups++; groups >= 2 && over(msgs, toks) {
				for _, r := range tail[:i] {
					gone, goneToks = gone+1, goneToks+r.Tokens
				}
				tail = slices.Delete(tail, 0, i)
				return
			}
		}
	}
	if err := hs.Each(ctx, func(r workspace.Record) error {
		if tail = append(tail, r); len(tail) >= sweepAt {
			sweep()
			sweepAt = max(2*len(tail), 256)
		}
		return nil
	}); err != nil {
		return Context{}, fmt.Errorf("summarize: %s: %w", s.ID(), err)
	}
	h := workspace.History{Summary: hs.Summary, Messages: tail, More: gone > 0}.Within(maxMsgs, maxToks)
	h.More, h.Trimmed, h.TrimmedTokens = false, h.Trimmed+gone, h.TrimmedTokens+goneToks
	out, err := BuildContext(Records(h), b, k.counter())
	k.noteLimited(&out, h)
	return out, err
}
