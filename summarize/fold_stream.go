package summarize

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/picosess/picosess/workspace"
)

// The summary of a session, made from a streamed read of its active
// history (workspace.HistoryStream) instead of the history in memory: the
// same Decision, the same requests to the summarizer and the same summary
// record as Due, BuildRequest, Chunks and composePlan give on the folded
// history (TestStreamedSummaryIsComposed compares them on random
// sessions), in memory that does not hold the messages.
//
// The history is folded once (HistoryStreamMark: where its messages lie)
// and its messages are read twice. The first pass (dueStream) makes the
// decision and the plan: the messages' count and tokens, and what Select
// needs to cut (each message's role and seq, where tool calls and their
// results pair); it also keeps the stored counts of the plain messages'
// contents (knownTable). The second (composeStream) reads the folded
// messages again, condenses each as BuildRequest does, cuts them into
// parts as Chunks does and hands each part to the summarizer as soon as
// it is complete, with the previous part's summary: only one part's
// messages are held at a time.

// foldStream is what a streamed read keeps for composeStream.
type foldStream struct {
	hs      *workspace.HistoryStream
	through int64 // with hs.Summary: messages up to it are not active
	known   knownTable
}

// A message's role as Select looks at it (dueStream keeps a byte).
const (
	kindOther = iota
	kindUser
	kindTool
)

// active reports whether r is a message of the active history after
// summary (Split's test).
func (f *foldStream) active(r workspace.Record) bool {
	return isMessage(r) && (f.hs.Summary == nil || r.Seq > f.through)
}

// dueStream is Due over a streamed active history, and the plan kept for
// composeStream. The pass holds per message its seq, its role and a
// counter of the tool pairs each cut crosses (13 bytes), per tool call id
// the index of its latest call, and per plain message with a stored count
// 16 bytes (the folded ones are kept); not the messages.
func dueStream(ctx context.Context, hs *workspace.HistoryStream, s Settings, c Counter) (Decision, *foldStream, error) {
	s = s.WithDefaults()
	f := &foldStream{hs: hs}
	tokens := TokensReplyPrime
	if hs.Summary != nil {
		f.through = hs.Summary.Through
		tokens += RecordTokens(c, *hs.Summary)
	}
	size := hs.Len()
	seqs := make([]int64, 0, size)
	kinds := make([]byte, 0, size)
	diff := make([]int32, size+2) // as callPairs: diff[i+1]++, diff[j+1]-- per pair
	calls := map[string]int64{}   // tool call id -> index of its latest call
	frames := map[string]int{}    // role -> its frame (storedCounts)
	known := newKnownBuilder()
	err := hs.Each(ctx, func(r workspace.Record) error {
		if !f.active(r) {
			return nil
		}
		j := len(seqs)
		if j+2 > len(diff) { // more messages than the fold found (cannot happen)
			diff = append(diff, 0)
		}
		seqs = append(seqs, r.Seq)
		tokens += RecordTokens(c, r)
		kind := byte(kindOther)
		switch {
		case r.Role == workspace.RoleUser:
			kind = kindUser
		case r.Role == workspace.RoleTool:
			kind = kindTool
		}
		kinds = append(kinds, kind)
		switch {
		case r.Role == workspace.RoleAssistant && !noCalls(r.ToolCalls):
			tcs, err := ParseToolCalls(r.ToolCalls)
			if err != nil {
				break
			}
			for _, tc := range tcs {
				calls[tc.ID] = int64(j) // a fresh string, not a slice of the line
			}
		case r.Role == workspace.RoleTool && r.ToolCallID != "":
			if i, ok := calls[r.ToolCallID]; ok {
				diff[i+1]++
				diff[j+1]--
			}
		}
		if n, ok := plainCount(r, s, c, frames); ok {
			known.add(r.Content, j, n)
		}
		return nil
	})
	if err != nil {
		return Decision{}, nil, err
	}
	n := len(seqs)
	d := Decision{Messages: n, Tokens: tokens}
	p := Plan{Previous: hs.Summary, Kept: n}
	keep := max(s.KeepRecent, 0) // Disabled: keep nothing back
	if n <= keep {
		p.Why = fmt.Sprintf("%d messages since the last summary, keep_recent is %d", n, keep)
	} else {
		run := int32(0) // diff becomes the count of pairs each cut crosses
		for c := 0; c <= n; c++ {
			run += diff[c]
			diff[c] = run
		}
		role := func(c int) string {
			switch kinds[c] {
			case kindUser:
				return workspace.RoleUser
			case kindTool:
				return workspace.RoleTool
			}
			return ""
		}
		cut := cutAt(n, keep, role, func(c int) bool { return diff[c] > 0 })
		if cut <= 0 {
			p.Why = noCut
		} else {
			p.Folded, p.Kept = cut, n-cut
			p.From, p.Through = seqs[0], seqs[cut-1]
			// calls becomes the plan's folded: the ids whose latest call
			// is folded, with that call's seq.
			for id, i := range calls {
				if i < int64(cut) {
					calls[id] = seqs[i]
				} else {
					delete(calls, id)
				}
			}
			p.folded = calls
			f.known = known.build(cut)
		}
	}
	d.Plan = p
	decide(&d, s)
	return d, f, nil
}

// plainCount is what storedCounts knows of a folded message: when r is a
// plain message (no tool call, not a result) with a stored count, whose
// condensed text is its whole content (no media, not trimmed), the count
// of that content (the stored count less the frame and the role).
func plainCount(r workspace.Record, s Settings, c Counter, frames map[string]int) (int, bool) {
	if r.Tokens <= 0 || r.Role == workspace.RoleTool || !noCalls(r.ToolCalls) || r.ToolCallID != "" {
		return 0, false
	}
	in, ok := condense(r, s, nil)
	if !ok || in.Text != r.Content || in.Trimmed != 0 {
		return 0, false
	}
	frame, ok := frames[r.Role]
	if !ok {
		frame = TokensPerMessage + c.Count(r.Role)
		frames[r.Role] = frame
	}
	n := r.Tokens - frame
	return n, n >= 0
}

// knownTable is storedCounts' map of texts to counts without the texts: a
// sorted list of their hashes (64 bits; two texts of one history sharing
// a hash is a chance of about n²/2⁶⁵), each with the count of the latest
// folded message of that text, as the map keeps it.
type knownTable struct {
	seed    maphash.Seed
	entries []knownEntry
}

type knownEntry struct {
	hash uint64
	n    int64 // the count (a stored count may be anything)
	at   int32 // index of the message
}

type knownBuilder struct{ knownTable }

func newKnownBuilder() *knownBuilder {
	return &knownBuilder{knownTable{seed: maphash.MakeSeed()}}
}

func (b *knownBuilder) add(text string, at, n int) {
	b.entries = append(b.entries, knownEntry{hash: maphash.String(b.seed, text), at: int32(at), n: int64(n)})
}

// build keeps the messages before cut (the folded ones), the latest of
// each text.
func (b *knownBuilder) build(cut int) knownTable {
	t := b.knownTable
	e := t.entries[:0]
	for _, x := range t.entries {
		if int(x.at) < cut {
			e = append(e, x)
		}
	}
	slices.SortFunc(e, func(a, b knownEntry) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return int(a.at) - int(b.at)
	})
	out := e[:0]
	for i, x := range e {
		if i+1 < len(e) && e[i+1].hash == x.hash {
			continue // a later message of the same text wins
		}
		out = append(out, x)
	}
	t.entries = slices.Clip(out)
	return t
}

// count is the known count of text, if any.
func (t knownTable) count(text string) (int, bool) {
	if len(t.entries) == 0 {
		return 0, false
	}
	h := maphash.String(t.seed, text)
	i, ok := slices.BinarySearchFunc(t.entries, h, func(e knownEntry, h uint64) int {
		switch {
		case e.hash < h:
			return -1
		case e.hash > h:
			return 1
		}
		return 0
	})
	if !ok {
		return 0, false
	}
	return int(t.entries[i].n), true
}

// knownCounter is knownCounts with a knownTable.
type knownCounter struct {
	Counter
	known knownTable
}

func (k knownCounter) Count(text string) int {
	if n, ok := k.known.count(text); ok {
		return n
	}
	return k.Counter.Count(text)
}

// errEnough stops a HistoryStream.Each early.
var errEnough = errors.New("enough")

// eachFolded calls fn with each folded message condensed as BuildRequest
// condenses it, in order (thought-only messages left out). It is an
// error wrapping ErrStale if the file no longer holds the folded messages.
func (f *foldStream) eachFolded(ctx context.Context, p Plan, s Settings, fn func(Input) error) error {
	names := map[string]string{}
	j := 0
	err := f.hs.Each(ctx, func(r workspace.Record) error {
		if !f.active(r) {
			return nil
		}
		if j == p.Folded {
			return errEnough
		}
		j++
		if in, ok := condense(r, s, names); ok {
			return fn(in)
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	if err == nil && j < p.Folded {
		err = fmt.Errorf("%w: the session file no longer holds the messages read (%d of %d)", ErrStale, j, p.Folded)
	}
	return err
}

// composeStream is composePlan for a plan dueStream made: the folded
// messages are read again, condensed and cut into parts as BuildRequest
// and Chunks would, and each part goes to the summarizer once complete,
// with the previous part's summary. The requests are Chunks' requests,
// one at a time. When a part fails, the rest of the fold is still read,
// without the summarizer, so that the error names the part among all of
// them as composePlan's does.
func composeStream(ctx context.Context, f *foldStream, p Plan, s Settings, sz Summarizer, c Counter) (workspace.Record, error) {
	if p.Empty() {
		return workspace.Record{}, fmt.Errorf("%w: %s", ErrNothingToSummarize, p.Why)
	}
	s = s.WithDefaults()
	kc := knownCounter{Counter: c, known: f.known}
	prev := ""
	if p.Previous != nil {
		prev = p.Previous.Text
	}
	maxTokens := s.MaxInputTokens
	var (
		res      Result
		parts    int // parts made so far
		cur      []Input
		used     int
		failed   error
		failedAt Request // the part that failed
		failedN  int     // its number
		room     int
	)
	summarize := func(part Request) {
		parts++
		if failed != nil {
			return // counting the parts only
		}
		if parts > 1 {
			part.Previous = res.Text
		}
		var err error
		if res, err = summarizePart(ctx, sz, part); err != nil {
			failed, failedAt, failedN = err, part, parts
		}
	}
	whole := func() Request {
		return Request{Previous: prev, TargetTokens: s.SummaryTokens, From: p.From, Through: p.Through, Messages: []Input{}}
	}
	if maxTokens <= 0 {
		// One request for the whole fold (Chunks' answer without a limit).
		if e, ok := sz.(streamSummarizer); ok {
			r, err := e.summarizeStream(ctx, whole(), func(ctx context.Context, fn func(Input) error) error {
				return f.eachFolded(ctx, p, s, fn)
			})
			parts = 1
			err = emptyIsError(r, err)
			if err != nil && !errors.Is(err, ErrStale) {
				failed, failedN = err, 1
			} else if err != nil {
				return workspace.Record{}, err
			}
			res = r
		} else {
			req := whole()
			if err := f.eachFolded(ctx, p, s, func(in Input) error {
				req.Messages = append(req.Messages, in)
				return nil
			}); err != nil {
				return workspace.Record{}, err
			}
			summarize(req)
		}
	} else {
		flush := func() {
			summarize(Request{Previous: prev, TargetTokens: s.SummaryTokens, Messages: cur,
				From: cur[0].Seq, Through: cur[len(cur)-1].Seq})
			cur, used = nil, 0
		}
		first := true
		// The read goes on after a part failed (or ctx ended: the next
		// summarizer call says so) to count the parts.
		err := f.eachFolded(context.WithoutCancel(ctx), p, s, func(in Input) error {
			if first {
				// Room for the previous summary (the original one, or the
				// target size of the running one) and the framing.
				room = maxTokens - max(kc.Count(prev), s.SummaryTokens) - 64
				first = false
			}
			n := kc.Count(in.Text) + 8 // "[seq] role: " and the newline
			if used > 0 && used+n > room {
				flush()
			}
			cur = append(cur, in)
			used += n
			return nil
		})
		if err != nil {
			return workspace.Record{}, err
		}
		switch {
		case len(cur) == 0 && parts == 0:
			summarize(whole()) // nothing but thought-only messages
		case parts == 0:
			// The only part covers the plan's range.
			summarize(Request{Previous: prev, TargetTokens: s.SummaryTokens, Messages: cur, From: p.From, Through: p.Through})
		default:
			flush()
		}
	}
	if failed != nil {
		return workspace.Record{}, partError(p, p.Folded, failedN, parts, failedAt, failed)
	}
	return summaryRecord(p, res, c), nil
}

// streamSummarizer is a summarizer that can take a request whose
// messages are given by a function that may be called more than once,
// each time giving the same messages in the same order, instead of held
// in memory (Extractive).
type streamSummarizer interface {
	summarizeStream(ctx context.Context, req Request, each func(context.Context, func(Input) error) error) (Result, error)
}
