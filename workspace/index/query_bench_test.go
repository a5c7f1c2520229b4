package index

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
)

func BenchmarkParseQuery(b *testing.B) {
	for _, text := range []string{
		"dentist",
		"role:user dentist friday",
		`"berlin flat" OR paris -sold sender:"ann lee" berl*`,
	} {
		b.Run(text, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				e, err := ParseQuery(text)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Query(false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSelectiveQuery runs queries that narrow by a field and two
// words on the corpus of BenchmarkIndex (PICOSESS_BENCH_MESSAGES, default
// 100 000), the index held open: the query language of ParseQuery (all
// words required) against the same text as bleve's query string (any
// word), which is what search did before. Hits are the total matches.
func BenchmarkSelectiveQuery(b *testing.B) {
	ws, _ := corpus(b, benchMessages())
	ctx := context.Background()
	if _, err := Rebuild(ctx, ws, nil); err != nil {
		b.Fatal(err)
	}
	x := openIndex(b, ws, &Options{Hold: true})
	queries := []string{"sender:user7 berlin flat", "role:user berlin flat", "berlin flat -meeting", `"berlin flat"`}
	const calls = 200
	measure := func(b *testing.B, build func(text string) (query.Query, error)) {
		for _, text := range queries {
			b.Run(text, func(b *testing.B) {
				var lat []time.Duration
				var total uint64
				for i := 0; i < max(b.N, calls); i++ {
					q, err := build(text)
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					err = x.with(ctx, nil, func(o *owner) error {
						res, err := x.run(ctx, o, q, Query{Limit: 10})
						if res != nil {
							total = res.Total
						}
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(total), "hits")
			})
		}
	}
	b.Run("all-words", func(b *testing.B) {
		measure(b, func(text string) (query.Query, error) { return parse(Query{Text: text}) })
	})
	b.Run("any-word", func(b *testing.B) {
		measure(b, func(text string) (query.Query, error) { return parse(Query{Text: text, Any: true}) })
	})
	b.Run("old-query-string", func(b *testing.B) {
		measure(b, func(text string) (query.Query, error) { return bleve.NewQueryStringQuery(text), nil })
	})
}
