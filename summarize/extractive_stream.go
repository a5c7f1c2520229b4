package summarize

import (
	"cmp"
	"container/heap"
	"context"
	"slices"
	"strings"
)

// streamPick is how many candidate sentences one round of the streamed
// extractive summary holds.
const streamPick = 4096

// summarizeStream is Summarize for a request whose messages each gives
// (the same ones, in the same order, at every call) instead of holding
// them: the same summary, in memory that does not follow the number of
// messages. Summarize ranks every sentence by a score that needs each
// word's document frequency over all messages, then walks the ranking
// greedily: a sentence is taken if it fits what is left of the budget and
// is not redundant with one taken before. So:
//
//   - a first pass counts the document frequencies (one entry per distinct
//     word: the vocabulary, not the messages);
//   - each round is a pass that scores every sentence and keeps, of those
//     ranked after the last one the previous round handed the walk, the
//     streamPick best that could still be taken, then walks them in rank
//     order exactly as Summarize walks its ranking;
//   - the walk ends as Summarize's does: the budget is spent, or a round
//     found fewer candidates than it could hold (every sentence that could
//     still be taken has been walked).
//
// A sentence "could still be taken" if its floor count fits the budget
// left and the sentences taken so far do not make it redundant. A round
// that leaves one out for either reason changes nothing: when the walk
// reaches it, the budget left is no more and the sentences taken no fewer
// than at the round's start, so the walk would skip it too.
// TestStreamedExtractiveIsExtractive compares the two.
func (e Extractive) summarizeStream(ctx context.Context, req Request, each func(context.Context, func(Input) error) error) (Result, error) {
	return e.summarizeRounds(ctx, req, each, streamPick)
}

func (e Extractive) summarizeRounds(ctx context.Context, req Request, each func(context.Context, func(Input) error) error, pick int) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	c, budget := e.counterBudget(req)
	// units calls fn with each unit of the request, as extractUnits
	// makes them (order numbers them the same way).
	units := func(fn func(u *unit)) error {
		order := 0
		add := func(msg int, line string) {
			if w := contentWords(line); len(w) > 0 {
				u := unit{order: order, msg: msg, line: line, words: w}
				order++
				fn(&u)
			}
		}
		previousLines(req.Previous, add)
		i := 0
		return each(ctx, func(m Input) error {
			messageLines(i, m, add)
			i++
			return ctx.Err()
		})
	}

	// Document frequencies, as scoreUnits counts them.
	type freq struct{ n, last int32 }
	df := map[string]freq{}
	n := 0
	if err := units(func(u *unit) {
		n++
		for _, w := range u.words {
			f, ok := df[w]
			switch {
			case !ok:
				df[strings.Clone(w)] = freq{n: 1, last: int32(u.msg)} // not a slice of the line
			case f.last != int32(u.msg):
				df[w] = freq{n: f.n + 1, last: int32(u.msg)}
			}
		}
	}); err != nil {
		return Result{}, err
	}
	if n == 0 {
		return Result{}, ErrEmptySummary
	}
	dfOf := func(w string) int { return int(df[w].n) }

	before := ranksBefore
	floor := countFloor(c)
	var (
		chosen []unit
		best   *unit // the first in the ranking
		after  *unit // the last unit walked
		left   = budget
		red    = newRedundancy()
	)
	for round := 0; ; round++ {
		var held ranked
		err := units(func(u *unit) {
			if round > 0 && (floor(u.line)+1 > left || red.redundant(u.words)) {
				// It can never be taken: the budget left only shrinks, and
				// what is taken only grows.
				return
			}
			u.score = unitScore(u, dfOf)
			if round == 0 && (best == nil || before(u, best)) {
				b := *u
				best = &b
			}
			if after != nil && !before(after, u) {
				return // walked in an earlier round
			}
			if floor(u.line)+1 > left {
				return
			}
			if len(held) < pick {
				heap.Push(&held, u)
				return
			}
			if before(u, held[0]) {
				held[0] = u
				heap.Fix(&held, 0)
			}
		})
		if err != nil {
			return Result{}, err
		}
		slices.SortFunc(held, func(a, b *unit) int {
			if before(a, b) {
				return -1
			}
			return 1
		})
		done := len(held) < pick
		for _, u := range held {
			if floor(u.line)+1 > left || redundantOf(u.words, chosen) {
				continue
			}
			u.cost = c.Count(u.line) + 1 // + the newline
			if u.cost > left {
				continue
			}
			chosen = append(chosen, *u)
			red.add(u.words)
			left -= u.cost
			if left <= 1 {
				done = true
				break
			}
		}
		if done {
			break
		}
		after = held[len(held)-1]
	}
	if len(chosen) == 0 {
		return cutToBudget(best.line, budget, c)
	}
	slices.SortFunc(chosen, func(a, b unit) int { return cmp.Compare(a.order, b.order) })
	lines := make([]string, len(chosen))
	for k, u := range chosen {
		lines[k] = u.line
	}
	return Result{Text: strings.Join(lines, "\n"), By: KindExtractive}, nil
}

// redundancy answers redundant(words, chosen) for the units taken so far
// without comparing each with each: it keeps, for each word, which of
// them have it.
type redundancy struct {
	has    map[string][]int32 // word -> the taken units that have it
	common []int32            // scratch: words in common with each taken unit
	n      int                // units taken
}

func newRedundancy() *redundancy { return &redundancy{has: map[string][]int32{}} }

func (r *redundancy) add(words []string) {
	for _, w := range words {
		r.has[w] = append(r.has[w], int32(r.n))
	}
	r.n++
	r.common = append(r.common, 0)
}

// redundant: at least 70% of words are in one taken unit (overlaps).
func (r *redundancy) redundant(words []string) bool {
	if r.n == 0 {
		return false
	}
	clear(r.common)
	for _, w := range words {
		for _, i := range r.has[w] {
			r.common[i]++
		}
	}
	for _, k := range r.common {
		if int(k)*10 >= len(words)*7 {
			return true
		}
	}
	return false
}

// redundantOf is redundant for units held rather than indexed.
func redundantOf(words []string, chosen []unit) bool {
	for i := range chosen {
		if overlaps(words, chosen[i].words) {
			return true
		}
	}
	return false
}

// ranked is a heap of units with the worst-ranked on top.
type ranked []*unit

func (h ranked) Len() int           { return len(h) }
func (h ranked) Less(i, j int) bool { return ranksBefore(h[j], h[i]) }
func (h ranked) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *ranked) Push(x any)        { *h = append(*h, x.(*unit)) }
func (h *ranked) Pop() any {
	old := *h
	u := old[len(old)-1]
	*h = old[:len(old)-1]
	return u
}

// ranksBefore: a comes before b in Summarize's ranking (score down, then
// order: a stable sort of the units by score).
func ranksBefore(a, b *unit) bool {
	return a.score > b.score || (a.score == b.score && a.order < b.order)
}
