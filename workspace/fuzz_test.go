package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzRecordReader feeds arbitrary bytes as a session file to every
// reader, then to Check and Repair: nothing panics, Repair leaves no
// repairable problem, and a second Repair finds nothing to do. Each run
// touches real files, so run it with minimization off:
//
//	go test ./workspace -run ^$ -fuzz FuzzRecordReader -fuzzminimizetime 0
func FuzzRecordReader(f *testing.F) {
	for _, dir := range []string{"testdata/golden", "testdata/corrupt"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\n\n\n"))
	f.Add([]byte(`{"type":"restore","seq":2,"at":"2026-01-01T00:00:00Z","checkpoint":1}` + "\n"))
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, data []byte) {
	for _, line := range splitLines(data) {
		decodeRecord(line)
		peekHead(line)
		gluedRecord(line)
		var fast, slow Record
		if utf8.Valid(line) && decodeFast(line, &fast) {
			if err := json.Unmarshal(line, &slow); err != nil {
				t.Fatalf("fast decoder accepted what encoding/json refuses (%v): %q", err, line)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast decoder disagrees on %q:\n%+v\n%+v", line, fast, slow)
			}
		}
	}
	ctx := context.Background()
	w, err := Open(t.TempDir(), &Options{Durability: DurabilityNever, FS: noSyncFS{}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s, err := w.Session(ctx, Target{Name: "fuzz"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.History(ctx, 0)
	s.History(ctx, 2)
	s.Segments(ctx)
	s.Checkpoints(ctx)
	w.List(ctx, ListOptions{})
	if _, err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repair(ctx, RepairOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Repairable {
			t.Fatalf("repairable problem left after repair: %v", p)
		}
	}
	again, err := s.Repair(ctx, RepairOptions{})
	if err != nil || len(again.SetAside) != 0 {
		t.Fatalf("repair is not idempotent: %+v %v", again, err)
	}
	if _, err := s.Append(ctx, msg(RoleUser, "after fuzz")); err != nil {
		// Refused only when check says the header is bad beyond repair.
		unfixable := false
		for _, p := range rep.Problems {
			unfixable = unfixable || p.Kind == ProblemBadHeader && !p.Repairable
		}
		if !errors.Is(err, ErrNoHeader) || !unfixable {
			t.Fatalf("append after repair: %v (check: %+v)", err, rep.Problems)
		}
		return
	}
	if rep, _ := s.Check(ctx); func() bool {
		for _, p := range rep.Problems {
			if p.Repairable {
				return true
			}
		}
		return false
	}() {
		t.Fatalf("append after repair left damage: %+v", rep.Problems)
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
	return out
}

// noSyncFS skips fsync: the fuzzer needs speed, not durability.
type noSyncFS struct{ OSFS }

func (n noSyncFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := n.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{f}, nil
}

type noSyncFile struct{ File }

func (noSyncFile) Sync() error { return nil }

// FuzzDecodeFast checks the fast decoder against encoding/json on single
// lines: whenever it accepts a line, encoding/json accepts it too and
// decodes the same record.
func FuzzDecodeFast(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.jsonl"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		for _, line := range splitLines(b) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"type":"message","seq":2,"at":"2026-01-01T00:00:00Z","role":"assistant","usage":{"input_tokens":1},"usage":{"output_tokens":2,"cache_read_tokens":3}}`))
	for _, line := range toolResultLines {
		f.Add([]byte(line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast, slow Record
		if !utf8.Valid(line) || !decodeFast(line, &fast) {
			return
		}
		if err := json.Unmarshal(line, &slow); err != nil {
			t.Fatalf("fast decoder accepted what encoding/json refuses (%v): %q", err, line)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast decoder disagrees on %q:\n%+v\n%+v", line, fast, slow)
		}
	})
}
