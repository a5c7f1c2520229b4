package main

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

// BenchmarkCLIAppendVsVersion runs the built binary: `picosess append` of
// a short user message (default config: real tiktoken counts, durability
// always, the lifecycle policy) and `picosess version`, alternating so
// both see the same machine, and reports the p50 of each and their ratio.
// One op is one of each.
func BenchmarkCLIAppendVsVersion(b *testing.B) {
	bin := buildBinary(b)
	ws := b.TempDir()
	run := func(args ...string) time.Duration {
		t0 := time.Now()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
		return time.Since(t0)
	}
	run("--workspace", ws, "append", "--session", "bench", "--role", "user", "--content", "first")
	var app, ver []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		app = append(app, run("--workspace", ws, "append", "--session", "bench", "--role", "user",
			"--content", "Can you remind me what time the dentist is on Friday?"))
		ver = append(ver, run("version"))
	}
	b.StopTimer()
	pa, pv := median(app), median(ver)
	b.ReportMetric(float64(pa.Microseconds()), "append-p50-us")
	b.ReportMetric(float64(pv.Microseconds()), "version-p50-us")
	b.ReportMetric(float64(pa)/float64(pv), "x-version")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
