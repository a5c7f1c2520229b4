package workspace

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchSessions is the number of sessions of the listing benchmarks:
// PICOSESS_BENCH_SESSIONS, else 2 000 (CI). The figures in
// docs/performance.md are for 100 000 and 1 000 000.
func benchSessions(b *testing.B) int {
	if s := os.Getenv("PICOSESS_BENCH_SESSIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("PICOSESS_BENCH_SESSIONS=%q", s)
		}
		return n
	}
	return 2_000
}

// writeListFixture writes n sessions as a Telegram gateway leaves them (a
// header with a scope and an alias, two user and two assistant messages
// with usage) into dir/sessions, unless a run before left them there.
// PICOSESS_BENCH_DIR keeps the fixture between runs (100 000 files take a
// while to write); else it is written to a temporary directory.
func writeListFixture(b *testing.B, n int) string {
	dir := os.Getenv("PICOSESS_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	} else {
		dir = filepath.Join(dir, fmt.Sprintf("list-%d", n))
	}
	sd := filepath.Join(dir, SessionsDir)
	if des, err := os.ReadDir(sd); err == nil && len(des) >= n {
		return dir
	}
	if err := os.MkdirAll(sd, 0o755); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sk_v1_%x", sha256.Sum256([]byte(strconv.Itoa(i))))
		t := at.Add(time.Duration(i) * time.Minute)
		ts := func(k int) string { return t.Add(time.Duration(k) * time.Second).Format(time.RFC3339) }
		chat := fmt.Sprintf("group:-100%d", 1000000+i)
		s := fmt.Sprintf(`{"type":"session","seq":1,"at":"%s","v":1,"id":"%s","scope":{"version":1,"agent_id":"main","channel":"telegram","account":"default","dimensions":["chat","sender"],"values":{"chat":"%s","sender":"user%d"}},"aliases":["agent:main:telegram:%s"]}`+"\n", ts(0), id, chat, i%977, chat) +
			fmt.Sprintf(`{"type":"message","seq":2,"at":"%s","role":"user","content":"question number %d about the heating in the flat and what to do next","tokens":14}`+"\n", ts(1), i) +
			fmt.Sprintf(`{"type":"message","seq":3,"at":"%s","role":"assistant","content":"An answer that is a little longer than the question, as answers are.","model_name":"claude-sonnet-4.5","tokens":15,"usage":{"input_tokens":40,"output_tokens":15}}`+"\n", ts(2)) +
			fmt.Sprintf(`{"type":"message","seq":4,"at":"%s","role":"user","content":"thanks","tokens":1}`+"\n", ts(3)) +
			fmt.Sprintf(`{"type":"message","seq":5,"at":"%s","role":"assistant","content":"You are welcome.","tokens":4,"usage":{"input_tokens":60,"output_tokens":4}}`+"\n", ts(4))
		if err := os.WriteFile(filepath.Join(sd, id+SessionExt), []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkListScale lists benchSessions sessions from a new Workspace
// each op, as a new ls process does: "warm" with the listing log of an
// earlier listing, "after-append" with one session appended to since (the
// log grows by one frame and a state frame), "cold" with no cache at all.
func BenchmarkListScale(b *testing.B) {
	n := benchSessions(b)
	dir := writeListFixture(b, n)
	ctx := context.Background()
	listWith := func(b *testing.B, rescan bool) {
		w, err := Open(dir, &Options{NoConfig: true, Durability: DurabilityNever})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		if l, err := w.List(ctx, ListOptions{Rescan: rescan}); err != nil || len(l) != n {
			b.Fatalf("%d listed, %v", len(l), err)
		}
	}
	list := func(b *testing.B) { listWith(b, false) }
	logSize := func() int64 {
		fi, _ := os.Stat(filepath.Join(dir, CacheDir, listingLogName))
		if fi == nil {
			return 0
		}
		return fi.Size()
	}
	b.Run(fmt.Sprintf("sessions=%d/cold", n), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			os.RemoveAll(filepath.Join(dir, CacheDir))
			list(b)
		}
	})
	b.Run(fmt.Sprintf("sessions=%d/warm", n), func(b *testing.B) {
		list(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			list(b)
		}
	})
	// warm-rescan: the same with a stat of every file (ListOptions.Rescan),
	// as every listing did before it followed the change journal, and as
	// one does every DefaultListingRescan.
	b.Run(fmt.Sprintf("sessions=%d/warm-rescan", n), func(b *testing.B) {
		list(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			listWith(b, true)
		}
	})
	b.Run(fmt.Sprintf("sessions=%d/after-append", n), func(b *testing.B) {
		list(b)
		w, err := Open(dir, &Options{NoConfig: true, Durability: DurabilityNever})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		var ids []string
		des, _ := os.ReadDir(filepath.Join(dir, SessionsDir))
		for _, de := range des {
			if id := idFromFileName(de.Name()); id != "" {
				ids = append(ids, id)
			}
		}
		var grown int64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			s, err := w.OpenID(ids[i%len(ids)])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Append(ctx, UserMessage("", "one more")); err != nil {
				b.Fatal(err)
			}
			before := logSize()
			b.StartTimer()
			list(b)
			if after := logSize(); after > before {
				grown += after - before
			}
		}
		b.ReportMetric(float64(grown)/float64(b.N), "cache-bytes-written/op")
	})
}
