package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// Listing and streaming reads at scale, through the built binary: time per
// command and the process's peak resident memory (/usr/bin/time -f %M), the figures of issue 16 points 5 and 6.
// CI sizes are small; the documented figures come from
//
//	PICOSESS_BENCH_SESSIONS=100000 PICOSESS_BENCH_MESSAGES=100000 \
//	  go test ./cmd/picosess -run '^$' -bench 'ScaleRSS' -benchtime 5x

// benchSize is the integer in env var name, else def.
func benchSize(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q", name, s)
		}
		return n
	}
	return def
}

// runRSS runs the binary under /usr/bin/time -f %M and returns its peak
// resident memory in MB (0 without /usr/bin/time). Not getrusage of the
// child: a child exec'd from this big test process reports this
// process's peak, which Linux records at the exec.
func runRSS(b *testing.B, bin string, args ...string) float64 {
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%.500s", args, err, out)
		}
		return 0
	}
	cmd := exec.Command(timeBin, append([]string{"-f", "%M", bin}, args...)...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%v: %v\n%.500s", args, err, stderr.String())
	}
	lines := strings.Fields(stderr.String())
	if len(lines) == 0 {
		return 0
	}
	kb, _ := strconv.ParseFloat(lines[len(lines)-1], 64)
	return kb / 1024
}

// writeManySessions writes n small sessions as a Telegram gateway leaves
// them (a scoped header with an alias, four messages with usage) straight
// to files: setup only.
func writeManySessions(b *testing.B, ws string, n int) {
	sd := filepath.Join(ws, workspace.SessionsDir)
	if err := os.MkdirAll(sd, 0o755); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sk_v1_%x", sha256.Sum256([]byte(strconv.Itoa(i))))
		ts := func(k int) string {
			return at.Add(time.Duration(i)*time.Minute + time.Duration(k)*time.Second).Format(time.RFC3339)
		}
		chat := fmt.Sprintf("group:-100%d", 1000000+i)
		s := fmt.Sprintf(`{"type":"session","seq":1,"at":"%s","v":1,"id":"%s","scope":{"version":1,"agent_id":"main","channel":"telegram","account":"default","dimensions":["chat","sender"],"values":{"chat":"%s","sender":"user%d"}},"aliases":["agent:main:telegram:%s"]}`+"\n", ts(0), id, chat, i%977, chat) +
			fmt.Sprintf(`{"type":"message","seq":2,"at":"%s","role":"user","content":"question number %d about the heating in the flat and what to do next","tokens":14}`+"\n", ts(1), i) +
			fmt.Sprintf(`{"type":"message","seq":3,"at":"%s","role":"assistant","content":"An answer that is a little longer than the question, as answers are.","tokens":15,"usage":{"input_tokens":40,"output_tokens":15}}`+"\n", ts(2)) +
			fmt.Sprintf(`{"type":"message","seq":4,"at":"%s","role":"user","content":"thanks","tokens":1}`+"\n", ts(3)) +
			fmt.Sprintf(`{"type":"message","seq":5,"at":"%s","role":"assistant","content":"You are welcome.","tokens":4,"usage":{"input_tokens":60,"output_tokens":4}}`+"\n", ts(4))
		if err := os.WriteFile(filepath.Join(sd, id+workspace.SessionExt), []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScaleRSS: ls of PICOSESS_BENCH_SESSIONS sessions (default 2 000)
// warm, and warm after one append (the listing log grows by a frame);
// show --limit 0 and export (markdown, json) of one session of
// PICOSESS_BENCH_MESSAGES messages (default 5 000), its context (smart,
// recent, and summarize, which summarizes it first), its first summary
// and its first search. Each reports the peak RSS of the command as
// rss-MB.
func BenchmarkScaleRSS(b *testing.B) {
	ctx := context.Background()
	bin := buildBinary(b)
	sessions := benchSize(b, "PICOSESS_BENCH_SESSIONS", 2_000)
	messages := benchSize(b, "PICOSESS_BENCH_MESSAGES", 5_000)
	lsWS := b.TempDir()
	writeManySessions(b, lsWS, sessions)
	longWS := b.TempDir()
	w, err := workspace.Open(longWS, &workspace.Options{Durability: workspace.DurabilityNever, NoConfig: true})
	if err != nil {
		b.Fatal(err)
	}
	long := longSession(b, w, "long", messages)
	w.Close()
	measure := func(b *testing.B, before func(), args ...string) {
		runRSS(b, bin, args...) // warm: the listing log, the entry file, the page cache
		var peak float64
		b.ResetTimer()
		for range b.N {
			if before != nil {
				b.StopTimer()
				before()
				b.StartTimer()
			}
			peak = max(peak, runRSS(b, bin, args...))
		}
		b.ReportMetric(peak, "rss-MB")
	}
	b.Run(fmt.Sprintf("ls/sessions=%d", sessions), func(b *testing.B) {
		measure(b, nil, "--workspace", lsWS, "ls")
	})
	b.Run(fmt.Sprintf("ls-json/sessions=%d", sessions), func(b *testing.B) {
		measure(b, nil, "--workspace", lsWS, "ls", "--json")
	})
	b.Run(fmt.Sprintf("ls-after-append/sessions=%d", sessions), func(b *testing.B) {
		w, err := workspace.Open(lsWS, &workspace.Options{Durability: workspace.DurabilityNever, NoConfig: true})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		id := fmt.Sprintf("sk_v1_%x", sha256.Sum256([]byte("0")))
		s, err := w.OpenID(id)
		if err != nil {
			b.Fatal(err)
		}
		measure(b, func() {
			if _, err := s.Append(ctx, workspace.UserMessage("", "one more")); err != nil {
				b.Fatal(err)
			}
		}, "--workspace", lsWS, "ls")
	})
	for _, c := range []struct {
		name string
		args []string
	}{
		{"show-limit-0", []string{"show", long.ID(), "--limit", "0"}},
		{"show-limit-0-json", []string{"--json", "show", long.ID(), "--limit", "0"}},
		{"export-markdown", []string{"export", long.ID()}},
		{"export-json", []string{"export", long.ID(), "--format", "json"}},
		{"context-smart", []string{"context", long.ID(), "--max-tokens", "4000", "--strategy", "smart"}},
		{"context-recent", []string{"context", long.ID(), "--max-tokens", "4000", "--strategy", "recent"}},
	} {
		b.Run(fmt.Sprintf("%s/messages=%d", c.name, messages), func(b *testing.B) {
			measure(b, nil, append([]string{"--workspace", longWS}, c.args...)...)
		})
	}
	// The first summary of the long session (it has none), by summarize
	// --force and by a context that does not fit with the summarize
	// strategy: each run on a fresh copy of the workspace.
	sumWS := filepath.Join(b.TempDir(), "w")
	fresh := func() {
		if err := os.RemoveAll(sumWS); err != nil {
			b.Fatal(err)
		}
		if err := os.CopyFS(sumWS, os.DirFS(longWS)); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"summarize", []string{"summarize", long.ID(), "--force"}},
		{"context-summarize", []string{"context", long.ID(), "--max-tokens", "4000", "--strategy", "summarize"}},
	} {
		b.Run(fmt.Sprintf("%s/messages=%d", c.name, messages), func(b *testing.B) {
			fresh()
			measure(b, fresh, append([]string{"--workspace", sumWS}, c.args...)...)
		})
	}
	// The first search of the long session: the index is built from
	// nothing (its catch-up reads all the messages) before every run.
	b.Run(fmt.Sprintf("search-first/messages=%d", messages), func(b *testing.B) {
		measure(b, func() {
			if err := os.RemoveAll(filepath.Join(longWS, workspace.IndexDir)); err != nil {
				b.Fatal(err)
			}
		}, "--workspace", longWS, "search", "realistic")
	})
}
