package summarize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore/redistest"
)

// TestTwoMachinesOnRedisSummarizeOnce: two OS processes, each with a
// workspace directory of its own (two "machines": their file locks are
// in different places), summarize one session of a Redis store. A is
// inside its summarizer, holding the lock, when B asks: B finds the lease
// in the store taken and does nothing. Exactly one summary is written, and
// a third machine afterwards finds nothing due. With the summarize lock a
// file of the local directory (as before), B would summarize too.
func TestTwoMachinesOnRedisSummarizeOnce(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix()
	st := redistest.OpenURL(t, url, prefix)
	ctx := context.Background()
	w, err := workspace.Open(t.TempDir(), &workspace.Options{Store: st, Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	appendTurns(t, s, 0, 12)
	env := []string{"SH_STORE_URL=" + url, "SH_STORE_PREFIX=" + prefix}
	gate := t.TempDir()
	a, aOut := startHelper(t, t.TempDir(), "shared", gate, env...)
	waitFile(t, filepath.Join(gate, fmt.Sprintf("in-%d", a.Process.Pid)))
	b, bOut := startHelper(t, t.TempDir(), "shared", gate, env...)
	if err := b.Wait(); err != nil {
		t.Fatalf("B: %v\n%s", err, bOut)
	}
	if got := strings.TrimSpace(bOut.String()); got != "busy" {
		t.Fatalf("B (another machine) while A summarizes: %q", got)
	}
	if err := os.WriteFile(filepath.Join(gate, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("A: %v\n%s", err, aOut)
	}
	if !strings.HasPrefix(aOut.String(), "summarized through ") {
		t.Fatalf("A: %q", aOut)
	}
	c, cOut := startHelper(t, t.TempDir(), "shared", gate, env...)
	if err := c.Wait(); err != nil || strings.TrimSpace(cOut.String()) != "not due" {
		t.Fatalf("C after A: %v %q", err, cOut)
	}
	if n := len(countSummaries(t, s)); n != 1 {
		t.Fatalf("%d summary records, want 1", n)
	}
	// The lease is gone once A released it.
	if n, err := st.Client().Exists(ctx, st.LeaseKey(s.ID(), "summarize")).Result(); err != nil || n != 0 {
		t.Fatalf("lease left behind: %d %v", n, err)
	}
}
