package workspace

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

func seqsOf(rs []Record) []int64 {
	out := []int64{}
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

// pagedHistory reads the whole active history page by page, backwards
// from the end and forwards from the start, and checks both against
// History.
func checkHistoryPages(t *testing.T, s *Session, limit int) {
	t.Helper()
	ctx := context.Background()
	h, err := s.History(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := seqsOf(h.Messages)

	var back []int64
	var summary *Record
	o := PageOptions{Limit: limit}
	for i := 0; ; i++ {
		p, err := s.HistoryPage(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) > limit {
			t.Fatalf("page of %d records, limit %d", len(p.Records), limit)
		}
		back = append(seqsOf(p.Records), back...)
		if p.Summary != nil {
			summary = p.Summary
		}
		if !p.More {
			break
		}
		o.Before = p.Records[0].Seq
		if i > 1000 {
			t.Fatal("no end")
		}
	}
	if !slices.Equal(back, want) {
		t.Fatalf("backwards pages %v, History %v", back, want)
	}
	if (summary == nil) != (h.Summary == nil) || summary != nil && summary.Seq != h.Summary.Seq {
		t.Fatalf("backwards summary %v, History %v", summary, h.Summary)
	}

	fwd := []int64{}
	summary = nil
	o = PageOptions{Limit: limit, Forward: true}
	// Start forwards from below the first active message.
	if len(want) > 0 {
		o.After = want[0] - 1
	}
	for i := 0; len(want) > 0; i++ {
		p, err := s.HistoryPage(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Summary != nil && i == 0 {
			summary = p.Summary
		}
		fwd = append(fwd, seqsOf(p.Records)...)
		if !p.More {
			break
		}
		o.After = p.Records[len(p.Records)-1].Seq
		if i > 1000 {
			t.Fatal("no end")
		}
	}
	if !slices.Equal(fwd, want) {
		t.Fatalf("forward pages %v, History %v", fwd, want)
	}
	if h.Summary != nil && (summary == nil || summary.Seq != h.Summary.Seq) {
		t.Fatalf("forward summary %v, History %v", summary, h.Summary)
	}
}

func TestHistoryPage(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	many := func(s *Session, from, n int) {
		for i := from; i < from+n; i++ {
			mustAppend(t, s, msg(RoleUser, fmt.Sprint("m", i)))
		}
	}

	t.Run("plain", func(t *testing.T) {
		s := namedSession(t, w, "plain")
		many(s, 0, 23)
		for _, limit := range []int{1, 5, 23, 50} {
			checkHistoryPages(t, s, limit)
		}
	})
	t.Run("empty", func(t *testing.T) {
		s := namedSession(t, w, "empty")
		checkHistoryPages(t, s, 5)
	})
	t.Run("reset", func(t *testing.T) {
		s := namedSession(t, w, "reset")
		many(s, 0, 7)
		if _, err := s.Reset(ctx, ""); err != nil {
			t.Fatal(err)
		}
		many(s, 7, 9)
		checkHistoryPages(t, s, 4)
	})
	t.Run("summary", func(t *testing.T) {
		s := namedSession(t, w, "summary")
		many(s, 0, 10)
		mustAppend(t, s, Record{Type: TypeSummary, Through: 8, Text: "the first seven"})
		many(s, 10, 6)
		for _, limit := range []int{2, 3, 100} {
			checkHistoryPages(t, s, limit)
		}
	})
	t.Run("restore", func(t *testing.T) {
		s := namedSession(t, w, "restore")
		many(s, 0, 6)
		if _, err := s.SaveCheckpoint(ctx, "cp", ""); err != nil {
			t.Fatal(err)
		}
		many(s, 6, 5)
		if _, err := s.RestoreCheckpoint(ctx, "cp"); err != nil {
			t.Fatal(err)
		}
		many(s, 11, 4)
		for _, limit := range []int{1, 3, 7} {
			checkHistoryPages(t, s, limit)
		}
	})
	t.Run("bounds both", func(t *testing.T) {
		s := namedSession(t, w, "both")
		many(s, 0, 10) // seqs 2..11
		p, err := s.HistoryPage(ctx, PageOptions{After: 3, Before: 8, Limit: 2, Forward: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := seqsOf(p.Records); !slices.Equal(got, []int64{4, 5}) || !p.More {
			t.Fatalf("after 3 before 8: %v more %v", got, p.More)
		}
		p, _ = s.HistoryPage(ctx, PageOptions{After: 5, Before: 8, Limit: 5, Forward: true})
		if got := seqsOf(p.Records); !slices.Equal(got, []int64{6, 7}) || p.More {
			t.Fatalf("after 5 before 8: %v more %v", got, p.More)
		}
		p, _ = s.HistoryPage(ctx, PageOptions{Before: 8, Limit: 2})
		if got := seqsOf(p.Records); !slices.Equal(got, []int64{6, 7}) || !p.More || p.LastSeq != 11 {
			t.Fatalf("before 8: %v more %v last %d", got, p.More, p.LastSeq)
		}
	})
}

func TestRecordsPage(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	// Big enough that the bisection, not the final scan, does the work.
	s := writeSessionFile(t, w, "big", 5000)
	if _, err := s.Reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, msg(RoleUser, "after the reset"))
	all, err := s.ReadAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := seqsOf(all)
	last := want[len(want)-1]

	var back []int64
	o := PageOptions{Limit: 700}
	for {
		p, err := s.RecordsPage(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if p.LastSeq != last {
			t.Fatalf("last seq %d, want %d", p.LastSeq, last)
		}
		back = append(seqsOf(p.Records), back...)
		if !p.More {
			break
		}
		o.Before = p.Records[0].Seq
	}
	if !slices.Equal(back, want) {
		t.Fatalf("backwards: %d records, want %d", len(back), len(want))
	}
	var fwd []int64
	o = PageOptions{Limit: 900, Forward: true}
	for {
		p, err := s.RecordsPage(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		fwd = append(fwd, seqsOf(p.Records)...)
		if !p.More {
			break
		}
		o.After = p.Records[len(p.Records)-1].Seq
	}
	if !slices.Equal(fwd, want) {
		t.Fatalf("forwards: %d records, want %d", len(fwd), len(want))
	}
	// A page in the middle, around a seq, as a search hit asks for it.
	p, err := s.RecordsPage(ctx, PageOptions{Before: 2501, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(p.Records); !slices.Equal(got, []int64{2498, 2499, 2500}) || !p.More {
		t.Fatalf("before 2501: %v", got)
	}
	p, _ = s.RecordsPage(ctx, PageOptions{After: last, Limit: 3, Forward: true})
	if len(p.Records) != 0 || p.More {
		t.Fatalf("after the last: %v", seqsOf(p.Records))
	}
}

func BenchmarkHistoryPage(b *testing.B) {
	ctx := context.Background()
	w := openTest(b, nil)
	s := writeSessionFile(b, w, "big", 100000)
	for _, bc := range []struct {
		name string
		o    PageOptions
	}{
		{"newest50", PageOptions{Limit: 50}},
		{"middle50", PageOptions{Before: 50000, Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.HistoryPage(ctx, bc.o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("records-middle50", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.RecordsPage(ctx, PageOptions{Before: 50000, Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
