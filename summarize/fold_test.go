package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// during is a summarizer that does something to the session ("another
// process" at work) the first time it is called, then summarizes as the
// extractive one does.
type during struct {
	once sync.Once
	do   func(ctx context.Context) error
	err  error
}

func (d *during) Summarize(ctx context.Context, req Request) (Result, error) {
	d.once.Do(func() { d.err = d.do(ctx) })
	if d.err != nil {
		return Result{}, d.err
	}
	return Extractive{}.Summarize(ctx, req)
}

// TestAppendsWhileSummarizingStayActive: messages appended while the
// summarizer runs (which they can: no lock is held meanwhile) are not in
// the summary and stay in the active history after it.
func TestAppendsWhileSummarizingStayActive(t *testing.T) {
	ctx := context.Background()
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			s := openSession(t, t.TempDir(), "landing")
			appendTurns(t, s, 0, 12)
			var landed []int64
			sz := &during{do: func(ctx context.Context) error {
				var err error
				landed, err = s.Append(ctx,
					workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "Zanzibar question landed meanwhile."},
					workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant, Content: "Zanzibar answer landed meanwhile."})
				return err
			}}
			k := &Compactor{Summarizer: sz}
			run := k.Maybe
			if force {
				run = k.Summarize
			}
			o, err := run(ctx, s)
			if err != nil || !o.Summarized {
				t.Fatalf("%+v %v", o, err)
			}
			if len(landed) != 2 || o.Summary.Through >= landed[0] || o.Summary.Seq <= landed[1] {
				t.Fatalf("summary seq %d through %d, landed %v", o.Summary.Seq, o.Summary.Through, landed)
			}
			if strings.Contains(o.Summary.Text, "Zanzibar") {
				t.Fatalf("the summary folds what landed meanwhile:\n%s", o.Summary.Text)
			}
			h, err := s.History(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if h.Summary == nil || h.Summary.Seq != o.Summary.Seq {
				t.Fatalf("active summary %+v", h.Summary)
			}
			n := len(h.Messages)
			if n < 2 || h.Messages[n-2].Seq != landed[0] || h.Messages[n-1].Seq != landed[1] ||
				h.Messages[0].Seq != o.Summary.Through+1 {
				t.Fatalf("active messages %v, summary through %d, landed %v", seqsOf(h.Messages), o.Summary.Through, landed)
			}
		})
	}
}

// TestSummaryMadeStaleMeanwhileIsNotWritten: what changes the fold while
// the summarizer runs makes its summary stale, and nothing is written.
func TestSummaryMadeStaleMeanwhileIsNotWritten(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// setup runs before the summary; change while the summarizer runs.
		setup  func(t *testing.T, s *workspace.Session)
		change func(ctx context.Context, s *workspace.Session) error
		// summaries is how many summary records the file then holds.
		summaries int
		why       string // in the error
	}{
		{name: "reset", why: "reset meanwhile", change: func(ctx context.Context, s *workspace.Session) error {
			_, err := s.Reset(ctx, workspace.ReasonManual)
			return err
		}},
		{name: "another summary", summaries: 1, why: "another summary", change: func(ctx context.Context, s *workspace.Session) error {
			h, err := s.History(ctx, 0)
			if err != nil {
				return err
			}
			_, err = s.Append(ctx, workspace.Record{Type: workspace.TypeSummary, Through: h.Messages[3].Seq, Text: "theirs", By: "other"})
			return err
		}},
		{name: "restore", why: "restored meanwhile", setup: func(t *testing.T, s *workspace.Session) {
			appendTurns(t, s, 0, 12)
			if _, err := s.SaveCheckpoint(ctx, "before", ""); err != nil {
				t.Fatal(err)
			}
			appendTurns(t, s, 100, 4)
		}, change: func(ctx context.Context, s *workspace.Session) error {
			_, err := s.RestoreCheckpoint(ctx, "before")
			return err
		}},
		{name: "result of a folded tool call", why: "answers tool call call_slow", setup: func(t *testing.T, s *workspace.Session) {
			// An early call whose result has not come yet: Select may
			// fold it.
			if _, err := s.Append(ctx,
				workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "Start the long export."},
				workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleAssistant,
					ToolCalls: json.RawMessage(`[{"id":"call_slow","type":"function","function":{"name":"export","arguments":"{}"}}]`)}); err != nil {
				t.Fatal(err)
			}
			appendTurns(t, s, 0, 12)
		}, change: func(ctx context.Context, s *workspace.Session) error {
			_, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleTool, ToolCallID: "call_slow", Content: "export done"})
			return err
		}},
		{name: "file replaced", why: "no longer continues", change: func(ctx context.Context, s *workspace.Session) error {
			b, err := os.ReadFile(s.Path())
			if err != nil {
				return err
			}
			if err := os.WriteFile(s.Path()+".new", b, 0o644); err != nil {
				return err
			}
			return os.Rename(s.Path()+".new", s.Path())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openSession(t, t.TempDir(), "stale")
			if tc.setup != nil {
				tc.setup(t, s)
			} else {
				appendTurns(t, s, 0, 12)
			}
			before := len(countSummaries(t, s))
			sz := &during{do: func(ctx context.Context) error { return tc.change(ctx, s) }}
			o, err := (&Compactor{Summarizer: sz}).Maybe(ctx, s)
			if sz.err != nil {
				t.Fatalf("the change failed: %v", sz.err)
			}
			if !errors.Is(err, ErrStale) || o.Summarized || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("got summarized %v (%s) %v, want ErrStale saying %q", o.Summarized, o.Decision.Reason, err, tc.why)
			}
			if n := len(countSummaries(t, s)); n != before+tc.summaries {
				t.Fatalf("%d summary records, want %d", n, before+tc.summaries)
			}
		})
	}
}

func TestStillHolds(t *testing.T) {
	h := newHist().user("a").call("lookup", "{}", "c1").user("b").assistant("c").user("d").assistant("e").user("f").assistant("g").user("h").assistant("i")
	p := Select(h.recs, Settings{KeepRecent: 2})
	if p.Empty() || p.Through < 3 {
		t.Fatalf("plan %+v", p)
	}
	next := newHist()
	next.seq = lastSeq(h.recs)
	for _, tc := range []struct {
		name  string
		since []workspace.Record
		stale string
	}{
		{"nothing", nil, ""},
		{"messages", newHistFrom(h).user("j").assistant("k").recs, ""},
		{"a title", []workspace.Record{{Type: workspace.TypeTitle, Text: "t"}}, ""},
		{"a summary", newHistFrom(h).user("j").summary(2, "s").recs, "another summary"},
		{"a reset", []workspace.Record{{Type: workspace.TypeReset, Seq: 40}}, "reset"},
		{"a restore", []workspace.Record{{Type: workspace.TypeRestore, Seq: 40, Checkpoint: 5}}, "restored"},
		{"a result of a folded call", newHistFrom(h).result("c1", "r").recs, "answers tool call c1"},
		{"a result of a new call of the same id", newHistFrom(h).call("lookup", "{}", "c1").result("c1", "r").recs, ""},
		{"a result of another call", newHistFrom(h).call("lookup", "{}", "c2").result("c2", "r").recs, ""},
	} {
		err := stillHolds(p, tc.since)
		switch {
		case tc.stale == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.stale != "" && (!errors.Is(err, ErrStale) || !strings.Contains(err.Error(), tc.stale)):
			t.Errorf("%s: got %v, want ErrStale saying %q", tc.name, err, tc.stale)
		}
	}
}

// newHistFrom continues the seqs of h in a new, empty history.
func newHistFrom(h *hist) *hist { return &hist{seq: h.seq} }

// readCount is a filesystem that counts the bytes read from session files:
// those of the append path (files opened for appending, under the
// session's lock) apart.
type readCount struct {
	workspace.OSFS
	mu             sync.Mutex
	locked, others int64
}

type readCountFile struct {
	workspace.File
	fs     *readCount
	locked bool
}

func (c *readCount) OpenFile(name string, flag int, perm fs.FileMode) (workspace.File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, workspace.SessionExt) {
		return f, err
	}
	return &readCountFile{File: f, fs: c, locked: flag&os.O_APPEND != 0}, nil
}

func (f *readCountFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.count(n)
	return n, err
}

func (f *readCountFile) Read(b []byte) (int, error) {
	n, err := f.File.Read(b)
	f.count(n)
	return n, err
}

func (f *readCountFile) count(n int) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.locked {
		f.fs.locked += int64(n)
	} else {
		f.fs.others += int64(n)
	}
}

func (c *readCount) take() (locked, others int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	locked, others, c.locked, c.others = c.locked, c.others, 0, 0
	return locked, others
}

// TestSummarizeReadsOnceAndLittleUnderTheLock: one summary folds the
// active history once, without the lock, and reads its messages twice
// more (the decision, then the summarizer's requests: fold_stream.go,
// which holds no more than one part of them); under the session's lock it
// reads only around the end of its read (not the history, as AppendIf
// did: that stalled every writer of a long session).
func TestSummarizeReadsOnceAndLittleUnderTheLock(t *testing.T) {
	ctx := context.Background()
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			rc := &readCount{}
			w, err := workspace.Open(t.TempDir(), &workspace.Options{Durability: workspace.DurabilityNever, FS: rc, CountTokens: TokenFunc(Estimate{})})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s, err := w.Session(ctx, workspace.Target{Name: "once"})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3000; i += 500 {
				appendTurns(t, s, i, 500)
			}
			fi, err := os.Stat(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			rc.take()
			k := &Compactor{}
			run := k.Maybe
			if force {
				run = k.Summarize
			}
			if o, err := run(ctx, s); err != nil || !o.Summarized {
				t.Fatalf("%+v %v", o.Decision, err)
			}
			locked, others := rc.take()
			if others > fi.Size()*13/4 {
				t.Errorf("read %d bytes of a %d-byte session without the lock: more than one fold and two passes", others, fi.Size())
			}
			if locked > 256<<10 {
				t.Errorf("read %d bytes of a %d-byte session under its lock", locked, fi.Size())
			}
		})
	}
}

// plainCounter hides the type of the counter it wraps (so that Extractive
// counts every unit it reaches, without a floor).
type plainCounter struct{ Counter }

// TestExtractiveCountsLazilyWithTheSameResult: skipping the units whose
// floor is over the budget left changes nothing.
func TestExtractiveCountsLazilyWithTheSameResult(t *testing.T) {
	ctx := context.Background()
	c := tk(t)
	reqs := []Request{gardenRequest(), conversation(200), conversation(2000)}
	for _, req := range reqs {
		for _, budget := range []int{5, 40, 80, 512, 4000} {
			req.TargetTokens = budget
			lazy, err1 := Extractive{Counter: c}.Summarize(ctx, req)
			eager, err2 := Extractive{Counter: plainCounter{c}}.Summarize(ctx, req)
			if lazy.Text != eager.Text || (err1 == nil) != (err2 == nil) {
				t.Fatalf("%d messages, budget %d: lazy and eager differ:\n%s\n---\n%s", len(req.Messages), budget, lazy.Text, eager.Text)
			}
		}
	}
}

// TestWordCountIsATiktokenFloor: the floor Extractive skips units by never
// exceeds the count, on text of every kind.
func TestWordCountIsATiktokenFloor(t *testing.T) {
	c := tk(t)
	texts := []string{
		"", " ", "a", "user: hello world", "  leading and trailing  ", "tab\tseparated\nnew\r\nlines",
		"don't won't it's", "ünïcödé wörds", "東京都に住んでいます。 日本語 の 文", "emoji 🎉🎉 party 👍",
		"x=1; y = f(x) // comment", `{"query":"Lisbon trip dates","n":3}`, "1234567890 12 1 123456",
		"a.b.c.d e-f-g h/i/j", "!!! ??? ... ---", "\u00a0nbsp\u00a0separated\u2003em space", "\u0085next line",
		strings.Repeat("word ", 300), strings.Repeat("ab", 500),
	}
	for _, text := range append(texts, fullText(gardenRequest())) {
		if f, n := wordCount(text), c.Count(text); f > n {
			t.Errorf("%q: floor %d over the count %d", text, f, n)
		}
	}
}

// TestMaybeBetweenReadAndLock: what lands between Maybe's lock-free read
// and its taking the summarize lock. Messages only: the read still holds
// and is not made again (after the lock only the folded messages are read,
// once, for the summarizer). A summary (another process summarized
// meanwhile): Maybe folds and reads again, finds nothing due, and writes
// nothing.
func TestMaybeBetweenReadAndLock(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { beforeLock = nil })
	for _, tc := range []struct {
		name       string
		land       func(s *workspace.Session) error
		summarized bool
		summaries  int
	}{
		{"messages", func(s *workspace.Session) error {
			_, err := s.Append(ctx, workspace.Record{Type: workspace.TypeMessage, Role: workspace.RoleUser, Content: "one more"})
			return err
		}, true, 1},
		{"a summary", func(s *workspace.Session) error {
			_, err := (&Compactor{}).Summarize(ctx, s)
			return err
		}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &readCount{}
			w, err := workspace.Open(t.TempDir(), &workspace.Options{Durability: workspace.DurabilityNever, FS: rc})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s, err := w.Session(ctx, workspace.Target{Name: "between"})
			if err != nil {
				t.Fatal(err)
			}
			appendTurns(t, s, 0, 300)
			fi, _ := os.Stat(s.Path())
			var landErr error
			beforeLock = func(s *workspace.Session) {
				beforeLock = nil // the nested Summarize must not land again
				landErr = tc.land(s)
				rc.take()
			}
			o, err := (&Compactor{}).Maybe(ctx, s)
			_, others := rc.take()
			if landErr != nil {
				t.Fatal(landErr)
			}
			if err != nil || o.Summarized != tc.summarized {
				t.Fatalf("summarized %v (%s), %v", o.Summarized, o.Decision.Reason, err)
			}
			if n := len(countSummaries(t, s)); n != tc.summaries {
				t.Fatalf("%d summaries, want %d", n, tc.summaries)
			}
			// Read again, the history would be folded and read twice
			// before the summarizer's pass. (With a summary landed, that
			// it was read again is the outcome: nothing due, no error; a
			// summary made from the old read would be stale.)
			if read := others > fi.Size()*2; tc.summarized && read {
				t.Fatalf("read %d bytes of %d after the lock: the history was read again", others, fi.Size())
			}
		})
	}
}
