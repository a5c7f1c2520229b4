package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// Run as docs/performance.md does (a redis-server of your own, or .ci/run's):
//
//	PICOSESS_TEST_REDIS=redis://127.0.0.1:PORT/0 go test ./workspace/redisstore -run '^$' -bench . -benchtime 2s

func benchRecord() workspace.Record {
	return workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "a typical short chat message of about sixty bytes, like this one"}
}

func p50(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchLine is the bytes of one appended record, as a session file (and
// so the store) keeps them.
func benchLine(b *testing.B) []byte {
	w, err := workspace.Open(b.TempDir(), &workspace.Options{NoConfig: true})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(context.Background(), workspace.Target{Name: "line"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Append(context.Background(), benchRecord()); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	return append(lines[len(lines)-1], '\n')
}

// BenchmarkAppendVsFloor alternates a bare RPUSH of the same bytes (the
// floor: one round trip that stores a line) and an Append of one message
// through the workspace on Redis (its Lua script: size and generation
// check, APPEND, hash update, token; the index writes in the same round
// trip), and reports the p50 of each and their ratio.
func BenchmarkAppendVsFloor(b *testing.B) {
	st := redistest.Open(b)
	ctx := context.Background()
	w, err := workspace.Open(b.TempDir(), &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	line := benchLine(b)
	floorKey := st.Prefix() + "floor"
	xKey := st.Prefix() + "floor-stream"
	c := st.Client()
	rec := benchRecord()
	// Warm: the script loaded, the connection open, the size known.
	if _, err := s.Append(ctx, rec); err != nil {
		b.Fatal(err)
	}
	// The store's own step, without the workspace above it: the same
	// script on a session of its own, with bytes built once.
	rawID := "sk_v1_" + strings.Repeat("ab", 32)
	var rawEnd int64
	var rawGen uint64 = 42
	var floor, xfloor, ours, raw []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t00 := time.Now()
		res, err := st.Append(ctx, workspace.StoreAppend{ID: rawID, End: rawEnd, Gen: rawGen, Data: line, First: int64(i + 1), LastSeq: int64(i + 1), Records: 1,
			Token: fmt.Sprintf("raw-%d", i), Meta: map[string]string{"updated": "2026-01-01T00:00:00Z"}, Now: t00})
		if err != nil {
			b.Fatal(err)
		}
		rawEnd = res.Stat.Size
		raw = append(raw, time.Since(t00))
		t0 := time.Now()
		if err := c.RPush(ctx, floorKey, line).Err(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: xKey, Values: []any{"r", line}}).Err(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		floor, ours, xfloor = append(floor, t1.Sub(t0)), append(ours, t2.Sub(t1)), append(xfloor, t3.Sub(t2))
		if i%1000 == 999 {
			b.StopTimer()
			c.Del(ctx, floorKey, xKey)
			b.StartTimer()
		}
	}
	b.StopTimer()
	pf, po := p50(floor), p50(ours)
	b.ReportMetric(float64(pf.Nanoseconds()), "rpush-p50-ns")
	b.ReportMetric(float64(p50(xfloor).Nanoseconds()), "xadd-p50-ns")
	b.ReportMetric(float64(po.Nanoseconds()), "append-p50-ns")
	b.ReportMetric(float64(po)/float64(pf), "x-floor")
	b.ReportMetric(float64(p50(raw).Nanoseconds()), "store-p50-ns")
}

// BenchmarkAppendBatch50 appends 50 records in one call: one script, one
// round trip. ns/op is per call; records/s is reported.
func BenchmarkAppendBatch50(b *testing.B) {
	st := redistest.Open(b)
	ctx := context.Background()
	w, err := workspace.Open(b.TempDir(), &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: "batch"})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]workspace.Record, 50)
	for i := range recs {
		recs[i] = benchRecord()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(50*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendConcurrent8 has 8 goroutines append one message each to
// one session, with durability batch (queued appends of the process share
// one script call) and always (one call each: contention resolved by the
// size check and a rebuild).
func BenchmarkAppendConcurrent8(b *testing.B) {
	for _, d := range []workspace.Durability{workspace.DurabilityAlways, workspace.DurabilityBatch} {
		b.Run(string(d), func(b *testing.B) {
			st := redistest.Open(b)
			ctx := context.Background()
			w, err := workspace.Open(b.TempDir(), &workspace.Options{Store: st, NoConfig: true, Durability: d, CountTokens: workspace.EstimateTokens})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			s, err := w.Session(ctx, workspace.Target{Name: "c8"})
			if err != nil {
				b.Fatal(err)
			}
			rec := benchRecord()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/8 + 1
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if _, err := s.Append(ctx, rec); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(8*per)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// fillSession makes a session of n message records in the store, in
// batches of 1000 records per append.
func fillSession(b *testing.B, w *workspace.Workspace, name string, n int) *workspace.Session {
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: name})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]workspace.Record, 1000)
	for done := 0; done < n; done += len(batch) {
		for i := range batch {
			role := workspace.RoleUser
			if i%2 == 1 {
				role = workspace.RoleAssistant
			}
			batch[i] = workspace.Record{Type: workspace.TypeMessage, Role: role, Content: fmt.Sprintf("message %d of a long session, about sixty bytes", done+i)}
		}
		if _, err := s.Append(ctx, batch[:min(len(batch), n-done)]...); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkTail50Of100k reads the last 50 messages of a session of
// 100 000 records (History(50): GETRANGE from the end, no full read).
func BenchmarkTail50Of100k(b *testing.B) {
	st := redistest.Open(b)
	ctx := context.Background()
	w, err := workspace.Open(b.TempDir(), &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s := fillSession(b, w, "long", 100000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := s.History(ctx, 50)
		if err != nil {
			b.Fatal(err)
		}
		if len(h.Messages) != 50 {
			b.Fatalf("%d messages", len(h.Messages))
		}
	}
}

// BenchmarkList10000 lists 10 000 sessions: Store.List (the sorted set and
// one pipelined HMGET per thousand) and Workspace.List (the same, then the
// listing cache of this machine's directory, warm).
func BenchmarkList10000(b *testing.B) {
	st := redistest.Open(b)
	ctx := context.Background()
	w, err := workspace.Open(b.TempDir(), &workspace.Options{Store: st, NoConfig: true, Durability: workspace.DurabilityBatch, CountTokens: workspace.EstimateTokens})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < 10000; i += 8 {
				s, err := w.Session(ctx, workspace.Target{Name: fmt.Sprintf("s%05d", i)})
				if err == nil {
					_, err = s.Append(ctx, benchRecord())
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := w.List(ctx, workspace.ListOptions{}); err != nil { // warms the cache
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			l, err := st.List(ctx)
			if err != nil || len(l) != 10000 {
				b.Fatalf("%d %v", len(l), err)
			}
		}
	})
	b.Run("workspace", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			l, err := w.List(ctx, workspace.ListOptions{})
			if err != nil || len(l) != 10000 {
				b.Fatalf("%d %v", len(l), err)
			}
		}
	})
}
