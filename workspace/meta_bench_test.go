package workspace

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkShowAfterOutsideAppend is what `picosess show ID --limit 50`
// asks of the library (a new Workspace, as a new process has, then Meta
// and History(50)), each time after another process appended to the
// session: one op appends one message to each of a 1 000- and a
// 100 000-message session, alternately through another Workspace (a
// gateway) and as a raw line written with O_APPEND (a script, an editor),
// and times the show of each. It reports the p50 of each and their
// ratio; the target is a ratio within 1.5 on every call, so it also
// reports the worst call's ratio to the 1 000 case's p50.
//
//	go test ./workspace -run '^$' -bench ShowAfterOutsideAppend -benchtime 200x
func BenchmarkShowAfterOutsideAppend(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	w, err := Open(dir, &Options{Durability: DurabilityNever, NoConfig: true})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ids := []string{writeSessionFile(b, w, "short", 1_000).ID(), writeSessionFile(b, w, "long", 100_000).ID()}
	other, err := Open(dir, &Options{Durability: DurabilityNever, NoConfig: true})
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	show := func(id string) time.Duration {
		t0 := time.Now()
		w, err := Open(dir, &Options{NoConfig: true})
		if err != nil {
			b.Fatal(err)
		}
		s, err := w.OpenID(id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Meta(ctx); err != nil {
			b.Fatal(err)
		}
		if h, err := s.History(ctx, 50); err != nil || len(h.Messages) != 50 {
			b.Fatal(len(h.Messages), err)
		}
		w.Close()
		return time.Since(t0)
	}
	appendOutside := func(i int, id string) {
		s, err := other.OpenID(id)
		if err != nil {
			b.Fatal(err)
		}
		if i%2 == 0 {
			mustAppend(b, s, AssistantMessage("m", "an answer from the gateway").WithUsage(1200, 85))
			return
		}
		h, err := s.History(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		r := UserMessage("", "a line a script wrote")
		r.Seq, r.At = h.LastSeq+1, time.Now().UTC()
		line, _ := appendRecord(nil, &r)
		f, err := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			b.Fatal(err)
		}
		f.Write(append(line, '\n'))
		f.Close()
	}
	var first [2]time.Duration
	for k, id := range ids {
		first[k] = show(id) // the first read ever of a file written outside reads it whole
	}
	lat := [2][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, id := range ids {
			b.StopTimer()
			appendOutside(i, id)
			b.StartTimer()
			lat[k] = append(lat[k], show(id))
		}
	}
	b.StopTimer()
	q := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	b.ReportMetric(float64(first[1].Microseconds()), "first-100k-µs")
	b.ReportMetric(float64(q(lat[0], 0.5).Microseconds()), "1k-p50-µs")
	b.ReportMetric(float64(q(lat[1], 0.5).Microseconds()), "100k-p50-µs")
	b.ReportMetric(float64(q(lat[1], 0.5))/float64(q(lat[0], 0.5)), "x-1k-p50")
	b.ReportMetric(float64(q(lat[1], 0.9))/float64(q(lat[0], 0.9)), "x-1k-p90")
	b.ReportMetric(float64(q(lat[1], 0.99))/float64(q(lat[0], 0.99)), "x-1k-p99")
	b.ReportMetric(float64(q(lat[1], 1))/float64(q(lat[0], 1)), "x-1k-max")
}
