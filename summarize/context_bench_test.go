package summarize

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSmartContext100k: the smart context of a 100 000-message
// session never summarized (a third of the turns with a tool call), the
// whole active history read and selected (the streaming fitter), for a
// budget of 4 000 tokens. BenchmarkSessionContext100k runs it on the same
// history once summarized.
func BenchmarkSmartContext100k(b *testing.B) {
	ctx := context.Background()
	s := openSession(b, b.TempDir(), "big")
	for i := 0; i < 37500; i += 3750 {
		appendTurns(b, s, i, 3750)
	}
	k := &Compactor{Settings: Settings{MessageThreshold: Disabled, TokenPercent: Disabled}}
	b.ReportAllocs()
	for b.Loop() {
		c, err := k.Context(ctx, s, Budget{MaxTokens: 4000, Strategy: StrategySmart})
		if err != nil {
			b.Fatal(err)
		}
		if c.Available < 100_000 || c.Omitted == 0 {
			b.Fatalf("available %d, omitted %d", c.Available, c.Omitted)
		}
	}
}

// BenchmarkFitters: the smart selection alone, on a history in memory
// (turns of user, tool call, result, reply; counts stored), BuildContext
// against the streaming fitter the session's smart context uses.
func BenchmarkFitters(b *testing.B) {
	for _, n := range []int{200, 100_000} {
		recs := bigHistory(n)
		for i := range recs {
			recs[i].Tokens = RecordTokens(Estimate{}, recs[i])
		}
		budget := Budget{MaxTokens: 4000, Strategy: StrategySmart}
		b.Run(fmt.Sprintf("BuildContext/msgs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BuildContext(recs, budget, Estimate{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("stream/msgs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f := newStreamFitter(&recs[0], budget, Estimate{})
				for _, r := range recs {
					f.add(r)
				}
				f.finish()
			}
		})
	}
}
