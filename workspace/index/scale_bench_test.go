package index

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/picosess/picosess/workspace"
)

// benchSessions is the number of sessions of BenchmarkManySessions:
// PICOSESS_BENCH_SESSIONS, else 2 000 (the full run is 100 000).
func benchSessions() int {
	if n, err := strconv.Atoi(os.Getenv("PICOSESS_BENCH_SESSIONS")); err == nil && n > 0 {
		return n
	}
	return 2000
}

// manySessions writes n sessions of per messages each (a chat's worth:
// short lines from a 3 000-word vocabulary) and returns the workspace and
// the messages as documents, for the floor.
func manySessions(b *testing.B, n, per int) (*workspace.Workspace, []Message) {
	b.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	vocab := make([]string, 3000)
	for i := range vocab {
		w := make([]byte, 3+r.IntN(7))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(w)
	}
	vocab[100], vocab[300] = "berlin", "flat"
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	ws := openWS(b, "")
	ctx := context.Background()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var docs []Message
	var sb strings.Builder
	for i := 0; i < n; i++ {
		s := chatSession(b, ws, "main", strconv.Itoa(i))
		recs := make([]workspace.Record, 0, per)
		at := base.Add(time.Duration(i) * time.Minute)
		for j := 0; j < per; j++ {
			sb.Reset()
			for k, words := 0, 6+r.IntN(15); k < words; k++ {
				if k > 0 {
					sb.WriteByte(' ')
				}
				sb.WriteString(vocab[zipf.Uint64()])
			}
			role, sender := workspace.RoleUser, "user"+strconv.Itoa(i)
			if j%2 == 1 {
				role, sender = workspace.RoleAssistant, ""
			}
			at = at.Add(time.Duration(5+r.IntN(60)) * time.Second)
			recs = append(recs, workspace.Record{Type: workspace.TypeMessage, Role: role, Sender: sender, Content: sb.String(), At: at})
		}
		if _, err := s.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
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

// p50 is the median of d, in milliseconds.
func p50(d []time.Duration) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// BenchmarkManySessions measures the index where the sessions are many
// and small (PICOSESS_BENCH_SESSIONS, default 2 000; 4 messages each), side
// by side on one workspace: bleve's own batch indexing of the same
// documents (the floor) and our catch-up; a search when nothing changed,
// with the index held and per call; a selective query against bleve alone
// on the same index; the built binary's search against its version
// command. Run with -benchtime=1x.
func BenchmarkManySessions(b *testing.B) {
	n := benchSessions()
	ws, docs := manySessions(b, n, 4)
	ctx := context.Background()
	// floor indexes the same messages with bleve's own batches, as fast
	// as bleve goes: what a catch-up cannot beat.
	floor := func(b *testing.B) float64 {
		rate, _ := floorIndex(b, docs)
		return rate
	}
	catchup := func(b *testing.B) float64 {
		start := time.Now()
		st, err := Rebuild(ctx, ws, nil)
		if err != nil {
			b.Fatal(err)
		}
		return float64(st.Docs) / time.Since(start).Seconds()
	}
	// The floor and our catch-up (Rebuild: every file read) alternate, the
	// one that goes first alternating too; x-floor is the median of the
	// pairs' ratios, which the machine's load moves less than either rate.
	b.Run("catchup", func(b *testing.B) {
		var ours, theirs, ratios []float64
		for i := 0; i < b.N; i++ {
			var f, c float64
			if i%2 == 0 {
				f, c = floor(b), catchup(b)
			} else {
				c, f = catchup(b), floor(b)
			}
			ours, theirs, ratios = append(ours, c), append(theirs, f), append(ratios, c/f)
		}
		med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
		b.ReportMetric(med(ours), "msgs/s")
		b.ReportMetric(med(theirs), "floor-msgs/s")
		b.ReportMetric(med(ratios), "x-floor")
	})

	const calls = 100
	nochange := func(b *testing.B, o *Options) {
		x := openIndex(b, ws, o)
		if _, err := x.Search(ctx, Query{Text: "warm"}); err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		for i := 0; i < max(b.N, calls); i++ {
			start := time.Now()
			if _, err := x.Search(ctx, Query{Text: "zzznomatch", Limit: 10}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		b.ReportMetric(p50(lat), "p50-ms")
	}
	b.Run("nochange-held", func(b *testing.B) { nochange(b, &Options{Hold: true}) })
	b.Run("nochange-per-call", func(b *testing.B) { nochange(b, nil) })
	b.Run("selective-held-vs-bleve", func(b *testing.B) {
		x := openIndex(b, ws, &Options{Hold: true})
		if _, err := x.Search(ctx, Query{Text: "warm"}); err != nil {
			b.Fatal(err)
		}
		texts := []string{"sender:user7 berlin", "berlin flat", "role:user flat"}
		var ours, alone []time.Duration
		for i := 0; i < max(b.N, calls); i++ {
			q := Query{Text: texts[i%len(texts)], Limit: 10}
			start := time.Now()
			if _, err := x.Search(ctx, q); err != nil {
				b.Fatal(err)
			}
			ours = append(ours, time.Since(start))
			text, err := parse(q)
			if err != nil {
				b.Fatal(err)
			}
			// The same request our Search makes, without the catch-up
			// and the hits' read-back.
			fq, err := x.filtered(text, q.Filter, x.own)
			if err != nil {
				b.Fatal(err)
			}
			start = time.Now()
			req := bleve.NewSearchRequestOptions(fq, 10, 0, false)
			req.Fields = []string{FieldOffset, FieldSegment}
			req.IncludeLocations = true
			req.SortBy([]string{"-_score"})
			if _, err := x.own.bi.Search(req); err != nil {
				b.Fatal(err)
			}
			alone = append(alone, time.Since(start))
		}
		b.ReportMetric(p50(ours), "ours-p50-ms")
		b.ReportMetric(p50(alone), "bleve-p50-ms")
		b.ReportMetric(p50(ours)/p50(alone), "x-bleve")
	})
	b.Run("cli-nochange-vs-version", func(b *testing.B) {
		bin := filepath.Join(b.TempDir(), "picosess")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/picosess/picosess/cmd/picosess").CombinedOutput(); err != nil {
			b.Skipf("build: %v\n%s", err, out)
		}
		run := func(args ...string) time.Duration {
			start := time.Now()
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", args, err, out)
			}
			return time.Since(start)
		}
		search := []string{"--workspace", ws.Root(), "search", "zzznomatch"}
		run(search...)
		var srch, ver []time.Duration
		for i := 0; i < max(b.N, 30); i++ {
			srch = append(srch, run(search...))
			ver = append(ver, run("version"))
		}
		b.ReportMetric(p50(srch), "search-p50-ms")
		b.ReportMetric(p50(ver), "version-p50-ms")
		b.ReportMetric(p50(srch)/p50(ver), "x-version")
	})
}
