package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/picosess/picosess/keying"
)

var keyingNamedID = keying.NamedID

// validationSession is a session with (seqs): 2 user "one", 3 assistant
// "two", 4 checkpoint "cp" through 3, 5 checkpoint "old" through 3,
// 6 checkpoint_delete of 5, 7 title, 8 reset, 9 user "three",
// 10 assistant "four", 11 checkpoint "cp" (supersedes 4) through 10.
func validationSession(t *testing.T, o *Options) (*Workspace, *Session) {
	t.Helper()
	w := openTest(t, o)
	s := namedSession(t, w, "validation")
	ctx := context.Background()
	mustAppend(t, s, msg(RoleUser, "one"), msg(RoleAssistant, "two"))
	if _, err := s.SaveCheckpoint(ctx, "cp", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveCheckpoint(ctx, "old", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCheckpoint(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, Record{Type: TypeTitle, Text: "t"}, Record{Type: TypeReset, Reason: ReasonManual},
		msg(RoleUser, "three"), msg(RoleAssistant, "four"))
	if cp, err := s.SaveCheckpoint(ctx, "cp", ""); err != nil || cp.Seq != 11 {
		t.Fatalf("checkpoint %v, %v", cp, err)
	}
	return w, s
}

// Records that mean nothing in the session are refused by Append, naming
// the record and the field; nothing of the call is written. Those that
// mean something are written.
func TestAppendValidatesRecords(t *testing.T) {
	ctx := context.Background()
	m := func(c string) Record { return msg(RoleUser, c) }
	cases := []struct {
		name  string
		recs  []Record
		field string // "" = accepted
		is    error
	}{
		{"seq given", []Record{{Type: TypeMessage, Role: RoleUser, Content: "x", Seq: 12}}, "seq", ErrInvalidRecord},
		{"restore of a live checkpoint", []Record{{Type: TypeRestore, Checkpoint: 11}}, "", nil},
		{"restore of a message", []Record{{Type: TypeRestore, Checkpoint: 9}}, "checkpoint", ErrInvalidRecord},
		{"restore of no record", []Record{{Type: TypeRestore, Checkpoint: 99}}, "checkpoint", ErrInvalidRecord},
		{"restore of a deleted checkpoint", []Record{{Type: TypeRestore, Checkpoint: 5}}, "checkpoint", ErrInvalidRecord},
		{"restore of a superseded checkpoint", []Record{{Type: TypeRestore, Checkpoint: 4}}, "checkpoint", ErrInvalidRecord},
		{"restore with no checkpoint", []Record{{Type: TypeRestore}}, "checkpoint", ErrInvalidRecord},
		{"restore of a checkpoint of the same call", []Record{m("x"), {Type: TypeCheckpoint, Name: "n", Through: 12}, m("y"), {Type: TypeRestore, Checkpoint: 13}}, "", nil},
		{"restore of a checkpoint deleted in the call", []Record{{Type: TypeCheckpointDelete, Checkpoint: 11}, {Type: TypeRestore, Checkpoint: 11}}, "checkpoint", ErrInvalidRecord},
		{"checkpoint_delete of a title", []Record{{Type: TypeCheckpointDelete, Checkpoint: 7}}, "checkpoint", ErrInvalidRecord},
		{"checkpoint_delete of a deleted checkpoint", []Record{{Type: TypeCheckpointDelete, Checkpoint: 5}}, "checkpoint", ErrInvalidRecord},
		{"summary through the last message", []Record{{Type: TypeSummary, Through: 10, Text: "s"}}, "", nil},
		{"summary through an earlier message", []Record{{Type: TypeSummary, Through: 9, Text: "s"}}, "", nil},
		{"summary through a title", []Record{{Type: TypeSummary, Through: 7, Text: "s"}}, "through", ErrInvalidRecord},
		{"summary through a message before the reset", []Record{{Type: TypeSummary, Through: 3, Text: "s"}}, "through", ErrInvalidRecord},
		{"summary through no record", []Record{{Type: TypeSummary, Through: 40, Text: "s"}}, "through", ErrInvalidRecord},
		{"summary through 0 over messages", []Record{{Type: TypeSummary, Text: "s"}}, "through", ErrInvalidRecord},
		{"summary through 0 after a reset", []Record{{Type: TypeReset, Reason: ReasonManual}, {Type: TypeSummary, Text: "carried"}}, "", nil},
		{"summary through a message of the call", []Record{m("x"), {Type: TypeSummary, Through: 12, Text: "s"}}, "", nil},
		{"summary through a message it no longer sees", []Record{{Type: TypeSummary, Through: 10, Text: "s"}, {Type: TypeSummary, Through: 9, Text: "s"}}, "through", ErrInvalidRecord},
		{"summary after a restore in the call", []Record{m("x"), {Type: TypeRestore, Checkpoint: 11}, {Type: TypeSummary, Through: 12, Text: "s"}}, "through", ErrInvalidRecord},
		{"summary of the restored history", []Record{m("x"), {Type: TypeRestore, Checkpoint: 11}, {Type: TypeSummary, Through: 10, Text: "s"}}, "", nil},
		{"checkpoint through the last message", []Record{{Type: TypeCheckpoint, Name: "n", Through: 10}}, "", nil},
		{"checkpoint through another message", []Record{{Type: TypeCheckpoint, Name: "n", Through: 9}}, "through", ErrInvalidRecord},
		{"checkpoint through 0 over messages", []Record{{Type: TypeCheckpoint, Name: "n"}}, "through", ErrInvalidRecord},
		{"checkpoint named by a number", []Record{{Type: TypeCheckpoint, Name: "12", Through: 10}}, "name", ErrInvalidRecord},
		{"aliases without aliases", []Record{{Type: TypeAliases}}, "aliases", ErrInvalidRecord},
		{"reset of no reason", []Record{{Type: TypeReset, Reason: "because"}}, "reason", ErrInvalidRecord},
		{"message dated before the last record", []Record{m("x").SentAt(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))}, "", ErrTimeOrder},
		{"title dated before the last record", []Record{{Type: TypeTitle, Text: "x", At: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}}, "", ErrTimeOrder},
		{"message dated later", []Record{m("x").SentAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}, "", nil},
		{"times going back in the call", []Record{m("x").SentAt(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)), m("y").SentAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}, "", ErrTimeOrder},
		{"a good record before a bad one", []Record{m("fine"), {Type: TypeRestore, Checkpoint: 2}}, "checkpoint", ErrInvalidRecord},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, s := validationSession(t, &Options{Now: fixedClock(), CountTokens: EstimateTokens})
			before, _ := os.ReadFile(s.Path())
			_, err := s.Append(ctx, tc.recs...)
			if tc.is == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
			if tc.field != "" {
				var re *RecordError
				if !errors.As(err, &re) || re.Field != tc.field {
					t.Fatalf("got %v, want a *RecordError about %q", err, tc.field)
				}
				if !strings.Contains(err.Error(), s.ID()) || !strings.Contains(err.Error(), "record ") || !strings.Contains(err.Error(), tc.field+":") {
					t.Fatalf("the error does not name the session, record and field: %v", err)
				}
			}
			if after, _ := os.ReadFile(s.Path()); !bytes.Equal(after, before) {
				t.Fatalf("the file changed:\n%s", after)
			}
		})
	}
}

// Update, AppendTurn and the lifecycle calls check the same rules under
// the lock: a restore of a checkpoint deleted since it was looked up, a
// summary f computed through a message that is not there.
func TestUpdateAndTurnValidate(t *testing.T) {
	ctx := context.Background()
	_, s := validationSession(t, nil)
	before, _ := os.ReadFile(s.Path())
	_, err := s.Update(ctx, func(h History) ([]Record, error) {
		return []Record{{Type: TypeSummary, Through: h.Messages[0].Seq - 1, Text: "s"}}, nil
	})
	if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "through") {
		t.Fatalf("Update: %v", err)
	}
	_, err = s.AppendTurn(ctx, msg(RoleUser, "q"), Record{Type: TypeRestore, Checkpoint: 3})
	if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "record 2") {
		t.Fatalf("AppendTurn: %v", err)
	}
	_, err = s.AppendTurn(ctx, Record{Type: TypeMessage, Role: RoleUser, Content: "q", Seq: 3})
	if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "seq") {
		t.Fatalf("AppendTurn with a seq: %v", err)
	}
	if after, _ := os.ReadFile(s.Path()); !bytes.Equal(after, before) {
		t.Fatalf("the file changed:\n%s", after)
	}
	// SetSummary and KeepLast write what the rules accept, also on an
	// empty history and after a carried summary.
	if _, err := s.SetSummary(ctx, "all of it", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSummary(ctx, "again", "test"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, msg(RoleUser, "a"), msg(RoleUser, "b"), msg(RoleUser, "c"))
	if _, err := s.KeepLast(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reset(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSummary(ctx, "nothing yet", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveCheckpoint(ctx, "empty", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreCheckpoint(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Check(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
}

// AppendIf is the importer's path: a caller's times and a summary through
// 0 are kept, but a reference must name a record of the right type.
func TestAppendIfChecksReferences(t *testing.T) {
	ctx := context.Background()
	_, s := validationSession(t, nil)
	ok := func(History) error { return nil }
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.AppendIf(ctx, ok, Record{Type: TypeSummary, Text: "legacy", At: old}, msg(RoleUser, "m").SentAt(old)); err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, r := range []Record{
		{Type: TypeRestore, Checkpoint: 9},
		{Type: TypeSummary, Through: 7, Text: "s"},
		{Type: TypeCheckpoint, Name: "n", Through: 99},
		{Type: TypeMessage, Role: RoleUser, Content: "x", Seq: 40},
	} {
		if _, err := s.AppendIf(ctx, ok, r); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("%+v: got %v, want ErrInvalidRecord", r, err)
		}
	}
}

// A record over Options.MaxRecordBytes is refused on every write path,
// naming its size and the limit; nothing of the call is written.
func TestRecordSizeLimit(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, &Options{MaxRecordBytes: 1000})
	s := namedSession(t, w, "limits")
	mustAppend(t, s, msg(RoleUser, strings.Repeat("a", 800)))
	before, _ := os.ReadFile(s.Path())
	big := msg(RoleUser, strings.Repeat("b", 1000))
	check := func(what string, err error) {
		t.Helper()
		var re *RecordError
		if !errors.Is(err, ErrTooLarge) || !errors.As(err, &re) || !strings.Contains(err.Error(), "over the limit of 1000 bytes") {
			t.Fatalf("%s: got %v, want ErrTooLarge naming size and limit", what, err)
		}
		if after, _ := os.ReadFile(s.Path()); !bytes.Equal(after, before) {
			t.Fatalf("%s: the file changed", what)
		}
	}
	_, err := s.Append(ctx, msg(RoleUser, "fine"), big)
	check("Append", err)
	_, err = s.AppendTurn(ctx, big)
	check("AppendTurn", err)
	_, err = s.Update(ctx, func(History) ([]Record, error) { return []Record{big}, nil })
	check("Update", err)
	_, err = s.AppendIf(ctx, func(History) error { return nil }, big)
	check("AppendIf", err)
	// A new session whose header is too large is not created.
	aliases := make([]string, 40)
	for i := range aliases {
		aliases[i] = "agent:main:telegram:direct:" + strings.Repeat("x", 20) + string(rune('a'+i%26))
	}
	_, err = w.Session(ctx, Target{Name: "big-header", Aliases: aliases})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("header: %v", err)
	}
	if _, err := os.Stat(w.SessionPath(keyingNamedID("big-header"))); !os.IsNotExist(err) {
		t.Fatalf("a file was made for the refused header: %v", err)
	}
	// The default: 8 MiB.
	w2 := openTest(t, &Options{CountTokens: EstimateTokens})
	s2 := namedSession(t, w2, "default")
	if _, err := s2.Append(ctx, msg(RoleTool, strings.Repeat("c", DefaultMaxRecordBytes))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("default limit: %v", err)
	}
	if _, err := s2.Append(ctx, msg(RoleTool, strings.Repeat("c", DefaultMaxRecordBytes-200))); err != nil {
		t.Fatalf("just under the default limit: %v", err)
	}
}

// Records already on disk that refer to nothing of their kind (written by
// hand or by an older version) are reported by Check; repair sets aside
// those that would change what the fold shows, keeping their bytes, and
// leaves a checkpoint's bad through as a warning.
func TestCheckReportsInvalidRecords(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, nil)
	s := namedSession(t, w, "on-disk")
	mustAppend(t, s, msg(RoleUser, "one"), msg(RoleAssistant, "two"))
	lines := []string{
		`{"type":"summary","seq":4,"at":"2026-11-21T09:00:04Z","through":99,"text":"hides everything","by":"hand"}`,
		`{"type":"restore","seq":5,"at":"2026-11-21T09:00:05Z","checkpoint":2}`,
		`{"type":"checkpoint_delete","seq":6,"at":"2026-11-21T09:00:06Z","checkpoint":40}`,
		`{"type":"aliases","seq":7,"at":"2026-11-21T09:00:07Z"}`,
		`{"type":"checkpoint","seq":8,"at":"2026-11-21T09:00:08Z","name":"cp","through":7}`,
		`{"type":"summary","seq":9,"at":"2026-11-21T09:00:09Z","through":3,"text":"fine","by":"hand"}`,
		`{"type":"restore","seq":10,"at":"2026-11-21T09:00:10Z","checkpoint":8}`,
	}
	f, err := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Join(lines, "\n") + "\n")
	f.Close()
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		seq        int64
		severity   string
		repairable bool
	}
	var got []want
	for _, p := range rep.Problems {
		if p.Kind == ProblemInvalidRecord {
			got = append(got, want{p.Seq, p.Severity, p.Repairable})
		}
	}
	exp := []want{{4, SeverityError, true}, {5, SeverityError, true}, {6, SeverityError, true}, {7, SeverityError, true}, {8, SeverityWarning, false}}
	if len(got) != len(exp) {
		t.Fatalf("invalid records %v, want %v (all problems: %v)", got, exp, rep.Problems)
	}
	for i := range exp {
		if got[i] != exp[i] {
			t.Fatalf("invalid records %v, want %v", got, exp)
		}
	}
	r, err := w.Repair(ctx, RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.SetAside) != 4 || r.SetAside[0].Kind != ProblemInvalidRecord || !strings.Contains(r.SetAside[0].Aside, ".corrupt-") {
		t.Fatalf("set aside %+v", r.SetAside)
	}
	aside, _ := os.ReadFile(r.SetAside[0].Aside)
	if string(aside) != strings.Join(lines[:4], "\n")+"\n" {
		t.Fatalf("kept bytes:\n%s", aside)
	}
	rep, _ = s.Check(ctx)
	for _, p := range rep.Problems {
		if p.Severity == SeverityError {
			t.Fatalf("after repair: %v", p)
		}
	}
	if again, _ := w.Repair(ctx, RepairOptions{}); len(again.SetAside) != 0 {
		t.Fatalf("second repair: %+v", again.SetAside)
	}
	// The restore of 8 rewinds to the history before it: both messages.
	h, err := s.History(ctx, 0)
	if err != nil || h.Summary != nil || len(h.Messages) != 2 {
		t.Fatalf("history after repair: %+v, %v", h, err)
	}
}
