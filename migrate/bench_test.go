package migrate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// writeSyntheticPico writes n PicoClaw P4 sessions (.jsonl + .meta.json) of
// m messages each, the shape of a busy install after the JSONL conversion.
func writeSyntheticPico(tb testing.TB, dir string, n, m int) {
	tb.Helper()
	base := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("agent:main:telegram:direct:%d", 100000+i)
		stem := fmt.Sprintf("agent_main_telegram_direct_%d", 100000+i)
		f, err := os.Create(filepath.Join(dir, stem+".jsonl"))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for j := 0; j < m; j++ {
			at := base.Add(time.Duration(i*m+j) * time.Second).Format(time.RFC3339Nano)
			switch {
			case j%10 == 3:
				fmt.Fprintf(w, `{"role":"assistant","content":"","created_at":%q,"tool_calls":[{"id":"call_%d_%d","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"notes.txt\"}"}}]}`+"\n", at, i, j)
			case j%10 == 4:
				fmt.Fprintf(w, `{"role":"tool","content":"buy milk\ncall bob","created_at":%q,"tool_call_id":"call_%d_%d"}`+"\n", at, i, j-1)
			case j%2 == 0:
				fmt.Fprintf(w, `{"role":"user","content":"message %d of session %d: what is on my list today?","created_at":%q}`+"\n", j, i, at)
			default:
				fmt.Fprintf(w, `{"role":"assistant","content":"Reply %d: you need to buy milk and call bob before noon.","model_name":"gpt-5.4","created_at":%q}`+"\n", j, at)
			}
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
		meta := fmt.Sprintf(`{"key":%q,"summary":"","skip":0,"count":%d,"created_at":"2026-04-01T08:00:00Z","updated_at":"2026-04-01T09:00:00Z"}`, key, m)
		if err := os.WriteFile(filepath.Join(dir, stem+".meta.json"), []byte(meta), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkReadPicoClaw reads 10 000 legacy sessions of 50 messages.
func BenchmarkReadPicoClaw(b *testing.B) {
	const sessions, msgs = 10000, 50
	dir := filepath.Join(b.TempDir(), "sessions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	writeSyntheticPico(b, dir, sessions, msgs)
	b.ResetTimer()
	var total int
	for b.Loop() {
		r, err := Read(context.Background(), dir, Options{System: SystemPicoClaw})
		if err != nil {
			b.Fatal(err)
		}
		total = r.Messages()
	}
	if total != sessions*msgs {
		b.Fatalf("read %d messages, want %d", total, sessions*msgs)
	}
	b.ReportMetric(float64(sessions*msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSalvageGluedLine measures the slow path for one damaged line.
func BenchmarkSalvageGluedLine(b *testing.B) {
	line := []byte(`{"role":"user","content":"incomple{"role":"user","content":"after crash","created_at":"2026-04-01T10:01:00+02:00"}`)
	for b.Loop() {
		objs, bad := salvageObjects(line, []byte(`{"role":"`))
		if len(objs) != 1 || len(bad) != 1 {
			b.Fatal(objs, bad)
		}
	}
}

// BenchmarkMigratePicoClaw plans and applies 10 000 legacy sessions of 50
// messages into an empty workspace (durability as named), verify included.
func BenchmarkMigratePicoClaw(b *testing.B) {
	for _, d := range []workspace.Durability{workspace.DurabilityNever, workspace.DurabilityAlways} {
		b.Run(string(d), func(b *testing.B) {
			const sessions, msgs = 10000, 50
			src := filepath.Join(b.TempDir(), "sessions")
			if err := os.MkdirAll(src, 0o755); err != nil {
				b.Fatal(err)
			}
			writeSyntheticPico(b, src, sessions, msgs)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ws, err := workspace.Open(filepath.Join(b.TempDir(), fmt.Sprint("ws", i)), &workspace.Options{Durability: d})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				p, err := NewPlan(ctx, src, ws, PlanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				rep, err := Apply(ctx, ws, p, ApplyOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if rep.Verify.Messages != sessions*msgs || !rep.Verify.OK() {
					b.Fatalf("verify %+v", rep.Verify)
				}
				b.StopTimer()
				ws.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(sessions*msgs)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkReadClodds reads a Clodds database of 400 sessions and about
// 40 000 messages rows (inserted in shuffled order), in timestamp order.
func BenchmarkReadClodds(b *testing.B) {
	dir := b.TempDir()
	fx := makeCloddsFixture(b, dir, 400, 100, 7)
	ctx := context.Background()
	b.ResetTimer()
	var total int
	for b.Loop() {
		r, err := Read(ctx, dir, Options{System: SystemClodds})
		if err != nil {
			b.Fatal(err)
		}
		total = r.Messages()
	}
	if total < fx.rows {
		b.Fatalf("read %d messages of %d rows", total, fx.rows)
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMigrateClodds plans and applies the same database into an empty
// workspace (durability as named; the CLI uses always), verify included.
func BenchmarkMigrateClodds(b *testing.B) {
	src := b.TempDir()
	fx := makeCloddsFixture(b, src, 400, 100, 7)
	ctx := context.Background()
	for _, d := range []workspace.Durability{workspace.DurabilityNever, workspace.DurabilityAlways} {
		b.Run(string(d), func(b *testing.B) {
			total := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ws, err := workspace.Open(filepath.Join(b.TempDir(), fmt.Sprint("ws", i)), &workspace.Options{Durability: d})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				p, err := NewPlan(ctx, src, ws, PlanOptions{})
				if err != nil {
					b.Fatal(err)
				}
				rep, err := Apply(ctx, ws, p, ApplyOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if !rep.Verify.OK() || rep.Verify.Messages < fx.rows {
					b.Fatalf("verify %+v", rep.Verify)
				}
				total = rep.Verify.Messages
				b.StopTimer()
				ws.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
