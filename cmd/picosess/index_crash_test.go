package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A search finds every message whatever was done to the files under
// index/: deleted, truncated, cut in half, garbled, NULs, missing, or
// replaced by a file. The search rebuilds by itself (exit 0) and every
// message is a hit exactly once, including one appended after the damage.
func TestBinarySearchRebuildsDamagedIndex(t *testing.T) {
	bin := buildBinary(t)
	type damage func(t *testing.T, dir string)
	each := func(pattern string, f func(t *testing.T, path string)) damage {
		return func(t *testing.T, dir string) {
			m, _ := filepath.Glob(filepath.Join(dir, pattern))
			if len(m) == 0 {
				t.Fatalf("no %s under %s", pattern, dir)
			}
			for _, p := range m {
				f(t, p)
			}
		}
	}
	truncate := func(frac float64, minus int64) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, max(0, int64(float64(fi.Size())*frac)-minus)); err != nil {
				t.Fatal(err)
			}
		}
	}
	overwrite := func(at float64, b []byte) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			off := int64(float64(fi.Size()) * at)
			if n := fi.Size() - off; n < int64(len(b)) {
				b = b[:max(n, 1)]
			}
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(t *testing.T, p string) {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	garble := []byte(strings.Repeat("\xde\xad\xbe\xef{\"not\":json} ", 64))
	nuls := make([]byte, 8192)
	cases := []struct {
		name string
		damage
	}{
		{"deleted", func(t *testing.T, dir string) { remove(t, dir) }},
		{"empty-dir", func(t *testing.T, dir string) { remove(t, dir); os.Mkdir(dir, 0o755) }},
		{"a-file-instead", func(t *testing.T, dir string) { remove(t, dir); os.WriteFile(dir, garble, 0o644) }},
		{"meta-empty", each("index_meta.json", truncate(0, 0))},
		{"meta-half", each("index_meta.json", truncate(0.5, 0))},
		{"meta-garbled", each("index_meta.json", overwrite(0, garble))},
		{"meta-missing", each("index_meta.json", remove)},
		{"store-missing", each("store", remove)},
		{"bolt-empty", each("store/root.bolt", truncate(0, 0))},
		{"bolt-half", each("store/root.bolt", truncate(0.5, 0))},
		{"bolt-nuls", each("store/root.bolt", overwrite(0, nuls))},
		{"bolt-missing", each("store/root.bolt", remove)},
		{"zap-empty", each("store/*.zap", truncate(0, 0))},
		{"zap-half", each("store/*.zap", truncate(0.5, 0))},
		{"zap-tail-cut", each("store/*.zap", truncate(1, 3))},
		{"zap-garbled-middle", each("store/*.zap", overwrite(0.5, garble))},
		{"zap-nuls-start", each("store/*.zap", overwrite(0, nuls))},
		{"zap-missing", each("store/*.zap", remove)},
		{"verified-garbled", each("picosess-verified.json", overwrite(0, garble))},
		{"verified-lies", func(t *testing.T, dir string) {
			// Garbage over a segment that keeps its size and mtime: the list
			// of checked segments still vouches for it.
			each("store/*.zap", func(t *testing.T, p string) {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				overwrite(0.5, garble)(t, p)
				if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
			})(t, dir)
		}},
		{"stray-segment", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "store", "0000000000ff.zap"), garble, 0o644)
		}},
		{"stray-bolt-tmp", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "store", "root.bolt.tmp"), garble, 0o644)
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			w := openCrashWS(t, root)
			fillSessions(t, w, "d", 3, 40)
			if ids, code, errOut := searchAll(t, bin, root); code != 0 || len(ids) != 120 {
				t.Fatalf("first search: exit %d, %d hits: %s", code, len(ids), errOut)
			}
			if _, code, errOut := searchAll(t, bin, root); code != 0 { // opens it: picosess-verified.json
				t.Fatalf("search: exit %d: %s", code, errOut)
			}
			tt.damage(t, filepath.Join(root, "index"))
			appendN(t, mustOpen(t, w, "d-0"), 3)
			ids, code, errOut := searchAll(t, bin, root)
			if code != 0 {
				t.Fatalf("search after damage: exit %d: %s", code, errOut)
			}
			sameOnce(t, "hits after damage", ids, messageIDs(t, w))
			// And the index is whole again: the next search, check, agree.
			if ids, code, errOut := searchAll(t, bin, root); code != 0 {
				t.Fatalf("second search: exit %d: %s", code, errOut)
			} else {
				sameOnce(t, "second search", ids, messageIDs(t, w))
			}
		})
	}
}

// An index this process may not write: search and reindex exit 12 with a
// message naming the directory, the reason and what to do, and leave every
// file of the index as it was (a rebuild that started deleting would
// leave less than it found). As root, the binary runs as nobody.
func TestBinaryUnwritableIndex(t *testing.T) {
	bin := buildBinary(t)
	base, err := os.MkdirTemp("", "picosess-unwritable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "ws")
	w := openCrashWS(t, root)
	fillSessions(t, w, "u", 2, 20)
	if _, code, errOut := searchAll(t, bin, root); code != 0 {
		t.Fatalf("first search: exit %d: %s", code, errOut)
	}
	appendN(t, mustOpen(t, w, "u-0"), 5) // the next search has to write
	runAs := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	}
	// Everything but index/ is the other user's to use; index/ is not.
	index := filepath.Join(root, "index")
	err = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o666)
		if d.IsDir() {
			mode = 0o777
		}
		if p == index || strings.HasPrefix(p, index+string(filepath.Separator)) {
			mode &^= 0o222
			if os.Geteuid() == 0 {
				mode |= 0o200 // root's own; nobody only reads
			}
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(index, func(p string, d os.DirEntry, err error) error { os.Chmod(p, 0o755); return nil })
	})
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	// The test binary's temporary directory must be passable too.
	for d := filepath.Dir(filepath.Dir(bin)); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, fi.Mode().Perm()|0o011)
			t.Cleanup(func() { os.Chmod(d, fi.Mode().Perm()) })
		}
	}
	before := treeFiles(t, index)
	for _, args := range [][]string{
		{"--workspace", root, "search", "crash"},
		{"--workspace", root, "--json", "search", "crash"},
		{"--workspace", root, "reindex"},
	} {
		out, errOut, code := runAs(args...)
		if code != exitIndex {
			t.Fatalf("%v: exit %d, want %d\nstdout %s\nstderr %s", args, code, exitIndex, out, errOut)
		}
		for _, want := range []string{index, "permission denied", "picosess reindex"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: the message does not say %q: %s", args, want, errOut)
			}
		}
		if args[2] == "--json" {
			var e errorJSON
			if err := json.Unmarshal([]byte(errOut), &e); err != nil || e.Code != codeIndex || e.Exit != exitIndex {
				t.Errorf("--json error: %+v %v: %s", e, err, errOut)
			}
		}
		after := treeFiles(t, index)
		for name, b := range before {
			if name == "picosess-verified.json" {
				continue // a cache of checks, rewritten when it can be
			}
			if after[name] != b {
				t.Fatalf("%v changed or removed index/%s", args, name)
			}
		}
	}
	// Writable again: the next search catches up by itself.
	filepath.WalkDir(index, func(p string, d os.DirEntry, err error) error { os.Chmod(p, 0o777); return nil })
	ids, code, errOut := searchAll(t, bin, root)
	if code != 0 {
		t.Fatalf("search once writable: exit %d: %s", code, errOut)
	}
	sameOnce(t, "hits once writable", ids, messageIDs(t, w))
}
