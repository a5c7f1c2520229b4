package summarize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

func TestBuildRequestCondensesToolTurns(t *testing.T) {
	longArgs := `{"query":"` + strings.Repeat("lisbon ", 60) + `"}`
	longResult := "memory/2026-04-07.md: " + strings.Repeat("flights booked for the ninth. ", 100)
	h := newHist().
		user("when is the Lisbon trip?").
		call("memory_search", longArgs, "t1").
		result("t1", longResult).
		assistant("You fly on April 9.").
		user("thanks").assistant("welcome")
	p := Select(h.recs, Settings{KeepRecent: 2})
	req := BuildRequest(p, Settings{KeepRecent: 2})
	if len(req.Messages) != 4 {
		t.Fatalf("want 4 inputs (user, call, result, reply), got %d: %+v", len(req.Messages), req.Messages)
	}
	call, res := req.Messages[1], req.Messages[2]
	if call.Tool != "memory_search" || !strings.HasPrefix(call.Text, "called memory_search({") {
		t.Fatalf("call: %+v", call)
	}
	if n := len([]rune(call.Text)); n > len("called memory_search()")+DefaultMaxToolArgsChars+1 {
		t.Fatalf("call args not shortened (%d chars): %s", n, call.Text)
	}
	if res.Tool != "memory_search" || !strings.HasPrefix(res.Text, "memory_search returned: memory/2026-04-07.md") {
		t.Fatalf("result: %+v", res)
	}
	if res.Trimmed != len(longResult)-DefaultMaxToolResultChars || !strings.Contains(res.Text, "characters trimmed") {
		t.Fatalf("result not truncated with a note: trimmed %d, %q", res.Trimmed, res.Text)
	}
	if req.From != 2 || req.Through != 5 || req.TargetTokens != DefaultSummaryTokens {
		t.Fatalf("range/target: %+v", req)
	}
}

func TestBuildRequestTrimsOversizedMessagesWithNote(t *testing.T) {
	huge := "START " + strings.Repeat("x", 20000) + " END"
	h := newHist().user(huge).assistant("ok").user("next").assistant("ok")
	req := BuildRequest(Select(h.recs, Settings{KeepRecent: 2}), Settings{KeepRecent: 2, MaxMessageChars: 1000})
	m := req.Messages[0]
	if m.Trimmed != len(huge)-1000 {
		t.Fatalf("trimmed %d, want %d", m.Trimmed, len(huge)-1000)
	}
	if !strings.HasPrefix(m.Text, "START ") || !strings.HasSuffix(m.Text, " END") {
		t.Fatalf("head and tail not kept: %q…%q", m.Text[:10], m.Text[len(m.Text)-10:])
	}
	if !strings.Contains(m.Text, "[…19010 characters trimmed…]") {
		t.Fatalf("no note: %q", m.Text[600:720])
	}
}

func TestBuildRequestFoldsPreviousSummary(t *testing.T) {
	h := newHist().turn(0).summary(3, "User grows tomatoes in Lisbon.").turn(1).turn(2)
	req := BuildRequest(Select(h.recs, Settings{KeepRecent: 2}), Settings{KeepRecent: 2})
	if req.Previous != "User grows tomatoes in Lisbon." {
		t.Fatalf("previous: %q", req.Previous)
	}
	if req.From != 5 || len(req.Messages) != 2 {
		t.Fatalf("covered messages re-sent: from %d, %d inputs", req.From, len(req.Messages))
	}
}

// failing is a summarizer that always fails.
type failing struct{ err error }

func (f failing) Summarize(context.Context, Request) (Result, error) { return Result{}, f.err }

func TestComposeFailingSummarizerChangesNothing(t *testing.T) {
	h := newHist().turn(0).turn(1).turn(2).turn(3)
	before := append([]workspace.Record(nil), h.recs...)
	boom := errors.New("model unavailable")
	rec, p, err := Compose(context.Background(), h.recs, Settings{KeepRecent: 2}, failing{boom}, nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "seq 2..7") {
		t.Fatalf("error %v should wrap the cause and name the range", err)
	}
	if rec.Type != "" || p.Through != 7 {
		t.Fatalf("a record came back: %+v (plan through %d)", rec, p.Through)
	}
	if !reflect.DeepEqual(before, h.recs) {
		t.Fatal("history was modified")
	}
	_, _, err = Compose(context.Background(), h.recs, Settings{KeepRecent: 2}, failing{}, nil)
	if !errors.Is(err, ErrEmptySummary) {
		t.Fatalf("empty result: %v", err)
	}
}

func TestComposeMakesSummaryRecord(t *testing.T) {
	h := newHist().summary(1, "Earlier the user planned a trip to Lisbon.").turn(0).turn(1).turn(2)
	c := tk(t)
	rec, p, err := Compose(context.Background(), h.recs, Settings{KeepRecent: 2}, Extractive{Counter: c}, c)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != workspace.TypeSummary || rec.Through != p.Through || p.Through != 6 || rec.By != "extractive" {
		t.Fatalf("record %+v, plan through %d", rec, p.Through)
	}
	if !strings.Contains(rec.Text, "Lisbon") {
		t.Fatalf("previous summary not folded in: %q", rec.Text)
	}
	if rec.Tokens != MessageTokens(c, SummaryMessage(rec.Text)) {
		t.Fatalf("tokens %d", rec.Tokens)
	}
	// After appending it, nothing more is due and Select has nothing.
	h.add(rec)
	if d := Due(h.recs, Settings{KeepRecent: 2, MessageThreshold: 1}, c); d.Due {
		t.Fatalf("due again right after summarizing: %+v", d)
	}
	if _, _, err := Compose(context.Background(), h.recs, Settings{KeepRecent: 2}, Extractive{}, c); !errors.Is(err, ErrNothingToSummarize) {
		t.Fatalf("second compose: %v", err)
	}
}

func TestBuildRequestMentionsMedia(t *testing.T) {
	h := newHist().
		add(workspace.Record{Role: "user", Media: []string{"media://1", "media://2"},
			Attachments: json.RawMessage(`[{"type":"image","filename":"garden.jpg"}]`)}).
		assistant("Nice tomatoes.").user("thanks").assistant("welcome")
	req := BuildRequest(Select(h.recs, Settings{KeepRecent: 2}), Settings{KeepRecent: 2})
	if got := req.Messages[0].Text; got != "[user sent 2 media item(s) and 1 attachment(s) garden.jpg]" {
		t.Fatalf("media-only user message: %q", got)
	}
}

// recording is a summarizer that keeps the requests it was given and
// answers with a summary naming the range.
type recording struct{ reqs *[]Request }

func (r recording) Summarize(_ context.Context, req Request) (Result, error) {
	*r.reqs = append(*r.reqs, req)
	return Result{Text: fmt.Sprintf("summary through %d", req.Through), By: "rec"}, nil
}

func TestComposeFoldsLongRunsInChunks(t *testing.T) {
	h := newHist().summary(1, "the very first summary")
	for i := 0; i < 60; i++ {
		h.user(fmt.Sprintf("message %d %s", i, words(40))).assistant("ok " + words(20))
	}
	c := Estimate{}
	var reqs []Request
	set := Settings{KeepRecent: 2, MaxInputTokens: 1000, SummaryTokens: 100}
	rec, p, err := Compose(context.Background(), h.recs, set, recording{&reqs}, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) < 3 {
		t.Fatalf("%d calls, want several chunks", len(reqs))
	}
	var seen []int64
	for i, r := range reqs {
		if tokens := c.Count(Transcript(r)); tokens > 1000 {
			t.Errorf("chunk %d: %d tokens over 1000", i, tokens)
		}
		want := "the very first summary"
		if i > 0 {
			want = fmt.Sprintf("summary through %d", reqs[i-1].Through)
		}
		if r.Previous != want {
			t.Errorf("chunk %d: previous %q, want %q", i, r.Previous, want)
		}
		for _, m := range r.Messages {
			seen = append(seen, m.Seq)
		}
	}
	if !reflect.DeepEqual(seen, seqsOf(p.Fold)) {
		t.Fatalf("chunks did not cover the fold exactly once, in order")
	}
	if rec.Text != fmt.Sprintf("summary through %d", p.Through) || rec.Through != p.Through {
		t.Fatalf("record %+v", rec)
	}
	// A failure in a later chunk fails the whole summary, naming the part.
	_, _, err = Compose(context.Background(), h.recs, set, &failAt{n: 2}, c)
	if err == nil || !strings.Contains(err.Error(), "part 2 of") {
		t.Fatalf("got %v", err)
	}
}

type failAt struct{ n, calls int }

func (f *failAt) Summarize(_ context.Context, req Request) (Result, error) {
	f.calls++
	if f.calls == f.n {
		return Result{}, errors.New("boom")
	}
	return Result{Text: "partial"}, nil
}
