package workspace

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// setReadLimit lowers the read limit of w, so that "oversized" lines
// need not be megabytes long (Options cannot go below
// DefaultMaxRecordBytes).
func setReadLimit(w *Workspace, n int64) {
	w.opts.readLimit = n
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// A line over the read limit (written by hand or by an older version) is
// passed over in bounded memory by every reader: the tail read names it in
// History.Skipped, Meta counts it from its first and last bytes, Check
// warns, repair keeps it, and the next append takes the seq after it.
func TestOversizedLineReadInBoundedMemory(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{CountTokens: EstimateTokens})
	s := namedSession(t, w, "big")
	mustAppend(t, s, msg(RoleUser, "before"))
	const size = 20 << 20
	setReadLimit(w, 256<<10)
	line := `{"type":"message","seq":3,"at":"2026-11-21T09:00:05Z","role":"tool","content":"` + strings.Repeat("x", size) + `","tool_call_id":"c1","tokens":5000000}` + "\n"
	f, err := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line)
	f.Close()
	line = ""
	if seqs := mustAppend(t, s, msg(RoleUser, "after")); seqs[0] != 4 {
		t.Fatalf("the append after it got seq %d, want 4", seqs[0])
	}
	const bound = 8 << 20 // well under the line's 20 MB
	var h History
	if n := allocated(func() { h, err = s.History(ctx, 0) }); err != nil || n > bound {
		t.Fatalf("history: %v, %d bytes allocated", err, n)
	}
	if len(h.Messages) != 2 || h.Messages[0].Content != "before" || h.Messages[1].Content != "after" || h.LastSeq != 4 {
		t.Fatalf("history %+v", h)
	}
	if len(h.Skipped) != 1 || h.Skipped[0].Seq != 3 || h.Skipped[0].Type != TypeMessage || h.Skipped[0].Role != RoleTool ||
		h.Skipped[0].Bytes != int64(size+len(`{"type":"message","seq":3,"at":"2026-11-21T09:00:05Z","role":"tool","content":"","tool_call_id":"c1","tokens":5000000}`)) {
		t.Fatalf("skipped %+v", h.Skipped)
	}
	if h1, _ := s.History(ctx, 1); len(h1.Skipped) != 0 || len(h1.Messages) != 1 || !h1.More {
		t.Fatalf("history of 1: %+v", h1)
	}
	// A page of the history (what the dashboard and the HTTP API read)
	// names it too, backwards and forwards; a page that stops before it
	// does not.
	for _, o := range []PageOptions{{}, {After: 1, Forward: true}} {
		var p Page
		if n := allocated(func() { p, err = s.HistoryPage(ctx, o) }); err != nil || n > bound {
			t.Fatalf("page %+v: %v, %d bytes allocated", o, err, n)
		}
		if len(p.Records) != 2 || p.Records[0].Content != "before" || p.Records[1].Content != "after" ||
			len(p.Skipped) != 1 || p.Skipped[0].Seq != 3 || p.Skipped[0].Role != RoleTool || p.More {
			t.Fatalf("page %+v: %d records, skipped %+v, more %v", o, len(p.Records), p.Skipped, p.More)
		}
	}
	if p, _ := s.HistoryPage(ctx, PageOptions{Limit: 1}); len(p.Skipped) != 0 || len(p.Records) != 1 || !p.More {
		t.Fatalf("page of 1: %+v", p)
	}
	// So does a page of every record, either way.
	for _, o := range []PageOptions{{}, {Forward: true}, {After: 2, Before: 4, Forward: true}, {Before: 4}} {
		p, err := s.RecordsPage(ctx, o)
		if err != nil || len(p.Skipped) != 1 || p.Skipped[0].Seq != 3 || p.Skipped[0].Bytes < size {
			t.Fatalf("records page %+v: %v, skipped %+v", o, err, p.Skipped)
		}
		for _, r := range p.Records {
			if r.Seq == 3 {
				t.Fatalf("records page %+v holds the oversized record", o)
			}
		}
	}
	if p, _ := s.RecordsPage(ctx, PageOptions{After: 3, Forward: true}); len(p.Skipped) != 0 || len(p.Records) != 1 {
		t.Fatalf("records page after it: %+v", p)
	}
	var m Meta
	if n := allocated(func() { m, err = s.Meta(ctx) }); err != nil || n > bound {
		t.Fatalf("meta: %v, %d bytes allocated", err, n)
	}
	if m.Messages != 3 || m.ActiveMessages != 3 || m.LastSeq != 4 || m.Tokens < 5000000 || m.Corrupt != 0 {
		t.Fatalf("meta %+v", m)
	}
	var rep FileReport
	if n := allocated(func() { rep, err = s.Check(ctx) }); err != nil || n > bound {
		t.Fatalf("check: %v, %d bytes allocated", err, n)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemOversized || rep.Problems[0].Severity != SeverityWarning || rep.Problems[0].Seq != 3 {
		t.Fatalf("check: %+v", rep.Problems)
	}
	var got []string
	if n := allocated(func() {
		for e, err := range s.Records(ctx, 0) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Content)
		}
	}); n > bound {
		t.Fatalf("records: %d bytes allocated", n)
	}
	if strings.Join(got, "|") != "|before|after" {
		t.Fatalf("records %q", got)
	}
	before, _ := os.Stat(s.Path())
	if r, err := s.Repair(ctx, RepairOptions{}); err != nil || len(r.SetAside) != 0 {
		t.Fatalf("repair %+v %v", r, err)
	}
	if after, _ := os.Stat(s.Path()); after.Size() != before.Size() {
		t.Fatal("repair changed the file")
	}
}

// The limit is exact: a line of the limit's length is read whole, one
// byte more is passed over, by the tail reader, the forward scanner and
// check alike.
func TestReadLimitIsExact(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{CountTokens: EstimateTokens})
	s := namedSession(t, w, "edge")
	setReadLimit(w, 1000)
	line := func(seq int, n int) string {
		l := fmt.Sprintf(`{"type":"message","seq":%d,"at":"2026-11-21T09:00:05Z","role":"user","content":"`, seq)
		return l + strings.Repeat("y", n-len(l)-2) + `"}` + "\n"
	}
	f, _ := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(line(2, 1000) + line(3, 1001) + line(4, 1000))
	f.Close()
	h, err := s.History(ctx, 0)
	if err != nil || len(h.Messages) != 2 || len(h.Skipped) != 1 || h.Skipped[0].Seq != 3 || h.Skipped[0].Bytes != 1001 {
		t.Fatalf("history: %d messages, skipped %+v, %v", len(h.Messages), h.Skipped, err)
	}
	var seqs []int64
	for e, err := range s.Records(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, e.Seq)
	}
	if fmt.Sprint(seqs) != "[1 2 4]" {
		t.Fatalf("records %v", seqs)
	}
	rep, _ := s.Check(ctx)
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemOversized || rep.Problems[0].Seq != 3 {
		t.Fatalf("check %+v", rep.Problems)
	}
}

// The read limit belongs to the workspace: opening one that may write
// bigger records does not change what another reads, in the same process.
func TestReadLimitIsPerWorkspace(t *testing.T) {
	ctx := context.Background()
	const size = DefaultMaxRecordBytes + 1<<20
	small := openTest(t, &Options{CountTokens: EstimateTokens})
	big := openTest(t, &Options{CountTokens: EstimateTokens, MaxRecordBytes: 2 * DefaultMaxRecordBytes})
	line := `{"type":"message","seq":2,"at":"2026-11-21T09:00:05Z","role":"tool","content":"` + strings.Repeat("x", size) + `","tool_call_id":"c1","tokens":5}` + "\n"
	for _, w := range []*Workspace{small, big} {
		s := namedSession(t, w, "large")
		mustAppend(t, s, msg(RoleUser, "first"))
		f, err := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(strings.Replace(line, `"seq":2`, `"seq":3`, 1))
		f.Close()
	}
	hs, err := namedSession(t, small, "large").History(ctx, 0)
	if err != nil || len(hs.Messages) != 1 || len(hs.Skipped) != 1 || hs.Skipped[0].Limit != DefaultMaxRecordBytes {
		t.Fatalf("default workspace: %d messages, skipped %+v, %v", len(hs.Messages), hs.Skipped, err)
	}
	hb, err := namedSession(t, big, "large").History(ctx, 0)
	if err != nil || len(hb.Messages) != 2 || len(hb.Skipped) != 0 || len(hb.Messages[1].Content) != size {
		t.Fatalf("workspace with MaxRecordBytes 16 MB: %d messages, skipped %+v, %v", len(hb.Messages), hb.Skipped, err)
	}
}
