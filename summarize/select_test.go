package summarize

import (
	"reflect"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

func TestSelectKeepsRecentAndCutsAtUserTurn(t *testing.T) {
	h := newHist()
	for i := 0; i < 5; i++ {
		h.turn(i) // seqs 2..11, users at even seqs
	}
	p := Select(h.recs, Settings{KeepRecent: 4})
	// 10 messages, keep 4: cut before index 6 (seq 8, a user message).
	if p.From != 2 || p.Through != 7 || len(p.Keep) != 4 || p.Keep[0].Role != workspace.RoleUser {
		t.Fatalf("got from %d through %d keep %v", p.From, p.Through, seqsOf(p.Keep))
	}
	// keep_recent 3 lands on an assistant reply: the cut moves back to the
	// user turn before it, keeping 4.
	p = Select(h.recs, Settings{KeepRecent: 3})
	if p.Through != 7 || len(p.Keep) != 4 {
		t.Fatalf("keep 3: through %d keep %v", p.Through, seqsOf(p.Keep))
	}
	// Never fewer than keep_recent kept.
	for keep := 1; keep <= 10; keep++ {
		p := Select(h.recs, Settings{KeepRecent: keep})
		if len(p.Keep) < keep {
			t.Errorf("keep_recent %d kept only %d", keep, len(p.Keep))
		}
		// Up to 8 a user turn starts at or before the kept part; with 9
		// only the first user message precedes it, and the fallback cut
		// (start of an assistant step) applies.
		if keep <= 8 && p.Keep[0].Role != workspace.RoleUser {
			t.Errorf("keep_recent %d: kept part starts with %s", keep, p.Keep[0].Role)
		}
		if keep == 9 && (p.Through != 2 || p.Keep[0].Role != workspace.RoleAssistant) {
			t.Errorf("keep_recent 9: through %d, kept part starts with %s", p.Through, p.Keep[0].Role)
		}
	}
	if p := Select(h.recs, Settings{KeepRecent: 10}); !p.Empty() || !strings.Contains(p.Why, "keep_recent") {
		t.Fatalf("keep all: %+v", p)
	}
}

func TestSelectNeverSplitsToolPairs(t *testing.T) {
	// user, assistant calls two tools, results, a user message injected
	// between the results (a legacy oddity), reply.
	h := newHist().turn(0). // 2,3
				user("look up both files").                    // 4
				call("read_file", `{"path":"a"}`, "c1", "c2"). // 5
				result("c1", "alpha").                         // 6
				user("also, hurry").                           // 7  (inside the pair c2)
				result("c2", "beta").                          // 8
				assistant("a says alpha, b says beta").        // 9
				user("thanks").                                // 10
				assistant("you're welcome")                    // 11
	for keep := 1; keep <= 7; keep++ {
		p := Select(h.recs, Settings{KeepRecent: keep})
		if p.Empty() {
			continue
		}
		ids := map[string]bool{}
		for _, r := range p.Fold {
			if r.Role == workspace.RoleTool {
				ids[r.ToolCallID] = true
			}
		}
		for _, r := range p.Keep {
			if r.Role == workspace.RoleTool && !ids[r.ToolCallID] {
				// the result is kept: its call must be kept too
				for _, f := range p.Fold {
					if strings.Contains(string(f.ToolCalls), r.ToolCallID) {
						t.Fatalf("keep %d: result %s kept but its call (seq %d) folded", keep, r.ToolCallID, f.Seq)
					}
				}
			}
		}
		if p.Through == 7 || p.Through == 6 || p.Through == 5 {
			t.Fatalf("keep %d: cut inside the tool pair (through %d)", keep, p.Through)
		}
	}
	// keep 4 would cut at seq 8 (a tool result) -> back past the pair to seq 4.
	p := Select(h.recs, Settings{KeepRecent: 4})
	if p.Through != 3 {
		t.Fatalf("keep 4: through %d, want 3 (before the user turn that opened the tool pair)", p.Through)
	}
}

func TestSelectWithoutUserTurns(t *testing.T) {
	// A cron session: assistant tool turns only.
	h := newHist()
	for i, id := range []string{"a", "b", "c", "d"} {
		h.call("check", `{}`, id).result(id, "ok").assistant("report " + string(rune('0'+i)))
	}
	p := Select(h.recs, Settings{KeepRecent: 4})
	if p.Empty() {
		t.Fatalf("nothing selected: %s", p.Why)
	}
	if p.Keep[0].Role == workspace.RoleTool || len(p.Keep) < 4 {
		t.Fatalf("bad cut: keep %v", seqsOf(p.Keep))
	}
	if CheckToolPairs(chat(t, p.Keep)) != nil {
		t.Fatalf("kept part has a broken pair: %v", CheckToolPairs(chat(t, p.Keep)))
	}
}

func TestSelectFoldsAfterPreviousSummary(t *testing.T) {
	h := newHist()
	for i := 0; i < 4; i++ {
		h.turn(i) // 2..9
	}
	h.summary(5, "earlier: garden questions") // 10, covers 2..5
	for i := 4; i < 8; i++ {
		h.turn(i) // 11..18
	}
	// The workspace returns the active history: summary then messages
	// after it, but Split must also cope with covered messages present.
	p := Select(h.recs, Settings{KeepRecent: 2})
	if p.Previous == nil || p.Previous.Text != "earlier: garden questions" {
		t.Fatalf("previous summary not found: %+v", p.Previous)
	}
	if p.From != 6 {
		t.Fatalf("from %d, want 6 (first message after through 5)", p.From)
	}
	if p.Through != 16 || !reflect.DeepEqual(seqsOf(p.Keep), []int64{17, 18}) {
		t.Fatalf("through %d keep %v", p.Through, seqsOf(p.Keep))
	}
}

func TestDue(t *testing.T) {
	c := Estimate{}
	h := newHist()
	for i := 0; i < 9; i++ {
		h.turn(i) // 18 messages
	}
	if d := Due(h.recs, Settings{}, c); d.Due || d.Messages != 18 {
		t.Fatalf("18 messages under threshold 20: %+v", d)
	}
	h.turn(9)
	d := Due(h.recs, Settings{}, c)
	if !d.Due || !strings.Contains(d.Reason, "message_threshold") || d.Plan.Empty() {
		t.Fatalf("20 messages: %+v", d)
	}
	// Per-agent threshold.
	if d := Due(h.recs, Settings{MessageThreshold: 50}, c); d.Due {
		t.Fatalf("threshold 50: %+v", d)
	}
	// Token percent of the context window.
	big := newHist().user(words(400)).assistant(words(400)).user("and?").assistant("done")
	d = Due(big.recs, Settings{ContextWindow: 1000, KeepRecent: 2}, c)
	if !d.Due || !strings.Contains(d.Reason, "context window") {
		t.Fatalf("token percent: %+v", d)
	}
	if d := Due(big.recs, Settings{ContextWindow: 1000, TokenPercent: Disabled, KeepRecent: 2}, c); d.Due {
		t.Fatalf("token percent disabled: %+v", d)
	}
	// Limits summarize only with compaction "summarize"; with "trim" (the
	// default) they bound what is read and never make a session due.
	sum := workspace.CompactionSummarize
	if d := Due(h.recs, Settings{MessageThreshold: Disabled, Limits: Limits{MaxMessages: 10, Compaction: sum}}, c); !d.Due || !strings.Contains(d.Reason, "max_messages") {
		t.Fatalf("max_messages: %+v", d)
	}
	if d := Due(big.recs, Settings{TokenPercent: Disabled, KeepRecent: 2, Limits: Limits{MaxTokens: 500, Compaction: sum}}, c); !d.Due || !strings.Contains(d.Reason, "max_tokens") {
		t.Fatalf("max_tokens: %+v", d)
	}
	for _, compaction := range []string{"", workspace.CompactionTrim} {
		if d := Due(h.recs, Settings{MessageThreshold: Disabled, Limits: Limits{MaxMessages: 10, Compaction: compaction}}, c); d.Due {
			t.Fatalf("max_messages with compaction %q: %+v", compaction, d)
		}
	}
}

func TestDueIsFalseWhenNothingCanBeFolded(t *testing.T) {
	// Over the token threshold, but only kept messages remain: summarizing
	// again would loop.
	h := newHist().user(words(3000)).assistant(words(3000))
	d := Due(h.recs, Settings{ContextWindow: 1000}, Estimate{})
	if d.Due || !strings.Contains(d.Reason, "nothing to summarize") {
		t.Fatalf("got %+v", d)
	}
}

func TestDueUsesStoredTokens(t *testing.T) {
	h := newHist().turn(0).turn(1).turn(2)
	for i := range h.recs {
		h.recs[i].Tokens = 1000
	}
	d := Due(h.recs, Settings{ContextWindow: 8000, KeepRecent: 2}, Estimate{})
	if d.Tokens != 6000+TokensReplyPrime || !d.Due {
		t.Fatalf("stored tokens not used: %+v", d)
	}
}

// chat converts records as the context builder does.
func chat(t *testing.T, recs []workspace.Record) []ChatMessage {
	t.Helper()
	var out []ChatMessage
	for _, r := range recs {
		m, err := recordMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestSelectWithRepeatedToolCallIDs(t *testing.T) {
	// A local model numbers its calls from 1 every turn: both turns use "1".
	h := newHist().
		user("first").call("f", `{}`, "1").result("1", "A").assistant("a"). // 2..5
		user("second").call("f", `{}`, "1").result("1", "B").assistant("b") // 6..9
	p := Select(h.recs, Settings{KeepRecent: 4})
	if p.Through != 5 || p.Keep[0].Seq != 6 {
		t.Fatalf("through %d keep %v: the second turn's reuse of id 1 must not block the cut at seq 6", p.Through, seqsOf(p.Keep))
	}
}
