package index

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/picosess/picosess/workspace"
)

// statUint finds key in bleve's nested stats map.
func statUint(m map[string]any, key string) (uint64, bool) {
	for k, v := range m {
		if k == key {
			if n, ok := v.(uint64); ok {
				return n, true
			}
		}
		if sub, ok := v.(map[string]any); ok {
			if n, ok := statUint(sub, key); ok {
				return n, true
			}
		}
	}
	return 0, false
}

// batches returns how many batches the held index has taken.
func batches(t *testing.T, x *Index) uint64 {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.own == nil {
		t.Fatal("index not held")
	}
	n, ok := statUint(x.own.bi.StatsMap(), "TotBatches")
	if !ok {
		t.Fatalf("no TotBatches in %v", x.own.bi.StatsMap())
	}
	return n
}

// A batch ends at BatchSize documents or BatchBytes of text, whichever
// comes first: the memory of a catch-up does not follow the length of the
// history, nor that of its messages.
func TestBatchesAreBounded(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		opts Options
		want uint64 // batches for 20 messages of 1 009 bytes
	}{
		{"bytes", Options{BatchBytes: 3000}, 7},     // 3 messages a batch
		{"docs", Options{BatchSize: 4}, 5},          // 4 messages a batch
		{"defaults", Options{}, 1},                  // everything in one batch
		{"one-message", Options{BatchBytes: 1}, 20}, // a message over the bound is a batch of its own
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := openWS(t, "")
			o := c.opts
			o.Hold = true
			x := openIndex(t, ws, &o)
			if _, err := x.CatchUp(ctx, nil); err != nil {
				t.Fatal(err)
			}
			before := batches(t, x)
			s := chatSession(t, ws, "main", "1")
			var seqs []int64
			for i := range 20 {
				text := "needle" + strings.Repeat(" word", 200) + " n" + string(rune('a'+i))
				if len(text) != 1009 {
					t.Fatalf("text of %d bytes", len(text))
				}
				seqs = append(seqs, say(t, s, workspace.RoleUser, "u", text))
			}
			st, err := x.CatchUp(ctx, nil)
			if err != nil || st.Docs != 20 {
				t.Fatalf("catch-up: %+v %v", st, err)
			}
			if n := batches(t, x) - before; n != c.want {
				t.Fatalf("%d batches, want %d", n, c.want)
			}
			res := mustSearch(t, x, Query{Text: "needle", Limit: 100})
			got := ids(res)
			slices.Sort(got)
			var want []string
			for _, q := range seqs {
				want = append(want, docID(s.ID(), q))
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("hits %v, want %v", got, want)
			}
		})
	}
}

// Documents are keyed by the session's number: hits still name the
// session and seq, a session read again from the start keeps its number
// (its documents replace themselves), and a deleted session's number is
// never given to another one.
func TestSessionNumbers(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, "")
	a := chatSession(t, ws, "main", "1")
	b := chatSession(t, ws, "main", "2")
	a1 := say(t, a, workspace.RoleUser, "alice", "the blue boat")
	b1 := say(t, b, workspace.RoleUser, "bob", "a blue house")
	x := openIndex(t, ws, &Options{Hold: true})
	res := mustSearch(t, x, Query{Text: "blue"})
	if got := ids(res); len(got) != 2 || !slices.Contains(got, docID(a.ID(), a1)) || !slices.Contains(got, docID(b.ID(), b1)) {
		t.Fatalf("hits: %v", got)
	}
	for _, h := range res.Hits {
		if h.Content == "" || h.Title == "" {
			t.Fatalf("hit not read back: %+v", h)
		}
	}
	num := func(id string) uint64 {
		t.Helper()
		x.mu.Lock()
		defer x.mu.Unlock()
		wm, err := x.own.st.get(id)
		if err != nil || wm == nil || wm.Num == 0 {
			t.Fatalf("watermark of %s: %+v %v", id, wm, err)
		}
		return wm.Num
	}
	na, nb := num(a.ID()), num(b.ID())
	if na == nb {
		t.Fatalf("both sessions have number %d", na)
	}

	// Replaced by a copy (an editor's save): read again whole, same number,
	// no document twice.
	a2 := say(t, a, workspace.RoleAssistant, "", "blue sails too")
	data, err := os.ReadFile(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	tmp := a.Path() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, a.Path()); err != nil {
		t.Fatal(err)
	}
	st, err := x.CatchUp(ctx, nil)
	if err != nil || st.Reindexed != 1 {
		t.Fatalf("catch-up after the copy: %+v %v", st, err)
	}
	if got := num(a.ID()); got != na {
		t.Fatalf("number %d after the copy, was %d", got, na)
	}
	res = mustSearch(t, x, Query{Text: "blue", Limit: 10})
	if got := ids(res); len(got) != 3 || res.Total != 3 || !slices.Contains(got, docID(a.ID(), a2)) {
		t.Fatalf("after the copy: %v (total %d)", got, res.Total)
	}

	// Deleted: its number maps to nothing; a new session gets a new one.
	if _, err := a.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	c := chatSession(t, ws, "main", "3")
	c1 := say(t, c, workspace.RoleUser, "carol", "blue skies")
	res = mustSearch(t, x, Query{Text: "blue"})
	if got := ids(res); len(got) != 2 || !slices.Contains(got, docID(c.ID(), c1)) || !slices.Contains(got, docID(b.ID(), b1)) {
		t.Fatalf("after delete: %v", got)
	}
	nc := num(c.ID())
	if nc == na || nc == nb {
		t.Fatalf("new session got number %d (deleted: %d, other: %d)", nc, na, nb)
	}
	x.mu.Lock()
	names, err := x.own.st.sessions([]uint64{na, nb, nc})
	x.mu.Unlock()
	if err != nil || !slices.Equal(names, []string{"", b.ID(), c.ID()}) {
		t.Fatalf("numbers map to %q %v", names, err)
	}
}

// An index of an older format (documents keyed by session id) is rebuilt
// by the first operation, not read with the new keys.
func TestOlderFormatIsRebuilt(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t, "")
	s := chatSession(t, ws, "main", "1")
	q := say(t, s, workspace.RoleUser, "alice", "an old green door")
	x := openIndex(t, ws, nil)
	mustSearch(t, x, Query{Text: "green"})
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	// What format 3 left: its format key, a document keyed by session id.
	bi, err := bleve.OpenUsing(x.Dir(), runtimeConfig())
	if err != nil {
		t.Fatal(err)
	}
	b := bi.NewBatch()
	b.SetInternal([]byte(keyFormat), []byte(`{"format":3}`))
	if err := b.Index(docID(s.ID(), q), map[string]any{FieldSession: s.ID(), FieldText: "an old green door"}); err != nil {
		t.Fatal(err)
	}
	if err := sendDurable(bi, b); err != nil {
		t.Fatal(err)
	}
	if err := bi.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, ws)
	if err != nil || !strings.Contains(rep.Damaged, fmt.Sprintf("format %d", formatNumber)) {
		t.Fatalf("check of a format 3 index: %+v %v", rep, err)
	}
	res := mustSearch(t, x, Query{Text: "green"})
	if got := ids(res); len(got) != 1 || got[0] != docID(s.ID(), q) || res.Total != 1 {
		t.Fatalf("after the rebuild: %v (total %d)", got, res.Total)
	}
	if rep, err = Check(ctx, ws); err != nil || rep.Damaged != "" {
		t.Fatalf("check after the rebuild: %+v %v", rep, err)
	}
}
