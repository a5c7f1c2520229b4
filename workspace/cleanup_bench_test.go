package workspace

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCleanup10kSessions runs Cleanup over 10 000 sessions of which
// 5 000 are idle, each op from a new Workspace (as the CLI runs it, the
// listing cache warm): "dry-run" decides only, "dry-run-keep-checkpoints"
// also reads every candidate for checkpoints, "real" moves the 5 000 to
// the trash (they are moved back, untimed, between ops).
func BenchmarkCleanup10kSessions(b *testing.B) {
	const n, idle = 10_000, 5_000
	dir := b.TempDir()
	w, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	makeSessions(b, w, n)
	ctx := context.Background()
	if _, err := w.List(ctx, ListOptions{}); err != nil { // warm the cache file
		b.Fatal(err)
	}
	// makeSessions writes session i at 2026-01-01 + i s: with this clock
	// and expiry sessions 0..4999 are idle.
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := CleanupOptions{OlderThan: 30 * day, Now: at.Add(30*day + idle*time.Second)}
	run := func(b *testing.B, o CleanupOptions) CleanupReport {
		w2, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer w2.Close()
		rep, err := w2.Cleanup(ctx, o)
		if err != nil || len(rep.Trashed) != idle || len(rep.Kept) != n-idle {
			b.Fatalf("trashed %d kept %d: %v", len(rep.Trashed), len(rep.Kept), err)
		}
		return rep
	}
	b.Run("dry-run", func(b *testing.B) {
		o := base
		o.DryRun = true
		for i := 0; i < b.N; i++ {
			run(b, o)
		}
	})
	b.Run("dry-run-keep-checkpoints", func(b *testing.B) {
		o := base
		o.DryRun, o.KeepCheckpoints = true, true
		for i := 0; i < b.N; i++ {
			run(b, o)
		}
	})
	b.Run("real", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rep := run(b, base)
			b.StopTimer()
			for _, d := range rep.Trashed {
				if err := os.Rename(filepath.Join(w.trashDir(), d.Trash), w.SessionPath(d.ID)); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		b.ReportMetric(idle, "moved/op")
	})
}
