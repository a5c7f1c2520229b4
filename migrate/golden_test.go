package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenView is a Result with what varies between checkouts (mtimes, the
// absolute root) taken out.
func goldenView(t *testing.T, r *Result) []byte {
	t.Helper()
	c := *r
	c.Root = ""
	c.Sources = nil
	for _, s := range r.Sources {
		cp := *s
		cp.Files = append([]FileInfo(nil), s.Files...)
		for i := range cp.Files {
			cp.Files[i].ModTime = time.Time{}
		}
		c.Sources = append(c.Sources, &cp)
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./migrate -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(rerun with -update if the change is intended)", p, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs from the golden file in length (%d vs %d lines)", p, len(gl), len(wl))
	}
}

func mustRead(t *testing.T, dir string, opts Options) *Result {
	t.Helper()
	r, err := Read(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Read(%s): %v", dir, err)
	}
	return r
}
