package summarize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
	"github.com/picosess/picosess/workspace/redisstore"
)

func openSession(t testing.TB, root, name string) *workspace.Session {
	t.Helper()
	w, err := workspace.Open(root, &workspace.Options{Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	s, err := w.Session(context.Background(), workspace.Target{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// appendTurns appends n user/assistant turns, every third with a tool call.
func appendTurns(t testing.TB, s *workspace.Session, from, n int) {
	t.Helper()
	var recs []workspace.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser,
			Content: fmt.Sprintf("Question %d: is the Lisbon flight on day %d still booked?", i, i)})
		if i%3 == 0 {
			id := fmt.Sprintf("call_%d", i)
			recs = append(recs,
				workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant,
					ToolCalls: json.RawMessage(`[{"id":"` + id + `","type":"function","function":{"name":"bookings","arguments":"{}"}}]`)},
				workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleTool, ToolCallID: id, Content: "TP1353 confirmed"})
		}
		recs = append(recs, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant,
			Content: fmt.Sprintf("Yes, flight %d is confirmed for day %d.", i, i)})
	}
	if _, err := s.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func countSummaries(t testing.TB, s *workspace.Session) []workspace.Record {
	t.Helper()
	all, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []workspace.Record
	for _, r := range all {
		if r.Type == workspace.TypeSummary {
			out = append(out, r)
		}
	}
	return out
}

func TestMaybeAppendsSummaryAndKeepsRawMessages(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "maybe")
	appendTurns(t, s, 0, 6) // 6*2 + 2 tool turns*2 = 16 messages
	k := &Compactor{}
	o, err := k.Maybe(ctx, s)
	if err != nil || o.Summarized || o.Decision.Due {
		t.Fatalf("16 messages should not be due: %+v %v", o, err)
	}
	appendTurns(t, s, 6, 2) // 16 + 5 = 21
	before := readFile(t, s.Path())
	o, err = k.Maybe(ctx, s)
	if err != nil || !o.Summarized {
		t.Fatalf("not summarized: %+v %v", o, err)
	}
	after := readFile(t, s.Path())
	if !bytes.HasPrefix(after, before) {
		t.Fatal("raw history was rewritten")
	}
	sums := countSummaries(t, s)
	if len(sums) != 1 || sums[0].Seq != o.Summary.Seq || sums[0].Through != o.Decision.Plan.Through || sums[0].By != "extractive" || sums[0].Tokens == 0 {
		t.Fatalf("summary records %+v, outcome %+v", sums, o.Summary)
	}
	h, _ := s.History(ctx, 0)
	if h.Summary == nil || h.Summary.Seq != o.Summary.Seq || len(h.Messages) < DefaultKeepRecent || h.Messages[0].Role != workspace.RoleUser {
		t.Fatalf("active history after summary: %+v", h)
	}
	// Not due again, and Maybe does nothing.
	o, err = k.Maybe(ctx, s)
	if err != nil || o.Summarized {
		t.Fatalf("second Maybe: %+v %v", o, err)
	}
	// Forced summaries fold what is left above keep_recent, then stop.
	for i := 0; ; i++ {
		_, err := k.Summarize(ctx, s)
		if errors.Is(err, ErrNothingToSummarize) {
			break
		}
		if err != nil || i == 3 {
			t.Fatalf("forced summary %d: %v", i, err)
		}
	}
	if h, _ := s.History(ctx, 0); len(h.Messages) < DefaultKeepRecent {
		t.Fatalf("forced summaries kept %d messages", len(h.Messages))
	}
}

func TestMaybeFailingSummarizerLeavesSessionUnchanged(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "failing")
	appendTurns(t, s, 0, 12)
	before := readFile(t, s.Path())
	boom := errors.New("endpoint down")
	_, err := (&Compactor{Summarizer: failing{boom}}).Maybe(ctx, s)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), s.ID()) {
		t.Fatalf("got %v", err)
	}
	if !bytes.Equal(before, readFile(t, s.Path())) {
		t.Fatal("session file changed after a failed summary")
	}
	// The lock was released: a working summarizer succeeds now.
	if o, err := (&Compactor{}).Maybe(ctx, s); err != nil || !o.Summarized {
		t.Fatalf("after failure: %+v %v", o, err)
	}
}

// resetting is a summarizer during whose work "another process" resets
// the session.
type resetting struct{ s *workspace.Session }

func (r resetting) Summarize(ctx context.Context, req Request) (Result, error) {
	if _, err := r.s.Reset(ctx, workspace.ReasonManual); err != nil {
		return Result{}, err
	}
	return Result{Text: "stale summary", By: "test"}, nil
}

func TestSummaryOfAChangedSessionIsNotWritten(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "stale")
	appendTurns(t, s, 0, 12)
	_, err := (&Compactor{Summarizer: resetting{s}}).Maybe(ctx, s)
	if !errors.Is(err, ErrStale) {
		t.Fatalf("got %v", err)
	}
	if n := len(countSummaries(t, s)); n != 0 {
		t.Fatalf("%d summary records written", n)
	}
}

func TestMaybeIsBusyWhileAnotherHolderSummarizes(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "busy")
	appendTurns(t, s, 0, 12)
	_, unlock, ok, err := lockSummarize(ctx, s)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	o, err := (&Compactor{}).Maybe(ctx, s)
	if err != nil || !o.Busy || o.Summarized {
		t.Fatalf("got %+v %v", o, err)
	}
	unlock()
	if holder := string(readFile(t, SummarizeLockPath(s))); !strings.HasPrefix(holder, fmt.Sprintf("pid %d ", os.Getpid())) {
		t.Fatalf("lock file does not name its holder: %q", holder)
	}
}

const sessionHelperEnv = "PICOSESS_SUMMARIZE_SESSION_HELPER"

// gated is a summarizer that announces it started (a file "in-<pid>") and
// then waits for the file "go" before answering.
type gated struct{ dir string }

func (g gated) Summarize(ctx context.Context, req Request) (Result, error) {
	if err := os.WriteFile(filepath.Join(g.dir, fmt.Sprintf("in-%d", os.Getpid())), nil, 0o644); err != nil {
		return Result{}, err
	}
	for {
		if _, err := os.Stat(filepath.Join(g.dir, "go")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return Extractive{}.Summarize(ctx, req)
}

// sessionHelper runs Maybe in a child process and prints its outcome.
// Arguments come in the environment: root, session name, gate dir.
func sessionHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := &workspace.Options{Durability: workspace.Durability(os.Getenv("SH_DURABILITY"))}
	if u := os.Getenv("SH_STORE_URL"); u != "" {
		// A "machine" of its own on a shared store (store_lock_test.go).
		st, err := redisstore.Open(ctx, u, &redisstore.Options{Prefix: os.Getenv("SH_STORE_PREFIX")})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer st.Close()
		opts.Store = st
	}
	w, err := workspace.Open(os.Getenv("SH_ROOT"), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: os.Getenv("SH_NAME")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if every := os.Getenv("SH_APPEND_EVERY"); every != "" {
		return appendHelper(ctx, s, every) // see stall_bench_test.go
	}
	o, err := (&Compactor{Summarizer: gated{os.Getenv("SH_GATE")}}).Maybe(ctx, s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch {
	case o.Busy:
		fmt.Println("busy")
	case o.Summarized:
		fmt.Printf("summarized through %d\n", o.Summary.Through)
	default:
		fmt.Println("not due")
	}
	return 0
}

func startHelper(t *testing.T, root, name, gate string, env ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), sessionHelperEnv+"=1", "SH_ROOT="+root, "SH_NAME="+name, "SH_GATE="+gate), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// TestTwoProcessesNeverSummarizeTheSameRangeTwice: process A is inside its
// summarizer (holding the summarize lock) when process B asks; B must not
// summarize. After A writes its summary, a third process finds nothing due.
func TestTwoProcessesNeverSummarizeTheSameRangeTwice(t *testing.T) {
	root, gate := t.TempDir(), t.TempDir()
	s := openSession(t, root, "two")
	appendTurns(t, s, 0, 12)

	a, aOut := startHelper(t, root, "two", gate)
	waitFile(t, filepath.Join(gate, fmt.Sprintf("in-%d", a.Process.Pid)))
	b, bOut := startHelper(t, root, "two", gate)
	if err := b.Wait(); err != nil {
		t.Fatalf("B: %v\n%s", err, bOut)
	}
	if got := strings.TrimSpace(bOut.String()); got != "busy" {
		t.Fatalf("B while A summarizes: %q", got)
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
	c, cOut := startHelper(t, root, "two", gate)
	if err := c.Wait(); err != nil || strings.TrimSpace(cOut.String()) != "not due" {
		t.Fatalf("C after A: %v %q", err, cOut)
	}
	if n := len(countSummaries(t, s)); n != 1 {
		t.Fatalf("%d summary records, want 1", n)
	}
}

// TestTwoProcessesRacing starts both at once, released together: whatever
// the interleaving, exactly one summary is written.
func TestTwoProcessesRacing(t *testing.T) {
	root, gate := t.TempDir(), t.TempDir()
	s := openSession(t, root, "race")
	appendTurns(t, s, 0, 12)
	if err := os.WriteFile(filepath.Join(gate, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a, aOut := startHelper(t, root, "race", gate)
	b, bOut := startHelper(t, root, "race", gate)
	errA, errB := a.Wait(), b.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("A %v %s / B %v %s", errA, aOut, errB, bOut)
	}
	outs := aOut.String() + bOut.String()
	if strings.Count(outs, "summarized through") != 1 {
		t.Fatalf("outcomes:\n%s", outs)
	}
	if n := len(countSummaries(t, s)); n != 1 {
		t.Fatalf("%d summary records, want 1", n)
	}
}

func TestSessionContextReadsTailAndSummarizesWhenOver(t *testing.T) {
	ctx := context.Background()
	s := openSession(t, t.TempDir(), "ctx")
	appendTurns(t, s, 0, 100)
	k := &Compactor{Settings: Settings{MessageThreshold: Disabled, TokenPercent: Disabled}}
	got, err := k.Context(ctx, s, Budget{MaxTokens: 300, Strategy: StrategyRecent})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens > 300 || got.Omitted == 0 || CheckToolPairs(got.Messages) != nil || len(got.Messages) == 0 {
		t.Fatalf("recent: %+v", got)
	}
	if last := got.Messages[len(got.Messages)-1]; last.Content != "Yes, flight 99 is confirmed for day 99." {
		t.Fatalf("last message %+v", last)
	}
	if len(countSummaries(t, s)) != 0 {
		t.Fatal("recent strategy wrote a summary")
	}
	// The whole history fits a big budget, read in widening tails.
	all, err := k.Context(ctx, s, Budget{MaxTokens: 1 << 20, Strategy: StrategyRecent})
	if err != nil || all.Omitted != 0 || all.Available != 268 {
		t.Fatalf("big budget: available %d omitted %d %v", all.Available, all.Omitted, err)
	}
	// summarize: over budget, so it summarizes first, then sends the
	// summary and what fits.
	got, err = k.Context(ctx, s, Budget{MaxTokens: 600, Strategy: StrategySummarize})
	if err != nil {
		t.Fatal(err)
	}
	if len(countSummaries(t, s)) != 1 || got.SummaryTokens == 0 || got.Messages[0].Role != "system" || got.Tokens > 600 {
		t.Fatalf("summarize strategy: %+v", got)
	}
}

func TestFromConfig(t *testing.T) {
	cfg, warnings, err := workspace.ParseConfig("config.json", []byte(`{
  "summarize": {"message_threshold": 7, "keep_recent": 0, "encoding": "estimate",
                "summarizer": {"kind": "command", "command": ["sum", "--fast"], "timeout": "5s", "modle": "x"}},
  "limits": {"max_tokens": 7}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "summarize.summarizer.modle: unknown field") {
		t.Errorf("warnings %q, want one for summarize.summarizer.modle", warnings)
	}
	s, err := FromConfig(cfg.Agent("main"))
	if err != nil {
		t.Fatal(err)
	}
	if s.MessageThreshold != 7 || s.KeepRecent != Disabled || s.Counter != CounterEstimate || s.Limits.MaxTokens != 7 ||
		s.Summarizer.Kind != KindCommand || s.Summarizer.Timeout != Duration(5*time.Second) {
		t.Fatalf("got %+v", s)
	}
	_, err = FromConfig(workspace.AgentConfig{Summarize: Settings{Summarizer: SummarizerSettings{Kind: KindOpenAI}}})
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "summarize.summarizer.base_url") {
		t.Fatalf("openai without base_url: %v", err)
	}
	k, err := NewCompactor(Settings{Counter: CounterEstimate})
	if err != nil || k.Counter.Name() != "estimate" {
		t.Fatalf("NewCompactor: %+v %v", k, err)
	}
}

func TestTokenFuncStoresWhatTheBuilderCounts(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	c := tk(t)
	w, err := workspace.Open(root, &workspace.Options{CountTokens: TokenFunc(c), Durability: workspace.DurabilityNever})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, workspace.Target{Name: "tokens"})
	if err != nil {
		t.Fatal(err)
	}
	appendTurns(t, s, 0, 3)
	got, err := (&Compactor{Counter: Estimate{}}).Context(ctx, s, Budget{MaxTokens: 10000})
	if err != nil {
		t.Fatal(err)
	}
	// Stored counts (tiktoken) are used, not recounted with the estimate.
	if got.Tokens != sumTokens(c, got.Messages) {
		t.Fatalf("tokens %d, tiktoken recount %d", got.Tokens, sumTokens(c, got.Messages))
	}
}

// BenchmarkSessionContext100k: a 100 000-message session. The recent
// strategy reads only the tail of the unsummarized session; smart and
// summarize run on the same session once a summary covers all but its last
// 200 messages.
func BenchmarkSessionContext100k(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	s := openSession(b, root, "big")
	for i := 0; i < 37500; i += 3750 {
		appendTurns(b, s, i, 3750)
	}
	h, _ := s.History(ctx, 0)
	n := len(h.Messages)
	if n < 100000 {
		b.Fatalf("only %d messages", n)
	}
	fi, _ := os.Stat(s.Path())
	b.Logf("%d messages, %d MB", n, fi.Size()>>20)
	k := &Compactor{Settings: Settings{MessageThreshold: Disabled, TokenPercent: Disabled}}
	budget := 4000
	b.Run("recent", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Context(ctx, s, Budget{MaxTokens: budget, Strategy: StrategyRecent}); err != nil {
				b.Fatal(err)
			}
		}
	})
	through := h.Messages[n-200].Seq
	if _, err := s.Append(ctx, workspace.Record{Type: workspace.TypeSummary, Through: through, Text: "The user checks Lisbon flights every day.", By: "bench"}); err != nil {
		b.Fatal(err)
	}
	for _, st := range []Strategy{StrategySmart, StrategySummarize} {
		b.Run(string(st)+"-summarized", func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Context(ctx, s, Budget{MaxTokens: budget, Strategy: st}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
