package migrate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// bigCopy builds n messages of one conversation: every third an "ok" (a
// repeated message), the rest unique; timed or not.
func bigCopy(name string, from, n int, timed bool) []*item {
	out := make([]*item, 0, n)
	for k := from; k < from+n; k++ {
		it := &item{prov: Provenance{Path: name, Line: k - from + 1}}
		it.rec.Type = workspace.TypeMessage
		switch {
		case k%3 == 2:
			it.rec.Role, it.rec.Content = workspace.RoleAssistant, "ok"
		case k%3 == 1:
			it.rec.Role, it.rec.Content = workspace.RoleAssistant, fmt.Sprintf("reply %d: done, the list is updated.", k)
		default:
			it.rec.Role, it.rec.Content = workspace.RoleUser, fmt.Sprintf("message %d: add item %d to my list", k, k)
		}
		if timed {
			it.rec.At, it.timed = t0.Add(time.Duration(k)*time.Second), true
		}
		out = append(out, it)
	}
	return out
}

// BenchmarkAlign aligns two copies of 50 000 messages each: one that
// grew (the older copy is a prefix), one cut at its head and grown, and
// copies that each hold 1 % of messages of their own, scattered.
func BenchmarkAlign(b *testing.B) {
	const n = 50000
	for _, timed := range []bool{true, false} {
		// want is the length of the timeline: every message once
		want := map[string]int{"grew": n + 1000, "cut-and-grew": n + 5000, "scattered": n + 1000}
		cases := map[string]func() ([]*item, []*item){
			"grew": func() ([]*item, []*item) {
				return bigCopy("old", 0, n, timed), bigCopy("new", 0, n+1000, timed)
			},
			"cut-and-grew": func() ([]*item, []*item) {
				return bigCopy("old", 0, n, timed), bigCopy("new", 5000, n, timed)
			},
			"scattered": func() ([]*item, []*item) {
				old, nw := bigCopy("old", 0, n, timed), bigCopy("new", 0, n, timed)
				for k := 50; k < n; k += 100 {
					old[k] = copyOf("old", "u:only old "+itoa(k))[0]
					nw[k+7] = copyOf("new", "u:only new "+itoa(k))[0]
				}
				return old, nw
			},
		}
		for _, name := range []string{"grew", "cut-and-grew", "scattered"} {
			b.Run(fmt.Sprintf("%s/timed=%v", name, timed), func(b *testing.B) {
				old, nw := cases[name]()
				total := len(old) + len(nw)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					out, _ := align(old, nw, false)
					if len(out) != want[name] {
						b.Fatalf("timeline of %d messages, want %d", len(out), want[name])
					}
				}
				b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkReadPicoClawCopies reads one conversation held twice: a
// JSON-era .json.migrated of 50 000 messages and the JSONL it was
// converted to, 1 000 messages longer; the copies are aligned into one
// timeline of 51 000 messages.
func BenchmarkReadPicoClawCopies(b *testing.B) {
	const n, more = 50000, 1000
	dir := filepath.Join(b.TempDir(), "sessions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	key := "agent:main:telegram:direct:42"
	line := func(k int) string {
		at := t0.Add(time.Duration(k) * time.Second).Format(time.RFC3339Nano)
		if k%3 == 2 {
			return fmt.Sprintf(`{"role":"assistant","content":"ok","created_at":%q}`, at)
		}
		return fmt.Sprintf(`{"role":"user","content":"message %d: add item %d to my list","created_at":%q}`, k, k, at)
	}
	var js, jl strings.Builder
	fmt.Fprintf(&js, "{\n  \"key\": %q,\n  \"messages\": [\n", key)
	for k := 0; k < n+more; k++ {
		if k < n {
			if k > 0 {
				js.WriteString(",\n")
			}
			js.WriteString("    " + line(k))
		}
		jl.WriteString(line(k) + "\n")
	}
	js.WriteString("\n  ]\n}")
	for name, body := range map[string]string{
		"agent_main_telegram_direct_42.json.migrated": js.String(),
		"agent_main_telegram_direct_42.jsonl":         jl.String(),
		"agent_main_telegram_direct_42.meta.json":     fmt.Sprintf(`{"key":%q,"summary":"","skip":0,"count":%d}`, key, n+more),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := Read(context.Background(), dir, Options{System: SystemPicoClaw})
		if err != nil {
			b.Fatal(err)
		}
		if got := r.Messages(); got != n+more {
			b.Fatalf("read %d messages, want %d", got, n+more)
		}
	}
	b.ReportMetric(float64(2*n+more)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
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
