package index

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/picosess/picosess/workspace"
)

// mappedKB is the resident memory of this process's mappings of segment
// files (*.zap) in dir, in KB, from /proc/self/smaps.
func mappedKB(t *testing.T, dir string) (kb, mappings int) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fs := strings.Fields(line); len(fs) >= 5 && strings.Contains(fs[0], "-") && !strings.HasSuffix(fs[0], ":") {
			in = len(fs) >= 6 && strings.HasPrefix(fs[5], dir+string(filepath.Separator)) && strings.HasSuffix(fs[5], ".zap")
			if in {
				mappings++
			}
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatalf("smaps line %q", line)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb, mappings
}

// segments is the number of segments of the held index's snapshot.
func segments(t testing.TB, x *Index) int {
	t.Helper()
	adv, err := x.own.bi.Advanced()
	if err != nil {
		t.Fatal(err)
	}
	r, err := adv.(*scorch.Scorch).Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return len(r.(*scorch.IndexSnapshot).Segments())
}

// releaseMapped lets go of the pages a search touched in the segment
// files, and the index reads them again, the same, at the next search.
func TestReleaseMapped(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, "")
	x := openIndex(t, ws, &Options{Hold: true, BatchSize: 50})
	for i := range 4 {
		s := chatSession(t, ws, "main", strconv.Itoa(i))
		for j := range 60 {
			say(t, s, workspace.RoleUser, "alice", fmt.Sprintf("pelican %d of chat %d, and a walrus %d", j, i, i*100+j))
		}
		if _, err := x.CatchUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Scorch merges the segments in the background: wait until it has
	// merged them into one and closed the others, so that nothing else
	// touches or unmaps the files.
	store := filepath.Join(x.Dir(), "store")
	x.mu.Lock()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, n := mappedKB(t, store); n == 1 && segments(t, x) == 1 {
			break
		}
	}
	bi := x.own.bi
	x.mu.Unlock()

	res := mustSearch(t, x, Query{Text: "walrus 307"})
	if res.Total != 1 || len(res.Hits) != 1 {
		t.Fatalf("walrus 307: %d hits", res.Total)
	}
	before, n := mappedKB(t, store)
	if n == 0 || before == 0 {
		t.Fatalf("after a search: %d KB resident in %d segment mappings, want some", before, n)
	}
	releaseMapped(bi)
	after, n2 := mappedKB(t, store)
	if after != 0 || n2 != n {
		t.Fatalf("after releaseMapped: %d KB resident in %d mappings (was %d KB in %d), want 0 KB, the same mappings", after, n2, before, n)
	}
	// The pages come back from the file as they were.
	for _, q := range []struct {
		text  string
		total uint64
	}{{"walrus 307", 1}, {"pelican", 240}, {`"chat 2"`, 60}} {
		if res := mustSearch(t, x, Query{Text: q.text}); res.Total != q.total {
			t.Fatalf("%q after releaseMapped: %d hits, want %d", q.text, res.Total, q.total)
		}
	}
	if again, _ := mappedKB(t, store); again == 0 {
		t.Fatal("the searches after releaseMapped mapped nothing")
	}
}

// BenchmarkReleaseMapped: one releaseMapped of an index of several
// segments, all of them resident (a search before each call): what a
// catch-up pays every releaseInterval.
func BenchmarkReleaseMapped(b *testing.B) {
	ctx := context.Background()
	ws := openWS(b, "")
	x := openIndex(b, ws, &Options{Hold: true, BatchSize: 500})
	for i := range 20 {
		s := chatSession(b, ws, "main", strconv.Itoa(i))
		for j := range 1000 {
			say(b, s, workspace.RoleUser, "alice", fmt.Sprintf("pelican %d of chat %d, and a walrus %d", j, i, i*1000+j))
		}
		if _, err := x.CatchUp(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	x.mu.Lock()
	bi := x.own.bi
	x.mu.Unlock()
	for b.Loop() {
		b.StopTimer()
		mustSearch(b, x, Query{Text: "pelican"})
		b.StartTimer()
		releaseMapped(bi)
	}
	x.mu.Lock()
	b.ReportMetric(float64(segments(b, x)), "segments-at-end")
	x.mu.Unlock()
}
