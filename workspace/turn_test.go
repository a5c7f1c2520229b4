package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace/config"
)

// clockAt is a settable clock.
type clockAt struct{ t time.Time }

func (c *clockAt) now() time.Time { return c.t }

func policyWorkspace(t *testing.T, doc string) (*Workspace, *clockAt) {
	t.Helper()
	cfg, _, err := config.Parse("config.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := &clockAt{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	return openTest(t, &Options{Config: cfg, Now: c.now, Location: time.UTC}), c
}

func types(t *testing.T, s *Session) string {
	t.Helper()
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs[1:] {
		x := r.Type
		if r.Type == TypeMessage {
			x = r.Role + ":" + r.Content
		}
		if r.Type == TypeReset {
			x = "reset:" + r.Reason
		}
		out = append(out, x)
	}
	return strings.Join(out, " ")
}

func turn(t *testing.T, s *Session, recs ...Record) Turn {
	t.Helper()
	tr, err := s.AppendTurn(context.Background(), recs...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestAppendTurnIdleAndDaily(t *testing.T) {
	w, c := policyWorkspace(t, `{"reset": {"idle_minutes": 60, "daily_at": "04:00", "timezone": "UTC"}}`)
	s := namedSession(t, w, "chat")
	turn(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"))
	c.t = c.t.Add(30 * time.Minute)
	if tr := turn(t, s, msg(RoleUser, "c")); tr.Reset != nil {
		t.Fatalf("30 min is not idle: %+v", tr.Reset)
	}
	c.t = c.t.Add(61 * time.Minute)
	tr := turn(t, s, msg(RoleUser, "d"), msg(RoleAssistant, "e"))
	if tr.Reset == nil || tr.Reset.Reason != ReasonIdle || !strings.Contains(tr.Reset.Rule, "idle_minutes=60 (reset.idle_minutes)") {
		t.Fatalf("idle reset: %+v", tr.Reset)
	}
	if tr.Reset.Seq != tr.Seqs[0]-1 || tr.Seqs[1] != tr.Seqs[0]+1 {
		t.Fatalf("reset must be written just before the message: %+v", tr)
	}
	// The next day, past 04:00.
	c.t = time.Date(2026, 6, 2, 4, 5, 0, 0, time.UTC)
	if tr := turn(t, s, msg(RoleUser, "f")); tr.Reset == nil || tr.Reset.Reason != ReasonIdle && tr.Reset.Reason != ReasonDaily {
		t.Fatalf("next day: %+v", tr.Reset)
	}
	want := "user:a assistant:b user:c reset:idle user:d assistant:e reset:idle user:f"
	if got := types(t, s); got != want {
		t.Fatalf("file:\n got %s\nwant %s", got, want)
	}
	recs, _ := s.ReadAll(context.Background())
	for _, r := range recs {
		if r.Type == TypeReset && r.Rule == "" {
			t.Errorf("reset record without its rule: %+v", r)
		}
	}
	// Assistant messages never reset, however late.
	c.t = c.t.Add(48 * time.Hour)
	if tr := turn(t, s, msg(RoleAssistant, "late")); tr.Reset != nil {
		t.Fatalf("assistant message reset: %+v", tr.Reset)
	}
}

func TestAppendTurnDailyOnly(t *testing.T) {
	w, c := policyWorkspace(t, `{"reset": {"daily_at": "04:00", "timezone": "UTC"}}`)
	s := namedSession(t, w, "chat")
	c.t = time.Date(2026, 6, 1, 3, 50, 0, 0, time.UTC)
	turn(t, s, msg(RoleUser, "a"))
	c.t = time.Date(2026, 6, 1, 4, 10, 0, 0, time.UTC)
	tr := turn(t, s, msg(RoleUser, "b"))
	if tr.Reset == nil || tr.Reset.Reason != ReasonDaily {
		t.Fatalf("daily: %+v", tr.Reset)
	}
	h, _ := s.History(context.Background(), 0)
	if len(h.Messages) != 1 || h.Messages[0].Content != "b" {
		t.Fatalf("active history after daily reset: %+v", h.Messages)
	}
	segs, err := s.Segments(context.Background())
	if err != nil || len(segs) != 2 {
		t.Fatalf("the old conversation stays on disk as a segment: %d %v", len(segs), err)
	}
}

func TestAppendTurnTriggers(t *testing.T) {
	w, _ := policyWorkspace(t, `{}`)
	s := namedSession(t, w, "chat")
	turn(t, s, msg(RoleUser, "hello"))
	tr := turn(t, s, msg(RoleUser, "/new"))
	if tr.Reset == nil || tr.Reset.Reason != ReasonManual || tr.Reset.Trigger != "/new" || tr.Seqs[0] != tr.Reset.Seq {
		t.Fatalf("bare trigger: %+v", tr)
	}
	tr = turn(t, s, msg(RoleUser, "/reset plan a trip to Rome"), msg(RoleAssistant, "sure"))
	if tr.Reset == nil || tr.Reset.Trigger != "/reset" || tr.Seqs[0] != tr.Reset.Seq+1 {
		t.Fatalf("trigger with text: %+v", tr)
	}
	if got, want := types(t, s), "user:hello reset:manual reset:manual user:plan a trip to Rome assistant:sure"; got != want {
		t.Fatalf("file:\n got %s\nwant %s", got, want)
	}
	recs, _ := s.ReadAll(context.Background())
	if recs[2].Trigger != "/new" || recs[3].Trigger != "/reset" {
		t.Errorf("the trigger is kept on the reset record: %+v %+v", recs[2], recs[3])
	}
	// Custom triggers replace the defaults; [] switches them off.
	w2, _ := policyWorkspace(t, `{"reset": {"triggers": []}}`)
	s2 := namedSession(t, w2, "c")
	if tr := turn(t, s2, msg(RoleUser, "/new")); tr.Reset != nil {
		t.Fatalf("triggers switched off: %+v", tr.Reset)
	}
}

func TestAppendTurnCarrySummary(t *testing.T) {
	w, c := policyWorkspace(t, `{"reset": {"idle_minutes": 5, "carry_summary": true}}`)
	s := namedSession(t, w, "chat")
	seqs := mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"))
	mustAppend(t, s, Record{Type: TypeSummary, Through: seqs[1], Text: "they said a and b"})
	c.t = c.t.Add(time.Hour)
	tr := turn(t, s, msg(RoleUser, "c"))
	if tr.Reset == nil || tr.Reset.Carried != tr.Reset.Seq+1 || tr.Seqs[0] != tr.Reset.Seq+2 {
		t.Fatalf("carry: %+v", tr.Reset)
	}
	h, _ := s.History(context.Background(), 0)
	if h.Summary == nil || h.Summary.Text != "they said a and b" || len(h.Messages) != 1 {
		t.Fatalf("new conversation starts with the carried summary: %+v", h)
	}
}

func TestAppendTurnAt(t *testing.T) {
	w, c := policyWorkspace(t, `{"reset": {"idle_minutes": 60}}`)
	s := namedSession(t, w, "chat")
	m := msg(RoleUser, "queued offline")
	m.At = c.t.Add(-time.Hour)
	turn(t, s, m) // the header is dated now; but a new file's header is written with the message
	before, _ := os.ReadFile(s.Path())
	old := msg(RoleUser, "too old")
	old.At = c.t.Add(-2 * time.Hour)
	if _, err := s.AppendTurn(context.Background(), old); !errors.Is(err, ErrTimeOrder) {
		t.Fatalf("earlier than the last record: %v", err)
	}
	after, _ := os.ReadFile(s.Path())
	if string(before) != string(after) {
		t.Fatal("a refused turn wrote something")
	}
	// Policies evaluate against the message's own time: 2 h after the
	// last message, by its time, is idle even though the clock says less.
	late := msg(RoleUser, "backfilled")
	late.At = m.At.Add(2 * time.Hour)
	c.t = late.At
	if tr := turn(t, s, late); tr.Reset == nil || tr.Reset.Reason != ReasonIdle {
		t.Fatalf("policy on the message's time: %+v", tr.Reset)
	}
}

func TestAppendToTrashedSession(t *testing.T) {
	w := openTest(t, nil)
	s := namedSession(t, w, "chat")
	mustAppend(t, s, msg(RoleUser, "a"))
	h, err := w.OpenID(s.ID())
	if err != nil {
		t.Fatal(err)
	}
	name, err := s.Delete(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Append(context.Background(), msg(RoleUser, "b"))
	if !errors.Is(err, ErrTrashed) || !strings.Contains(err.Error(), name) {
		t.Fatalf("append to a trashed session: %v", err)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatal("the append recreated the session file")
	}
}

// Two processes append a user message after an idle gap at the same
// moment: exactly one of them writes the reset.
func TestTwoProcessesAcrossABoundary(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := namedSession(t, w, "shared")
	first := msg(RoleUser, "before")
	first.At = time.Now().UTC().Add(-time.Hour)
	mustAppend(t, s, first)
	w.Close()
	for round := 0; round < 5; round++ {
		at := time.Now().UTC().Add(time.Duration(round) * 11 * time.Minute).Add(time.Hour).Format(time.RFC3339)
		start := time.Now().Add(300 * time.Millisecond).UnixMilli()
		var cmds []*exec.Cmd
		for p := 0; p < 2; p++ {
			c := helperCmd(t, fmt.Sprintf("turn %s shared %s %d r%dp%d", dir, at, start, round, p))
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, c)
		}
		for _, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatal(err)
			}
		}
	}
	recs, err := s.ReadAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resets, msgs := 0, 0
	for _, r := range recs {
		switch r.Type {
		case TypeReset:
			resets++
		case TypeMessage:
			msgs++
		}
	}
	// Each round is 11 minutes after the last (idle_minutes 10): one reset
	// per round, never two.
	if resets != 5 || msgs != 11 {
		t.Fatalf("%d resets and %d messages, want 5 and 11:\n%s", resets, msgs, types(t, s))
	}
}

// AppendTurn remembers what it wrote so the next turn decides without a
// read; a write by another handle (another process) must invalidate that.
func TestAppendTurnSeesOtherWritersAppends(t *testing.T) {
	ctx := context.Background()
	cfg, _, err := config.Parse("config.json", []byte(`{"reset": {"idle_minutes": 30}}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clock := &clockAt{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	open := func() *Session {
		w, err := Open(dir, &Options{Config: cfg, Now: clock.now, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return namedSession(t, w, "shared")
	}
	a, b := open(), open() // two workspaces: as two processes, separate caches
	turn(t, a, msg(RoleUser, "a1"))
	clock.t = clock.t.Add(20 * time.Minute)
	turn(t, b, msg(RoleUser, "b1"))
	clock.t = clock.t.Add(20 * time.Minute) // 40 min after a1, 20 after b1
	if tr := turn(t, a, msg(RoleUser, "a2")); tr.Reset != nil {
		t.Fatalf("a decided from its own last write, not b's: %+v", tr.Reset)
	}
	clock.t = clock.t.Add(31 * time.Minute)
	if tr := turn(t, a, msg(RoleUser, "a3")); tr.Reset == nil || tr.Reset.Reason != "idle" {
		t.Fatalf("31 min after a2: %+v", tr.Reset)
	}
	// A plain Append by the same handle counts too.
	clock.t = clock.t.Add(29 * time.Minute)
	if _, err := a.Append(ctx, msg(RoleAssistant, "reply")); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(29 * time.Minute)
	if tr := turn(t, a, msg(RoleUser, "a4")); tr.Reset != nil {
		t.Fatalf("29 min after the reply: %+v", tr.Reset)
	}
	if got := types(t, a); got != "user:a1 user:b1 user:a2 reset:idle user:a3 assistant:reply user:a4" {
		t.Fatalf("records: %s", got)
	}
}
