package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// requestLog is a summarizer that writes down each request (as the JSON
// the command summarizer would read) and answers as next does, failing at
// call failAt (from 1; 0: never).
type requestLog struct {
	next   Summarizer
	failAt int
	calls  int
	seen   []string
}

var errPartFailed = errors.New("the summarizer failed")

func (r *requestLog) Summarize(ctx context.Context, req Request) (Result, error) {
	r.calls++
	b, err := json.Marshal(req)
	if err != nil {
		return Result{}, err
	}
	r.seen = append(r.seen, string(b))
	if r.calls == r.failAt {
		return Result{}, errPartFailed
	}
	return r.next.Summarize(ctx, req)
}

// prose is n words of a small vocabulary, with names, numbers and
// sentence ends, so that sentences repeat and score apart.
func prose(r *rand.Rand, n int) string {
	vocab := []string{"the", "garden", "Lisbon", "flight", "tomatoes", "water", "booked", "is", "on", "day",
		"TP1353", "confirmed", "we", "should", "check", "the", "weather", "Maria", "said", "tomorrow", "42", "2026",
		"café", "東京", "invoice", "paid", "not", "yet", "meeting", "moved"}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocab[r.IntN(len(vocab))])
		switch r.IntN(12) {
		case 0:
			b.WriteByte('.')
		case 1:
			b.WriteByte('?')
		case 2:
			b.WriteString(".\n")
		}
	}
	return b.String()
}

// summaryHistory is messyHistory made richer for summaries: prose,
// messages over max_message_chars, media with attachments, the same text
// sent by different roles, and stored counts that are exact for one of
// the counters, inexact, or absent (the workspace counts them).
func summaryHistory(r *rand.Rand, n int) []workspace.Record {
	recs := messyHistory(r, n)
	for i, m := range recs {
		if m.Type == workspace.TypeSummary && m.Through < 2 { // through the header: not a message
			recs = append(recs[:i], recs[i+1:]...) // the only summary; the seqs after it were one more
			for j := i; j < len(recs); j++ {
				recs[j].Seq--
			}
			break
		}
	}
	counts := r.IntN(4)
	shared := prose(r, r.IntN(6)+1) // sent by several roles
	for i := range recs {
		m := &recs[i]
		if m.Type == workspace.TypeSummary {
			if m.Text != "" && r.IntN(2) == 0 {
				m.Text = prose(r, r.IntN(60)+1)
			}
			continue
		}
		switch k := r.IntN(20); {
		case k < 6 && m.Content != "" && m.Role != workspace.RoleTool:
			m.Content = prose(r, r.IntN(40)+1)
		case k == 6 && m.Role != workspace.RoleTool:
			m.Content = prose(r, r.IntN(400)+100) // over small max_message_chars
		case k == 7 && m.Role == workspace.RoleUser:
			m.Media = []string{"a.jpg", "b.png"}
			m.Attachments = json.RawMessage(`[{"filename":"report.pdf","type":"application/pdf"},{"type":"image/png"}]`)
		case k == 8 && (m.Role == workspace.RoleUser || m.Role == workspace.RoleAssistant) && m.ToolCalls == nil:
			m.Content = shared
		case k == 9 && m.Role == workspace.RoleTool:
			m.Content = prose(r, r.IntN(200)+1) // over max_tool_result_chars
		case k == 10 && m.Role == workspace.RoleUser:
			m.Content = "" // empty, with a stored count below
		}
		switch counts {
		case 0:
			m.Tokens = 0 // the workspace counts (its default counter)
		case 1:
			m.Tokens = RecordTokens(Estimate{}, *m)
		case 2:
			m.Tokens = r.IntN(60) // inexact, sometimes none
		}
	}
	if counts == 3 {
		for i := range recs {
			recs[i].Tokens = 0
		}
	}
	return recs
}

// randomSettings draws settings that make the plan, the request and the
// parts differ: keep_recent, thresholds, limits, small trims, parts from
// a few messages to one request for everything.
func randomSettings(r *rand.Rand) Settings {
	s := Settings{
		KeepRecent:         pickInt(r, 0, Disabled, 1, 3, 10, 60),
		MessageThreshold:   pickInt(r, 0, Disabled, 5, 100000),
		TokenPercent:       pickInt(r, 0, Disabled, 1, 99),
		ContextWindow:      pickInt(r, 0, 500, 100000),
		SummaryTokens:      pickInt(r, 0, 3, 12, 40, 200),
		MaxMessageChars:    pickInt(r, 0, Disabled, 40, 300),
		MaxToolResultChars: pickInt(r, 0, Disabled, 10),
		MaxToolArgsChars:   pickInt(r, 0, 3),
		MaxInputTokens:     pickInt(r, 0, Disabled, 20, 90, 400, 3000),
	}
	s.Limits.MaxMessages = pickInt(r, 0, 0, 50)
	s.Limits.MaxTokens = pickInt(r, 0, 0, 300)
	if r.IntN(2) == 0 {
		s.Limits.Compaction = workspace.CompactionSummarize
	}
	return s
}

func pickInt(r *rand.Rand, v ...int) int { return v[r.IntN(len(v))] }

// oldRead is how a Compactor read a session before fold_stream.go: the
// active history in memory (HistoryMark), then Due on it.
func oldRead(t *testing.T, s *workspace.Session, set Settings, c Counter) Decision {
	t.Helper()
	h, _, err := s.HistoryMark(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return dueActive(Active{Summary: h.Summary, Messages: h.Messages}, set, c)
}

// TestStreamedSummaryIsComposed: on random sessions (real files: tool
// turns of every shape, media, oversized messages, previous summaries,
// stored counts exact, inexact or absent) and random settings (keep,
// thresholds, limits, trims, parts of every size, one request for all),
// with both counters, the streamed read gives the Decision the history
// in memory gave, and the streamed summary sends the summarizer the same
// requests, byte for byte, and gives the same record; a summarizer that
// fails at any part gives the same error.
func TestStreamedSummaryIsComposed(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(6, 16))
	root := t.TempDir()
	counters := []Counter{Estimate{}, tk(t)}
	iters := 100
	if testing.Short() {
		iters = 40
	}
	var due, parts, whole, failed int
	for iter := range iters {
		recs := summaryHistory(r, r.IntN(200)+5)
		s := openSession(t, root, fmt.Sprintf("sum-%d", iter))
		for i := range recs {
			recs[i].Seq = 0
		}
		if _, err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		set := randomSettings(r)
		c := counters[r.IntN(2)]
		name := fmt.Sprintf("session %d, %T, settings %+v", iter, c, set)

		want := oldRead(t, s, set, c)
		hs, _, err := s.HistoryStreamMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, f, err := dueStream(ctx, hs, set, c)
		if err != nil {
			t.Fatal(err)
		}
		comparePlans(t, name, got, want)
		if want.Plan.Empty() {
			if _, err := composeStream(ctx, f, got.Plan, set, Extractive{Counter: c}, c); !errors.Is(err, ErrNothingToSummarize) {
				t.Fatalf("%s: nothing to fold, and %v", name, err)
			}
			continue
		}
		due++

		// The requests, through a summarizer that records them.
		oldSz := &requestLog{next: Extractive{Counter: c}}
		newSz := &requestLog{next: Extractive{Counter: c}}
		wantRec, err1 := composePlan(ctx, want.Plan, set, oldSz, c)
		gotRec, err2 := composeStream(ctx, f, got.Plan, set, newSz, c)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("%s: streamed %v\nin memory %v", name, err2, err1)
		}
		if !reflect.DeepEqual(newSz.seen, oldSz.seen) {
			t.Fatalf("%s: the requests differ:\nstreamed %d %.2000s\nin memory %d %.2000s", name, len(newSz.seen), newSz.seen, len(oldSz.seen), oldSz.seen)
		}
		if !reflect.DeepEqual(gotRec, wantRec) {
			t.Fatalf("%s: streamed %+v\nin memory %+v", name, gotRec, wantRec)
		}
		if len(oldSz.seen) > 1 {
			parts++
		}

		// The extractive summarizer given directly (streamed over the
		// history itself when everything is one request).
		wantRec, err1 = composePlan(ctx, want.Plan, set, Extractive{Counter: c}, c)
		gotRec, err2 = composeStream(ctx, f, got.Plan, set, Extractive{Counter: c}, c)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) || !reflect.DeepEqual(gotRec, wantRec) {
			t.Fatalf("%s: extractive, streamed %+v %v\nin memory %+v %v", name, gotRec, err2, wantRec, err1)
		}
		if set.WithDefaults().MaxInputTokens <= 0 {
			whole++
		}

		// A part fails: the same error, naming the same part (among the
		// parts called when the summarizer itself failed on one with no
		// sentence).
		at := r.IntN(len(oldSz.seen)) + 1
		_, err1 = composePlan(ctx, want.Plan, set, &requestLog{next: Extractive{Counter: c}, failAt: at}, c)
		_, err2 = composeStream(ctx, f, got.Plan, set, &requestLog{next: Extractive{Counter: c}, failAt: at}, c)
		if err1 == nil || err2 == nil || err1.Error() != err2.Error() || !errors.Is(err2, errPartFailed) {
			t.Fatalf("%s: failing at part %d: streamed %v\nin memory %v", name, at, err2, err1)
		}
		failed++
	}
	if due < iters/3 || parts < iters/10 || whole < iters/30 {
		t.Fatalf("the sessions do not exercise what they should: %d summarized, %d in several parts, %d in one request without a limit", due, parts, whole)
	}
	t.Logf("%d sessions: %d summarized (%d in several parts, %d without a limit), %d failing parts", iters, due, parts, whole, failed)
}

func comparePlans(t *testing.T, name string, got, want Decision) {
	t.Helper()
	wp, gp := want.Plan, got.Plan
	if got.Due != want.Due || got.Reason != want.Reason || got.Messages != want.Messages || got.Tokens != want.Tokens {
		t.Fatalf("%s: decision\nstreamed  %+v\nin memory %+v", name, got, want)
	}
	if gp.From != wp.From || gp.Through != wp.Through || gp.Why != wp.Why || gp.Folded != len(wp.Fold) ||
		gp.Kept != len(wp.Keep) || wp.Folded != len(wp.Fold) || wp.Kept != len(wp.Keep) {
		t.Fatalf("%s: plan\nstreamed  %d..%d folded %d kept %d %q\nin memory %d..%d folded %d kept %d %q", name,
			gp.From, gp.Through, gp.Folded, gp.Kept, gp.Why, wp.From, wp.Through, len(wp.Fold), len(wp.Keep), wp.Why)
	}
	if !reflect.DeepEqual(gp.Previous, wp.Previous) {
		t.Fatalf("%s: previous summary %+v, want %+v", name, gp.Previous, wp.Previous)
	}
	if len(gp.folded) != len(wp.folded) || (len(wp.folded) > 0 && !reflect.DeepEqual(gp.folded, wp.folded)) {
		t.Fatalf("%s: folded calls %v, want %v", name, gp.folded, wp.folded)
	}
}

// inputsOf gives a request's messages as summarizeStream takes them.
func inputsOf(req Request) func(context.Context, func(Input) error) error {
	return func(ctx context.Context, fn func(Input) error) error {
		for _, m := range req.Messages {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestStreamedExtractiveIsExtractive: the streamed extractive summary (a
// pass for the document frequencies, then rounds that each walk the best
// candidates left) is Summarize's, for rounds of one candidate to all of
// them, budgets from a few tokens to more than everything, with a floor
// (tiktoken's word count, the estimate's own count) or none (a counter
// of an unknown type), on requests with a previous summary, repeated
// sentences, tool output and prose.
func TestStreamedExtractiveIsExtractive(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 9))
	counters := []Counter{Estimate{}, tk(t), plainCounter{Estimate{}}}
	reqs := []Request{gardenRequest(), conversation(40), conversation(300), {Previous: "only a previous summary."}}
	for range 30 {
		req := Request{Previous: prose(r, r.IntN(30))}
		for i := range r.IntN(120) + 1 {
			m := Input{Seq: int64(i + 2), Role: pick(r, "user", "assistant", "tool", "system"), Text: prose(r, r.IntN(50)+1)}
			if m.Role == "tool" {
				m.Tool = pick(r, "search", "")
			}
			req.Messages = append(req.Messages, m)
		}
		reqs = append(reqs, req)
	}
	for i, req := range reqs {
		for _, budget := range []int{1, 3, 12, 60, 512, 100000} {
			req.TargetTokens = budget
			c := counters[r.IntN(len(counters))]
			want, err1 := Extractive{Counter: c}.Summarize(ctx, req)
			ks := []int{16, 64, streamPick}
			if len(req.Messages) <= 60 {
				ks = []int{1, 2, 7, 64}
			}
			for _, k := range ks {
				got, err2 := Extractive{Counter: c}.summarizeRounds(ctx, req, inputsOf(req), k)
				if got != want || (err1 == nil) != (err2 == nil) {
					t.Fatalf("request %d, budget %d, %T, %d a round: streamed %q %v\nSummarize %q %v", i, budget, c, k, got.Text, err2, want.Text, err1)
				}
			}
		}
	}
	// A request without sentences is an empty summary either way.
	if _, err := (Extractive{}).summarizeRounds(ctx, Request{Messages: []Input{{Role: "user", Text: "ok"}}}, inputsOf(Request{Messages: []Input{{Role: "user", Text: "ok"}}}), 4); !errors.Is(err, ErrEmptySummary) {
		t.Fatalf("no sentence: %v", err)
	}
}

// heapProbe is a summarizer that measures the live heap each time it is
// called (after a collection) and answers as Extractive does.
type heapProbe struct {
	peak uint64
}

func (p *heapProbe) Summarize(ctx context.Context, req Request) (Result, error) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.peak = max(p.peak, m.HeapAlloc)
	return Extractive{}.Summarize(ctx, req)
}

// TestStreamedSummaryHoldsOnePart: while a Compactor summarizes, what it
// holds does not follow the history: between a session of about 8 000
// messages and one of 40 000, the live heap during the summarizer's calls
// grows by less than 100 bytes per message (46 when written; the history
// in memory took 897: the records, the plan's fold and the request), for
// the offsets of the stream, the ids of the folded tool calls and the
// hashes of the stored counts.
func TestStreamedSummaryHoldsOnePart(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50 000 messages")
	}
	ctx := context.Background()
	root := t.TempDir()
	peak := map[int]uint64{}
	msgs := map[int]int{}
	for _, turns := range []int{3000, 15000} {
		s := openSession(t, root, fmt.Sprintf("long-%d", turns))
		for i := 0; i < turns; i += 3000 {
			appendTurns(t, s, i, 3000)
		}
		p := &heapProbe{}
		k := &Compactor{Settings: Settings{MaxInputTokens: 4000}, Summarizer: p}
		o, err := k.Summarize(ctx, s)
		if err != nil || !o.Summarized {
			t.Fatalf("%+v %v", o.Decision, err)
		}
		peak[turns], msgs[turns] = p.peak, o.Decision.Messages
	}
	grew := float64(peak[15000]) - float64(peak[3000])
	per := grew / float64(msgs[15000]-msgs[3000])
	t.Logf("live heap while summarizing: %.1f MB for %d messages, %.1f MB for %d: %.0f bytes per message",
		float64(peak[3000])/(1<<20), msgs[3000], float64(peak[15000])/(1<<20), msgs[15000], per)
	if per > 100 {
		t.Fatalf("the live heap grew by %.0f bytes per message of history", per)
	}
}
