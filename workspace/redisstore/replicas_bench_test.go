package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// BenchmarkAppendMinReplicas alternates, on a primary of its own with one
// replica (both started here), an Append of one message through a store
// without min_replicas (the plain script) and one through a store with
// min_replicas=1 (the script and a WAIT in the same round trip), and
// reports each p50 and their ratio.
func BenchmarkAppendMinReplicas(b *testing.B) {
	master := redistest.StartServer(b)
	redistest.StartServer(b, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))
	ctx := context.Background()
	open := func(q string) *workspace.Session {
		st, err := redisstore.Open(ctx, master.URL()+q, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		w, err := workspace.Open(b.TempDir(), &workspace.Options{Store: st, NoConfig: true, CountTokens: workspace.EstimateTokens})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { w.Close() })
		s, err := w.Session(ctx, workspace.Target{Name: "bench" + q})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	plain, waited := open(""), open("?min_replicas=1&wait_timeout=2s")
	rec := benchRecord()
	// Warm, and wait for the replica to be in sync (the first WAITs).
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := waited.Append(ctx, rec)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
	}
	if _, err := plain.Append(ctx, rec); err != nil {
		b.Fatal(err)
	}
	var p, wt []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := plain.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := waited.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		p, wt = append(p, t1.Sub(t0)), append(wt, t2.Sub(t1))
	}
	b.StopTimer()
	b.ReportMetric(float64(p50(p).Microseconds()), "plain-p50-µs")
	b.ReportMetric(float64(p50(wt).Microseconds()), "min1-p50-µs")
	if p50(p) > 0 {
		b.ReportMetric(float64(p50(wt))/float64(p50(p)), "ratio")
	}
}

// BenchmarkLease takes and releases the summarize lease of one session:
// on Redis (SET NX PX, then the compare-and-delete script) and, for
// comparison, the flock of a file workspace.
func BenchmarkLease(b *testing.B) {
	ctx := context.Background()
	for _, kind := range []string{"redis", "files"} {
		b.Run(kind, func(b *testing.B) {
			var st workspace.Store
			if kind == "redis" {
				st = redistest.Open(b)
			}
			w := openWS(b, st, nil)
			s, err := w.Session(ctx, workspace.Target{Name: "lease"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Append(ctx, benchRecord()); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l, err := s.TryLock(ctx, "summarize")
				if err != nil || l == nil {
					b.Fatal(l, err)
				}
				l.Release()
			}
		})
	}
}

// BenchmarkCopyTrash copies a trash of 20 deleted sessions of 200
// messages each from files into a fresh prefix of Redis (store copy's
// trash step: read, PutTrash, read back and verify), and the same back
// into a fresh file workspace; it reports records per second each way.
func BenchmarkCopyTrash(b *testing.B) {
	ctx := context.Background()
	url := redistest.URL(b)
	src := openWS(b, nil, nil)
	for i := 0; i < 20; i++ {
		s, err := src.Session(ctx, workspace.Target{Name: "t" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]workspace.Record, 200)
		for k := range recs {
			recs[k] = benchRecord()
		}
		if _, err := s.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Delete(ctx); err != nil {
			b.Fatal(err)
		}
	}
	trash, err := src.Trash(ctx)
	if err != nil || len(trash) != 20 {
		b.Fatal(len(trash), err)
	}
	var toRedis, toFiles time.Duration
	records := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st := redistest.OpenURL(b, url, redistest.Prefix())
		mid := openWS(b, st, nil)
		back := openWS(b, nil, nil)
		b.StartTimer()
		t0 := time.Now()
		for _, t := range trash {
			rep, err := workspace.CopyTrashed(ctx, src, mid, t)
			if err != nil || !rep.Copied {
				b.Fatal(rep, err)
			}
			records += rep.Records
		}
		t1 := time.Now()
		for _, t := range trash {
			if rep, err := workspace.CopyTrashed(ctx, mid, back, t); err != nil || !rep.Copied {
				b.Fatal(rep, err)
			}
		}
		toRedis, toFiles = toRedis+t1.Sub(t0), toFiles+time.Since(t1)
	}
	b.ReportMetric(float64(records)/toRedis.Seconds(), "records/s-to-redis")
	b.ReportMetric(float64(records)/toFiles.Seconds(), "records/s-to-files")
}
