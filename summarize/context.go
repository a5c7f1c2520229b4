package summarize

import (
	"errors"
	"fmt"
	"slices"

	"github.com/picosess/picosess/workspace"
)

// Strategy chooses what the context builder keeps when the history does not
// fit the budget.
type Strategy string

// Strategies.
const (
	// StrategyRecent: the newest messages that fit, nothing else.
	StrategyRecent Strategy = "recent"
	// StrategySmart: system messages, the summary, pinned messages, then
	// the newest messages that fit.
	StrategySmart Strategy = "smart"
	// StrategySummarize: the summary, then the newest messages that fit.
	// (At the session level it summarizes first when the history is over
	// budget.)
	StrategySummarize Strategy = "summarize"
)

// DefaultStrategy is used when Budget.Strategy is empty.
const DefaultStrategy = StrategySmart

// ErrBudget: the budget cannot be used (not a positive token count, or an
// unknown strategy).
var ErrBudget = errors.New("summarize: invalid context budget")

// Budget bounds a context.
type Budget struct {
	MaxTokens int      `json:"max_tokens"`
	Strategy  Strategy `json:"strategy"`
	// Pinned are seqs of messages the smart strategy keeps before filling
	// with recent ones (a pinned tool call brings its results, and a
	// pinned result its call).
	Pinned []int64 `json:"pinned,omitempty"`
}

// Context is what to send to a model, with its token accounting.
type Context struct {
	Messages []ChatMessage `json:"messages"`
	// Seqs holds the record seq each message came from (the summary
	// record's seq for the summary message).
	Seqs []int64 `json:"seqs"`
	// MessageTokens holds what each message costs as counted here (its
	// stored count, or a recount when a repair changed it); their sum
	// plus the reply priming is Tokens. Not in the JSON contract (the
	// CLI's context --json prints it as message_tokens).
	MessageTokens []int    `json:"-"`
	Tokens        int      `json:"tokens"` // messages + reply priming (0 if none); never above MaxTokens
	Budget        Budget   `json:"budget"`
	Strategy      Strategy `json:"strategy"`

	SummaryTokens int   `json:"summary_tokens"` // 0 if no summary was sent
	SummarySeq    int64 `json:"summary_seq,omitempty"`

	Available     int  `json:"available"`      // messages in the active history
	Included      int  `json:"included"`       // history messages sent (summary not counted)
	Omitted       int  `json:"omitted"`        // history messages not sent (budget or strategy)
	OmittedTokens int  `json:"omitted_tokens"` // their tokens
	Truncated     bool `json:"truncated"`      // the budget left out something the strategy wanted
	// Limited counts the older messages the history limits
	// (limits.max_messages, limits.max_tokens) left out before the budget
	// was applied, LimitedTokens their tokens; they stay in the file.
	Limited       int `json:"limited,omitempty"`
	LimitedTokens int `json:"limited_tokens,omitempty"`

	// Repairs lists what was changed so a provider accepts the messages:
	// orphan tool results dropped, calls without results removed, results
	// moved next to their call, unreadable tool calls dropped.
	Repairs []string `json:"repairs,omitempty"`
	// Notes say what did not fit.
	Notes []string `json:"notes,omitempty"`
}

// block is the unit of selection: one message, or an assistant message with
// tool calls together with all of their results.
type block struct {
	last    int // index in the active history of its last message
	msgs    []ChatMessage
	seqs    []int64
	toks    []int // tokens of each message as recorded (the head's recounted once final)
	tokens  int
	system  bool
	summary bool
	recount bool // the head message differs from its record
}

// BuildContext fits an active history (oldest first, as the workspace
// returns it, possibly beginning with a summary) into a token budget. It is
// a pure function: nothing is read or written. Tool calls and their results
// are kept or left out together; results without a call and calls without
// results are repaired away (and listed in Repairs) so that providers
// accept the messages. When even the most important part does not fit, it
// returns what fits, with Truncated set and Notes saying what was left out.
// Records carrying a stored token count (Record.Tokens) are not recounted.
func BuildContext(history []workspace.Record, b Budget, c Counter) (Context, error) {
	if err := checkBudget(&b); err != nil {
		return Context{}, err
	}
	if c == nil {
		c = Estimate{}
	}
	return buildActive(Split(history), b, c), nil
}

// checkBudget refuses a budget BuildContext cannot fill and fills in the
// default strategy.
func checkBudget(b *Budget) error {
	if b.Strategy == "" {
		b.Strategy = DefaultStrategy
	}
	switch b.Strategy {
	case StrategyRecent, StrategySmart, StrategySummarize:
	default:
		return fmt.Errorf("%w: strategy %q (want recent, smart or summarize)", ErrBudget, b.Strategy)
	}
	if b.MaxTokens <= 0 {
		return fmt.Errorf("%w: max tokens %d (want a positive number)", ErrBudget, b.MaxTokens)
	}
	return nil
}

// buildActive is BuildContext of a history already split, with a valid
// budget and a counter.
func buildActive(a Active, b Budget, c Counter) Context {
	blocks, repairs := buildBlocks(a.Messages, c)
	f := &fitter{blocks: blocks, chosen: make([]bool, len(blocks)), left: b.MaxTokens - TokensReplyPrime,
		out: Context{Budget: b, Strategy: b.Strategy, Available: len(a.Messages), Repairs: repairs}}
	if a.Summary != nil && a.Summary.Text != "" { // an empty one only cuts (KeepLast)
		f.sum = summaryBlock(a.Summary, c)
	}
	switch b.Strategy {
	case StrategyRecent:
		f.recent()
	case StrategySummarize:
		f.summary()
		f.recent()
	case StrategySmart:
		f.systemMessages()
		f.summary()
		f.pinned(b.Pinned)
		f.recent()
	}
	return f.assemble()
}

// fitter fills a budget with blocks, one kind of block after another.
type fitter struct {
	blocks      []block
	chosen      []bool
	sum         *block // the summary, nil if none
	tookSummary bool
	left        int // tokens still free
	out         Context
}

func (f *fitter) take(i int) bool {
	if f.blocks[i].tokens > f.left {
		return false
	}
	f.chosen[i] = true
	f.left -= f.blocks[i].tokens
	return true
}

func (f *fitter) note(format string, args ...any) {
	f.out.Truncated = true
	f.out.Notes = append(f.out.Notes, fmt.Sprintf(format, args...))
}

func (f *fitter) summary() {
	switch {
	case f.sum == nil:
	case f.sum.tokens <= f.left:
		f.tookSummary = true
		f.left -= f.sum.tokens
	default:
		f.note("the summary (seq %d, %d tokens) does not fit", f.sum.seqs[0], f.sum.tokens)
	}
}

func (f *fitter) systemMessages() {
	for i := range f.blocks {
		if f.blocks[i].system && !f.take(i) {
			f.note("system message seq %d (%d tokens) does not fit", f.blocks[i].seqs[0], f.blocks[i].tokens)
		}
	}
}

// pinned takes the blocks holding a pinned seq, newest first.
func (f *fitter) pinned(seqs []int64) {
	pins := map[int64]bool{}
	for _, s := range seqs {
		pins[s] = true
	}
	for i := len(f.blocks) - 1; i >= 0; i-- {
		if f.chosen[i] || !f.blocks[i].has(pins) {
			continue
		}
		if !f.take(i) {
			f.note("pinned message seq %d (%d tokens) does not fit", f.blocks[i].seqs[0], f.blocks[i].tokens)
		}
	}
}

// recent takes the newest blocks not taken yet, stopping at the first that
// does not fit, so that the recent part is one contiguous tail.
func (f *fitter) recent() {
	for i := len(f.blocks) - 1; i >= 0; i-- {
		if f.chosen[i] {
			continue
		}
		if !f.take(i) {
			f.note("older messages from seq %d back do not fit (%d tokens left, next needs %d)",
				f.blocks[i].seqs[0], f.left, f.blocks[i].tokens)
			return
		}
	}
}

// assemble orders what was taken — system messages that open the history,
// then the summary, then the rest as it happened — and does the accounting.
func (f *fitter) assemble() Context {
	out := f.out
	var order []*block
	lead := 0
	for lead < len(f.blocks) && f.blocks[lead].system {
		lead++
	}
	for i := range f.blocks {
		if i == lead && f.tookSummary {
			order = append(order, f.sum)
		}
		if f.chosen[i] {
			order = append(order, &f.blocks[i])
		}
	}
	if f.tookSummary && lead == len(f.blocks) {
		order = append(order, f.sum)
	}
	out.start()
	for _, bl := range order {
		out.add(bl)
	}
	if len(out.Messages) == 0 {
		out.Tokens = 0 // nothing to send primes no reply
		out.Truncated = out.Truncated || len(f.blocks) > 0 || (f.sum != nil && out.Strategy != StrategyRecent)
	}
	for i := range f.blocks {
		if !f.chosen[i] {
			out.Omitted += len(f.blocks[i].msgs)
			out.OmittedTokens += f.blocks[i].tokens
		}
	}
	return out
}

// summaryBlock is the block of the summary message.
func summaryBlock(summary *workspace.Record, c Counter) *block {
	n := RecordTokens(c, *summary)
	return &block{last: -1, msgs: []ChatMessage{SummaryMessage(summary.Text)}, seqs: []int64{summary.Seq},
		toks: []int{n}, tokens: n, system: true, summary: true}
}

func (bl *block) has(seqs map[int64]bool) bool {
	for _, s := range bl.seqs {
		if seqs[s] {
			return true
		}
	}
	return false
}

// buildBlocks turns messages into selection blocks, repairing what a
// provider would reject. Thought-only messages are left out (as PicoClaw
// does).
func buildBlocks(msgs []workspace.Record, c Counter) ([]block, []string) {
	var repairs []string
	type pending struct {
		block int
		used  bool
	}
	var blocks []block
	calls := map[string]*pending{} // tool call id -> the block of its call
	for i, r := range msgs {
		if isThoughtOnly(r) {
			continue
		}
		m, tok, recount, ok := contextMessage(r, c, &repairs)
		if !ok {
			continue
		}
		switch {
		case r.Role == workspace.RoleTool:
			p, ok := calls[r.ToolCallID]
			if !ok {
				repairs = append(repairs, fmt.Sprintf("seq %d: tool result for %q has no call in the history: left out", r.Seq, r.ToolCallID))
				continue
			}
			if p.used {
				repairs = append(repairs, fmt.Sprintf("seq %d: second result for tool call %q: left out", r.Seq, r.ToolCallID))
				continue
			}
			p.used = true
			bl := &blocks[p.block]
			if !nextTo(msgs, bl.last, i) {
				repairs = append(repairs, fmt.Sprintf("seq %d: tool result moved next to its call (seq %d)", r.Seq, bl.seqs[0]))
			}
			bl.msgs = append(bl.msgs, m)
			bl.seqs = append(bl.seqs, r.Seq)
			bl.toks = append(bl.toks, tok)
			bl.last = i
		default:
			blocks = append(blocks, block{last: i, msgs: []ChatMessage{m}, seqs: []int64{r.Seq},
				toks: []int{tok}, system: r.Role == workspace.RoleSystem, recount: recount})
			for _, tc := range m.ToolCalls {
				calls[tc.ID] = &pending{block: len(blocks) - 1}
			}
		}
	}
	kept := blocks[:0]
	for _, bl := range blocks {
		if keepAnswered(&bl, &repairs) {
			bl.count(c)
			kept = append(kept, bl)
		}
	}
	return kept, repairs
}

// contextMessage converts a message record (not thought-only) to what a
// block holds: its chat form and its tokens (the stored count, or a
// recount when the message differs from its record: unreadable tool calls
// dropped, media shown as a note). A repair is appended for unreadable
// tool calls; ok is false when nothing is left to send.
func contextMessage(r workspace.Record, c Counter, repairs *[]string) (m ChatMessage, tok int, recount, ok bool) {
	m, err := recordMessage(r)
	recount = err != nil
	if err != nil {
		*repairs = append(*repairs, fmt.Sprintf("%v: tool calls dropped", err))
		if m.Content == "" {
			return m, 0, false, false
		}
	}
	if m.Content == "" && len(m.ToolCalls) == 0 && (len(r.Media) > 0 || len(r.Attachments) > 0) {
		// Chat messages here carry text only; say what was there
		// rather than send an empty message.
		m.Content = fmt.Sprintf("[%d media item(s) not shown]", max(len(r.Media), 1))
		recount = true
	}
	tok = RecordTokens(c, r)
	if recount {
		tok = MessageTokens(c, m)
	}
	return m, tok, recount, true
}

// count sets the block's tokens once its messages are final: each
// message's count, the head's recounted if it was changed.
func (bl *block) count(c Counter) {
	if bl.recount {
		bl.toks[0] = MessageTokens(c, bl.msgs[0])
	}
	bl.tokens = 0
	for _, t := range bl.toks {
		bl.tokens += t
	}
}

// keepAnswered keeps, of a block's tool calls, those answered by a result
// in the block (once each, should an id repeat), and reports whether the
// block still has something to send. A changed head is marked for
// recounting.
func keepAnswered(bl *block, repairs *[]string) bool {
	head := &bl.msgs[0]
	if len(head.ToolCalls) == 0 {
		return true
	}
	answered := map[string]bool{}
	for _, m := range bl.msgs[1:] {
		answered[m.ToolCallID] = true
	}
	var ok []ToolCall
	for _, tc := range head.ToolCalls {
		switch {
		case !answered[tc.ID]:
			*repairs = append(*repairs, fmt.Sprintf("seq %d: tool call %q has no result: removed", bl.seqs[0], tc.ID))
			bl.recount = true
		case slices.ContainsFunc(ok, func(o ToolCall) bool { return o.ID == tc.ID }):
			*repairs = append(*repairs, fmt.Sprintf("seq %d: tool call id %q repeated: removed", bl.seqs[0], tc.ID))
			bl.recount = true
		default:
			ok = append(ok, tc)
		}
	}
	head.ToolCalls = ok
	return len(ok) > 0 || head.Content != ""
}

// nextTo reports whether message i follows message j with nothing but
// thought-only messages (left out of contexts) between them.
func nextTo(msgs []workspace.Record, j, i int) bool {
	for k := j + 1; k < i; k++ {
		if !isThoughtOnly(msgs[k]) {
			return false
		}
	}
	return true
}

// CheckToolPairs checks the rule chat providers enforce: every assistant
// tool call is answered by a tool message right after it (before any other
// kind of message), and every tool message answers a call of the assistant
// message just before its run. It returns nil if a provider would accept
// the sequence.
func CheckToolPairs(msgs []ChatMessage) error {
	var open []string // calls of the last assistant message still unanswered, in order
	for i, m := range msgs {
		if m.Role == workspace.RoleTool {
			k := slices.Index(open, m.ToolCallID)
			if k < 0 {
				return fmt.Errorf("message %d: tool result %q does not follow its call", i, m.ToolCallID)
			}
			open = slices.Delete(open, k, k+1)
			continue
		}
		if len(open) > 0 {
			return fmt.Errorf("message %d (%s): tool call %q has no result before it", i, m.Role, open[0])
		}
		for _, tc := range m.ToolCalls {
			open = append(open, tc.ID)
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("end of messages: tool call %q has no result", open[0])
	}
	return nil
}

// start empties the messages of c, whose count begins with the reply's
// priming.
func (c *Context) start() {
	c.Tokens = TokensReplyPrime
	c.Messages = []ChatMessage{}
	c.Seqs = []int64{}
	c.MessageTokens = []int{}
}

// add appends the messages of bl to c and counts them.
func (c *Context) add(bl *block) {
	c.Messages = append(c.Messages, bl.msgs...)
	c.Seqs = append(c.Seqs, bl.seqs...)
	c.MessageTokens = append(c.MessageTokens, bl.toks...)
	c.Tokens += bl.tokens
	if bl.summary {
		c.SummaryTokens, c.SummarySeq = bl.tokens, bl.seqs[0]
	} else {
		c.Included += len(bl.msgs)
	}
}
