package summarize

import (
	"context"
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
