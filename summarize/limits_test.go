package summarize

import (
	"context"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

func TestContextAppliesHistoryLimits(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "limited")
	appendTurns(t, s, 0, 30) // 70 messages, tool groups every third turn
	k := &Compactor{Settings: Settings{Limits: Limits{MaxMessages: 7}}}
	for _, strategy := range []Strategy{StrategyRecent, StrategySmart} {
		out, err := k.Context(ctx, s, Budget{MaxTokens: 100000, Strategy: strategy})
		if err != nil {
			t.Fatal(err)
		}
		if out.Available > 7 || out.Available < 5 || out.Limited == 0 || out.Included != out.Available {
			t.Fatalf("%s: available %d, included %d, limited %d", strategy, out.Available, out.Included, out.Limited)
		}
		// The oldest message sent is never a tool result cut from its call.
		first := out.Messages[0]
		if first.Role == workspace.RoleTool {
			t.Fatalf("%s: context starts with a tool result: %+v", strategy, first)
		}
		if !strings.Contains(strings.Join(out.Notes, "\n"), "limits.max_messages 7") {
			t.Fatalf("%s: notes %q", strategy, out.Notes)
		}
	}
	// Nothing was written: trim only bounds what is read.
	if n := len(countSummaries(t, s)); n != 0 {
		t.Fatalf("trim wrote %d summaries", n)
	}

	// compaction "summarize": crossing the limit summarizes instead.
	k.Settings.Limits.Compaction = workspace.CompactionSummarize
	out, err := k.Context(ctx, s, Budget{MaxTokens: 100000, Strategy: StrategySmart})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(countSummaries(t, s)); n != 1 {
		t.Fatalf("compaction summarize wrote %d summaries", n)
	}
	if out.SummarySeq == 0 || out.Available > 7 {
		t.Fatalf("after summarizing: summary seq %d, available %d", out.SummarySeq, out.Available)
	}
}
