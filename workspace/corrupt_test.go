package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// baseFile builds a valid session file: header and two messages, returned
// as lines (each with its '\n').
func baseLines(t *testing.T, s *Session) []string {
	t.Helper()
	mustAppend(t, s, msg(RoleUser, "hello café"), msg(RoleAssistant, "bonjour"))
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(raw), "\n")[:3]
}

func recordLine(t *testing.T, r Record) string {
	t.Helper()
	b, err := appendRecord(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// One row per defect. Each builds a damaged file from valid lines, says
// what Check must report, what Repair must set aside (exact bytes), and
// which message contents must survive.
func TestCorruptionCases(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 7<<20/16)   // a 7 MB tool result, under the read limit
	huge := strings.Repeat("0123456789abcdef", 10<<20/16) // a 10 MB one, over it (DefaultMaxRecordBytes)
	type row struct {
		name    string
		build   func(l []string, next func(seq int64, content string) string) string
		kinds   []string // problems of severity error, in order
		aside   func(l []string, next func(seq int64, content string) string) string
		survive []string
	}
	rows := []row{
		{
			name: "torn last line",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + next(4, "lost")[:30]
			},
			kinds:   []string{ProblemTornTail},
			aside:   func(l []string, next func(int64, string) string) string { return next(4, "lost")[:30] },
			survive: []string{"hello café", "bonjour"},
		},
		{
			name: "NUL run at the tail",
			build: func(l []string, _ func(int64, string) string) string {
				return strings.Join(l, "") + strings.Repeat("\x00", 4096)
			},
			kinds:   []string{ProblemTornTail},
			aside:   func([]string, func(int64, string) string) string { return strings.Repeat("\x00", 4096) },
			survive: []string{"hello café", "bonjour"},
		},
		{
			name: "zeroed block between records",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + strings.Repeat("\x00", 100) + "\n" + next(4, "after zeros")
			},
			kinds:   []string{ProblemCorruptLine},
			aside:   func([]string, func(int64, string) string) string { return strings.Repeat("\x00", 100) + "\n" },
			survive: []string{"hello café", "bonjour", "after zeros"},
		},
		{
			name: "broken line in the middle",
			build: func(l []string, next func(int64, string) string) string {
				return l[0] + l[1] + `{"type":"message","seq":3,"at":` + "\n" + next(4, "later")
			},
			kinds:   []string{ProblemCorruptLine},
			aside:   func([]string, func(int64, string) string) string { return `{"type":"message","seq":3,"at":` + "\n" },
			survive: []string{"hello café", "later"},
		},
		{
			name: "rune cut in half in the middle",
			build: func(l []string, next func(int64, string) string) string {
				cut := strings.Replace(l[1], "café", "caf\xc3", 1)
				return l[0] + cut + l[2]
			},
			kinds: []string{ProblemCorruptLine},
			aside: func(l []string, _ func(int64, string) string) string {
				return strings.Replace(l[1], "café", "caf\xc3", 1)
			},
			survive: []string{"bonjour"},
		},
		{
			name: "rune cut in half at the tail",
			build: func(l []string, next func(int64, string) string) string {
				line := next(4, "naïve")
				return strings.Join(l, "") + line[:strings.Index(line, "ï")+1]
			},
			kinds: []string{ProblemTornTail},
			aside: func(l []string, next func(int64, string) string) string {
				line := next(4, "naïve")
				return line[:strings.Index(line, "ï")+1]
			},
			survive: []string{"hello café", "bonjour"},
		},
		{
			name: "missing final newline",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + strings.TrimSuffix(next(4, "unfinished"), "\n")
			},
			kinds: []string{ProblemTornTail},
			aside: func(l []string, next func(int64, string) string) string {
				return strings.TrimSuffix(next(4, "unfinished"), "\n")
			},
			survive: []string{"hello café", "bonjour"},
		},
		{
			name: "torn record glued to a complete one",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + next(4, "torn")[:40] + next(4, "whole")
			},
			kinds:   []string{ProblemCorruptLine},
			aside:   func(l []string, next func(int64, string) string) string { return next(4, "torn")[:40] },
			survive: []string{"hello café", "bonjour", "whole"},
		},
		{
			name: "7 MB tool result intact",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + next(4, big) + next(5, "after")
			},
			survive: []string{"hello café", "bonjour", big, "after"},
		},
		{
			// Written by hand or by a version without the limit: readers pass
			// over it in bounded memory, check warns, repair keeps it.
			name: "10 MB tool result over the read limit",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + next(4, huge) + next(5, "after")
			},
			survive: []string{"hello café", "bonjour", "after"},
		},
		{
			name: "10 MB tool result torn",
			build: func(l []string, next func(int64, string) string) string {
				return strings.Join(l, "") + next(4, huge)[:9<<20]
			},
			kinds:   []string{ProblemTornTail},
			aside:   func(l []string, next func(int64, string) string) string { return next(4, huge)[:9<<20] },
			survive: []string{"hello café", "bonjour"},
		},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := openTest(t, &Options{Now: fixedClock()})
			s := namedSession(t, w, "damaged")
			l := baseLines(t, s)
			next := func(seq int64, content string) string {
				return recordLine(t, Record{Type: TypeMessage, Seq: seq, At: fixedClock()(), Role: RoleTool, Content: content})
			}
			data := tc.build(l, next)
			if err := os.WriteFile(s.Path(), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}

			// Readers skip the damage without failing.
			if _, err := s.History(ctx, 0); err != nil {
				t.Fatalf("history: %v", err)
			}
			rep, err := s.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, p := range rep.Problems {
				if p.Severity == SeverityError {
					kinds = append(kinds, p.Kind)
					if !p.Repairable || p.Hint == "" || p.Line == 0 {
						t.Errorf("problem %+v", p)
					}
				}
			}
			if strings.Join(kinds, ",") != strings.Join(tc.kinds, ",") {
				t.Fatalf("check found %v, want %v", rep.Problems, tc.kinds)
			}
			if after, _ := os.ReadFile(s.Path()); string(after) != data {
				t.Fatal("check changed the file")
			}

			dry, err := s.Repair(ctx, RepairOptions{DryRun: true})
			if err != nil || len(dry.SetAside) != len(tc.kinds) {
				t.Fatalf("dry run %+v %v", dry, err)
			}
			if after, _ := os.ReadFile(s.Path()); string(after) != data {
				t.Fatal("dry run changed the file")
			}

			rr, err := s.Repair(ctx, RepairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.SetAside) != len(tc.kinds) {
				t.Fatalf("set aside %+v", rr.SetAside)
			}
			if tc.aside != nil {
				want := tc.aside(l, next)
				got, err := os.ReadFile(rr.SetAside[0].Aside)
				if err != nil || string(got) != want {
					t.Fatalf("set-aside file %s holds %q, want %q (%v)", rr.SetAside[0].Aside, trunc(got), trunc([]byte(want)), err)
				}
				if rr.SetAside[0].Bytes != int64(len(want)) || rr.SetAside[0].Offset != int64(strings.Index(data, want)) {
					t.Fatalf("report %+v, want %d bytes at %d", rr.SetAside[0], len(want), strings.Index(data, want))
				}
			}
			var got []string
			recs, _ := s.ReadAll(ctx)
			for _, r := range recs {
				if r.Type == TypeMessage {
					got = append(got, r.Content)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.survive, "|") {
				t.Fatalf("after repair the messages are %q, want %q", trunc([]byte(strings.Join(got, "|"))), trunc([]byte(strings.Join(tc.survive, "|"))))
			}
			// Idempotent: nothing left to do, and the file is clean.
			again, err := s.Repair(ctx, RepairOptions{})
			if err != nil || len(again.SetAside) != 0 {
				t.Fatalf("second repair %+v %v", again, err)
			}
			wrep, _ := w.Check(ctx)
			if !wrep.Clean() {
				t.Fatalf("after repair: %+v", wrep)
			}
			if tc.aside != nil && (len(wrep.Other) == 0 || wrep.Other[0].Kind != strings.Split(tc.kinds[0], "_")[0]) {
				t.Fatalf("evidence not listed: %+v", wrep.Other)
			}
			// Nothing is lost: the evidence is next to the session.
			if tc.aside != nil {
				m, _ := filepath.Glob(s.Path() + ".*-*")
				if len(m) == 0 {
					t.Fatal("no set-aside file")
				}
			}
			mustAppend(t, s, msg(RoleUser, "still works"))
		})
	}
}

// The next append sets a torn tail aside on its own, before writing.
func TestAppendSetsTornTailAside(t *testing.T) {
	w := openTest(t, nil)
	s := namedSession(t, w, "torn")
	mustAppend(t, s, msg(RoleUser, "ok"))
	f, _ := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"type":"message","seq":3,"at":"2026-01-01T00:00:00Z","role":"user","content":"cut`)
	f.Close()
	seqs := mustAppend(t, s, msg(RoleUser, "next"))
	if seqs[0] != 3 {
		t.Fatalf("seq %d, want 3", seqs[0])
	}
	m, _ := filepath.Glob(s.Path() + ".torn-*")
	if len(m) != 1 {
		t.Fatalf("torn files %v", m)
	}
	if b, _ := os.ReadFile(m[0]); !bytes.HasSuffix(b, []byte(`"content":"cut`)) {
		t.Fatalf("torn file holds %q", b)
	}
	if rep, _ := s.Check(context.Background()); len(rep.Problems) != 0 {
		t.Fatalf("problems %v", rep.Problems)
	}
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// The fixtures in testdata/corrupt are named after their defect; check
// finds exactly that defect in each.
func TestCorruptFixtures(t *testing.T) {
	want := map[string][]string{
		"broken-middle-line.jsonl":        {ProblemCorruptLine},
		"duplicate-seq.jsonl":             {ProblemSeqDuplicate},
		"nul-run-at-tail.jsonl":           {ProblemTornTail},
		"rune-cut-in-half.jsonl":          {ProblemCorruptLine},
		"torn-record-glued-to-next.jsonl": {ProblemCorruptLine},
		"torn-tail-no-newline.jsonl":      {ProblemTornTail},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "corrupt", "*.jsonl"))
	if len(files) != len(want) {
		t.Fatalf("fixtures %v", files)
	}
	for _, name := range files {
		b, _ := os.ReadFile(name)
		var h Record
		json.Unmarshal(b[:bytes.IndexByte(b, '\n')], &h)
		rep, err := checkReader(context.Background(), bytes.NewReader(b), int64(len(b)), name, h.ID, DefaultMaxRecordBytes)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, p := range rep.Problems {
			if p.Severity == SeverityError {
				kinds = append(kinds, p.Kind)
			}
		}
		if strings.Join(kinds, ",") != strings.Join(want[filepath.Base(name)], ",") {
			t.Errorf("%s: check found %v", name, rep.Problems)
		}
	}
}

// Readers skip a corrupt line and say so in the log, with its offset.
func TestReadersWarnAboutCorruptLines(t *testing.T) {
	var logs bytes.Buffer
	w := openTest(t, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s := namedSession(t, w, "warned")
	mustAppend(t, s, msg(RoleUser, "one"))
	f, _ := os.OpenFile(s.Path(), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"type":"message","seq":3,"at":"2026-01-01T00:00:00Z","role":"user","content":"bro` + "\n")
	f.Close()
	mustAppend(t, s, msg(RoleUser, "three"))
	h, err := s.History(context.Background(), 0)
	if err != nil || len(h.Messages) != 2 {
		t.Fatalf("history %+v %v", h, err)
	}
	recs, _ := s.ReadAll(context.Background())
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	if n := strings.Count(logs.String(), "corrupt record skipped"); n != 2 || !strings.Contains(logs.String(), "offset=") {
		t.Fatalf("log: %s", logs.String())
	}
}

// A file whose header was torn away (or never written) gets a minimal
// header back from repair: seq 1 is free, the id comes from the file name,
// the damaged bytes are set aside, and every record stays.
func TestRepairRebuildsAMissingHeader(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		build func(l []string) string
		aside int
	}{
		{"header line corrupt", func(l []string) string { return l[0][:20] + "\n" + l[1] + l[2] }, 1},
		{"header line missing", func(l []string) string { return l[1] + l[2] }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := openTest(t, &Options{Now: fixedClock()})
			s := namedSession(t, w, "headless")
			l := baseLines(t, s)
			os.WriteFile(s.Path(), []byte(tc.build(l)), 0o644)
			rep, _ := w.Check(ctx)
			if a, b := rep.Errors(); a == 0 || b != 0 {
				t.Fatalf("check: %+v", rep.Files[0].Problems)
			}
			dry, _ := w.Repair(ctx, RepairOptions{DryRun: true})
			if len(dry.Headers) != 1 || len(dry.SetAside) != tc.aside {
				t.Fatalf("dry run %+v", dry)
			}
			rr, err := w.Repair(ctx, RepairOptions{})
			if err != nil || len(rr.Headers) != 1 || len(rr.SetAside) != tc.aside {
				t.Fatalf("repair %+v %v", rr, err)
			}
			h, err := s.Header(ctx)
			if err != nil || h.ID != s.ID() || h.Seq != 1 {
				t.Fatalf("header %+v %v", h, err)
			}
			if rep, _ := w.Check(ctx); !rep.Clean() {
				t.Fatalf("after repair: %+v", rep.Files[0].Problems)
			}
			recs, _ := s.ReadAll(ctx)
			if len(recs) != 3 || recs[1].Content != "hello café" {
				t.Fatalf("records %+v", recs)
			}
		})
	}
}
