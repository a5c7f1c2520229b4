package workspace

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// Run all together, as docs/performance.md does:
//
//	go test ./workspace -run '^$' -bench . -benchtime 2s

// benchRecord is the message every append benchmark writes.
func benchRecord() Record {
	return msg(RoleUser, "a typical short chat message of about sixty bytes, like this one")
}

// p50 returns the median of ds.
func p50(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// floorFile is the floor of the append benchmarks: the same bytes our
// append writes, written to a file kept open with O_APPEND, then fsynced.
// Nothing cheaper keeps a record durable.
type floorFile struct {
	f    *os.File
	line []byte
}

func newFloor(b *testing.B, dir string) *floorFile {
	f, err := os.OpenFile(dir+"/floor.jsonl", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	r := benchRecord()
	r.Seq, r.At, r.Tokens = 123456, time.Now().UTC(), 16
	line, _ := appendRecord(nil, &r)
	return &floorFile{f: f, line: append(line, '\n')}
}

func (f *floorFile) append(b *testing.B) {
	if _, err := f.f.Write(f.line); err != nil {
		b.Fatal(err)
	}
	if err := f.f.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppendAlwaysVsFloor alternates one floor write+fsync and one
// Append with durability always, so both see the same disk at the same
// moment, and reports the p50 of each and their ratio.
func BenchmarkAppendAlwaysVsFloor(b *testing.B) {
	dir := b.TempDir()
	w, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := namedSession(b, w, "bench")
	fl := newFloor(b, dir)
	ctx := context.Background()
	rec := benchRecord()
	var floor, ours []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		fl.append(b)
		t1 := time.Now()
		if _, err := s.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		floor, ours = append(floor, t1.Sub(t0)), append(ours, t2.Sub(t1))
	}
	b.StopTimer()
	pf, po := p50(floor), p50(ours)
	b.ReportMetric(float64(pf.Nanoseconds()), "floor-p50-ns")
	b.ReportMetric(float64(po.Nanoseconds()), "append-p50-ns")
	b.ReportMetric(float64(po)/float64(pf), "x-floor")
}

// BenchmarkAppendNever is an in-process append with durability never:
// semaphore, flock, holder line, open, stat, one write, close, unlock.
func BenchmarkAppendNever(b *testing.B) {
	w, err := Open(b.TempDir(), &Options{Durability: DurabilityNever})
	if err != nil {
		b.Fatal(err)
	}
	s := namedSession(b, w, "bench")
	ctx := context.Background()
	rec := benchRecord()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := s.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(p50(lat).Nanoseconds()), "p50-ns")
}

// BenchmarkAppendConcurrent8 has 8 goroutines append to one session,
// alternating rounds of durability always and batch (two workspaces on
// the same disk) so that both see the same load, and reports the
// throughput of each and their ratio. b.N counts appends of each kind.
func BenchmarkAppendConcurrent8(b *testing.B) {
	ctx := context.Background()
	open := func(d Durability) *Session {
		w, err := Open(b.TempDir(), &Options{Durability: d})
		if err != nil {
			b.Fatal(err)
		}
		return namedSession(b, w, "bench")
	}
	always, batch := open(DurabilityAlways), open(DurabilityBatch)
	rec := benchRecord()
	round := func(s *Session, n int) time.Duration {
		const workers = 8
		var wg sync.WaitGroup
		next := make(chan struct{}, n)
		for i := 0; i < n; i++ {
			next <- struct{}{}
		}
		close(next)
		start := time.Now()
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					if _, err := s.Append(ctx, rec); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	var ta, tb time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(200, b.N-done)
		ta += round(always, n)
		tb += round(batch, n)
		done += n
	}
	b.StopTimer()
	ra, rb := float64(b.N)/ta.Seconds(), float64(b.N)/tb.Seconds()
	b.ReportMetric(ra, "always-appends/s")
	b.ReportMetric(rb, "batch-appends/s")
	b.ReportMetric(rb/ra, "x-always")
}

// BenchmarkHistoryLast50 reads the last 50 messages of sessions of 1 000
// and 100 000 messages (warm page cache).
func BenchmarkHistoryLast50(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			w, err := Open(b.TempDir(), &Options{Durability: DurabilityNever})
			if err != nil {
				b.Fatal(err)
			}
			s := writeSessionFile(b, w, "long", n)
			ctx := context.Background()
			if _, err := s.History(ctx, 50); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h, err := s.History(ctx, 50)
				if err != nil || len(h.Messages) != 50 {
					b.Fatal(err)
				}
			}
		})
	}
}

// makeSessions writes n small sessions directly (setup only).
func makeSessions(b *testing.B, w *Workspace, n int) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sk_v1_%064x", i+1)
		var buf []byte
		recs := []Record{
			{Type: TypeSession, Seq: 1, At: at, V: 1, ID: id},
			{Type: TypeMessage, Seq: 2, At: at.Add(time.Duration(i) * time.Second), Role: RoleUser, Content: fmt.Sprintf("question number %d about something", i), Tokens: 8},
			{Type: TypeMessage, Seq: 3, At: at.Add(time.Duration(i)*time.Second + 1), Role: RoleAssistant, Content: "an answer", Tokens: 3},
		}
		for j := range recs {
			buf, _ = appendRecord(buf, &recs[j])
			buf = append(buf, '\n')
		}
		if err := os.WriteFile(w.SessionPath(id), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList10000 lists 10 000 sessions: "cold" with no cache (every
// file read), "warm" with the cache file from an earlier listing, as a new
// process would find it, and "hot" in a process that listed before.
func BenchmarkList10000(b *testing.B) {
	dir := b.TempDir()
	w, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	makeSessions(b, w, 10_000)
	ctx := context.Background()
	cache := w.meta.logPath()
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			os.Remove(cache)
			w2, _ := Open(dir, nil)
			if l, err := w2.List(ctx, ListOptions{}); err != nil || len(l) != 10_000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			w2, _ := Open(dir, nil)
			if l, err := w2.List(ctx, ListOptions{}); err != nil || len(l) != 10_000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("hot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if l, err := w.List(ctx, ListOptions{Limit: 20}); err != nil || len(l) != 20 {
				b.Fatal(err)
			}
		}
	})
}
