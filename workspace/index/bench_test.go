package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/picosess/picosess/workspace"
)

// benchMessages is the corpus size; PICOSESS_BENCH_MESSAGES overrides it.
func benchMessages() int {
	if n, err := strconv.Atoi(os.Getenv("PICOSESS_BENCH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// corpus writes n chat messages into 100 sessions of a new workspace: 8 to
// 30 words from a 3000-word vocabulary (Zipf-distributed, s=1.1), one message in
// ten in Chinese or Japanese. It returns the workspace and the messages as
// documents (the floor indexes these).
func corpus(b *testing.B, n int) (*workspace.Workspace, []Message) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 3000)
	for i := range vocab {
		w := make([]byte, 3+r.IntN(7))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(w)
	}
	// Query words are of middle frequency (the commonest words are like
	// "the", in about every message).
	vocab[100], vocab[300], vocab[1000] = "berlin", "flat", "meeting"
	cjk := []string{"我们下周去柏林看公寓", "记得带护照", "東京の新しいアパート", "とても静かです", "会议改到明天下午三点", "ありがとうございます"}
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	ws := openWS(b, "")
	const sessions = 100
	ctx := context.Background()
	var sess []*workspace.Session
	for i := 0; i < sessions; i++ {
		sess = append(sess, chatSession(b, ws, "main", strconv.Itoa(i)))
	}
	// Times: turns 5 s to 2 min apart, a new conversation every 20
	// messages or so, hours to days later; a session spans months.
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var sb strings.Builder
	per := n / sessions
	for i, s := range sess {
		recs := make([]workspace.Record, 0, per)
		at := base.Add(time.Duration(r.IntN(86400)) * time.Second)
		for j := 0; j < per; j++ {
			if r.IntN(20) == 0 {
				at = at.Add(time.Duration(1+r.IntN(72)) * time.Hour)
			} else {
				at = at.Add(time.Duration(5+r.IntN(115)) * time.Second)
			}
			sb.Reset()
			if r.IntN(10) == 0 {
				sb.WriteString(cjk[r.IntN(len(cjk))])
				sb.WriteString(cjk[r.IntN(len(cjk))])
			} else {
				for k, words := 0, 8+r.IntN(23); k < words; k++ {
					if k > 0 {
						sb.WriteByte(' ')
					}
					sb.WriteString(vocab[zipf.Uint64()])
				}
			}
			role, sender := workspace.RoleUser, "user"+strconv.Itoa(i)
			if j%2 == 1 {
				role, sender = workspace.RoleAssistant, ""
			}
			recs = append(recs, workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: sender, Content: sb.String(),
				At: at})
		}
		for len(recs) > 0 {
			k := min(len(recs), 1000)
			if _, err := s.Append(ctx, recs[:k]...); err != nil {
				b.Fatal(err)
			}
			recs = recs[k:]
		}
	}
	var docs []Message
	for i, s := range sess {
		h, _ := s.Header(ctx)
		for e, err := range s.Records(ctx, 0) {
			if err != nil {
				b.Fatal(err)
			}
			if e.Type != workspace.TypeMessage {
				continue
			}
			docs = append(docs, Message{Session: s.ID(), Agent: h.Scope.AgentID, Channel: h.Scope.Channel, Account: h.Scope.Account,
				Chat: h.Scope.Values["chat"], Sender: e.Sender, Role: e.Role, Time: TimeTerm(e.At), Seq: float64(e.Seq), Offset: float64(e.Offset), Text: e.Content, Num: uint64(i + 1)})
		}
	}
	return ws, docs
}

// floorIndex indexes docs with bleve alone, in a new index: bleve's own
// mapping walk (batch.Index), batches of floorBatchSize, the same mapping
// and bleve's default configuration. It returns the rate and the index's size.
func floorIndex(b *testing.B, docs []Message) (rate float64, size int64) {
	m, err := newMapping()
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(b.TempDir(), "floor")
	// bleve's default configuration: every batch returns once persisted.
	bi, err := bleve.NewUsing(dir, m, scorch.Name, scorch.Name, map[string]any{"bolt_timeout": "1s"})
	if err != nil {
		b.Fatal(err)
	}
	defer bi.Close()
	start := time.Now()
	batch := bi.NewBatch()
	for j := range docs {
		if err := batch.Index(docKey(docs[j].Num, int64(docs[j].Seq)), &docs[j]); err != nil {
			b.Fatal(err)
		}
		if batch.Size() >= floorBatchSize {
			if err := bi.Batch(batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := bi.Batch(batch); err != nil {
		b.Fatal(err)
	}
	return float64(len(docs)) / time.Since(start).Seconds(), dirSize(b, dir)
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// floorBatchSize is the batch of the floor: bleve's own batches of 10 000
// documents, as the catch-up made them before its batches became smaller
// (the floor stays what it was: bleve as fast as it goes, whatever the
// memory).
const floorBatchSize = 10000

// BenchmarkIndex measures, side by side on one corpus: the floor (bleve
// itself indexing the same documents, already in memory, in batches of
// floorBatchSize with the same mapping), our catch-up from the session
// files, the index size, query latency and the time from an append to a
// search that finds it. Run with -benchtime=1x: each sub-benchmark does
// its whole job once per iteration.
func BenchmarkIndex(b *testing.B) {
	n := benchMessages()
	ws, docs := corpus(b, n)
	ctx := context.Background()
	var floorRate float64

	b.Run("floor", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rate, size := floorIndex(b, docs)
			floorRate = rate
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(float64(size)/1e6*100000/float64(len(docs)), "MB/100k")
		}
	})

	catchup := func(b *testing.B) (rate float64, size int64) {
		start := time.Now()
		st, err := Rebuild(ctx, ws, nil)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		return float64(st.Docs) / el.Seconds(), dirSize(b, filepath.Join(ws.Root(), "index")) * 100000 / st.Docs
	}
	b.Run("catchup", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rate, size := catchup(b)
			b.ReportMetric(rate, "msgs/s")
			if floorRate > 0 {
				b.ReportMetric(rate/floorRate, "x-floor")
			}
			b.ReportMetric(float64(size)/1e6, "MB/100k")
		}
	})
	// catchup-paired: the floor and our catch-up alternate (the one that
	// goes first alternating too), b.N pairs; x-floor is the median of the
	// pairs' ratios, which the machine's load moves less than either rate.
	// Run with -benchtime 5x or so.
	b.Run("catchup-paired", func(b *testing.B) {
		var ours, theirs, ratios []float64
		var size int64
		for i := 0; i < b.N; i++ {
			var f, c float64
			if i%2 == 0 {
				f, _ = floorIndex(b, docs)
				c, size = catchup(b)
			} else {
				c, size = catchup(b)
				f, _ = floorIndex(b, docs)
			}
			ours, theirs, ratios = append(ours, c), append(theirs, f), append(ratios, c/f)
		}
		med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
		b.ReportMetric(med(ours), "msgs/s")
		b.ReportMetric(med(theirs), "floor-msgs/s")
		b.ReportMetric(med(ratios), "x-floor")
		b.ReportMetric(float64(size)/1e6, "MB/100k")
	})

	queries := []string{"berlin", "berlin flat", `"berlin flat"`, "+meeting -flat", "柏林", "アパート", "sender:user7 meeting"}
	// Latencies are taken over a fixed number of calls, after one to warm
	// up (open, first catch-up), whatever b.N is.
	const calls = 200
	latency := func(b *testing.B, x *Index, filter Filter) {
		if _, err := x.Search(ctx, Query{Text: "warm", Filter: filter}); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		b.ResetTimer()
		for i := 0; i < max(b.N, calls); i++ {
			start := time.Now()
			if _, err := x.Search(ctx, Query{Text: queries[i%len(queries)], Filter: filter, Limit: 10}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("query-held", func(b *testing.B) {
		x := openIndex(b, ws, &Options{Hold: true})
		latency(b, x, Filter{})
	})
	b.Run("query-held-active", func(b *testing.B) {
		x := openIndex(b, ws, &Options{Hold: true})
		latency(b, x, Filter{ActiveOnly: true, Agent: "main"})
	})
	b.Run("query-per-call", func(b *testing.B) {
		x := openIndex(b, ws, nil)
		latency(b, x, Filter{})
	})

	appendToSearchable := func(b *testing.B, o *Options, name string) {
		x := openIndex(b, ws, o)
		s := chatSession(b, ws, "main", "append-bench")
		if _, err := x.CatchUp(ctx, nil); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		b.ResetTimer()
		for i := 0; i < max(b.N, calls/4); i++ {
			word := fmt.Sprintf("fresh%s%dword", name, i)
			say(b, s, workspace.RoleUser, "u", "a message with "+word)
			start := time.Now()
			res, err := x.Search(ctx, Query{Text: word})
			if err != nil || len(res.Hits) != 1 {
				b.Fatalf("%s: %v %v", word, res, err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	}
	b.Run("append-to-searchable-held", func(b *testing.B) { appendToSearchable(b, &Options{Hold: true}, "held") })
	b.Run("append-to-searchable-per-call", func(b *testing.B) { appendToSearchable(b, nil, "percall") })
}
