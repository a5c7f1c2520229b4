package serve

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

var loadFor = flag.Duration("load", 0, "run TestLoad for this long (e.g. 30s)")

func benchServer(b *testing.B) *testServer {
	b.Helper()
	return newTestServer(b, nil, &workspace.Options{Durability: workspace.DurabilityNever})
}

func bigSession(b *testing.B, ts *testServer, name string, n int) *workspace.Session {
	b.Helper()
	s := ts.session(name)
	for i := 0; i < n; i += 1000 {
		var recs []workspace.Record
		for j := i; j < i+1000 && j < n; j++ {
			recs = append(recs, msg([]string{"user", "assistant"}[j%2], fmt.Sprintf("message %d of a long conversation about flats, trains and the weather in Berlin", j)))
		}
		if _, err := s.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func manySessions(b *testing.B, ts *testServer, n int) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		s, err := ts.w.Session(ctx, workspace.Target{Name: fmt.Sprintf("session-%05d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Append(ctx, msg("user", fmt.Sprintf("question %d about the garden and tomatoes", i)),
			msg("assistant", fmt.Sprintf("answer %d: plant them after the last frost", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func get(b *testing.B, url string) {
	resp, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s: %d", url, resp.StatusCode)
	}
}

// One page of a 100 000-message session, over HTTP.
func BenchmarkHistoryPage(b *testing.B) {
	ts := benchServer(b)
	s := bigSession(b, ts, "long", 100000)
	for _, c := range []struct{ name, q string }{
		{"active-newest50", "limit=50"},
		{"active-middle50", "limit=50&before=50000"},
		{"all-middle50", "all=1&limit=50&before=50000"},
		{"all-oldest50", "all=1&limit=50&after=0"},
	} {
		b.Run(c.name, func(b *testing.B) {
			url := ts.base + "/api/sessions/" + s.ID() + "/history?" + c.q
			for b.Loop() {
				get(b, url)
			}
		})
	}
}

// The first and a later page of a listing of 10 000 sessions.
func BenchmarkListSessions10k(b *testing.B) {
	ts := benchServer(b)
	manySessions(b, ts, 10000)
	get(b, ts.base+"/api/sessions") // warm the metadata cache
	b.Run("first-page-100", func(b *testing.B) {
		for b.Loop() {
			get(b, ts.base+"/api/sessions?limit=100")
		}
	})
	b.Run("filtered-q", func(b *testing.B) {
		for b.Loop() {
			get(b, ts.base+"/api/sessions?limit=100&q=session-09")
		}
	})
}

// A search over 10 000 sessions (20 000 messages), index caught up.
func BenchmarkSearch(b *testing.B) {
	ts := benchServer(b)
	manySessions(b, ts, 10000)
	get(b, ts.base+"/api/search?q=warmup") // builds the index
	for b.Loop() {
		get(b, ts.base+"/api/search?q=tomatoes+frost&limit=20")
	}
}

// From an append (by the library, as another process would) to the event
// on all of 100 open streams.
func BenchmarkAppendToEvents100(b *testing.B) {
	ts := newTestServer(b, &Options{MaxEventClients: 200}, &workspace.Options{Durability: workspace.DurabilityNever})
	s := ts.session("live")
	const clients = 100
	var got sync.WaitGroup
	var want atomic.Value
	want.Store("")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{}, clients)
	for i := 0; i < clients; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.base+"/api/events", nil)
		resp, err := (&http.Client{}).Do(req)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "event: ready") {
					ready <- struct{}{}
				}
				if w := want.Load().(string); w != "" && strings.HasPrefix(line, "data: ") && strings.Contains(line, w) {
					got.Done()
				}
			}
		}()
	}
	for i := 0; i < clients; i++ {
		<-ready
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		tag := fmt.Sprintf("tag-%d-x", i)
		want.Store(tag)
		got.Add(clients)
		start := time.Now()
		if _, err := s.Append(ctx, msg("user", tag)); err != nil {
			b.Fatal(err)
		}
		got.Wait()
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// TestLoad: 50 concurrent clients for -load (e.g. 30s) against a loopback
// listener: each appends through the API, reads its history and the
// listing, and follows the live feed; no request may fail and every
// append must arrive on every client's stream. Bounded in time and count.
func TestLoad(t *testing.T) {
	if *loadFor <= 0 {
		t.Skip("run with: go test ./serve -run TestLoad -load 30s")
	}
	const clients = 50
	ts := newTestServer(t, &Options{MaxEventClients: 100}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), *loadFor+30*time.Second)
	defer cancel()
	var sent, failed atomic.Int64
	var mu sync.Mutex
	received := make([]map[string]bool, clients)
	streams := make([]*sseStream, clients)
	for i := range streams {
		streams[i] = ts.stream(t, "", "")
		streams[i].ready(t)
		received[i] = map[string]bool{}
		go func(i int) {
			for ev := range streams[i].events {
				if ev.Name == eventRecord && strings.Contains(ev.Data, `"type":"message"`) {
					mu.Lock()
					received[i][ev.Data] = true
					mu.Unlock()
				}
			}
		}(i)
	}
	deadline := time.Now().Add(*loadFor)
	var wg sync.WaitGroup
	var reqs atomic.Int64
	for c := 0; c < clients; c++ {
		ts.want(http.StatusCreated, nil, "POST", "/api/sessions", fmt.Sprintf(`{"name":"load-%d"}`, c))
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline) && n < 100000; n++ {
				for _, r := range []struct{ method, path, body string }{
					{"POST", fmt.Sprintf("/api/sessions/load-%d/records", c), fmt.Sprintf(`{"role":"user","content":"c%d n%d"}`, c, n)},
					{"GET", fmt.Sprintf("/api/sessions/load-%d/history?limit=20", c), ""},
					{"GET", "/api/sessions?limit=50", ""},
				} {
					req, _ := http.NewRequestWithContext(ctx, r.method, ts.base+r.path, strings.NewReader(r.body))
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					reqs.Add(1)
					if err != nil || resp.StatusCode >= 300 {
						failed.Add(1)
						if err == nil {
							resp.Body.Close()
						}
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if r.method == "POST" {
						sent.Add(1)
					}
				}
			}
		}(c)
	}
	wg.Wait()
	// Every append reaches every stream.
	for wait := time.Now().Add(20 * time.Second); time.Now().Before(wait); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		done := true
		for i := range received {
			done = done && int64(len(received[i])) >= sent.Load()
		}
		mu.Unlock()
		if done {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range received {
		if int64(len(received[i])) != sent.Load() {
			t.Errorf("stream %d got %d of %d appends", i, len(received[i]), sent.Load())
		}
	}
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed", failed.Load(), reqs.Load())
	}
	t.Logf("%d clients, %v: %d requests (%.0f/s), %d appends, each on %d streams, %d failed",
		clients, *loadFor, reqs.Load(), float64(reqs.Load())/loadFor.Seconds(), sent.Load(), clients, failed.Load())
}
