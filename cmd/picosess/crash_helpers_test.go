package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// Helpers of the crash tests (*_crash_test.go): the built binary is run as
// an operator runs it and killed with SIGKILL at a random moment; a rerun
// must complete, and what it leaves is compared record by record with
// what must be there.

// crashKills is the number of kills per crash test: PICOSESS_CRASH_KILLS,
// else def. A long run: PICOSESS_CRASH_KILLS=200 go test -run Crash ./cmd/picosess
func crashKills(def int) int {
	if n, err := strconv.Atoi(os.Getenv("PICOSESS_CRASH_KILLS")); err == nil && n > 0 {
		return n
	}
	return def
}

// crashRand is the test's random source; the seed is logged so that a
// failure can be replayed with PICOSESS_CRASH_SEED.
func crashRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("PICOSESS_CRASH_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("PICOSESS_CRASH_SEED=%d", seed)
	return rand.New(rand.NewPCG(seed, seed>>1|1))
}

// killed is what a run that was killed did.
type killed struct {
	after  time.Duration // how long it ran
	signal bool          // false: it had finished before the kill
	code   int
	stderr string
}

// runKilled starts the binary and kills it with SIGKILL after d, unless it
// ended first.
func runKilled(t *testing.T, bin string, d time.Duration, args ...string) killed {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	k := killed{after: time.Since(start), code: cmd.ProcessState.ExitCode(), stderr: errb.String()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		k.signal = true
	}
	return k
}

// timed runs the binary to its end and says how long it took.
func timed(t *testing.T, bin string, args ...string) (time.Duration, string, string, int) {
	t.Helper()
	start := time.Now()
	out, errOut, code := exitOf(t, bin, args...)
	return time.Since(start), out, errOut, code
}

// openCrashWS opens (creating) a workspace for a crash test; the test's own
// appends are not fsynced (the processes under test do their own).
func openCrashWS(t *testing.T, root string) *workspace.Workspace {
	t.Helper()
	w, err := workspace.Open(root, &workspace.Options{Durability: workspace.DurabilityNever, LockTimeout: 30 * time.Second,
		CountTokens: workspace.EstimateTokens})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// fillSessions appends per messages to each of n sessions named
// <prefix>-<i>, alternately user and assistant, each with a unique text,
// and returns the ids of the messages appended.
func fillSessions(t *testing.T, w *workspace.Workspace, prefix string, n, per int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := 0; i < n; i++ {
		s, err := w.Session(ctx, workspace.Target{Name: fmt.Sprintf("%s-%d", prefix, i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, appendN(t, s, per)...)
	}
	return ids
}

// appendN appends per messages to s and returns their ids.
func appendN(t *testing.T, s *workspace.Session, per int) []string {
	t.Helper()
	recs := make([]workspace.Record, per)
	for j := range recs {
		role := workspace.RoleUser
		if j%2 == 1 {
			role = workspace.RoleAssistant
		}
		recs[j] = workspace.Record{Type: workspace.TypeMessage, Role: role,
			Content: fmt.Sprintf("crash words %s number %d of a batch, with some more words to index", s.ID()[:14], j)}
	}
	seqs, err := s.Append(context.Background(), recs...)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(seqs))
	for j, q := range seqs {
		ids[j] = s.ID() + ":" + strconv.FormatInt(q, 10)
	}
	return ids
}

// messageIDs lists <id>:<seq> of every message with content in every live
// session file, read from the files.
func messageIDs(t *testing.T, w *workspace.Workspace) []string {
	t.Helper()
	ctx := context.Background()
	files, err := w.SessionFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		s, err := w.OpenID(f.ID)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.ReadAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Type == workspace.TypeMessage && r.Content != "" {
				ids = append(ids, f.ID+":"+strconv.FormatInt(r.Seq, 10))
			}
		}
	}
	return ids
}

// searchAll runs search '*' through the binary and returns the id of
// every hit (all pages), the exit code and stderr.
func searchAll(t *testing.T, bin, root string) (ids []string, code int, stderr string) {
	t.Helper()
	const page = 50000
	for off := 0; ; off += page {
		out, errOut, code := exitWithin(t, time.Minute, bin, "--workspace", root, "--json", "search", "*", "--limit", strconv.Itoa(page), "--offset", strconv.Itoa(off))
		stderr += errOut
		if code != 0 {
			return ids, code, stderr
		}
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var h struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(line), &h); err != nil {
				t.Fatalf("search --json line %q: %v", line, err)
			}
			ids = append(ids, h.ID)
			n++
		}
		if n < page {
			return ids, 0, stderr
		}
	}
}

// sameOnce fails unless got holds every id of want exactly once and
// nothing else.
func sameOnce(t *testing.T, what string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	var dup, extra, missing []string
	wantSet := map[string]bool{}
	for _, id := range want {
		wantSet[id] = true
		if count[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range count {
		if n > 1 {
			dup = append(dup, id)
		}
		if !wantSet[id] {
			extra = append(extra, id)
		}
	}
	if len(dup)+len(extra)+len(missing) > 0 {
		sort.Strings(dup)
		sort.Strings(extra)
		sort.Strings(missing)
		t.Fatalf("%s: %d ids, want %d: %d twice %v, %d not expected %v, %d missing %v", what, len(got), len(want),
			len(dup), head(dup), len(extra), head(extra), len(missing), head(missing))
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// treeFiles lists the regular files under dir, relative, with their bytes.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// mustOpen opens the session named name.
func mustOpen(t *testing.T, w *workspace.Workspace, name string) *workspace.Session {
	t.Helper()
	s, err := w.Session(context.Background(), workspace.Target{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// exitWithin is exitOf for a run that must end within d: past it, the
// process gets SIGQUIT (a Go program prints every goroutine's stack) and
// the test fails with what it printed.
func exitWithin(t *testing.T, d time.Duration, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-done
		t.Fatalf("%v did not end within %v; its stacks:\n%s", args, d, errb.String())
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}
