package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// BenchmarkRemigrate runs a migration again, with nothing new to import:
// the plan (every session skip) and its apply with verify, into a workspace
// that holds the import of 2 000 PicoClaw sessions of 20 messages and, in
// the larger case, 20 000 sessions of the assistant's own besides (each
// looked at for an earlier import of the install: one header read).
func BenchmarkRemigrate(b *testing.B) {
	for _, others := range []int{0, 20000} {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) {
			ctx := context.Background()
			src := filepath.Join(b.TempDir(), "sessions")
			if err := os.MkdirAll(src, 0o755); err != nil {
				b.Fatal(err)
			}
			writeSyntheticPico(b, src, 2000, 20)
			ws, err := workspace.Open(filepath.Join(b.TempDir(), "ws"), &workspace.Options{Durability: workspace.DurabilityNever})
			if err != nil {
				b.Fatal(err)
			}
			defer ws.Close()
			for i := 0; i < others; i++ {
				s, err := ws.Session(ctx, workspace.Target{Name: fmt.Sprintf("chat-%d", i)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: "user", Content: "hello"}); err != nil {
					b.Fatal(err)
				}
			}
			res, err := Read(ctx, src, Options{})
			if err != nil {
				b.Fatal(err)
			}
			p, err := PlanResult(ctx, res, ws, PlanOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Apply(ctx, ws, p, ApplyOptions{}); err != nil {
				b.Fatal(err)
			}
			var planNs, n int64
			cpu0 := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				p, err := PlanResult(ctx, res, ws, PlanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				planNs += int64(time.Since(t0))
				n++
				rep, err := Apply(ctx, ws, p, ApplyOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Appended != 0 || rep.Actions[ActionSkip] != 2000 {
					b.Fatalf("a second run wrote %d records (%v)", rep.Appended, rep.Actions)
				}
			}
			b.ReportMetric(float64(planNs)/float64(n)/1e6, "plan-ms/op")
			// CPU time is steadier than wall time on a shared machine
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n)/1e6, "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
