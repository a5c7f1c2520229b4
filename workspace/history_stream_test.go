package workspace

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// HistoryStream yields what History(ctx, 0) returns, step by step through
// the fold's cases: summaries of all and of part, checkpoints, restores,
// resets, carried summaries, a corrupt line and a line over the read limit.
func TestHistoryStreamIsHistory(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{CountTokens: EstimateTokens, Durability: DurabilityNever})
	s := namedSession(t, w, "stream")
	agree := func(step string) {
		t.Helper()
		h, err := s.History(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := s.HistoryStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []Record
		if err := hs.Each(ctx, func(r Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		want := h
		want.Messages = nil
		g, _ := json.Marshal(hs.History)
		wj, _ := json.Marshal(want)
		gm, _ := json.Marshal(got)
		wm, _ := json.Marshal(h.Messages)
		if string(g) != string(wj) || string(gm) != string(wm) || hs.Len() != len(h.Messages) {
			t.Fatalf("%s:\nstream %s\n%s\nhistory %s\n%s", step, g, gm, wj, wm)
		}
		// HistoryStreamMark: the same stream, and HistoryMark's mark.
		_, wantMark, err := s.HistoryMark(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		hm, m, err := s.HistoryStreamMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if gj, _ := json.Marshal(hm.History); string(gj) != string(g) || !slices.Equal(hm.offsets, hs.offsets) || m != wantMark {
			t.Fatalf("%s: HistoryStreamMark %s %v %+v, want %s %v %+v", step, gj, hm.offsets, m, g, hs.offsets, wantMark)
		}
	}
	agree("empty")
	mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"), msg(RoleUser, "c"))
	agree("three messages")
	if _, err := s.KeepLast(ctx, 1); err != nil {
		t.Fatal(err)
	}
	agree("keep last 1")
	mustAppend(t, s, msg(RoleAssistant, "d"))
	cp, err := s.SaveCheckpoint(ctx, "two", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSummary(ctx, "all", "test"); err != nil {
		t.Fatal(err)
	}
	agree("a summary of everything")
	mustAppend(t, s, msg(RoleUser, "e"), msg(RoleAssistant, "f"), msg(RoleUser, "g"))
	agree("messages after it")
	if _, err := s.RestoreCheckpoint(ctx, cp.Name); err != nil {
		t.Fatal(err)
	}
	agree("a restore")
	mustAppend(t, s, msg(RoleUser, "h"))
	f, _ := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("{not a record\n")
	f.WriteString(`{"type":"message","seq":40,"at":"2026-01-01T00:00:00Z","role":"user","content":"` + strings.Repeat("x", DefaultMaxRecordBytes+10) + `","tokens":3}` + "\n")
	f.Close()
	agree("a corrupt line and one over the read limit")
	mustAppend(t, s, msg(RoleUser, "i"))
	agree("a message after them")
	if _, err := s.Reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	agree("a reset")
	mustAppend(t, s, Record{Type: TypeSummary, Text: "carried", By: "carried from #9"}, msg(RoleUser, "j"))
	agree("a carried summary")
}

// An error from the callback stops Each and comes back.
func TestHistoryStreamStops(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{Durability: DurabilityNever})
	s := namedSession(t, w, "stop")
	mustAppend(t, s, msg(RoleUser, "a"), msg(RoleAssistant, "b"), msg(RoleUser, "c"))
	hs, err := s.HistoryStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	errStop := os.ErrClosed
	if err := hs.Each(ctx, func(Record) error { n++; return errStop }); err != errStop || n != 1 {
		t.Fatalf("Each: %v after %d", err, n)
	}
}
