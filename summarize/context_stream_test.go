package summarize

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// The smart strategy reads the active history message by message
// (HistoryStream) instead of folding it whole: for a history with system
// messages, a summary, tool calls with results in and out of place, an
// orphan result and an unanswered call, it gives what BuildContext gives
// on the folded history, for budgets that cut anywhere, with pins.
func TestSmartContextStreamedIsBuildContext(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "stream")
	add := func(recs ...workspace.Record) []int64 {
		t.Helper()
		seqs, err := s.Append(ctx, recs...)
		if err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	call := func(id string) workspace.Record {
		r := workspace.AssistantMessage("m", "")
		r.ToolCalls = json.RawMessage(fmt.Sprintf(`[{"id":%q,"type":"function","function":{"name":"look","arguments":"{}"}}]`, id))
		return r
	}
	result := func(id, text string) workspace.Record {
		r := workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleTool, Content: text, ToolCallID: id}
		return r
	}
	add(workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleSystem, Content: "you are a helpful assistant"})
	var pins []int64
	for i := 0; i < 40; i++ {
		seqs := add(workspace.UserMessage("", fmt.Sprintf("question %d about the flat and its heating", i)),
			workspace.AssistantMessage("m", fmt.Sprintf("answer %d, a little longer than the question was", i)))
		if i%13 == 5 {
			pins = append(pins, seqs[0])
		}
		switch i % 10 {
		case 3:
			add(call(fmt.Sprintf("c%d", i)), result(fmt.Sprintf("c%d", i), "the result"))
		case 6:
			// The result comes after another message: moved next to its call.
			add(call(fmt.Sprintf("c%d", i)), workspace.UserMessage("", "meanwhile"), result(fmt.Sprintf("c%d", i), "late result"))
		case 8:
			add(result("nobody", "an orphan result"), call(fmt.Sprintf("u%d", i))) // unanswered call
		}
		if i == 20 {
			h, err := s.History(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			through := h.Messages[len(h.Messages)/2].Seq
			add(workspace.Record{Type: workspace.TypeSummary, Text: "what was said before", Through: through})
			add(workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleSystem, Content: "a second system message"})
		}
	}
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := &Compactor{Counter: Estimate{}}
	for _, budget := range []int{20, 150, 400, 900, 2000, 1 << 20} {
		for _, pinned := range [][]int64{nil, pins} {
			b := Budget{MaxTokens: budget, Strategy: StrategySmart, Pinned: pinned}
			want, err := BuildContext(Records(h), b, Estimate{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Context(ctx, s, b)
			if err != nil {
				t.Fatal(err)
			}
			if budget == 1<<20 && (len(want.Repairs) < 3 || want.SummarySeq == 0 || want.Included < 40) {
				t.Fatalf("the history does not exercise what it should: %+v", want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("budget %d, pins %v:\nstreamed %+v\nfolded   %+v", budget, pinned, got, want)
			}
		}
	}
	if _, err := k.Context(ctx, s, Budget{MaxTokens: 0, Strategy: StrategySmart}); err == nil {
		t.Fatal("a budget of 0 tokens was accepted")
	}
}

// streamBuild runs the streaming fitter over a history held in memory, as
// the session's smart context runs it over a HistoryStream: the latest
// summary first (Split), then every record.
func streamBuild(t testing.TB, recs []workspace.Record, b Budget, c Counter) (Context, *streamFitter) {
	t.Helper()
	if err := checkBudget(&b); err != nil {
		t.Fatal(err)
	}
	var sum *workspace.Record
	for i := range recs {
		if recs[i].Type == workspace.TypeSummary {
			sum = &recs[i]
		}
	}
	f := newStreamFitter(sum, b, c)
	for _, r := range recs {
		f.add(r)
	}
	return f.finish(), f
}

// messyHistory is a long history with everything the block builder
// repairs or treats apart, in proportions that let the streaming fitter
// let go of blocks (sweeps) while some are still waiting for a result:
// call ids reused across turns (models that number calls from 1), an id
// repeated within one message, results in place, late (after other
// messages), twice, or for no call, calls never answered, thought-only and
// media-only messages, unreadable tool_calls, system messages anywhere
// (a leading run or not), stored token counts or none, and a summary
// (possibly empty) through some point.
func messyHistory(r *rand.Rand, n int) []workspace.Record {
	h := newHist()
	if r.IntN(3) == 0 {
		for range r.IntN(3) + 1 {
			h.system(words(r.IntN(20) + 1))
		}
	}
	pool := r.IntN(6) + 1 // distinct call ids in use
	id := func() string { return fmt.Sprintf("call_%d", r.IntN(pool)) }
	var open []string
	summaryAt := -1
	if r.IntN(2) == 0 {
		summaryAt = r.IntN(n)
	}
	for i := 0; i < n; i++ {
		if i == summaryAt {
			text := "the earlier conversation, in short"
			if r.IntN(4) == 0 {
				text = ""
			}
			h.summary(h.seq-int64(r.IntN(i+1)), text)
		}
		switch k := r.IntN(40); {
		case k < 10:
			h.user(words(r.IntN(30) + 1))
		case k < 17:
			h.assistant(words(r.IntN(30) + 1))
		case k < 23:
			ids := []string{id()}
			for r.IntN(3) == 0 {
				ids = append(ids, id())
			}
			h.call("tool", `{"q":1}`, ids...)
			if r.IntN(5) != 0 { // most calls are answered right away
				for _, x := range ids {
					if r.IntN(8) != 0 {
						h.result(x, words(r.IntN(20)+1))
					} else {
						open = append(open, x)
					}
				}
			}
		case k < 27 && len(open) > 0:
			j := r.IntN(len(open))
			h.result(open[j], words(r.IntN(20)+1))
			open = append(open[:j], open[j+1:]...)
		case k < 29:
			h.result(id(), "a result twice, or for an old call") // second result, or late
		case k == 29:
			h.result(fmt.Sprintf("orphan%d", i), "lost")
		case k == 30:
			h.add(workspace.Record{Role: workspace.RoleAssistant, ReasoningContent: "thinking"}) // thought-only
		case k == 31:
			h.add(workspace.Record{Role: workspace.RoleUser, Media: []string{"photo.jpg"}})
		case k == 32:
			h.add(workspace.Record{Role: workspace.RoleAssistant, Content: pick(r, "", "text"), ToolCalls: json.RawMessage(`"not calls"`)})
		case k < 36:
			h.system(words(r.IntN(40) + 1))
		default:
			h.user(words(r.IntN(200) + 1)) // a long one
		}
	}
	if r.IntN(2) == 0 {
		for i := range h.recs {
			h.recs[i].Tokens = RecordTokens(Estimate{}, h.recs[i])
		}
	}
	return h.recs
}

func pick(r *rand.Rand, s ...string) string { return s[r.IntN(len(s))] }

// The streaming fitter gives BuildContext's Context, field for field, on
// random messy histories, for every strategy, budgets from nothing to
// everything, and pins anywhere (plain messages, calls, results, system
// messages, seqs that are not messages).
func TestStreamFitterIsBuildContext(t *testing.T) {
	iters := 1000
	if testing.Short() {
		iters = 200
	}
	r := rand.New(rand.NewPCG(16, 6))
	c := Estimate{}
	strategies := []Strategy{StrategySmart, StrategyRecent, StrategySummarize}
	var swept, letGo int
	for iter := 0; iter < iters; iter++ {
		recs := messyHistory(r, r.IntN(400)+1)
		total := TokensReplyPrime
		for _, rec := range recs {
			total += RecordTokens(c, rec)
		}
		b := Budget{Strategy: strategies[iter%3]}
		switch r.IntN(4) {
		case 0:
			b.MaxTokens = r.IntN(10) + 1 // less than a message
		case 1:
			b.MaxTokens = total + r.IntN(10) // everything fits
		default:
			b.MaxTokens = r.IntN(total/2+1) + 1
		}
		if b.Strategy == StrategySmart {
			for range r.IntN(4) {
				b.Pinned = append(b.Pinned, recs[r.IntN(len(recs))].Seq)
			}
		}
		want, err := BuildContext(recs, b, c)
		if err != nil {
			t.Fatal(err)
		}
		got, f := streamBuild(t, recs, b, c)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("iter %d, %d records, budget %+v:\nstreamed %+v\nfolded   %+v", iter, len(recs), b, got, want)
		}
		if len(recs) > 64 {
			swept++
		}
		if f.goneMsgs > 0 {
			letGo++
		}
	}
	t.Logf("%d histories, %d over 64 records, %d let blocks go", iters, swept, letGo)
	if swept < iters/2 || letGo < iters/4 {
		t.Fatalf("the histories do not exercise the sweeps: %d of %d long enough, %d let blocks go", swept, iters, letGo)
	}
}

// The streaming fitter holds what the budget may still take, not the
// history: over 30 000 messages of tool turns whose models number their
// calls from 1 every turn, with calls left unanswered (each let go once a
// later call reuses its id), a system message per 100 turns and a pin, the
// blocks it holds never pass a bound set by the budget alone, and the
// result is BuildContext's.
func TestStreamFitterHoldsWhatItMayTake(t *testing.T) {
	h := newHist().system("you plan trips")
	pinned := int64(0)
	for i := 0; len(h.recs) < 30_000; i++ {
		h.user(fmt.Sprintf("question %d: is the flight on day %d booked?", i, i))
		switch i % 4 {
		case 0:
			h.call("bookings", `{}`, "call_1", "call_2").result("call_1", "confirmed").result("call_2", "seat 3A")
		case 1:
			h.call("bookings", `{}`, "call_1") // never answered
		case 2:
			h.call("bookings", `{}`, "call_1").assistant("one moment").result("call_1", "late, moved next to its call")
		}
		if i%100 == 50 {
			h.system(fmt.Sprintf("note %d", i))
		}
		if i == 1000 {
			pinned = h.seq
		}
		h.assistant(fmt.Sprintf("Yes, flight %d is booked for day %d.", i, i))
	}
	c := Estimate{}
	for _, b := range []Budget{
		{MaxTokens: 400, Strategy: StrategySmart, Pinned: []int64{pinned}},
		{MaxTokens: 4000, Strategy: StrategySmart},
		{MaxTokens: 4000, Strategy: StrategyRecent},
	} {
		want, err := BuildContext(h.recs, b, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkBudget(&b); err != nil {
			t.Fatal(err)
		}
		f := newStreamFitter(nil, b, c)
		peak := 0
		for _, r := range h.recs {
			f.add(r)
			peak = max(peak, len(f.held))
		}
		got := f.finish()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("budget %+v:\nstreamed %+v\nfolded   %+v", b, got, want)
		}
		// Every message costs at least 3 tokens (its frame): the tail
		// the recent pass may take and the system messages taken are at
		// most MaxTokens/3 blocks each; with the block past the tail, a
		// call still waiting, the pin; twice that between sweeps, and a
		// sweep's floor.
		bound := 2*(2*b.MaxTokens/TokensPerMessage+2+len(b.Pinned)) + 64
		if peak > bound || got.Omitted < 25_000 {
			t.Fatalf("budget %+v: held up to %d blocks (bound %d) of %d records; %d messages left out",
				b, peak, bound, len(h.recs), got.Omitted)
		}
		t.Logf("budget %d %s: held at most %d blocks of %d records", b.MaxTokens, b.Strategy, peak, len(h.recs))
	}
}

// FuzzStreamFitter: on any JSONL history (lines that are not records are
// skipped), budget and pin, the streaming fitter gives BuildContext's
// Context for every strategy.
func FuzzStreamFitter(f *testing.F) {
	f.Add([]byte(`{"role":"tool","tool_call_id":"x","content":"orphan"}
{"role":"system","content":"be brief"}
{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}},{"id":"b","name":"g"}]}
{"role":"user","content":"between"}
{"role":"tool","tool_call_id":"b","content":"B"}
{"type":"summary","through":3,"text":"before"}
{"role":"assistant","tool_calls":"not an array"}
{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f"}}]}
{"role":"tool","tool_call_id":"a","content":"A"}
{"role":"tool","tool_call_id":"a","content":"A again"}`), uint16(60), uint8(4))
	r := rand.New(rand.NewPCG(7, 7))
	for range 4 {
		var data []byte
		for _, rec := range messyHistory(r, 300) {
			line, err := json.Marshal(rec)
			if err != nil {
				f.Fatal(err)
			}
			data = append(append(data, line...), '\n')
		}
		f.Add(data, uint16(r.IntN(2000)), uint8(r.IntN(256)))
	}
	f.Fuzz(func(t *testing.T, data []byte, budget uint16, pin uint8) {
		var recs []workspace.Record
		for _, line := range bytes.Split(data, []byte("\n")) {
			var r workspace.Record
			if json.Unmarshal(line, &r) != nil {
				continue
			}
			r.Seq = int64(len(recs) + 2)
			recs = append(recs, r)
		}
		for _, s := range []Strategy{StrategySmart, StrategyRecent, StrategySummarize} {
			b := Budget{MaxTokens: int(budget) + 1, Strategy: s}
			if s == StrategySmart {
				b.Pinned = []int64{int64(pin) + 2}
			}
			want, err := BuildContext(recs, b, Estimate{})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := streamBuild(t, recs, b, Estimate{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\nstreamed %+v\nfolded   %+v", s, got, want)
			}
		}
	})
}

// The same through a real session file: random messy histories (a
// summary in most of them) written with Append, then the session's smart
// context (HistoryStream and the streaming fitter) against BuildContext on
// the folded history, for budgets from nothing to everything, with pins.
func TestSmartContextStreamedIsBuildContextOnRandomSessions(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(16, 16))
	k := &Compactor{Counter: Estimate{}}
	root := t.TempDir()
	summaries, repaired := 0, 0
	for iter := range 12 {
		recs := messyHistory(r, r.IntN(600)+100)
		s := openSession(t, root, fmt.Sprintf("messy-%d", iter))
		want := seqsOf(recs)
		for i := range recs {
			recs[i].Seq, recs[i].Tokens = 0, 0 // the workspace numbers and counts them
		}
		seqs, err := s.Append(ctx, recs...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seqs, want) { // summaries name seqs through
			t.Fatalf("seqs %v.., want %v..", seqs[:3], want[:3])
		}
		h, err := s.History(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		folded := Records(h)
		total := TokensReplyPrime
		for _, rec := range folded {
			total += RecordTokens(k.Counter, rec)
		}
		for _, budget := range []int{1, 30, total / 10, total / 3, total} {
			b := Budget{MaxTokens: max(budget, 1), Strategy: StrategySmart}
			if budget%2 == 0 {
				b.Pinned = []int64{seqs[r.IntN(len(seqs))], seqs[r.IntN(len(seqs))]}
			}
			want, err := BuildContext(folded, b, k.Counter)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Context(ctx, s, b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("session %d, budget %+v:\nstreamed %+v\nfolded   %+v", iter, b, got, want)
			}
			if budget == total {
				summaries += min(int(want.SummarySeq), 1)
				repaired += min(len(want.Repairs), 1)
			}
		}
	}
	if summaries < 3 || repaired < 10 {
		t.Fatalf("the sessions do not exercise what they should: %d with a summary sent, %d with repairs", summaries, repaired)
	}
}

// With history limits the smart context streams too, holding a tail a
// little over the limits: on random messy sessions (long tool turns,
// summaries) and limits by messages, by tokens or both, small and large,
// it is what the whole history gave: BuildContext on History(ctx,
// 0).Within(limits), with Limited, LimitedTokens and the note.
func TestSmartContextWithinLimitsIsWholeHistory(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(16, 61))
	root := t.TempDir()
	limited := 0
	for iter := range 6 {
		recs := messyHistory(r, r.IntN(1500)+200)
		for i := range recs {
			recs[i].Seq, recs[i].Tokens = 0, 0
		}
		s := openSession(t, root, fmt.Sprintf("limits-%d", iter))
		if _, err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		h0, err := s.History(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []Limits{
			{MaxMessages: 1}, {MaxMessages: 2}, {MaxMessages: 7}, {MaxMessages: 300}, {MaxMessages: 1 << 20},
			{MaxTokens: 1}, {MaxTokens: 150}, {MaxTokens: 5000}, {MaxTokens: 1 << 30},
			{MaxMessages: 100, MaxTokens: 2000}, {MaxMessages: 2000, MaxTokens: 400},
		} {
			k := &Compactor{Counter: Estimate{}, Settings: Settings{Limits: l}}
			for _, budget := range []int{40, 1500, 1 << 20} {
				b := Budget{MaxTokens: budget, Strategy: StrategySmart}
				hw := h0.Within(l.MaxMessages, l.MaxTokens)
				if hw.Trimmed > 0 {
					hw.More = false
				}
				want, err := BuildContext(Records(hw), b, k.Counter)
				if err != nil {
					t.Fatal(err)
				}
				k.noteLimited(&want, hw)
				got, err := k.Context(ctx, s, b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("session %d (%d records), limits %+v, budget %d:\nstreamed %+v\nwhole    %+v", iter, len(recs), l, budget, got, want)
				}
				if want.Limited > 0 {
					limited++
				}
			}
		}
	}
	if limited < 60 {
		t.Fatalf("only %d contexts were limited", limited)
	}
}
