package summarize

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
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
