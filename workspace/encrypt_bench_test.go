package workspace

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// benchPair alternates one plaintext and one encrypted append of the same
// record, op by op (two workspaces on the same disk, same durability), so
// both see the same load, and reports the p50 of each and their ratio.
func benchPair(b *testing.B, d Durability) {
	ctx := context.Background()
	pw, err := Open(b.TempDir(), &Options{Durability: d, NoConfig: true, CountTokens: EstimateTokens})
	if err != nil {
		b.Fatal(err)
	}
	defer pw.Close()
	ew, err := Open(b.TempDir(), &Options{Durability: d, Config: encryptedConfig(), Key: testKey(b, 1), CountTokens: EstimateTokens})
	if err != nil {
		b.Fatal(err)
	}
	defer ew.Close()
	ps, es := namedSession(b, pw, "bench"), namedSession(b, ew, "bench")
	rec := benchRecord()
	var plain, sealed []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := ps.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := es.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		plain, sealed = append(plain, t1.Sub(t0)), append(sealed, t2.Sub(t1))
	}
	b.StopTimer()
	pp, pe := p50(plain), p50(sealed)
	b.ReportMetric(float64(pp.Nanoseconds()), "plain-p50-ns")
	b.ReportMetric(float64(pe.Nanoseconds()), "sealed-p50-ns")
	b.ReportMetric(float64(pe)/float64(pp), "ratio")
}

// Target: at most 1.15x the plaintext append with fsync, 1.5x without.
func BenchmarkEncryptedAppendAlways(b *testing.B) { benchPair(b, DurabilityAlways) }
func BenchmarkEncryptedAppendNever(b *testing.B)  { benchPair(b, DurabilityNever) }

// BenchmarkEncryptedHistoryLast50 reads the last 50 messages of a
// 100 000-message encrypted session, warm. Target: under 1 ms.
func BenchmarkEncryptedHistoryLast50(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	pw, err := Open(dir, &Options{Durability: DurabilityNever, NoConfig: true})
	if err != nil {
		b.Fatal(err)
	}
	writeSessionFile(b, pw, "long", 100_000)
	pw.Close()
	k := testKey(b, 1)
	w, err := Open(dir, &Options{Durability: DurabilityNever, Config: encryptedConfig(), Key: k})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Convert(ctx, ConvertOptions{To: k}); err != nil {
		b.Fatal(err)
	}
	s := namedSession(b, w, "long")
	if _, err := s.History(ctx, 50); err != nil {
		b.Fatal(err)
	}
	runtime.GC() // the setup's garbage is not the read's
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := s.History(ctx, 50)
		if err != nil || len(h.Messages) != 50 || h.Messages[49].Content == "" {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncrypt100000 encrypts a workspace of one 100 000-message
// session (Convert: read, seal, write, fsync, read back and verify every
// record, rename). Target: at least 20 000 messages a second.
func BenchmarkEncrypt100000(b *testing.B) {
	ctx := context.Background()
	k := testKey(b, 1)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		pw, err := Open(dir, &Options{Durability: DurabilityNever, NoConfig: true})
		if err != nil {
			b.Fatal(err)
		}
		writeSessionFile(b, pw, "long", 100_000)
		pw.Close()
		w, err := Open(dir, &Options{Config: encryptedConfig(), Key: k})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		rep, err := w.Convert(ctx, ConvertOptions{To: k})
		total += time.Since(t0)
		if err != nil || rep.Messages != 100_000 {
			b.Fatal(rep, err)
		}
		w.Close()
	}
	b.ReportMetric(float64(100_000*b.N)/total.Seconds(), "msg/s")
}
