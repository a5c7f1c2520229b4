package summarize

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// benchMessages is the size of the long session the summarize benchmarks
// use: PICOSESS_BENCH_MESSAGES, default 100 000 (CI runs fewer).
func benchMessages(b *testing.B) int {
	if v := os.Getenv("PICOSESS_BENCH_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("PICOSESS_BENCH_MESSAGES=%q: want a number of at least 100", v)
		}
		return n
	}
	return 100000
}

var longSession struct {
	sync.Mutex
	root map[int]string // by message count: a workspace holding session "long"
}

// longSessionRoot builds, once per test binary and size, a workspace whose
// session "long" has about n messages and no summary; appendTurns makes
// 8 messages per 3 turns.
func longSessionRoot(b *testing.B, n int) string {
	longSession.Lock()
	defer longSession.Unlock()
	if root, ok := longSession.root[n]; ok {
		return root
	}
	root, err := os.MkdirTemp("", "picosess-long-")
	if err != nil {
		b.Fatal(err)
	}
	w, err := workspace.Open(root, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(context.Background(), workspace.Target{Name: "long"})
	if err != nil {
		b.Fatal(err)
	}
	turns := (n*3 + 7) / 8
	for i := 0; i < turns; i += 3000 {
		appendTurns(b, s, i, min(3000, turns-i))
	}
	if fi, err := os.Stat(s.Path()); err == nil {
		b.Logf("session of about %d messages, %.1f MB", n, float64(fi.Size())/(1<<20))
	}
	if longSession.root == nil {
		longSession.root = map[int]string{}
	}
	longSession.root[n] = root
	return root
}

// freshLongSession copies the long session into a new workspace and opens
// it there.
func freshLongSession(b *testing.B, n int) *workspace.Session {
	dst := filepath.Join(b.TempDir(), "w")
	if err := os.CopyFS(dst, os.DirFS(longSessionRoot(b, n))); err != nil {
		b.Fatal(err)
	}
	return openSession(b, dst, "long")
}

// BenchmarkFirstSummary: the first summary of a long session that has
// none (everything but the kept turns is folded), one Summarize call per
// op on a fresh copy, with the extractive summarizer counting with the
// estimate (the zero Compactor) or with tiktoken o200k_base (the default
// settings), and with the estimate and no limit on a summarizer call
// (one request). The session's stored counts are tiktoken's (the
// workspace's default counter).
func BenchmarkFirstSummary(b *testing.B) {
	n := benchMessages(b)
	b.Run("estimate", func(b *testing.B) { benchFirstSummary(b, n, &Compactor{}) })
	b.Run("tiktoken", func(b *testing.B) { benchFirstSummary(b, n, &Compactor{Counter: tk(b)}) })
	// Everything in one request (max_input_tokens off): the extractive
	// summarizer streams the fold in rounds (extractive_stream.go).
	b.Run("one-request", func(b *testing.B) {
		benchFirstSummary(b, n, &Compactor{Settings: Settings{MaxInputTokens: Disabled}})
	})
}

func benchFirstSummary(b *testing.B, n int, k *Compactor) {
	ctx := context.Background()
	var cpu time.Duration // of the process (collector included), which load does not stretch
	for b.Loop() {
		b.StopTimer()
		s := freshLongSession(b, n)
		runtime.GC() // each summary starts as in a fresh process, not after the last one's garbage
		before := processCPU(b)
		b.StartTimer()
		o, err := k.Summarize(ctx, s)
		b.StopTimer()
		cpu += processCPU(b) - before
		b.StartTimer()
		if err != nil || !o.Summarized {
			b.Fatalf("%+v %v", o.Decision, err)
		}
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkAppendWhileSummarizing: an appender adds a user message every
// millisecond to a long session, first for a while with nothing else going
// on (idle), then while this process summarizes that session for the first
// time (summarizing). The appender is a goroutine of this process, or
// another process (which shares no heap or scheduler with the summary, so
// what it waits for is the session's lock and the machine). The figures are
// the append latencies of each phase; the goal is that the slowest append
// while summarizing is within 50 ms of the idle ones. Durability is never,
// so that the figures are the lock and the CPU, not the disk.
func BenchmarkAppendWhileSummarizing(b *testing.B) {
	n := benchMessages(b)
	b.Run("goroutine", func(b *testing.B) {
		benchAppendWhileSummarizing(b, n, func(s *workspace.Session, work func()) []time.Duration {
			return appendEvery(b, s, time.Millisecond, work)
		})
	})
	b.Run("process", func(b *testing.B) {
		benchAppendWhileSummarizing(b, n, func(s *workspace.Session, work func()) []time.Duration {
			return appendFromProcess(b, s, time.Millisecond, work)
		})
	})
}

func benchAppendWhileSummarizing(b *testing.B, n int, appender func(*workspace.Session, func()) []time.Duration) {
	ctx := context.Background()
	k := &Compactor{}
	var idle, during []time.Duration
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		s := freshLongSession(b, n)
		runtime.GC()
		b.StartTimer()
		// Idle: as long as a summary takes (at least 200 ms).
		idle = append(idle, appender(s, func() { time.Sleep(max(took, 200*time.Millisecond)) })...)
		during = append(during, appender(s, func() {
			start := time.Now()
			o, err := k.Summarize(ctx, s)
			took = time.Since(start)
			if err != nil || !o.Summarized {
				b.Errorf("summarize: %+v %v", o.Decision, err)
			}
		})...)
	}
	report := func(name string, d []time.Duration) {
		slices.Sort(d)
		if len(d) == 0 {
			return
		}
		q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), name+"-p50-ms")
		b.ReportMetric(q(0.99), name+"-p99-ms")
		b.ReportMetric(q(1), name+"-max-ms")
	}
	report("idle", idle)
	report("summarizing", during)
	b.Logf("%d idle appends, %d while summarizing; last summary took %v", len(idle), len(during), took)
}

// appendEvery appends a short user message every gap until work returns,
// and returns the latency of each append.
func appendEvery(b *testing.B, s *workspace.Session, gap time.Duration, work func()) []time.Duration {
	stop := make(chan struct{})
	done := make(chan []time.Duration)
	go func() {
		var lat []time.Duration
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- lat
				return
			case <-time.After(gap):
			}
			start := time.Now()
			_, err := s.Append(context.Background(), workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser,
				Content: fmt.Sprintf("ping %d while the summary runs", i)})
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Error(err)
			}
		}
	}()
	work()
	close(stop)
	return <-done
}

// appendFromProcess is appendEvery with the appends made by another
// process (the test binary as a session helper, see appendHelper).
func appendFromProcess(b *testing.B, s *workspace.Session, gap time.Duration, work func()) []time.Duration {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), sessionHelperEnv+"=1", "SH_ROOT="+s.Workspace().Root(), "SH_NAME=long",
		"SH_APPEND_EVERY="+gap.String(), "SH_DURABILITY="+string(workspace.DurabilityNever))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Wait()
		b.Fatalf("append helper did not start: %q %s", lines.Text(), stderr.Bytes())
	}
	work()
	stdin.Close()
	var lat []time.Duration
	for lines.Scan() {
		us, err := strconv.ParseInt(lines.Text(), 10, 64)
		if err != nil {
			b.Fatalf("append helper: %q", lines.Text())
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("append helper: %v %s", err, stderr.Bytes())
	}
	return lat
}

// appendHelper runs in the child process of appendFromProcess: after one
// append (the file learnt) it says "ready", appends a short user message
// every gap until its stdin closes, then prints each latency in
// microseconds, one a line.
func appendHelper(ctx context.Context, s *workspace.Session, every string) int {
	gap, err := time.ParseDuration(every)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	msg := func(i int) workspace.Record {
		return workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: fmt.Sprintf("ping %d from another process", i)}
	}
	if _, err := s.Append(ctx, msg(0)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(closed)
	}()
	var lat []time.Duration
	for i := 1; ; i++ {
		select {
		case <-closed:
			for _, d := range lat {
				fmt.Println(d.Microseconds())
			}
			return 0
		case <-time.After(gap):
		}
		start := time.Now()
		if _, err := s.Append(ctx, msg(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		lat = append(lat, time.Since(start))
	}
}
