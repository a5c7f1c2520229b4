package migrate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/picosess/picosess/workspace"
)

// An earlier import is the same conversation when system and install
// match and it was named by the same raw key, or by another of the
// conversation's keys (a version that chose another key to name it).
func TestSameSourceOrigin(t *testing.T) {
	o := func(sys System, from, raw string, keys ...string) json.RawMessage {
		return mustJSON(origin{System: sys, From: from, RawKey: raw, Keys: keys, Rule: RuleA})
	}
	plan := o(SystemOpenClaw, "/home/a/.openclaw", "agent:main:telegram:direct:1", "agent:main:telegram:dm:1")
	for _, c := range []struct {
		have json.RawMessage
		want bool
	}{
		{o(SystemOpenClaw, "/home/a/.openclaw", "agent:main:telegram:direct:1"), true},
		{o(SystemOpenClaw, "/home/a/.openclaw", "agent:main:telegram:dm:1"), true},
		{o(SystemOpenClaw, "/home/a/.openclaw", "agent:main:telegram:dm:1", "agent:main:telegram:direct:1"), true},
		{o(SystemOpenClaw, "/home/a/.openclaw", "agent:main:telegram:direct:2"), false},
		{o(SystemOpenClaw, "/home/b/.openclaw", "agent:main:telegram:direct:1"), false},
		{o(SystemPicoClaw, "/home/a/.openclaw", "agent:main:telegram:direct:1"), false},
		{nil, false},
	} {
		if got := sameSourceOrigin(c.have, plan); got != c.want {
			t.Errorf("%s: %v, want %v", c.have, got, c.want)
		}
	}
}

// Messages another live session holds leave the plan, and so does a
// summary through one of them; resets that bound nothing go.
func TestWithoutHeld(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := func(seq int64, c string) workspace.Record {
		return workspace.Record{Type: workspace.TypeMessage, Seq: seq, Role: "user", Content: c, At: at}
	}
	ps := &PlannedSession{ID: "sk_v1_x"}
	ps.records = []workspace.Record{
		m(2, "orphan 1"), m(3, "orphan 2"),
		{Type: workspace.TypeReset, Seq: 4, Reason: workspace.ReasonImported, At: at},
		m(5, "current 1"),
		{Type: workspace.TypeSummary, Seq: 6, Text: "s", Through: 5, At: at},
		m(7, "current 2"),
	}
	ps.prov = make([]Provenance, len(ps.records))
	ps.Messages, ps.Records = 4, 6
	ps.withoutHeld([]workspace.Record{m(9, "current 1"), m(10, "current 2")}, "sk_v1_old")
	var got []string
	for _, r := range ps.records {
		got = append(got, r.Type+":"+r.Content)
	}
	// the summary stood for "current 1", which stays in the other session
	want := "message:orphan 1 message:orphan 2"
	if s := joinSpace(got); s != want {
		t.Fatalf("records %q, want %q", s, want)
	}
	if ps.records[1].Seq != 3 || ps.Records != 2 {
		t.Errorf("seqs %+v", ps.records)
	}
	if ps.Messages != 2 || len(ps.elsewhere) != 2 || ps.elsewhere[0].id != "sk_v1_old" {
		t.Errorf("messages %d, elsewhere %+v", ps.Messages, ps.elsewhere)
	}
}

func joinSpace(l []string) string {
	out := ""
	for i, s := range l {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}
