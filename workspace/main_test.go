package workspace

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// helperEnv selects a helper process: the test binary re-executed with
// this variable set runs helperMain instead of the tests.
const helperEnv = "PICOSESS_WORKSPACE_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := helperMain(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fixedClock returns a clock that starts at a fixed time and advances one
// second per call, for reproducible files.
func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func openTest(t testing.TB, o *Options) *Workspace {
	t.Helper()
	w, err := Open(t.TempDir(), withTestStore(t, o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func namedSession(t testing.TB, w *Workspace, name string) *Session {
	t.Helper()
	s, err := w.Session(context.Background(), Target{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func msg(role, content string) Record {
	return Record{Type: TypeMessage, Role: role, Content: content}
}

func mustAppend(t testing.TB, s *Session, recs ...Record) []int64 {
	t.Helper()
	seqs, err := s.Append(context.Background(), recs...)
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

func contents(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Content)
	}
	return out
}
