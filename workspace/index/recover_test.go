package index

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/picosess/picosess/workspace"
)

// The index is disposable: deleted, or with garbage written into any of
// its files, the next search rebuilds it and finds every message.
func TestDamagedIndexRecovers(t *testing.T) {
	garbage := func(t *testing.T, path string, at func(size int64) int64) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		junk := []byte(strings.Repeat("\xde\xad\xbe\xef garbage ", 16))
		off := at(fi.Size())
		if n := fi.Size() - off; n < int64(len(junk)) {
			junk = junk[:max(n, 1)]
		}
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
	middle := func(size int64) int64 { return size / 2 }
	start := func(int64) int64 { return 0 }
	zaps := func(t *testing.T, dir string) []string {
		m, err := filepath.Glob(filepath.Join(dir, "store", "*.zap"))
		if err != nil || len(m) == 0 {
			t.Fatalf("no segment files in %s: %v", dir, err)
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"deleted", func(t *testing.T, dir string) { os.RemoveAll(dir) }},
		{"segment-middle", func(t *testing.T, dir string) {
			for _, z := range zaps(t, dir) {
				garbage(t, z, middle)
			}
		}},
		{"segment-footer", func(t *testing.T, dir string) {
			for _, z := range zaps(t, dir) {
				garbage(t, z, func(size int64) int64 { return size - 20 })
			}
		}},
		{"segment-truncated", func(t *testing.T, dir string) {
			for _, z := range zaps(t, dir) {
				os.Truncate(z, 10)
			}
		}},
		{"root-bolt", func(t *testing.T, dir string) {
			// Both meta pages: one bad meta page, bolt survives by design.
			p := filepath.Join(dir, "store", "root.bolt")
			garbage(t, p, start)
			garbage(t, p, func(int64) int64 { return 4096 })
		}},
		{"index-meta", func(t *testing.T, dir string) { garbage(t, filepath.Join(dir, "index_meta.json"), start) }},
		{"empty-dir", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.MkdirAll(dir, 0o755)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := openWS(t, "")
			s := chatSession(t, ws, "main", "1")
			for i := 0; i < 30; i++ {
				say(t, s, workspace.RoleUser, "u", "orange juice number "+strings.Repeat("x", i))
			}
			x := openIndex(t, ws, nil)
			if res := mustSearch(t, x, Query{Text: "orange"}); res.Total != 30 {
				t.Fatalf("before: %d", res.Total)
			}
			tt.damage(t, x.Dir())
			if tt.name != "deleted" && tt.name != "empty-dir" {
				rep, err := Check(context.Background(), ws)
				if err != nil || rep.Damaged == "" || rep.Clean() {
					t.Fatalf("check does not see the damage: %+v %v", rep, err)
				}
			}
			say(t, s, workspace.RoleUser, "u", "orange peel")
			res, err := x.Search(context.Background(), Query{Text: "orange"})
			if err != nil {
				t.Fatalf("search after damage: %v", err)
			}
			if res.Total != 31 {
				t.Fatalf("after damage: %d hits, want 31", res.Total)
			}
			rep, err := Check(context.Background(), ws)
			if err != nil || !rep.Clean() {
				t.Fatalf("check after recovery: %+v %v", rep, err)
			}
		})
	}
}
