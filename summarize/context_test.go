package summarize

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// sumTokens recounts a context's messages independently of the builder.
func sumTokens(c Counter, msgs []ChatMessage) int {
	if len(msgs) == 0 {
		return 0
	}
	n := TokensReplyPrime
	for _, m := range msgs {
		n += MessageTokens(c, m)
	}
	return n
}

func TestContextRecentTakesNewestThatFit(t *testing.T) {
	c := tk(t)
	h := newHist().system("You are a gardening assistant.")
	for i := 0; i < 10; i++ {
		h.turn(i)
	}
	all, err := BuildContext(h.recs, Budget{MaxTokens: 100000, Strategy: StrategyRecent}, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Messages) != 21 || all.Truncated || all.Omitted != 0 || all.Tokens != sumTokens(c, all.Messages) {
		t.Fatalf("everything should fit: %d messages, %+v", len(all.Messages), all)
	}
	// Budget for exactly the last 4 messages.
	want := TokensReplyPrime
	for _, r := range h.recs[len(h.recs)-4:] {
		want += RecordTokens(c, r)
	}
	got, err := BuildContext(h.recs, Budget{MaxTokens: want + 1, Strategy: StrategyRecent}, c)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Seqs, seqsOf(h.recs[len(h.recs)-4:])) || got.Tokens != want || !got.Truncated || got.Omitted != 17 {
		t.Fatalf("seqs %v tokens %d (want %d) omitted %d truncated %v", got.Seqs, got.Tokens, want, got.Omitted, got.Truncated)
	}
	if got.Tokens != sumTokens(c, got.Messages) {
		t.Fatalf("accounting %d != recount %d", got.Tokens, sumTokens(c, got.Messages))
	}
	if got.Messages[len(got.Messages)-1].Content != "answer 9: water the tomatoes" {
		t.Fatalf("last message %+v", got.Messages[len(got.Messages)-1])
	}
}

func TestContextSummaryIsASystemMessage(t *testing.T) {
	c := tk(t)
	h := newHist().summary(1, "The user grows tomatoes in Lisbon.").turn(1).turn(2)
	for _, s := range []Strategy{StrategySummarize, StrategySmart} {
		got, err := BuildContext(h.recs, Budget{MaxTokens: 1000, Strategy: s}, c)
		if err != nil {
			t.Fatal(err)
		}
		first := got.Messages[0]
		if first.Role != "system" || first.Content != SummaryPrefix+"The user grows tomatoes in Lisbon." || got.Seqs[0] != 2 {
			t.Fatalf("%s: first message %+v seq %d", s, first, got.Seqs[0])
		}
		if got.SummaryTokens != MessageTokens(c, first) || got.Included != 4 || got.Tokens != sumTokens(c, got.Messages) {
			t.Fatalf("%s: accounting %+v", s, got)
		}
	}
	// recent ignores the summary.
	got, _ := BuildContext(h.recs, Budget{MaxTokens: 1000, Strategy: StrategyRecent}, c)
	if got.Messages[0].Role != "user" || got.SummaryTokens != 0 {
		t.Fatalf("recent: %+v", got.Messages[0])
	}
}

func TestContextToolCallsInOpenAIShape(t *testing.T) {
	h := newHist().user("read my notes").
		call("read_file", `{"path":"notes.txt"}`, "call_read_file_1").
		result("call_read_file_1", "buy milk\ncall bob").
		assistant("notes.txt says: buy milk, call bob.")
	got, err := BuildContext(h.recs, Budget{MaxTokens: 1000}, Estimate{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(got.Messages[1:3])
	want := `[{"role":"assistant","content":"","tool_calls":[{"id":"call_read_file_1","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"notes.txt\"}"}}]},` +
		`{"role":"tool","content":"buy milk\ncall bob","tool_call_id":"call_read_file_1"}]`
	if string(raw) != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
}

func TestParseToolCallsLegacyShapes(t *testing.T) {
	for _, tc := range []struct{ raw, args string }{
		{`[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]`, `{"x":1}`},
		{`[{"id":"a","function":{"name":"f","arguments":{"x": 1}}}]`, `{"x":1}`},
		{`[{"id":"a","name":"f","arguments":{"x":1}}]`, `{"x":1}`},
		{`[{"id":"a","function":{"name":"f"}}]`, `{}`},
	} {
		calls, err := ParseToolCalls(json.RawMessage(tc.raw))
		if err != nil || len(calls) != 1 || calls[0].Function.Name != "f" || calls[0].Type != "function" || calls[0].Function.Arguments != tc.args {
			t.Errorf("%s: %+v %v", tc.raw, calls, err)
		}
	}
	for _, bad := range []string{`{"id":"a"}`, `[{"function":{"name":"f"}}]`, `[{"id":"a"}]`} {
		if _, err := ParseToolCalls(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestContextNeverSplitsToolPairs(t *testing.T) {
	c := Estimate{}
	h := newHist().user("check both").
		call("read_file", `{"path":"a"}`, "c1", "c2").
		result("c1", strings.Repeat("alpha ", 50)).
		result("c2", strings.Repeat("beta ", 50)).
		assistant("done").
		user("thanks")
	full, _ := BuildContext(h.recs, Budget{MaxTokens: 100000, Strategy: StrategyRecent}, c)
	// Every budget between "only the last two" and "all": the tool block
	// is all in or all out.
	for budget := 1; budget <= full.Tokens; budget++ {
		for _, s := range []Strategy{StrategyRecent, StrategySmart, StrategySummarize} {
			got, err := BuildContext(h.recs, Budget{MaxTokens: budget, Strategy: s}, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckToolPairs(got.Messages); err != nil {
				t.Fatalf("budget %d %s: %v\n%+v", budget, s, err, got.Seqs)
			}
			if got.Tokens > budget {
				t.Fatalf("budget %d %s: %d tokens", budget, s, got.Tokens)
			}
		}
	}
}

func TestContextRepairsOrphans(t *testing.T) {
	h := newHist().
		result("gone_1", "result whose call was summarized away").   // 2 orphan result
		user("hello").                                               // 3
		call("search", `{}`, "s1", "s2").                            // 4: s2 never answered
		result("s1", "found it").                                    // 5
		user("and?").                                                // 6
		call("lookup", `{}`, "l1").                                  // 7: no result at all
		add(workspace.Record{Role: "assistant", Content: "thinking", // 8: call with content, no result
					ToolCalls: json.RawMessage(`[{"id":"x1","type":"function","function":{"name":"f","arguments":"{}"}}]`)}).
		user("still there?") // 9
	got, err := BuildContext(h.recs, Budget{MaxTokens: 10000}, tk(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckToolPairs(got.Messages); err != nil {
		t.Fatalf("not repaired: %v", err)
	}
	if !reflect.DeepEqual(got.Seqs, []int64{3, 4, 5, 6, 8, 9}) {
		t.Fatalf("seqs %v", got.Seqs)
	}
	if calls := got.Messages[1].ToolCalls; len(calls) != 1 || calls[0].ID != "s1" {
		t.Fatalf("unanswered call s2 not removed: %+v", calls)
	}
	if m := got.Messages[4]; m.Content != "thinking" || len(m.ToolCalls) != 0 {
		t.Fatalf("seq 8: %+v", m)
	}
	if got.Tokens != sumTokens(tk(t), got.Messages) {
		t.Fatalf("repaired messages not recounted: %d vs %d", got.Tokens, sumTokens(tk(t), got.Messages))
	}
	joined := strings.Join(got.Repairs, "\n")
	for _, want := range []string{"seq 2: tool result", "seq 4: tool call \"s2\"", "seq 7: tool call \"l1\"", "seq 8: tool call \"x1\""} {
		if !strings.Contains(joined, want) {
			t.Errorf("repairs lack %q:\n%s", want, joined)
		}
	}
}

func TestContextMovesInterleavedResultsNextToTheirCall(t *testing.T) {
	h := newHist().user("go").
		call("f", `{}`, "a", "b"). // 3
		result("a", "A").          // 4
		user("hurry up").          // 5
		result("b", "B").          // 6
		assistant("done")          // 7
	got, _ := BuildContext(h.recs, Budget{MaxTokens: 10000}, Estimate{})
	if err := CheckToolPairs(got.Messages); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Seqs, []int64{2, 3, 4, 6, 5, 7}) {
		t.Fatalf("seqs %v", got.Seqs)
	}
	if !strings.Contains(strings.Join(got.Repairs, "\n"), "seq 6: tool result moved") {
		t.Fatalf("repairs %v", got.Repairs)
	}
}

func TestContextSmartKeepsSystemSummaryAndPinned(t *testing.T) {
	c := Estimate{}
	h := newHist().summary(1, "The user is Alice.").
		system("Always answer in French.") // 3
	for i := 0; i < 20; i++ {
		h.turn(i) // 4..43
	}
	pinned := h.recs[4] // seq 6: "question 1 ..."
	recentTail := 0
	for _, r := range h.recs[len(h.recs)-4:] {
		recentTail += RecordTokens(c, r)
	}
	budget := TokensReplyPrime + RecordTokens(c, h.recs[0]) + RecordTokens(c, h.recs[1]) + RecordTokens(c, pinned) + recentTail
	got, err := BuildContext(h.recs, Budget{MaxTokens: budget, Strategy: StrategySmart, Pinned: []int64{pinned.Seq}}, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{3, 2, 6, 40, 41, 42, 43}
	if !reflect.DeepEqual(got.Seqs, want) {
		t.Fatalf("seqs %v, want %v (system first, then summary, pinned, recent)", got.Seqs, want)
	}
	if got.Tokens != budget || !got.Truncated || got.Tokens != sumTokens(c, got.Messages) {
		t.Fatalf("tokens %d budget %d recount %d", got.Tokens, budget, sumTokens(c, got.Messages))
	}
	// summarize strategy with the same budget: no pinned, more recent.
	got, _ = BuildContext(h.recs, Budget{MaxTokens: budget, Strategy: StrategySummarize}, c)
	if got.Seqs[0] != 2 || got.Seqs[1] == 3 {
		t.Fatalf("summarize: %v", got.Seqs)
	}
}

func TestContextPinnedToolResultBringsItsCall(t *testing.T) {
	h := newHist().user("q").call("f", `{}`, "k").result("k", "key fact").assistant("a")
	for i := 0; i < 10; i++ {
		h.turn(i)
	}
	c := Estimate{}
	need := TokensReplyPrime + RecordTokens(c, h.recs[1]) + RecordTokens(c, h.recs[2]) + RecordTokens(c, h.recs[len(h.recs)-1])
	got, _ := BuildContext(h.recs, Budget{MaxTokens: need, Strategy: StrategySmart, Pinned: []int64{4}}, c)
	if !reflect.DeepEqual(got.Seqs, []int64{3, 4, lastSeq(h.recs)}) {
		t.Fatalf("seqs %v", got.Seqs)
	}
}

func TestContextBudgetTooSmall(t *testing.T) {
	h := newHist().summary(1, words(300)).user(words(500))
	got, err := BuildContext(h.recs, Budget{MaxTokens: 50, Strategy: StrategySmart}, Estimate{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 0 || !got.Truncated || got.Omitted != 1 || len(got.Notes) < 2 || got.Tokens > 50 {
		t.Fatalf("got %+v", got)
	}
	if !strings.Contains(strings.Join(got.Notes, "\n"), "summary (seq 2") {
		t.Fatalf("notes %v", got.Notes)
	}
	raw, _ := json.Marshal(got)
	if !strings.Contains(string(raw), `"messages":[]`) || !strings.Contains(string(raw), `"tokens":0`) {
		t.Fatalf("JSON %s", raw)
	}
	for _, b := range []Budget{{MaxTokens: 0}, {MaxTokens: 10, Strategy: "random"}} {
		if _, err := BuildContext(h.recs, b, nil); !errors.Is(err, ErrBudget) {
			t.Errorf("%+v: %v", b, err)
		}
	}
}

func TestContextSkipsThoughtOnlyAndOtherRecords(t *testing.T) {
	h := newHist().user("hi").
		add(workspace.Record{Role: "assistant", ReasoningContent: "hmm"}).
		add(workspace.Record{Type: workspace.TypeTitle, Text: "greeting"}).
		assistant("hello")
	got, _ := BuildContext(h.recs, Budget{MaxTokens: 1000}, Estimate{})
	if !reflect.DeepEqual(got.Seqs, []int64{2, 5}) || got.Available != 3 {
		t.Fatalf("seqs %v available %d", got.Seqs, got.Available)
	}
}

// randomHistory builds a messy history: tool turns, orphans, interleaving.
func randomHistory(r *rand.Rand, n int) []workspace.Record {
	h := newHist()
	if r.IntN(2) == 0 {
		h.summary(1, "earlier things happened")
	}
	open := []string{}
	for i := 0; i < n; i++ {
		switch k := r.IntN(10); {
		case k < 3:
			h.user(words(r.IntN(30) + 1))
		case k < 5:
			h.assistant(words(r.IntN(30) + 1))
		case k < 7:
			var ids []string
			for j := 0; j <= r.IntN(3); j++ {
				id := fmt.Sprintf("c%d_%d", i, j)
				ids = append(ids, id)
				open = append(open, id)
			}
			h.call("tool", `{"n":1}`, ids...)
		case k < 9 && len(open) > 0:
			j := r.IntN(len(open))
			h.result(open[j], words(r.IntN(40)+1))
			open = append(open[:j], open[j+1:]...)
		case k == 9:
			h.result(fmt.Sprintf("orphan%d", i), "lost")
		default:
			h.system("note")
		}
	}
	return h.recs
}

func TestContextPropertiesOnRandomHistories(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	c := Estimate{}
	for iter := 0; iter < 300; iter++ {
		recs := randomHistory(r, r.IntN(40)+1)
		budget := Budget{MaxTokens: r.IntN(600) + 1, Strategy: []Strategy{StrategyRecent, StrategySmart, StrategySummarize}[iter%3]}
		if r.IntN(3) == 0 {
			budget.Pinned = []int64{recs[r.IntN(len(recs))].Seq}
		}
		got, err := BuildContext(recs, budget, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckToolPairs(got.Messages); err != nil {
			t.Fatalf("iter %d: %v (seqs %v)", iter, err, got.Seqs)
		}
		if got.Tokens > budget.MaxTokens || got.Tokens != sumTokens(c, got.Messages) {
			t.Fatalf("iter %d: tokens %d, budget %d, recount %d", iter, got.Tokens, budget.MaxTokens, sumTokens(c, got.Messages))
		}
		// Each message's count (nothing stored here: each is its recount).
		if len(got.MessageTokens) != len(got.Messages) {
			t.Fatalf("iter %d: %d message counts for %d messages", iter, len(got.MessageTokens), len(got.Messages))
		}
		for i, m := range got.Messages {
			if got.MessageTokens[i] != MessageTokens(c, m) {
				t.Fatalf("iter %d: message %d (seq %d) counted %d, recount %d", iter, i, got.Seqs[i], got.MessageTokens[i], MessageTokens(c, m))
			}
		}
		// Apart from repairs that move results, history order is kept,
		// and each record appears at most once.
		seen := map[int64]bool{}
		for _, s := range got.Seqs {
			if seen[s] {
				t.Fatalf("iter %d: seq %d twice", iter, s)
			}
			seen[s] = true
		}
	}
}

// bigHistory is n messages in turns of user, tool call, result, reply.
func bigHistory(n int) []workspace.Record {
	h := newHist().summary(1, "The user and the assistant have been planning a garden for months.")
	for i := 0; len(h.recs) < n; i++ {
		id := fmt.Sprintf("call_%d", i)
		h.user(fmt.Sprintf("Question %d: how is the garden doing after the rain on day %d?", i, i)).
			call("weather", fmt.Sprintf(`{"day":%d}`, i), id).
			result(id, "Rain 12mm, sunny afterwards, soil moist.").
			assistant(fmt.Sprintf("On day %d the garden is fine: 12mm of rain, then sun.", i))
	}
	return h.recs
}

func BenchmarkBuildContext(b *testing.B) {
	for _, n := range []int{50, 500} {
		recs := bigHistory(n)
		for _, c := range []Counter{Estimate{}, tk(b)} {
			b.Run(fmt.Sprintf("%d-msgs/%s", n, c.Name()), func(b *testing.B) {
				for b.Loop() {
					if _, err := BuildContext(recs, Budget{MaxTokens: 4000, Strategy: StrategySmart}, c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// Tokens stored at append, as the workspace does: nothing recounted.
		stored := append([]workspace.Record(nil), recs...)
		for i := range stored {
			stored[i].Tokens = RecordTokens(Estimate{}, stored[i])
		}
		b.Run(fmt.Sprintf("%d-msgs/stored-tokens", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := BuildContext(stored, Budget{MaxTokens: 4000, Strategy: StrategySmart}, Estimate{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCheckToolPairs(t *testing.T) {
	call := func(ids ...string) ChatMessage {
		m := ChatMessage{Role: "assistant"}
		for _, id := range ids {
			m.ToolCalls = append(m.ToolCalls, ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: "f", Arguments: "{}"}})
		}
		return m
	}
	res := func(id string) ChatMessage { return ChatMessage{Role: "tool", ToolCallID: id} }
	user := ChatMessage{Role: "user", Content: "u"}
	for _, tc := range []struct {
		msgs []ChatMessage
		want string // "" = valid
	}{
		{[]ChatMessage{user, call("a", "b"), res("b"), res("a"), user}, ""},
		{[]ChatMessage{res("a")}, `message 0: tool result "a" does not follow its call`},
		{[]ChatMessage{call("a", "b"), res("a"), user, res("b")}, `message 2 (user): tool call "b" has no result before it`},
		{[]ChatMessage{call("a"), res("a"), res("a")}, `message 2: tool result "a" does not follow its call`},
		{[]ChatMessage{user, call("a", "b"), res("a")}, `end of messages: tool call "b" has no result`},
	} {
		err := CheckToolPairs(tc.msgs)
		if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || err.Error() != tc.want)) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

func TestContextRepeatedToolCallIDs(t *testing.T) {
	// Two assistant messages reuse the id "x" (some local models count from
	// 1 every turn); only the second is answered.
	h := newHist().user("a").call("f", `{}`, "x").user("b").call("g", `{}`, "x").result("x", "X").assistant("done").
		add(workspace.Record{Role: "assistant",
			ToolCalls: json.RawMessage(`[{"id":"y","function":{"name":"h"}},{"id":"y","function":{"name":"h"}}]`)}).
		result("y", "Y")
	got, err := BuildContext(h.recs, Budget{MaxTokens: 10000}, Estimate{})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckToolPairs(got.Messages); err != nil {
		t.Fatalf("%v (seqs %v, repairs %v)", err, got.Seqs, got.Repairs)
	}
	if !reflect.DeepEqual(got.Seqs, []int64{2, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("seqs %v, repairs %v", got.Seqs, got.Repairs)
	}
	if got.Tokens != sumTokens(Estimate{}, got.Messages) {
		t.Fatalf("tokens %d vs %d", got.Tokens, sumTokens(Estimate{}, got.Messages))
	}
}

func TestContextMediaOnlyMessagesAreNotEmpty(t *testing.T) {
	h := newHist().
		add(workspace.Record{Role: "user", Media: []string{"media://1", "media://2"}, Tokens: 99}).
		add(workspace.Record{Role: "assistant", Media: []string{"media://3"}}).
		add(workspace.Record{Role: "assistant", ReasoningContent: "just thinking"})
	got, err := BuildContext(h.recs, Budget{MaxTokens: 1000}, Estimate{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Seqs, []int64{2, 3}) || got.Messages[0].Content != "[2 media item(s) not shown]" ||
		got.Messages[1].Content != "[1 media item(s) not shown]" {
		t.Fatalf("got %+v", got)
	}
	if got.Tokens != sumTokens(Estimate{}, got.Messages) {
		t.Fatalf("stored count used for a changed message: %d vs %d", got.Tokens, sumTokens(Estimate{}, got.Messages))
	}
}
