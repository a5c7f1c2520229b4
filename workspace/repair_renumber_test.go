package workspace

import (
	"context"
	"os"
	"strings"
	"testing"
)

// Two writers without the lock left seqs used twice. Check calls it
// repairable; repair renumbers into a new file (the records before the
// first conflict keep their seqs, references follow their records, bytes
// of every record kept, unknown fields included) and keeps the original
// whole; a second repair finds nothing; appends go on after it.
func TestRepairRenumbersDuplicateSeqs(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "two-writers")
	header, _ := os.ReadFile(s.Path())
	lines := []string{
		`{"type":"message","seq":2,"at":"2026-11-21T09:00:02Z","role":"user","content":"a"}`,
		`{"type":"message","seq":3,"at":"2026-11-21T09:00:03Z","role":"user","content":"b1"}`,
		`{"type":"message","seq":3,"at":"2026-11-21T09:00:03Z","role":"user","content":"c1","x_future":{"seq":3}}`,
		`{"type":"message","seq":4,"at":"2026-11-21T09:00:04Z","role":"assistant","content":"b2"}`,
		`{"type":"checkpoint","seq":4,"at":"2026-11-21T09:00:04Z","name":"cp","through":3}`,
		`{"type":"restore","seq":5,"at":"2026-11-21T09:00:05Z","checkpoint":4}`,
		`{"type":"message","seq":2,"at":"2026-11-21T09:00:06Z","role":"user","content":"went back"}`,
	}
	orig := string(header) + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(s.Path(), []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := rep.Errors(); a != 3 || b != 0 {
		t.Fatalf("check: %d repairable, %d not: %+v", a, b, rep.Files[0].Problems)
	}
	dry, err := w.Repair(ctx, RepairOptions{DryRun: true})
	if err != nil || len(dry.Renumbered) != 1 || dry.Renumbered[0].Records != 5 || dry.Renumbered[0].Aside != "" {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if b, _ := os.ReadFile(s.Path()); string(b) != orig {
		t.Fatal("the dry run changed the file")
	}
	r, err := w.Repair(ctx, RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Renumbered) != 1 || len(r.Remaining) != 0 {
		t.Fatalf("repair: %+v", r)
	}
	got := r.Renumbered[0]
	if got.Line != 4 || got.Seq != 3 || got.Records != 5 || got.References != 2 || got.LastSeq != 8 {
		t.Fatalf("renumbered %+v", got)
	}
	if b, _ := os.ReadFile(got.Aside); string(b) != orig || !strings.Contains(got.Aside, ".orig-") {
		t.Fatalf("the original is not kept whole in %s", got.Aside)
	}
	want := string(header) + strings.Join([]string{
		lines[0], lines[1],
		`{"type":"message","seq":4,"at":"2026-11-21T09:00:03Z","role":"user","content":"c1","x_future":{"seq":3}}`,
		`{"type":"message","seq":5,"at":"2026-11-21T09:00:04Z","role":"assistant","content":"b2"}`,
		`{"type":"checkpoint","seq":6,"at":"2026-11-21T09:00:04Z","name":"cp","through":4}`,
		`{"type":"restore","seq":7,"at":"2026-11-21T09:00:05Z","checkpoint":6}`,
		`{"type":"message","seq":8,"at":"2026-11-21T09:00:06Z","role":"user","content":"went back"}`,
	}, "\n") + "\n"
	if b, _ := os.ReadFile(s.Path()); string(b) != want {
		t.Fatalf("renumbered file:\n%s\nwant:\n%s", b, want)
	}
	rep, _ = w.Check(ctx)
	if !rep.Clean() || len(rep.Other) != 1 || rep.Other[0].Kind != "original" {
		t.Fatalf("after repair: %+v", rep)
	}
	if again, _ := w.Repair(ctx, RepairOptions{}); len(again.Renumbered) != 0 || len(again.SetAside) != 0 {
		t.Fatalf("second repair: %+v", again)
	}
	h, err := s.History(ctx, 0)
	if err != nil || len(h.Messages) != 5 || h.Messages[2].Content != "c1" || h.Messages[4].Content != "went back" {
		t.Fatalf("history: %+v %v", h, err)
	}
	if seqs := mustAppend(t, s, msg(RoleUser, "next")); seqs[0] != 9 {
		t.Fatalf("next append: seq %d", seqs[0])
	}
}

// setInts rewrites numbers in place and nothing else.
func TestSetInts(t *testing.T) {
	line := []byte(`{"type":"summary", "seq" : 12,"at":"x","text":"\"seq\":12","through":7,"n":{"seq":1}}`)
	got, err := setInts(line, map[string]int64{"seq": 140, "through": 9})
	if err != nil || string(got) != `{"type":"summary", "seq" : 140,"at":"x","text":"\"seq\":12","through":9,"n":{"seq":1}}` {
		t.Fatalf("%s %v", got, err)
	}
	if _, err := setInts([]byte(`{"seq":"12"}`), map[string]int64{"seq": 1}); err == nil {
		t.Fatal("a string taken for a number")
	}
}
