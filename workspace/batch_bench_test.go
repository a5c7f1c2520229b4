package workspace

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkBatchVsAlways8 has 8 writers append to 1 session or to 8
// sessions (writer i to session i%sessions), durability always against
// batch in alternating rounds (two workspaces on the same disk, so both
// see the same load), and reports the throughput of each and their ratio.
// The writers are goroutines of this process or 8 OS processes (the test
// binary re-executed, each with its own Workspace, as separate assistants
// or CLI calls are); a process round is timed from the moment all 8 have
// opened their session to the moment all 8 have their last append
// acknowledged. One op is one round of each kind: 8 writers x 25 appends
// (goroutines) or x 100 (processes).
func BenchmarkBatchVsAlways8(b *testing.B) {
	for _, writers := range []string{"goroutines", "processes"} {
		for _, sessions := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/sessions=%d", writers, sessions), func(b *testing.B) {
				perWriter := 25
				if writers == "processes" {
					perWriter = 100
				}
				roots := map[Durability]string{DurabilityAlways: b.TempDir(), DurabilityBatch: b.TempDir()}
				ws := map[string]*Workspace{}
				combined := 0 // appends of batch rounds another process wrote
				round := func(d Durability) time.Duration {
					root := roots[d]
					if os.Getenv("PICOSESS_BENCH_AA") != "" {
						d = DurabilityAlways // always against always: the noise
					}
					if d == DurabilityBatch && os.Getenv("PICOSESS_BENCH_CEILING") != "" {
						d = DurabilityNever // no fsync at all: what batch could reach at best
					}
					if writers == "processes" {
						took, c := batchRoundProcesses(b, root, d, sessions, perWriter)
						combined += c
						return took
					}
					if ws[root] == nil {
						w, err := Open(root, &Options{Durability: d})
						if err != nil {
							b.Fatal(err)
						}
						ws[root] = w
						b.Cleanup(func() { w.Close() })
					}
					return batchRoundGoroutines(b, ws[root], sessions, perWriter)
				}
				var ta, tb time.Duration
				var ratios []float64
				for i := 0; i < b.N; i++ {
					// Which kind goes first alternates: a round pays for
					// some of the disk work the one before it left.
					var a, bt time.Duration
					if i%2 == 0 {
						a = round(DurabilityAlways)
						bt = round(DurabilityBatch)
					} else {
						bt = round(DurabilityBatch)
						a = round(DurabilityAlways)
					}
					ta, tb = ta+a, tb+bt
					ratios = append(ratios, a.Seconds()/bt.Seconds())
				}
				n := float64(b.N * batchWriters * perWriter)
				ra, rb := n/ta.Seconds(), n/tb.Seconds()
				b.ReportMetric(ra, "always-appends/s")
				b.ReportMetric(rb, "batch-appends/s")
				// The median of the rounds' ratios: the machine's load
				// changes from one second to the next, a pair of rounds
				// sees the same.
				slices.Sort(ratios)
				b.ReportMetric(ratios[len(ratios)/2], "x-always")
				if writers == "processes" {
					b.ReportMetric(100*float64(combined)/n, "combined-%")
				}
			})
		}
	}
}

// batchWriters is the number of writers of BenchmarkBatchVsAlways8.
const batchWriters = 8

func batchRoundGoroutines(b *testing.B, w *Workspace, sessions, perWriter int) time.Duration {
	ctx := context.Background()
	ss := make([]*Session, sessions)
	for i := range ss {
		ss[i] = namedSession(b, w, "bench-"+strconv.Itoa(i))
	}
	rec := benchRecord()
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < batchWriters; g++ {
		wg.Add(1)
		go func(s *Session) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := s.Append(ctx, rec); err != nil {
					b.Error(err)
					return
				}
			}
		}(ss[g%sessions])
	}
	wg.Wait()
	return time.Since(start)
}

// batchRoundProcesses starts 8 helper processes ("batchbench" mode), waits
// until each has opened its session, lets them go, and times until each
// has acknowledged its last append. It also returns how many appends
// another process wrote (combine.go).
func batchRoundProcesses(b *testing.B, root string, d Durability, sessions, perWriter int) (time.Duration, int) {
	ps := make([]*cmdPipe, batchWriters)
	for i := range ps {
		ps[i] = startPiped(b, fmt.Sprintf("batchbench %s bench-%d %d %s", root, i%sessions, perWriter, d))
	}
	expect := func(p *cmdPipe, want string) {
		line, err := p.out.ReadString('\n')
		if err != nil || line != want+"\n" {
			b.Fatalf("helper said %q (%v), want %q", line, err, want)
		}
	}
	for _, p := range ps {
		expect(p, "ready")
	}
	start := time.Now()
	for _, p := range ps {
		p.in.Close()
	}
	combined := 0
	for _, p := range ps {
		line, err := p.out.ReadString('\n')
		n, ok := strings.CutPrefix(strings.TrimSpace(line), "done ")
		c, cerr := strconv.Atoi(n)
		if err != nil || !ok || cerr != nil {
			b.Fatalf("helper said %q (%v), want done and a count", line, err)
		}
		combined += c
	}
	took := time.Since(start)
	for _, p := range ps {
		if err := p.cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	return took, combined
}

// batchBenchHelper is the helper of batchRoundProcesses:
// batchbench <root> <name> <n> <durability>.
func batchBenchHelper(args []string, in io.Reader, out io.Writer) error {
	ctx := context.Background()
	w, err := Open(args[1], &Options{Durability: Durability(args[4])})
	if err != nil {
		return err
	}
	s, err := w.Session(ctx, Target{Name: args[2]})
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(args[3])
	rec := benchRecord()
	// Warm what the first append would build (the token counter).
	_ = w.opts.CountTokens(rec)
	fmt.Fprintln(out, "ready")
	_, _ = io.Copy(io.Discard, in) // the parent closes stdin: go
	for i := 0; i < n; i++ {
		if _, err := s.Append(ctx, rec); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "done", w.combined.Load())
	return nil
}
