package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// BenchmarkShowTailAfterOutsideAppend times `picosess show ID --limit 50`
// on a session of 1 000 and one of 100 000 messages, each call right after
// another process (this one, through the library) appended a message to
// it: "binary" runs the built binary, "in-process" the same command
// through the command tree (no process start, so the library's share
// shows). Each op shows both sessions; it reports the p50 of each, their
// ratio (target: within 1.5) and the ratio of the slowest calls.
//
//	go test ./cmd/picosess -run '^$' -bench ShowTailAfterOutsideAppend -benchtime 100x
func BenchmarkShowTailAfterOutsideAppend(b *testing.B) {
	ctx := context.Background()
	ws := b.TempDir()
	w, err := workspace.Open(ws, &workspace.Options{Durability: workspace.DurabilityNever, NoConfig: true})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	sessions := []*workspace.Session{longSession(b, w, "short", 1_000), longSession(b, w, "long", 100_000)}
	bin := filepath.Join(b.TempDir(), "picosess")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	shows := map[string]func(id string) error{
		"binary": func(id string) error {
			return exec.Command(bin, "--workspace", ws, "show", id, "--limit", "50").Run()
		},
		"in-process": func(id string) error {
			if code := run(ctx, []string{"--workspace", ws, "show", id, "--limit", "50"}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
				return fmt.Errorf("exit %d", code)
			}
			return nil
		},
	}
	for _, mode := range []string{"binary", "in-process"} {
		show := shows[mode]
		b.Run(mode, func(b *testing.B) {
			for _, s := range sessions {
				if err := show(s.ID()); err != nil { // the first read of a file written outside reads it whole
					b.Fatal(err)
				}
			}
			var lat [2][]time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k, s := range sessions {
					b.StopTimer()
					if _, err := s.Append(ctx, workspace.AssistantMessage("m", fmt.Sprintf("reply %d", i)).WithUsage(1200, 85)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					t0 := time.Now()
					if err := show(s.ID()); err != nil {
						b.Fatal(err)
					}
					lat[k] = append(lat[k], time.Since(t0))
				}
			}
			b.StopTimer()
			q := func(ds []time.Duration, p float64) time.Duration {
				s := slices.Clone(ds)
				slices.Sort(s)
				return s[min(len(s)-1, int(float64(len(s))*p))]
			}
			b.ReportMetric(float64(q(lat[0], 0.5).Microseconds()), "1k-p50-µs")
			b.ReportMetric(float64(q(lat[1], 0.5).Microseconds()), "100k-p50-µs")
			b.ReportMetric(float64(q(lat[1], 0.5))/float64(q(lat[0], 0.5)), "x-1k-p50")
			b.ReportMetric(float64(q(lat[1], 1))/float64(q(lat[0], 1)), "x-1k-max")
		})
	}
}

// longSession makes the named session name with n messages (tokens given,
// so that nothing is counted), appended 1 000 at a time.
func longSession(b *testing.B, w *workspace.Workspace, name string, n int) *workspace.Session {
	ctx := context.Background()
	s, err := w.Session(ctx, workspace.Target{Name: name})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Duration(n) * time.Second)
	batch := make([]workspace.Record, 0, 1000)
	for i := 0; i < n; i++ {
		r := workspace.UserMessage("", fmt.Sprintf("message %d with some text to make the line a realistic length for a chat", i))
		if i%2 == 1 {
			r = workspace.AssistantMessage("m", r.Content).WithUsage(900+i%100, 40)
		}
		r.At, r.Tokens = at.Add(time.Duration(i)*time.Second), 20
		if batch = append(batch, r); len(batch) == cap(batch) || i == n-1 {
			if _, err := s.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return s
}
